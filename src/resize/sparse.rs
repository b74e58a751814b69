//! Sparse row-major matrices: the coefficient matrices of the scalers.

use crate::error::{Error, Result};


/// A sparse matrix in compressed-sparse-row form with `f64` values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseMatrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row pointers, `rows + 1` entries: row `i` occupies `indptr[i]..indptr[i+1]`.
    pub indptr: Vec<usize>,
    /// Column index of every stored entry (ascending within a row).
    pub indices: Vec<usize>,
    /// Value of every stored entry.
    pub values: Vec<f64>,
}

impl SparseMatrix {
    /// Builds a `rows.len() × cols` matrix from per-row `(column, value)` lists; duplicate
    /// columns are summed and exact zeros dropped. Columns must be `< cols`.
    pub fn from_rows(cols: usize, rows: &[Vec<(usize, f64)>]) -> Result<SparseMatrix> {
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        let mut indices = Vec::new();
        let mut values = Vec::new();
        indptr.push(0);
        for (i, row) in rows.iter().enumerate() {
            let mut r: Vec<(usize, f64)> = row.clone();
            r.sort_by_key(|a| a.0);
            let mut k = 0;
            while k < r.len() {
                let c = r[k].0;
                if c >= cols {
                    return Err(Error::Shape(format!(
                        "sparse row {i} has column {c} >= {cols} columns"
                    )));
                }
                let mut v = 0.0;
                while k < r.len() && r[k].0 == c {
                    v += r[k].1;
                    k += 1;
                }
                if v != 0.0 {
                    indices.push(c);
                    values.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Ok(SparseMatrix {
            rows: rows.len(),
            cols,
            indptr,
            indices,
            values,
        })
    }

    /// Column indices and values of row `i` (empty for `i >= rows`).
    pub fn row(&self, i: usize) -> (&[usize], &[f64]) {
        if i >= self.rows {
            return (&[], &[]);
        }
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Entry `(i, j)` (0 where nothing is stored or out of range).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let (idx, val) = self.row(i);
        match idx.binary_search(&j) {
            Ok(k) => val[k],
            Err(_) => 0.0,
        }
    }

    /// The transposed matrix, again in CSR form.
    pub fn transpose(&self) -> SparseMatrix {
        let mut counts = vec![0usize; self.cols + 1];
        for &c in &self.indices {
            counts[c + 1] += 1;
        }
        for c in 0..self.cols {
            counts[c + 1] += counts[c];
        }
        let indptr = counts.clone();
        let mut next = counts;
        let mut indices = vec![0usize; self.nnz()];
        let mut values = vec![0.0f64; self.nnz()];
        for i in 0..self.rows {
            let (idx, val) = self.row(i);
            for (&c, &v) in idx.iter().zip(val) {
                let p = next[c];
                indices[p] = i;
                values[p] = v;
                next[c] += 1;
            }
        }
        SparseMatrix {
            rows: self.cols,
            cols: self.rows,
            indptr,
            indices,
            values,
        }
    }

    /// Row-major dense copy (`rows × cols`).
    pub fn to_dense(&self) -> Vec<f64> {
        let mut d = vec![0.0; self.rows * self.cols];
        for i in 0..self.rows {
            let (idx, val) = self.row(i);
            for (&c, &v) in idx.iter().zip(val) {
                d[i * self.cols + c] = v;
            }
        }
        d
    }

    /// Largest number of entries in one row.
    pub fn max_row_nnz(&self) -> usize {
        (0..self.rows)
            .map(|i| self.indptr[i + 1] - self.indptr[i])
            .max()
            .unwrap_or(0)
    }

    /// `y = A x`; `x.len()` must equal `cols`.
    pub fn mul_vec(&self, x: &[f64]) -> Result<Vec<f64>> {
        if x.len() != self.cols {
            return Err(Error::Shape(format!(
                "matrix has {} columns but the vector has {} entries",
                self.cols,
                x.len()
            )));
        }
        Ok((0..self.rows)
            .map(|i| {
                let (idx, val) = self.row(i);
                idx.iter().zip(val).map(|(&c, &v)| v * x[c]).sum()
            })
            .collect())
    }
}


#[cfg(test)]
mod tests {
    use crate::resize::{Scaler, ScalerKind};

    #[test]
    fn transpose_and_dense_agree() {
        let s = Scaler::new(ScalerKind::PillowBicubic, 9, 7, 4, 3).unwrap();
        let d = s.r.to_dense();
        let t = s.rt().to_dense();
        for j in 0..9 {
            for q in 0..4 {
                assert_eq!(d[j * 4 + q], t[q * 9 + j]);
                assert_eq!(s.r.get(j, q), d[j * 4 + q]);
            }
        }
    }
}
