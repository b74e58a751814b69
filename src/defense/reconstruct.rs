//! Input reconstruction: transformations applied to the image before the network, in the hope
//! that they remove an adversarial perturbation but keep the content.
//!
//! - [`Reconstruction::Jpeg`]: JPEG re-encoding at a quality (Dziugaite et al. 2016, Das et al.
//!   2017, Guo et al., "Countering Adversarial Images using Input Transformations", ICLR 2018);
//! - [`Reconstruction::BitDepth`]: colour bit-depth reduction and [`Reconstruction::Median`]:
//!   median smoothing (Xu, Evans & Qi, "Feature Squeezing", NDSS 2018);
//! - [`Reconstruction::Gaussian`]: Gaussian blur;
//! - [`Reconstruction::TotalVariation`]: total-variation denoising (Rudin, Osher & Fatemi 1992;
//!   used as a defense by Guo et al. 2018), solved with Chambolle's dual projection algorithm
//!   ("An Algorithm for Total Variation Minimization and Applications", JMIV 2004).
//!
//! A [`Pipeline`] applies several in order. All work on host images in `[0, 1]` (planar CHW)
//! and are not differentiable (JPEG, rounding, medians); attacks reach through them with BPDA
//! (Athalye, Carlini & Wagner, "Obfuscated Gradients Give a False Sense of Security", ICML
//! 2018): the forward pass applies the pipeline, the backward pass treats it as the identity
//! ([`super::Defended`]).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::image::RgbImage01;

/// The reconstructions a front end offers by default, as `(text, title)`: one of each kind at a
/// setting from the literature cited above. The page's menu lists these.
pub const PRESETS: [(&str, &str); 5] = [
    ("jpeg:75", "JPEG q75"),
    ("median:3", "median 3×3"),
    ("bits:4", "4-bit colour"),
    ("gaussian:1", "Gaussian σ=1"),
    ("tv:0.05", "TV denoising"),
];

/// One reconstruction step. Written as text `jpeg:75`, `bits:4`, `median:3`, `gaussian:1.0`,
/// `tv:0.08` or `tv:0.08:40` (weight, iterations).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reconstruction {
    /// JPEG encode and decode at `quality` in 1..=100 (8-bit RGB, 4:2:0 chroma as the `image`
    /// crate's encoder writes it).
    Jpeg {
        /// JPEG quality, 1..=100.
        quality: u8,
    },
    /// Keep `bits` bits per channel: `round(x·(2^b − 1)) / (2^b − 1)`, `bits` in 1..=8.
    BitDepth {
        /// Bits per channel.
        bits: u8,
    },
    /// Per-channel median over a `size × size` window (odd size ≥ 3), edges replicated.
    Median {
        /// Window side.
        size: usize,
    },
    /// Gaussian blur with standard deviation `sigma` pixels (kernel radius ⌈3σ⌉), edges
    /// replicated.
    Gaussian {
        /// Standard deviation in pixels, in (0, 20].
        sigma: f64,
    },
    /// Total-variation denoising per channel: `argmin_u ‖u − f‖²/2 + weight · TV(u)`
    /// (isotropic TV), `iterations` steps of Chambolle's projection algorithm.
    TotalVariation {
        /// Regularisation weight in `[0, 1]` pixel units, in (0, 10].
        weight: f64,
        /// Iterations, 1..=1000.
        iterations: usize,
    },
}

/// Default iterations of [`Reconstruction::TotalVariation`] when the text gives none.
pub const TV_DEFAULT_ITERATIONS: usize = 50;

impl std::fmt::Display for Reconstruction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reconstruction::Jpeg { quality } => write!(f, "jpeg:{quality}"),
            Reconstruction::BitDepth { bits } => write!(f, "bits:{bits}"),
            Reconstruction::Median { size } => write!(f, "median:{size}"),
            Reconstruction::Gaussian { sigma } => write!(f, "gaussian:{sigma}"),
            Reconstruction::TotalVariation { weight, iterations } => write!(f, "tv:{weight}:{iterations}"),
        }
    }
}

