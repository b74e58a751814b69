//! Test helpers for the QP solvers: brute force and a dense solve on tiny instances.

/// Tiny deterministic PRNG (xorshift) for reproducible random instances.
pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    pub(crate) fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

    /// Brute force: enumerate all active sets (each pixel at 0, 255 or free; each constraint
/// inactive, at +ε or at −ε), solve the equality-constrained QP, keep the best feasible point.
pub(crate) fn brute_force(m: &[Vec<f64>], s: &[f64], t: &[f64], eps: f64) -> Option<(f64, Vec<f64>)> {
    let (k, n) = (m.len(), s.len());
    let mut best: Option<(f64, Vec<f64>)> = None;
    let combos_x = 3usize.pow(n as u32);
    let combos_c = 3usize.pow(k as u32);
    for cx in 0..combos_x {
        for cc in 0..combos_c {
            let mut st = vec![0usize; n];
            let mut v = cx;
            for e in st.iter_mut() {
                *e = v % 3;
                v /= 3;
            }
            let mut sc = vec![0usize; k];
            let mut v = cc;
            for e in sc.iter_mut() {
                *e = v % 3;
                v /= 3;
            }
            let free: Vec<usize> = (0..n).filter(|&i| st[i] == 2).collect();
            let act: Vec<usize> = (0..k).filter(|&p| sc[p] != 0).collect();
            let mut xb = vec![0.0; n];
            for i in 0..n {
                xb[i] = match st[i] {
                    0 => 0.0,
                    1 => 255.0,
                    _ => s[i],
                };
            }
            // x_F = s_F − M_AFᵀ μ ; (M_AF M_AFᵀ) μ = M_A xb − b_A
            let na = act.len();
            let mut kmat = vec![0.0; na * na];
            let mut rhs = vec![0.0; na];
            for (a, &p) in act.iter().enumerate() {
                let b = t[p] + if sc[p] == 1 { eps } else { -eps };
                rhs[a] = (0..n).map(|i| m[p][i] * xb[i]).sum::<f64>() - b;
                for (bb, &q) in act.iter().enumerate() {
                    kmat[a * na + bb] = free.iter().map(|&i| m[p][i] * m[q][i]).sum();
                }
            }
            let Some(mu) = dense_solve(&mut kmat, &mut rhs, na) else {
                continue;
            };
            let mut x = xb.clone();
            for &i in &free {
                x[i] = s[i]
                    - act
                        .iter()
                        .enumerate()
                        .map(|(a, &p)| m[p][i] * mu[a])
                        .sum::<f64>();
            }
            let feas = x.iter().all(|&v| (-1e-9..=255.0 + 1e-9).contains(&v))
                && (0..k).all(|p| {
                    let r: f64 = (0..n).map(|i| m[p][i] * x[i]).sum::<f64>() - t[p];
                    r.abs() <= eps + 1e-9
                });
            if !feas {
                continue;
            }
            let obj: f64 = x.iter().zip(s).map(|(a, b)| (a - b) * (a - b)).sum();
            if best.as_ref().is_none_or(|b| obj < b.0) {
                best = Some((obj, x));
            }
        }
    }
    best
}

pub(crate) fn dense_solve(a: &mut [f64], b: &mut [f64], n: usize) -> Option<Vec<f64>> {
    for c in 0..n {
        let piv = (c..n).max_by(|&i, &j| a[i * n + c].abs().total_cmp(&a[j * n + c].abs()))?;
        if a[piv * n + c].abs() < 1e-12 {
            return None;
        }
        for j in 0..n {
            a.swap(c * n + j, piv * n + j);
        }
        b.swap(c, piv);
        for i in c + 1..n {
            let f = a[i * n + c] / a[c * n + c];
            for j in c..n {
                a[i * n + j] -= f * a[c * n + j];
            }
            b[i] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|j| a[i * n + j] * x[j]).sum();
        x[i] = (b[i] - s) / a[i * n + i];
    }
    Some(x)
}
