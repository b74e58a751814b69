//! The two-stage decomposition of the scaling attack (horizontal, then vertical), for scalers
//! whose windows overlap (see [`super::attack`]).

use super::attack::{Problem, SolveStats};
use super::components::{Component, local_matrix};
use super::qp::{SolverOpts, Work};
use super::slab_qp::SlabQp;
use crate::error::Result;
use crate::resize::SparseMatrix;
use crate::util::run_chunks;

/// A stage matrix split into independent components, each prepared once.
pub(super) struct Stage {
    pub(super) comps: Vec<Component>,
    pub(super) qps: Vec<SlabQp>,
}

impl Stage {
    pub(super) fn new(mat: &SparseMatrix, comps: &[Component]) -> Result<Stage> {
        let qps = comps
            .iter()
            .map(|c| SlabQp::new(local_matrix(mat, c)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(Stage {
            comps: comps.to_vec(),
            qps,
        })
    }

    /// Solves one line: `line` holds the source values (modified in place into the solution),
    /// `target(o)` gives the target of output `o`.
    pub(super) fn solve_line(
        &self,
        line: &mut [f64],
        target: impl Fn(usize) -> f64,
        eps: f64,
        opts: &SolverOpts,
        work: &mut Work,
        stats: &mut SolveStats,
    ) {
        for (comp, qp) in self.comps.iter().zip(&self.qps) {
            let sv: Vec<f64> = comp.ins.iter().map(|&i| line[i]).collect();
            let tv: Vec<f64> = comp.outs.iter().map(|&o| target(o)).collect();
            let o = qp.solve(&sv, &tv, eps, opts, work);
            stats.add(&o);
            for (k, &i) in comp.ins.iter().enumerate() {
                line[i] = work.x[k];
            }
        }
    }
}

pub(super) fn attack_two_stage(p: &Problem<'_>) -> Result<([Vec<f64>; 3], SolveStats)> {
    let Problem { scaler, s, t, row_comps, col_comps, eps, opts, threads } = *p;
    let (n, m) = scaler.src;
    let (np, mp) = scaler.dst;
    let rt = scaler.rt();
    let rho = (0..rt.rows)
        .map(|q| rt.row(q).1.iter().map(|v| v.abs()).sum::<f64>())
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let eps1 = 0.5 * eps;
    let eps2 = 0.5 * eps / rho;
    let stage1 = Stage::new(rt, col_comps)?;
    let stage2 = Stage::new(&scaler.l, row_comps)?;
    let mut stats = SolveStats::default();

    // Stage 1: rows of V (m' x n), starting from the vertically downscaled source L·S.
    let chunks = run_chunks(3 * mp, threads, |range| {
        let mut work = Work::default();
        let mut st = SolveStats::default();
        let mut rows = Vec::with_capacity(range.len());
        for item in range {
            let (c, p) = (item / mp, item % mp);
            let mut line = vec![0.0; n];
            let (li, lv) = scaler.l.row(p);
            for (&i, &w) in li.iter().zip(lv) {
                for (d, &v) in line.iter_mut().zip(&s[c][i * n..(i + 1) * n]) {
                    *d += w * v;
                }
            }
            stage1.solve_line(
                &mut line,
                |q| t[c][p * np + q],
                eps1,
                opts,
                &mut work,
                &mut st,
            );
            rows.push((item, line));
        }
        (rows, st)
    })?;
    let mut v = [vec![0.0; mp * n], vec![0.0; mp * n], vec![0.0; mp * n]];
    for (rows, st) in chunks {
        stats.merge(&st);
        for (item, line) in rows {
            let (c, p) = (item / mp, item % mp);
            v[c][p * n..(p + 1) * n].copy_from_slice(&line);
        }
    }

    // Stage 2: columns of A (m x n) with L·a ≈ V column.
    let chunks = run_chunks(3 * n, threads, |range| {
        let mut work = Work::default();
        let mut st = SolveStats::default();
        let mut cols = Vec::with_capacity(range.len());
        for item in range {
            let (c, j) = (item / n, item % n);
            let mut line: Vec<f64> = (0..m).map(|i| s[c][i * n + j]).collect();
            stage2.solve_line(
                &mut line,
                |p| v[c][p * n + j],
                eps2,
                opts,
                &mut work,
                &mut st,
            );
            cols.push((item, line));
        }
        (cols, st)
    })?;
    let mut a = [s[0].clone(), s[1].clone(), s[2].clone()];
    for (cols, st) in chunks {
        stats.merge(&st);
        for (item, line) in cols {
            let (c, j) = (item / n, item % n);
            for (i, &val) in line.iter().enumerate() {
                a[c][i * n + j] = val;
            }
        }
    }
    Ok((a, stats))
}

