//! `bench_scaling`: time the image-scaling attack (Quiring et al., USENIX Security 2020) from
//! 1024×1024 to 256×256 for every scaler, on one core by default.
//!
//! ```text
//! bench_scaling [--source PNG] [--target PNG] [--scalers a,b] [--repeats N] [--threads N]
//!               [--size WxH] [--ratio R]
//! ```
//! Defaults: source `../shared/fixtures/scaling/astronaut1024.png`, target
//! `../shared/fixtures/images/photos/chelsea.png` (both resized with Pillow's bilinear filter
//! where their size differs), all ten scalers, 3 repeats, 1 thread. Prints one line and one
//! `json:` line per scaler (median time over the repeats).

use std::path::PathBuf;
use std::time::Instant;

use advseg::error::{Error, Result};
use advseg::image::{self as imaging, ResizeMethod};
use advseg::resize::{Scaler, ScalerKind};
use advseg::scaling::{ScalingAttackConfig, adaptive_median_attack, scaling_attack};

struct Args {
    source: PathBuf,
    target: PathBuf,
    scalers: Vec<ScalerKind>,
    repeats: usize,
    threads: usize,
    size: (usize, usize),
    ratio: usize,
}

fn shared() -> PathBuf {
    std::env::var_os("ADVSEG_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

fn number<T: std::str::FromStr>(k: &str, v: &str) -> Result<T> {
    v.parse().map_err(|_| Error::InvalidArgument(format!("{k} '{v}' is not a valid number")))
}

fn parse() -> Result<Args> {
    let mut a = Args {
        source: shared().join("fixtures/scaling/astronaut1024.png"),
        target: shared().join("fixtures/images/photos/chelsea.png"),
        scalers: ScalerKind::ALL.to_vec(),
        repeats: 3,
        threads: 1,
        size: (256, 256),
        ratio: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or_else(|| Error::InvalidArgument(format!("{k} needs a value")))?;
        match k.as_str() {
            "--source" => a.source = PathBuf::from(v),
            "--target" => a.target = PathBuf::from(v),
            "--scalers" => a.scalers = v.split(',').map(str::parse).collect::<Result<_>>()?,
            "--repeats" => a.repeats = number::<usize>(&k, &v)?.max(1),
            "--threads" => a.threads = number(&k, &v)?,
            "--ratio" => a.ratio = number(&k, &v)?,
            "--size" => {
                let bad = || Error::InvalidArgument(format!("--size '{v}' is not WIDTHxHEIGHT"));
                let (w, h) = v.split_once(['x', 'X']).ok_or_else(bad)?;
                a.size = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
            }
            other => return Err(Error::InvalidArgument(format!("unknown option '{other}'"))),
        }
    }
    if a.ratio == 0 || a.size.0 == 0 || a.size.1 == 0 {
        return Err(Error::InvalidArgument(format!("--ratio {} / --size {:?} must be positive", a.ratio, a.size)));
    }
    Ok(a)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn fit(img: image::RgbImage, w: usize, h: usize) -> Result<image::RgbImage> {
    if (img.width() as usize, img.height() as usize) == (w, h) {
        Ok(img)
    } else {
        imaging::resize(&img, w as u32, h as u32, ResizeMethod::PilBilinear)
    }
}

fn main() -> std::process::ExitCode {
    advseg::util::allocator::keep_freed_memory();
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_scaling: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args = parse()?;
    let (w, h) = args.size;
    let (fw, fh) = (w * args.ratio, h * args.ratio);
    let src = fit(imaging::load(&args.source)?, fw, fh)?;
    let tgt = fit(imaging::load(&args.target)?, w, h)?;
    let cfg = ScalingAttackConfig { threads: args.threads, ..Default::default() };
    println!("scaling attack {fw}x{fh} -> {w}x{h}, {} thread(s), median of {} run(s)", args.threads, args.repeats);
    for &kind in &args.scalers {
        let sc = Scaler::new(kind, fw, fh, w, h)?;
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..args.repeats {
            let t = Instant::now();
            let r = scaling_attack(&src, &tgt, &sc, &cfg)?;
            times.push(t.elapsed().as_secs_f64());
            last = Some(r);
        }
        let r = last.ok_or_else(|| Error::InvalidArgument("no run".into()))?;
        let t = Instant::now();
        let ad = adaptive_median_attack(&r.attack_u8, &sc, 10)?;
        let t_ad = t.elapsed().as_secs_f64();
        let secs = median(times);
        println!(
            "{:<16} {:>9} {:8.3} s  PSNR {:6.2} dB  max|down-T| {:3}  infeasible {:5}  unconverged {}  adaptive-median {:6.3} s",
            kind.name(),
            format!("{:?}", r.method),
            secs,
            r.psnr_vs_source,
            r.max_abs_down_minus_target,
            r.stats.infeasible,
            r.stats.unconverged,
            t_ad
        );
        println!(
            "json: {}",
            serde_json::json!({"scaler": kind.name(), "method": r.method, "seconds": secs, "threads": args.threads,
                "psnr_db": r.psnr_vs_source, "max_abs_down_minus_target": r.max_abs_down_minus_target,
                "infeasible": r.stats.infeasible, "unconverged": r.stats.unconverged,
                "adaptive_median_seconds": t_ad, "adaptive_windows_matched": ad.windows_matched as f64 / ad.windows.max(1) as f64,
                "full": [fw, fh], "down": [w, h]})
        );
    }
    Ok(())
}
