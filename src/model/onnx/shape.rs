//! The shape rules of the layout ops (Reshape, Unsqueeze, Squeeze, Slice, Split, Transpose),
//! shared by their host and device forms ([`super::exec_host`], [`super::exec_dev`]).

use super::host::{axis, numel};
use crate::error::{Error, Result};

pub fn to_dims(v: &[i64]) -> Result<Vec<usize>> {
    v.iter().map(|&d| usize::try_from(d).map_err(|_| Error::Shape(format!("negative dimension {d} in {v:?}")))).collect()
}

/// The target shape of a Reshape: 0 copies the input's dimension (unless `allowzero`), −1 is
/// inferred.
pub fn reshape_target(input: &[usize], spec: &[i64], allowzero: bool) -> Result<Vec<usize>> {
    let total = numel(input);
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*input.get(i).ok_or_else(|| Error::Shape(format!("Reshape copies axis {i} of {input:?}")))?),
            d if d >= 0 => out.push(d as usize),
            _ => return Err(Error::Shape(format!("bad Reshape target {spec:?}"))),
        }
    }
    if let Some(i) = infer {
        let known: usize = out.iter().product();
        if known == 0 || total % known != 0 {
            return Err(Error::Shape(format!("cannot reshape {input:?} to {spec:?}")));
        }
        out[i] = total / known;
    }
    if numel(&out) != total {
        return Err(Error::Shape(format!("cannot reshape {input:?} to {spec:?}")));
    }
    Ok(out)
}

/// Output shape of Unsqueeze.
pub fn unsqueezed(shape: &[usize], axes: &[i64]) -> Result<Vec<usize>> {
    let r = shape.len() + axes.len();
    let mut ax: Vec<usize> = axes.iter().map(|&a| axis(a, r)).collect::<Result<_>>()?;
    ax.sort_unstable();
    let mut it = shape.iter();
    Ok((0..r).map(|i| if ax.contains(&i) { 1 } else { *it.next().unwrap_or(&1) }).collect())
}

/// Output shape of Squeeze.
pub fn squeezed(shape: &[usize], axes: Option<&[i64]>) -> Result<Vec<usize>> {
    match axes {
        None => Ok(shape.iter().copied().filter(|&d| d != 1).collect()),
        Some(a) => {
            let ax: Vec<usize> = a.iter().map(|&x| axis(x, shape.len())).collect::<Result<_>>()?;
            if let Some(&bad) = ax.iter().find(|&&x| shape[x] != 1) {
                return Err(Error::Shape(format!("cannot squeeze axis {bad} of {shape:?}")));
            }
            Ok(shape.iter().enumerate().filter(|(i, _)| !ax.contains(i)).map(|(_, &d)| d).collect())
        }
    }
}

/// Per axis (start, step, count) of a Slice, ONNX clamping rules.
pub fn slice_plan(shape: &[usize], starts: &[i64], ends: &[i64], axes: Option<Vec<i64>>, steps: Option<Vec<i64>>) -> Result<Vec<(usize, i64, usize)>> {
    let r = shape.len();
    let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    let mut plan: Vec<(usize, i64, usize)> = shape.iter().map(|&d| (0, 1, d)).collect();
    for (k, &a) in axes.iter().enumerate() {
        let ax = axis(a, r)?;
        let dim = shape[ax] as i64;
        let step = steps[k];
        if step == 0 {
            return Err(Error::Shape("Slice with step 0".into()));
        }
        let fix = |v: i64| if v < 0 { v + dim } else { v };
        let (s, e) = (fix(starts[k].clamp(-i64::MAX, i64::MAX)), fix(ends[k].clamp(-i64::MAX, i64::MAX)));
        let (s, e, n) = if step > 0 {
            let (s, e) = (s.clamp(0, dim), e.clamp(0, dim));
            (s, e, if e > s { (e - s + step - 1) / step } else { 0 })
        } else {
            let (s, e) = (s.clamp(0, dim - 1), e.clamp(-1, dim - 1));
            (s, e, if s > e { (s - e + (-step) - 1) / (-step) } else { 0 })
        };
        let _ = e;
        plan[ax] = (s as usize, step, n as usize);
    }
    Ok(plan)
}

/// Sizes of the parts of a Split.
pub fn split_sizes(dim: usize, outputs: usize, sizes: Option<Vec<usize>>, size: Option<usize>) -> Result<Vec<usize>> {
    if let Some(s) = sizes {
        if s.iter().sum::<usize>() != dim {
            return Err(Error::Shape(format!("Split sizes {s:?} do not add up to {dim}")));
        }
        return Ok(s);
    }
    let chunk = size.unwrap_or_else(|| dim.div_ceil(outputs.max(1)));
    Ok((0..outputs).map(|i| chunk.min(dim.saturating_sub(i * chunk))).collect())
}

/// A Transpose's permutation (reversed axes when none is given).
pub fn perm_of(perm: &[i64], rank: usize) -> Result<Vec<usize>> {
    if perm.is_empty() {
        return Ok((0..rank).rev().collect());
    }
    perm.iter().map(|&p| axis(p, rank)).collect()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_rules() {
        assert_eq!(reshape_target(&[2, 3, 4], &[0, -1], false).unwrap(), vec![2, 12]);
        assert_eq!(reshape_target(&[2, 3, 4], &[4, 0, 2], true).is_err(), true);
        assert!(reshape_target(&[2, 3], &[4, -1], false).is_err());
        assert_eq!(unsqueezed(&[3, 4], &[0, -1]).unwrap(), vec![1, 3, 4, 1]);
        assert_eq!(squeezed(&[1, 3, 1], None).unwrap(), vec![3]);
        assert!(squeezed(&[1, 3], Some(&[1])).is_err());
    }

    #[test]
    fn slice_clamps_like_onnx() {
        // ends past the end, negative starts, negative steps
        let p = slice_plan(&[10, 4], &[-3, i64::MAX], &[i64::MAX, -5], Some(vec![0, 1]), Some(vec![1, -2])).unwrap();
        assert_eq!(p, vec![(7, 1, 3), (3, -2, 2)]);
        assert_eq!(split_sizes(10, 3, None, None).unwrap(), vec![4, 4, 2]);
    }
}
