//! Connected components of a coefficient matrix's bipartite graph (inputs ↔ outputs): which
//! pixels the scaling-attack problem couples.

use crate::error::Result;
use crate::resize::SparseMatrix;

/// A connected component of the bipartite graph of a scaling matrix (outputs × inputs).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Component {
    /// Output indices (rows of the matrix), ascending.
    pub(super) outs: Vec<usize>,
    /// Input indices (columns of the matrix), ascending.
    pub(super) ins: Vec<usize>,
}

pub(super) fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// Connected components (with at least one output) of `mat` (outputs × inputs).
pub(super) fn components(mat: &SparseMatrix) -> Vec<Component> {
    let mut parent: Vec<usize> = (0..mat.cols).collect();
    for p in 0..mat.rows {
        let (idx, _) = mat.row(p);
        if let Some(&first) = idx.first() {
            let r0 = find(&mut parent, first);
            for &i in &idx[1..] {
                let ri = find(&mut parent, i);
                if ri != r0 {
                    parent[ri] = r0;
                }
            }
        }
    }
    let mut comp_of_root = vec![usize::MAX; mat.cols];
    let mut comps: Vec<Component> = Vec::new();
    for p in 0..mat.rows {
        let (idx, _) = mat.row(p);
        if let Some(&first) = idx.first() {
            let r = find(&mut parent, first);
            if comp_of_root[r] == usize::MAX {
                comp_of_root[r] = comps.len();
                comps.push(Component {
                    outs: Vec::new(),
                    ins: Vec::new(),
                });
            }
            comps[comp_of_root[r]].outs.push(p);
        }
    }
    for i in 0..mat.cols {
        let r = find(&mut parent, i);
        if comp_of_root[r] != usize::MAX {
            comps[comp_of_root[r]].ins.push(i);
        }
    }
    comps
}

/// The sub-matrix of `mat` on a component, with local indices.
pub(super) fn local_matrix(mat: &SparseMatrix, comp: &Component) -> Result<SparseMatrix> {
    let mut local = vec![usize::MAX; mat.cols];
    for (k, &i) in comp.ins.iter().enumerate() {
        local[i] = k;
    }
    let rows: Vec<Vec<(usize, f64)>> = comp
        .outs
        .iter()
        .map(|&p| {
            let (idx, val) = mat.row(p);
            idx.iter().zip(val).map(|(&i, &v)| (local[i], v)).collect()
        })
        .collect();
    SparseMatrix::from_rows(comp.ins.len(), &rows)
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::resize::{Scaler, ScalerKind};

    #[test]
    fn components_split_linear_ratio_four() {
        let sc = Scaler::new(ScalerKind::OpencvLinear, 16, 16, 4, 4).unwrap();
        let comps = components(&sc.l);
        assert_eq!(comps.len(), 4);
        assert_eq!(comps[1].ins, vec![5, 6]);
        assert_eq!(comps[1].outs, vec![1]);
        let pil = Scaler::new(ScalerKind::PillowBilinear, 16, 16, 4, 4).unwrap();
        assert_eq!(components(&pil.l).len(), 1);
    }
}
