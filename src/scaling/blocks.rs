//! The exact block decomposition of the scaling attack: independent blocks
//! `(row component) × (column component)`, each solved exactly (see [`super::attack`]).

use super::attack::{Problem, SolveStats};
use super::components::Component;
use super::qp::{Work, solve_single_constraint};
use super::slab_qp::SlabQp;
use crate::error::Result;
use crate::resize::SparseMatrix;
use crate::util::run_chunks;

/// A prepared pair (row component, column component) with several constraints.
pub(super) fn block_problem(
    l: &SparseMatrix,
    rt: &SparseMatrix,
    rc: &Component,
    cc: &Component,
) -> Result<SlabQp> {
    let nb = cc.ins.len();
    let mut lrow = vec![usize::MAX; l.cols];
    for (k, &i) in rc.ins.iter().enumerate() {
        lrow[i] = k;
    }
    let mut lcol = vec![usize::MAX; rt.cols];
    for (k, &j) in cc.ins.iter().enumerate() {
        lcol[j] = k;
    }
    let mut rows = Vec::with_capacity(rc.outs.len() * cc.outs.len());
    for &p in &rc.outs {
        let (li, lv) = l.row(p);
        for &q in &cc.outs {
            let (rj, rv) = rt.row(q);
            let mut row = Vec::with_capacity(li.len() * rj.len());
            for (&i, &a) in li.iter().zip(lv) {
                for (&j, &b) in rj.iter().zip(rv) {
                    row.push((lrow[i] * nb + lcol[j], a * b));
                }
            }
            rows.push(row);
        }
    }
    SlabQp::new(SparseMatrix::from_rows(rc.ins.len() * nb, &rows)?)
}

/// Per worker: (item, solved block values) and the statistics.
pub(super) type BlockChunk = (Vec<(usize, Vec<f64>)>, SolveStats);

pub(super) fn attack_blocks(p: &Problem<'_>) -> Result<([Vec<f64>; 3], SolveStats)> {
    let Problem { scaler, s, t, row_comps, col_comps, eps, opts, threads } = *p;
    let (n, _) = scaler.src;
    let (np, _) = scaler.dst;
    let l = &scaler.l;
    let rt = scaler.rt();
    let items = 3 * row_comps.len();
    let chunks = run_chunks(items, threads, |range| -> Result<BlockChunk> {
        let mut out = Vec::with_capacity(range.len());
        let mut stats = SolveStats::default();
        let mut work = Work::default();
        let mut w = Vec::new();
        let mut sv = Vec::new();
        let mut x = Vec::new();
        for item in range {
            let (c, a) = (item / row_comps.len(), item % row_comps.len());
            let rc = &row_comps[a];
            let mut vals = Vec::new();
            for cc in col_comps {
                sv.clear();
                for &i in &rc.ins {
                    for &j in &cc.ins {
                        sv.push(s[c][i * n + j]);
                    }
                }
                if rc.outs.len() == 1 && cc.outs.len() == 1 {
                    let (p, q) = (rc.outs[0], cc.outs[0]);
                    w.clear();
                    let (li, lv) = l.row(p);
                    let (rj, rv) = rt.row(q);
                    // dense weights over the block (zeros where L or R is zero)
                    w.resize(rc.ins.len() * cc.ins.len(), 0.0);
                    for (&i, &av) in li.iter().zip(lv) {
                        let ii = rc.ins.binary_search(&i).unwrap_or(usize::MAX);
                        for (&j, &bv) in rj.iter().zip(rv) {
                            let jj = cc.ins.binary_search(&j).unwrap_or(usize::MAX);
                            if ii != usize::MAX && jj != usize::MAX {
                                w[ii * cc.ins.len() + jj] = av * bv;
                            }
                        }
                    }
                    x.resize(sv.len(), 0.0);
                    let o = solve_single_constraint(
                        &w,
                        &sv,
                        t[c][p * np + q],
                        eps,
                        &mut x,
                        &mut work.events,
                    );
                    stats.add(&o);
                    vals.extend_from_slice(&x);
                } else {
                    let qp = block_problem(l, rt, rc, cc)?;
                    let tl: Vec<f64> = rc
                        .outs
                        .iter()
                        .flat_map(|&p| cc.outs.iter().map(move |&q| (p, q)))
                        .map(|(p, q)| t[c][p * np + q])
                        .collect();
                    let o = qp.solve(&sv, &tl, eps, opts, &mut work);
                    stats.add(&o);
                    vals.extend_from_slice(&work.x);
                }
            }
            out.push((item, vals));
        }
        Ok((out, stats))
    })?;
    let mut a = [s[0].clone(), s[1].clone(), s[2].clone()];
    let mut stats = SolveStats::default();
    for ch in chunks {
        let (list, st) = ch?;
        stats.merge(&st);
        for (item, vals) in list {
            let (c, ai) = (item / row_comps.len(), item % row_comps.len());
            let rc = &row_comps[ai];
            let mut k = 0;
            for cc in col_comps {
                for &i in &rc.ins {
                    for &j in &cc.ins {
                        a[c][i * n + j] = vals[k];
                        k += 1;
                    }
                }
            }
        }
    }
    Ok((a, stats))
}

