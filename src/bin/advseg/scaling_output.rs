//! What the scaling subcommands print and write.

use std::path::Path;

use advseg::error::Result;
use advseg::image as imaging;
use advseg::model::zoo::ModelSpec;
use advseg::scaling::{Defense, DefenseRow, ScalingArtifacts, ScalingReport};

use crate::common::pct;

/// `none,median,random,area-scaling` → the defenses.
pub fn parse_defenses(s: &str) -> Result<Vec<Defense>> {
    s.split(',').filter(|p| !p.trim().is_empty()).map(str::parse).collect()
}

/// Colour maps and network inputs of a scaling experiment, written as PNGs into `out`.
pub fn write_artifacts(spec: &ModelSpec, a: &ScalingArtifacts, out: &Path) -> Result<()> {
    let palette = spec.palette();
    for (name, img) in &a.inputs {
        imaging::save_png(img, &out.join(format!("input_{name}.png")))?;
    }
    for (name, map) in &a.maps {
        let colour = imaging::colorize(&map.data, map.width, map.height, &palette)?;
        imaging::save_png(&colour, &out.join(format!("map_{name}.png")))?;
    }
    Ok(())
}

pub fn print_rows(rows: &[DefenseRow]) {
    println!("{:<13} {:<16} {:<16} {:>10} {:>10} {:>14} {:>14}", "defense", "attack", "scaler", "PSNR", "max|d-T|", "map vs target", "map vs clean");
    for r in rows {
        println!(
            "{:<13} {:<16} {:<16} {:>10} {:>10} {:>14} {:>14}",
            r.defense.name(),
            format!("{:?}", r.variant),
            r.scaler.name(),
            r.psnr_vs_source.map_or("-".into(), |p| format!("{p:.2} dB")),
            r.max_abs_down_minus_target.map_or("-".into(), |m| m.to_string()),
            r.down_map_vs_target.map_or("-".into(), |m| pct(m.agreement)),
            r.down_map_vs_source.map_or("-".into(), |m| pct(m.agreement)),
        );
    }
}

pub fn print_experiment(r: &ScalingReport) {
    println!(
        "{} / {}: {}x{} -> {}x{}, attack ({:?}) {:.2} s, PSNR(attack, source) {:.2} dB, max |down(attack) - target| {}",
        r.model,
        r.scaler,
        r.full_size.0,
        r.full_size.1,
        r.model_size.0,
        r.model_size.1,
        r.attack.method,
        r.attack.seconds,
        r.attack.psnr_vs_source,
        r.attack.max_abs_down_minus_target
    );
    if let Some(f) = r.full_map_vs_source {
        println!("full-size map vs source map:   agreement {}  mIoU {:.3}", pct(f.agreement), f.miou);
    }
    println!("downscaled map vs target map:  agreement {}  mIoU {:.3}", pct(r.down_map_vs_target.agreement), r.down_map_vs_target.miou);
    println!("downscaled map vs source map:  agreement {}  mIoU {:.3}", pct(r.down_map_vs_source.agreement), r.down_map_vs_source.miou);
    if let Some(a) = &r.adaptive {
        println!(
            "adaptive attack vs median: PSNR {:.2} dB, {} of the pixels changed, {} of the windows matched",
            a.psnr_vs_source,
            pct(a.changed_pixels),
            pct(a.windows_matched)
        );
    }
    print_rows(&r.defenses);
}

/// The images of a scaling experiment: attack, source, target, the downscaled attack, the
/// adaptive attack, network inputs and colour maps.
pub fn write_scaling(spec: &ModelSpec, report: &ScalingReport, out: &Path) -> Result<()> {
    let a = &report.artifacts;
    imaging::save_png(&a.attack, &out.join("attack.png"))?;
    imaging::save_png(&a.source, &out.join("source.png"))?;
    imaging::save_png(&a.target, &out.join("target.png"))?;
    if let Some((_, down)) = a.inputs.iter().find(|(n, _)| n == "none_attack") {
        imaging::save_png(down, &out.join("attack_down.png"))?;
    }
    if let Some(ad) = &a.adaptive {
        imaging::save_png(ad, &out.join("adaptive.png"))?;
    }
    write_artifacts(spec, a, out)
}

