//! Class-index maps: one `u8` class per pixel, [`VOID`] for "no class / ignore".

use crate::error::{Error, Result};

/// The "void" / "ignore" label of ground-truth maps (Pascal VOC convention).
pub const VOID: u8 = 255;

/// A class-index map (`u8` per pixel, row-major; [`VOID`] = void).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassMap {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height × width` class indices.
    pub data: Vec<u8>,
}

impl ClassMap {
    /// This map nearest-resized (Pillow's rule, [`nearest_resize_map`]) to `width × height`;
    /// a copy when the size is already right.
    pub fn resized(&self, width: usize, height: usize) -> Result<ClassMap> {
        if (self.width, self.height) == (width, height) {
            return Ok(self.clone());
        }
        let data = nearest_resize_map(&self.data, self.width, self.height, width, height)?;
        Ok(ClassMap { width, height, data })
    }
}

/// Source index of every destination index for a nearest-neighbour resize from `src` to `dst`
/// samples, computed exactly like Pillow's `Image.resize(..., NEAREST)` (its affine "scale" path):
/// the sampling position starts at `0.5 * src / dst` and advances by `src / dst` (f64 running
/// sum), and the index is its integer part, clamped to `src - 1`. Mathematically this is
/// `floor((i + 0.5) * src / dst)`. `src` and `dst` must be non-zero (the callers check).
pub(crate) fn nearest_source_indices(src: usize, dst: usize) -> Vec<usize> {
    let scale = src as f64 / dst as f64;
    let mut pos = scale * 0.5;
    let last = src.saturating_sub(1);
    let mut out = Vec::with_capacity(dst);
    for _ in 0..dst {
        // `pos` is never negative; `as usize` truncates like Pillow's `(int)` cast.
        out.push((pos as usize).min(last));
        pos += scale;
    }
    out
}

/// Resize a class map (`w x h`, row-major) to `new_w x new_h` with nearest neighbour, the way
/// Pillow's `Image.resize((new_w, new_h), NEAREST)` does: source index
/// `floor((dst + 0.5) * src / dst)`, clamped to `src - 1`. Like Pillow, the position is a running
/// `f64` sum, so where that product is exactly an integer (e.g. 2 → 7 samples, `i = 3`) the
/// index can be one lower than the exact formula, as in Pillow. Used to bring predicted maps to
/// the ground-truth size for evaluation.
///
/// Zero sizes give [`Error::InvalidArgument`]; `map.len() != w * h` gives [`Error::Shape`].
pub fn nearest_resize_map(
    map: &[u8],
    w: usize,
    h: usize,
    new_w: usize,
    new_h: usize,
) -> Result<Vec<u8>> {
    if w == 0 || h == 0 || new_w == 0 || new_h == 0 {
        return Err(Error::InvalidArgument(format!(
            "cannot resize a {w}x{h} map to {new_w}x{new_h}: sizes must be non-zero"
        )));
    }
    let expected = w
        .checked_mul(h)
        .ok_or_else(|| Error::InvalidArgument(format!("map size {w}x{h} overflows")))?;
    if map.len() != expected {
        return Err(Error::Shape(format!(
            "map has {} values but {w}x{h} = {expected} were expected",
            map.len()
        )));
    }
    let xs = nearest_source_indices(w, new_w);
    let ys = nearest_source_indices(h, new_h);
    let mut out = Vec::with_capacity(new_w * new_h);
    for &y in &ys {
        let row = &map[y * w..(y + 1) * w];
        out.extend(xs.iter().map(|&x| row[x]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_resize_up_and_down() {
        let m = [1u8, 2, 3, 4];
        let up = nearest_resize_map(&m, 2, 2, 4, 4).unwrap();
        assert_eq!(up, vec![1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
        let big: Vec<u8> = (0..16).collect();
        let down = nearest_resize_map(&big, 4, 4, 2, 2).unwrap();
        // source rows/cols floor((i + 0.5) * 2) = 1, 3
        assert_eq!(down, vec![5, 7, 13, 15]);
        // non-square, non-integer: 3x2 -> 2x3: xs = floor((i+.5)*1.5) = 0, 2; ys = floor((j+.5)*2/3) = 0, 1, 1
        let r: Vec<u8> = (0..6).collect();
        assert_eq!(
            nearest_resize_map(&r, 3, 2, 2, 3).unwrap(),
            vec![0, 2, 3, 5, 3, 5]
        );
        // identity
        assert_eq!(nearest_resize_map(&big, 4, 4, 4, 4).unwrap(), big);
    }

    #[test]
    fn nearest_resize_errors() {
        let err = nearest_resize_map(&[0; 5], 2, 2, 4, 4).unwrap_err();
        assert!(
            matches!(&err, Error::Shape(m) if m.contains("5 values") && m.contains("2x2")),
            "{err}"
        );
        let err = nearest_resize_map(&[0; 4], 2, 2, 0, 4).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains("0x4")),
            "{err}"
        );
    }

    #[test]
    fn nearest_indices_follow_formula_except_pillow_ties() {
        let mut ties = 0;
        for src in 1..=70usize {
            for dst in 1..=70usize {
                let idx = nearest_source_indices(src, dst);
                assert_eq!(idx.len(), dst);
                for (i, &s) in idx.iter().enumerate() {
                    // exact rational floor((2i+1) * src / (2 dst))
                    let exact = ((2 * i + 1) * src / (2 * dst)).min(src - 1);
                    if (2 * i + 1) * src % (2 * dst) == 0 {
                        // exact tie: Pillow's running f64 sum may land just below the integer
                        assert!(s == exact || s + 1 == exact, "src {src} dst {dst} i {i}");
                        ties += usize::from(s != exact);
                    } else {
                        assert_eq!(s, exact, "src {src} dst {dst} i {i}");
                    }
                }
            }
        }
        assert!(ties > 0);
        // The known case: 2 -> 7, position 3.5 * 2 / 7 = 1 exactly, but Pillow's running sum
        // 1/7 + 3 * 2/7 is 0.999..., so Pillow samples index 0 there.
        assert_eq!(nearest_source_indices(2, 7), vec![0, 0, 0, 0, 1, 1, 1]);
    }
}