impl std::str::FromStr for Reconstruction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::InvalidArgument(format!(
                "reconstruction '{s}': {why} (expected jpeg:Q, bits:B, median:K, gaussian:SIGMA or tv:WEIGHT[:ITERATIONS])"
            ))
        };
        let mut parts = s.trim().split(':');
        let kind = parts.next().unwrap_or_default().to_ascii_lowercase();
        let args: Vec<&str> = parts.collect();
        let num = |i: usize| -> Result<f64> {
            let a = args.get(i).ok_or_else(|| bad("missing parameter"))?;
            a.trim().parse::<f64>().map_err(|_| bad(&format!("'{a}' is not a number")))
        };
        let int = |i: usize| -> Result<usize> {
            let v = num(i)?;
            if v.fract() != 0.0 || v < 0.0 {
                return Err(bad(&format!("{v} is not a whole number")));
            }
            Ok(v as usize)
        };
        let r = match kind.as_str() {
            "jpeg" | "jpg" => Reconstruction::Jpeg { quality: u8::try_from(int(0)?).map_err(|_| bad("quality above 100"))? },
            "bits" | "bit-depth" | "bitdepth" => {
                Reconstruction::BitDepth { bits: u8::try_from(int(0)?).map_err(|_| bad("more than 8 bits"))? }
            }
            "median" => Reconstruction::Median { size: int(0)? },
            "gaussian" | "blur" => Reconstruction::Gaussian { sigma: num(0)? },
            "tv" | "total-variation" => Reconstruction::TotalVariation {
                weight: num(0)?,
                iterations: if args.len() > 1 { int(1)? } else { TV_DEFAULT_ITERATIONS },
            },
            _ => return Err(bad(&format!("unknown kind '{kind}'"))),
        };
        r.validate()?;
        Ok(r)
    }
}

impl Reconstruction {
    /// Check the parameter ranges; errors quote the bad value.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        match *self {
            Reconstruction::Jpeg { quality } if !(1..=100).contains(&quality) => {
                bad(format!("JPEG quality must be in 1..=100, got {quality}"))
            }
            Reconstruction::BitDepth { bits } if !(1..=8).contains(&bits) => {
                bad(format!("bit depth must be in 1..=8, got {bits}"))
            }
            Reconstruction::Median { size } if size < 3 || size % 2 == 0 || size > 15 => {
                bad(format!("median window must be odd and in 3..=15, got {size}"))
            }
            Reconstruction::Gaussian { sigma } if !(sigma.is_finite() && sigma > 0.0 && sigma <= 20.0) => {
                bad(format!("Gaussian sigma must be in (0, 20], got {sigma}"))
            }
            Reconstruction::TotalVariation { weight, iterations }
                if !(weight.is_finite() && weight > 0.0 && weight <= 10.0) || !(1..=1000).contains(&iterations) =>
            {
                bad(format!("TV weight must be in (0, 10] and iterations in 1..=1000, got {weight} and {iterations}"))
            }
            _ => Ok(()),
        }
    }

    /// Apply to one image.
    pub fn apply(&self, img: &RgbImage01) -> Result<RgbImage01> {
        self.validate()?;
        let (w, h) = (img.width, img.height);
        let data = match *self {
            Reconstruction::Jpeg { quality } => jpeg_roundtrip(img, quality)?,
            Reconstruction::BitDepth { bits } => {
                let q = f32::from((1u16 << bits) - 1);
                img.data.iter().map(|&v| (v.clamp(0.0, 1.0) * q).round() / q).collect()
            }
            Reconstruction::Median { size } => per_plane(img, |p| median_plane(p, w, h, size / 2)),
            Reconstruction::Gaussian { sigma } => per_plane(img, |p| gaussian_plane(p, w, h, sigma)),
            Reconstruction::TotalVariation { weight, iterations } => {
                per_plane(img, |p| tv_chambolle_plane(p, w, h, weight as f32, iterations))
            }
        };
        RgbImage01::new(w, h, data)
    }
}

/// Reconstructions applied in order (empty = identity).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pipeline(pub Vec<Reconstruction>);

