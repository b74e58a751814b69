//! Perturbation sizes: L∞, L2 and PSNR, for `[0, 1]` float images and for 8-bit images.
//!
//! Both slices use the same layout (any: planar or interleaved), values in `[0, 1]`.

use crate::error::{Error, Result};

fn check_same_len(a: &[f32], b: &[f32]) -> Result<()> {
    if a.len() != b.len() {
        return Err(Error::Shape(format!(
            "images have different sizes: {} vs {} values",
            a.len(),
            b.len()
        )));
    }
    Ok(())
}

/// L∞ distance `max |a - b|` (0.0 for empty slices). Different lengths give [`Error::Shape`].
pub fn linf(a: &[f32], b: &[f32]) -> Result<f64> {
    check_same_len(a, b)?;
    Ok(a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs())
        .fold(0.0, f64::max))
}

/// L2 distance: Euclidean norm of `a - b` over all values, in the images' `[0, 1]` units
/// (0.0 for empty slices). Different lengths give [`Error::Shape`].
pub fn l2(a: &[f32], b: &[f32]) -> Result<f64> {
    check_same_len(a, b)?;
    Ok(sum_sq(a, b).sqrt())
}

fn sum_sq(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum()
}

/// Peak signal-to-noise ratio in dB with peak 1.0: `10 log10(1 / MSE)`.
///
/// Identical images give `f64::INFINITY`. Different lengths give [`Error::Shape`]; empty slices
/// give [`Error::InvalidArgument`] (the MSE is undefined).
pub fn psnr(a: &[f32], b: &[f32]) -> Result<f64> {
    check_same_len(a, b)?;
    if a.is_empty() {
        return Err(Error::InvalidArgument(
            "psnr of empty images (0 values)".into(),
        ));
    }
    Ok(psnr_from_mse(sum_sq(a, b) / a.len() as f64, 1.0))
}

/// PSNR in dB of a mean squared error against `peak`: `10 log10(peak² / mse)`, infinite for 0.
pub fn psnr_from_mse(mse: f64, peak: f64) -> f64 {
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (peak * peak / mse).log10() }
}

/// PSNR (dB, peak 255) between two 8-bit RGB images of equal size; infinite when identical.
pub fn psnr_u8(a: &image::RgbImage, b: &image::RgbImage) -> Result<f64> {
    if a.dimensions() != b.dimensions() {
        return Err(Error::Shape(format!(
            "PSNR of a {}x{} and a {}x{} image",
            a.width(),
            a.height(),
            b.width(),
            b.height()
        )));
    }
    let n = a.as_raw().len().max(1) as f64;
    let mse = a.as_raw().iter().zip(b.as_raw()).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum::<f64>() / n;
    Ok(psnr_from_mse(mse, 255.0))
}

/// PSNR of a set of images taken together (peak 1), from the mean of their per-image MSEs
/// (recovered from their PSNRs): an unchanged image (infinite PSNR, MSE 0) counts as such
/// instead of making the figure infinite.
pub fn pooled_psnr(psnrs: &[f64]) -> f64 {
    let mse = psnrs.iter().map(|p| 10f64.powf(-p / 10.0)).sum::<f64>() / psnrs.len().max(1) as f64;
    psnr_from_mse(mse, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perturbation_norms() {
        let a = [0.0f32, 0.5, 1.0, 0.25];
        let b = [0.0f32, 0.25, 1.0, 0.75];
        assert!((linf(&a, &b).unwrap() - 0.5).abs() < 1e-12);
        assert!((l2(&a, &b).unwrap() - (0.0625f64 + 0.25).sqrt()).abs() < 1e-12);
        assert_eq!(linf(&[], &[]).unwrap(), 0.0);
        assert!(matches!(l2(&a, &b[..2]), Err(Error::Shape(m)) if m.contains("4 vs 2")));
        assert!(matches!(linf(&a[..1], &b), Err(Error::Shape(_))));
    }

    #[test]
    fn psnr_known_values() {
        // every difference 0.1 -> MSE 0.01 -> 20 dB
        let a = vec![0.2f32; 300];
        let b = vec![0.3f32; 300];
        let p = psnr(&a, &b).unwrap();
        assert!((p - 20.0).abs() < 1e-4, "{p}");
        // difference 0.5 on a quarter of the values -> MSE 0.0625 -> 12.04 dB
        let c = [0.0f32, 0.0, 0.0, 0.0];
        let d = [0.5f32, 0.0, 0.0, 0.0];
        assert!((psnr(&c, &d).unwrap() - 10.0 * 16f64.log10()).abs() < 1e-9);
        assert_eq!(psnr(&a, &a).unwrap(), f64::INFINITY);
        assert!(matches!(psnr(&[], &[]), Err(Error::InvalidArgument(_))));
        assert!(matches!(psnr(&a, &b[..10]), Err(Error::Shape(m)) if m.contains("300 vs 10")));
    }

    #[test]
    fn psnr_u8_and_pooled() {
        let a = image::RgbImage::from_raw(1, 1, vec![0, 0, 0]).unwrap();
        let b = image::RgbImage::from_raw(1, 1, vec![255, 255, 255]).unwrap();
        assert_eq!(psnr_u8(&a, &b).unwrap(), 0.0);
        assert_eq!(psnr_u8(&a, &a).unwrap(), f64::INFINITY);
        // MSEs 0.01 and 0 → mean 0.005 → 23.01 dB
        assert!((pooled_psnr(&[20.0, f64::INFINITY]) - 10.0 * 200f64.log10()).abs() < 1e-9);
    }

    #[test]
    fn batch_psnr_pools_the_squared_error() {
        // MSE 0.01 and 0 → mean 0.005 → 23.01 dB; an untouched image alone stays infinite
        let p = pooled_psnr(&[20.0, f64::INFINITY]);
        assert!((p - 23.0103).abs() < 1e-3, "{p}");
        assert!((pooled_psnr(&[30.0, 30.0]) - 30.0).abs() < 1e-9);
        assert!(pooled_psnr(&[f64::INFINITY]).is_infinite());
    }
}