impl Pipeline {
    /// Parse a comma-separated list such as `jpeg:75,median:3` (empty or `none` = identity).
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(Pipeline::default());
        }
        Ok(Pipeline(s.split(',').map(str::parse).collect::<Result<_>>()?))
    }

    /// Whether the pipeline does nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Apply every step in order.
    pub fn apply(&self, img: &RgbImage01) -> Result<RgbImage01> {
        let mut out = img.clone();
        for r in &self.0 {
            out = r.apply(&out)?;
        }
        Ok(out)
    }
}

impl std::fmt::Display for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join("+"))
    }
}

/// Apply `op` to each of the three planes.
fn per_plane(img: &RgbImage01, op: impl Fn(&[f32]) -> Vec<f32>) -> Vec<f32> {
    let plane = img.width * img.height;
    img.data.chunks(plane.max(1)).flat_map(op).collect()
}

fn jpeg_roundtrip(img: &RgbImage01, quality: u8) -> Result<Vec<f32>> {
    use image::ImageEncoder;
    let rgb = crate::image::from_tensor01(img)?;
    let mut buf = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)
        .write_image(rgb.as_raw(), rgb.width(), rgb.height(), image::ExtendedColorType::Rgb8)
        .map_err(|e| Error::Image(format!("JPEG encoding at quality {quality} failed: {e}")))?;
    let decoded = image::load_from_memory_with_format(&buf, image::ImageFormat::Jpeg)
        .map_err(|e| Error::Image(format!("JPEG decoding failed: {e}")))?
        .to_rgb8();
    Ok(crate::image::to_tensor01(&decoded).data)
}

/// Median over a `(2r+1)²` window with replicated edges.
fn median_plane(p: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut out = vec![0.0; w * h];
    let mut win = Vec::with_capacity((2 * r + 1) * (2 * r + 1));
    let clampi = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    for y in 0..h {
        for x in 0..w {
            win.clear();
            for dy in -(r as isize)..=r as isize {
                let yy = clampi(y as isize + dy, h);
                for dx in -(r as isize)..=r as isize {
                    win.push(p[yy * w + clampi(x as isize + dx, w)]);
                }
            }
            let mid = win.len() / 2;
            let (_, m, _) = win.select_nth_unstable_by(mid, f32::total_cmp);
            out[y * w + x] = *m;
        }
    }
    out
}

/// Separable Gaussian blur, kernel radius ⌈3σ⌉, replicated edges.
fn gaussian_plane(p: &[f32], w: usize, h: usize, sigma: f64) -> Vec<f32> {
    let r = (3.0 * sigma).ceil() as isize;
    let mut k: Vec<f64> = (-r..=r).map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    let s: f64 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    let clampi = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let acc: f64 = (-r..=r).map(|d| k[(d + r) as usize] * f64::from(p[y * w + clampi(x as isize + d, w)])).sum();
            tmp[y * w + x] = acc as f32;
        }
    }
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let acc: f64 = (-r..=r).map(|d| k[(d + r) as usize] * f64::from(tmp[clampi(y as isize + d, h) * w + x])).sum();
            out[y * w + x] = acc as f32;
        }
    }
    out
}

/// Chambolle's projection algorithm for `argmin_u ‖u − f‖²/2 + λ·TV(u)`:
///
/// ```text
///   p⁰ = 0;  g = ∇(div pⁿ − f/λ);  pⁿ⁺¹ = (pⁿ + τ g) / (1 + τ |g|);  u = f − λ div p
/// ```
///
/// with forward differences for `∇`, the matching backward-difference divergence (its negative
/// adjoint), and `τ = 1/8`, for which the iteration converges (Chambolle 2004, Theorem 3.1).
/// The result is clamped to `[0, 1]`.
fn tv_chambolle_plane(f: &[f32], w: usize, h: usize, lambda: f32, iterations: usize) -> Vec<f32> {
    const TAU: f32 = 0.125;
    let n = w * h;
    let (mut px, mut py) = (vec![0.0f32; n], vec![0.0f32; n]);
    let mut div = vec![0.0f32; n];
    let mut g = vec![0.0f32; n];
    let divergence = |px: &[f32], py: &[f32], div: &mut [f32]| {
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let dx = if x + 1 < w { px[i] } else { 0.0 } - if x > 0 { px[i - 1] } else { 0.0 };
                let dy = if y + 1 < h { py[i] } else { 0.0 } - if y > 0 { py[i - w] } else { 0.0 };
                div[i] = dx + dy;
            }
        }
    };
    for _ in 0..iterations {
        divergence(&px, &py, &mut div);
        for i in 0..n {
            g[i] = div[i] - f[i] / lambda;
        }
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let gx = if x + 1 < w { g[i + 1] - g[i] } else { 0.0 };
                let gy = if y + 1 < h { g[i + w] - g[i] } else { 0.0 };
                let norm = (gx * gx + gy * gy).sqrt();
                px[i] = (px[i] + TAU * gx) / (1.0 + TAU * norm);
                py[i] = (py[i] + TAU * gy) / (1.0 + TAU * norm);
            }
        }
    }
    divergence(&px, &py, &mut div);
    f.iter().zip(&div).map(|(&fv, &d)| (fv - lambda * d).clamp(0.0, 1.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: usize, h: usize, f: impl Fn(usize, usize, usize) -> f32) -> RgbImage01 {
        let mut data = Vec::with_capacity(3 * w * h);
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    data.push(f(c, y, x));
                }
            }
        }
        RgbImage01::new(w, h, data).unwrap()
    }

    /// A smooth image plus ±noise in a checkerboard pattern.
    fn noisy(w: usize, h: usize, noise: f32) -> (RgbImage01, RgbImage01) {
        let clean = image(w, h, |c, y, x| 0.2 + 0.5 * (x as f32 / w as f32) + 0.1 * c as f32 * (y as f32 / h as f32));
        let noisy = image(w, h, |c, y, x| {
            let v = clean.data[c * w * h + y * w + x];
            (v + if (x + y + c) % 2 == 0 { noise } else { -noise }).clamp(0.0, 1.0)
        });
        (clean, noisy)
    }

    fn mse(a: &RgbImage01, b: &RgbImage01) -> f64 {
        a.data.iter().zip(&b.data).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>() / a.data.len() as f64
    }

    #[test]
    fn presets_parse() {
        for (text, _) in PRESETS {
            text.parse::<Reconstruction>().unwrap();
        }
    }

    #[test]
    fn parse_display_roundtrip_and_errors() {
        for s in ["jpeg:75", "bits:4", "median:3", "gaussian:1.5", "tv:0.08:40"] {
            let r: Reconstruction = s.parse().unwrap();
            assert_eq!(r.to_string(), s);
        }
        assert_eq!("tv:0.1".parse::<Reconstruction>().unwrap(), Reconstruction::TotalVariation { weight: 0.1, iterations: 50 });
        for (s, needle) in [
            ("jpeg:0", "got 0"),
            ("jpeg:300", "above 100"),
            ("median:4", "got 4"),
            ("bits:9", "got 9"),
            ("gaussian:-1", "got -1"),
            ("tv:abc", "'abc'"),
            ("sharpen:2", "'sharpen'"),
            ("median", "missing"),
        ] {
            let e = s.parse::<Reconstruction>().unwrap_err().to_string();
            assert!(e.contains(needle), "{s}: {e}");
        }
        let p = Pipeline::parse("jpeg:75, median:3").unwrap();
        assert_eq!(p.to_string(), "jpeg:75+median:3");
        assert!(Pipeline::parse("none").unwrap().is_empty());
    }

    #[test]
    fn bit_depth_quantises_to_levels() {
        let img = image(4, 4, |c, y, x| (c * 16 + y * 4 + x) as f32 / 47.0);
        let out = Reconstruction::BitDepth { bits: 1 }.apply(&img).unwrap();
        assert!(out.data.iter().all(|&v| v == 0.0 || v == 1.0));
        let out = Reconstruction::BitDepth { bits: 3 }.apply(&img).unwrap();
        for (&o, &i) in out.data.iter().zip(&img.data) {
            assert!((o * 7.0 - (o * 7.0).round()).abs() < 1e-5);
            assert!((o - i).abs() <= 0.5 / 7.0 + 1e-6);
        }
        let out8 = Reconstruction::BitDepth { bits: 8 }.apply(&img).unwrap();
        for (&o, &i) in out8.data.iter().zip(&img.data) {
            assert!((o - (i * 255.0).round() / 255.0).abs() < 1e-7);
        }
    }

    #[test]
    fn median_removes_salt_and_keeps_edges() {
        // a vertical edge with one bright outlier
        let mut img = image(7, 5, |_, _, x| if x < 3 { 0.0 } else { 1.0 });
        img.data[2 * 7 + 1] = 1.0;
        let out = Reconstruction::Median { size: 3 }.apply(&img).unwrap();
        assert_eq!(out.data[2 * 7 + 1], 0.0, "outlier removed");
        for y in 0..5 {
            for x in 0..7 {
                assert_eq!(out.data[y * 7 + x], if x < 3 { 0.0 } else { 1.0 }, "edge kept at ({x},{y})");
            }
        }
    }

    #[test]
    fn gaussian_preserves_constants_and_mean() {
        let img = image(9, 9, |_, _, _| 0.4);
        let out = Reconstruction::Gaussian { sigma: 1.0 }.apply(&img).unwrap();
        assert!(out.data.iter().all(|&v| (v - 0.4).abs() < 1e-6));
        // an impulse spreads into a symmetric bump summing to 1
        let imp = image(15, 15, |_, y, x| if (x, y) == (7, 7) { 1.0 } else { 0.0 });
        let out = Reconstruction::Gaussian { sigma: 1.0 }.apply(&imp).unwrap();
        let s: f32 = out.data[..225].iter().sum();
        assert!((s - 1.0).abs() < 1e-4, "{s}");
        assert!((out.data[7 * 15 + 6] - out.data[7 * 15 + 8]).abs() < 1e-7);
        assert!(out.data[7 * 15 + 7] > out.data[7 * 15 + 6]);
    }

    #[test]
    fn denoisers_reduce_checkerboard_noise() {
        let (clean, noisy) = noisy(32, 24, 0.1);
        let before = mse(&clean, &noisy);
        for r in ["gaussian:1", "tv:0.1:100"] {
            let out = r.parse::<Reconstruction>().unwrap().apply(&noisy).unwrap();
            let after = mse(&clean, &out);
            assert!(after < before / 4.0, "{r}: {after} vs {before}");
        }
    }

    #[test]
    fn tv_solution_is_a_minimiser() {
        // the TV objective at the solution is below the objective at f and at small
        // perturbations of the solution
        let (_, f) = noisy(16, 12, 0.1);
        let (w, h, lambda) = (16, 12, 0.1f64);
        let plane = &f.data[..w * h];
        let u = tv_chambolle_plane(plane, w, h, lambda as f32, 300);
        let objective = |u: &[f32]| {
            let mut tv = 0.0;
            for y in 0..h {
                for x in 0..w {
                    let i = y * w + x;
                    let gx = if x + 1 < w { f64::from(u[i + 1] - u[i]) } else { 0.0 };
                    let gy = if y + 1 < h { f64::from(u[i + w] - u[i]) } else { 0.0 };
                    tv += (gx * gx + gy * gy).sqrt();
                }
            }
            let fit: f64 = u.iter().zip(plane).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>() / 2.0;
            fit + lambda * tv
        };
        let at_u = objective(&u);
        assert!(at_u < objective(plane), "{at_u}");
        for k in 0..20 {
            let mut v = u.clone();
            let i = (k * 37) % (w * h);
            v[i] += if k % 2 == 0 { 0.01 } else { -0.01 };
            assert!(objective(&v) >= at_u - 1e-5, "perturbation {k} lowered the objective");
        }
    }

    #[test]
    fn jpeg_is_close_at_high_quality_and_lossy_at_low() {
        let (clean, noisy) = noisy(32, 32, 0.05);
        let hi = Reconstruction::Jpeg { quality: 95 }.apply(&clean).unwrap();
        assert!(mse(&clean, &hi) < 1e-4, "{}", mse(&clean, &hi));
        let lo = Reconstruction::Jpeg { quality: 20 }.apply(&noisy).unwrap();
        // the checkerboard is high-frequency: low quality removes much of it
        assert!(mse(&clean, &lo) < mse(&clean, &noisy), "{} vs {}", mse(&clean, &lo), mse(&clean, &noisy));
    }
}
