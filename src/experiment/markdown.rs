//! The Markdown tables of an experiment (`results.md`).

use super::result::{AttackRow, ExperimentResult, ImageScore, ModelResult, Score, TransferResult};
use crate::metrics::{BucketScore, MapDetail};

fn cell(s: &Score) -> String {
    format!("{:.4} / {:.4}", s.miou, s.pixel_accuracy)
}

fn agree(v: Option<f64>) -> String {
    v.map_or("–".into(), |a| format!("{a:.4}"))
}

impl ExperimentResult {
    /// The Markdown tables.
    pub fn to_markdown(&self) -> String {
        let e = &self.experiment;
        let mut s = format!("## Experiment `{}`\n\n", e.name);
        if !e.description.is_empty() {
            s += &format!("{}\n\n", e.description);
        }
        let plural = |n: usize| if n == 1 { "image" } else { "images" };
        s += &format!("{} {} from `{}`: {}.", self.images.len(), plural(self.images.len()), e.images.describe(), self.images.join(", "));
        if !self.skipped.is_empty() {
            let sk: Vec<String> = self.skipped.iter().map(|k| format!("{} ({})", k.image, k.error)).collect();
            s += &format!(" Skipped: {}.", sk.join("; "));
        }
        s += " Cells: mIoU / pixel accuracy against ground truth.\n\n";
        for m in &self.models {
            s += &model_tables(m);
        }
        if let Some(t) = &self.transfer {
            s += &transfer_table(t, plural(t.n_images));
        }
        if !self.seconds.is_empty() {
            let parts: Vec<String> = self.seconds.iter().map(|(p, v)| format!("{p} {v:.0} s")).collect();
            s += &format!("Wall-clock time: {}.\n", parts.join(", "));
        }
        s
    }
}

/// The tables of one model: mIoU / pixel accuracy per attack and defense, target agreement,
/// achieved norms.
fn model_tables(m: &ModelResult) -> String {
    let mut s = String::new();
    s += &format!("### {} ({}×{})\n\n", m.model, m.input_size.0, m.input_size.1);
    let mut head = "| attack | ε | seed | undefended |".to_string();
    let mut sep = "|---|---|---|---|".to_string();
    for (dn, _) in &m.clean_defended {
        head += &format!(" {dn}: non-adaptive | {dn}: adaptive |");
        sep += "---|---|";
    }
    s += &format!("{head}\n{sep}\n| clean | 0 | – | {} |", cell(&m.clean));
    for (_, sc) in &m.clean_defended {
        s += &format!(" {} | – |", cell(sc));
    }
    s += "\n";
    for r in &m.attacks {
        s += &format!("| {} | {} | {} | {} |", attack_name(r), r.eps, r.seed, cell(&r.attacked));
        for d in &r.defenses {
            s += &format!(" {} | {} |", cell(&d.non_adaptive), d.adaptive.as_ref().map_or("–".into(), cell));
        }
        s += "\n";
    }
    s += "\n";
    let targeted: Vec<&AttackRow> = m.attacks.iter().filter(|r| r.attacked.target_agreement.is_some()).collect();
    if !targeted.is_empty() {
        let mut head = "| targeted attack | ε | seed | clean | undefended |".to_string();
        let mut sep = "|---|---|---|---|---|".to_string();
        for (dn, _) in &m.clean_defended {
            head += &format!(" {dn}: non-adaptive | {dn}: adaptive |");
            sep += "---|---|";
        }
        s += &format!("Agreement with the target map:\n\n{head}\n{sep}\n");
        for r in targeted {
            s += &format!(
                "| {} | {} | {} | {} | {} |",
                r.attack,
                r.eps,
                r.seed,
                agree(r.clean_target_agreement),
                agree(r.attacked.target_agreement)
            );
            for d in &r.defenses {
                s += &format!(
                    " {} | {} |",
                    agree(d.non_adaptive.target_agreement),
                    agree(d.adaptive.and_then(|a| a.target_agreement))
                );
            }
            s += "\n";
        }
        s += "\n";
    }
    s += "Achieved norms:";
    for r in &m.attacks {
        s += &format!(" {} ε={}: L∞ {:.5}, PSNR {:.2} dB, crafted in {:.1} s;", r.attack, r.eps, r.linf, r.psnr, r.seconds);
    }
    s += "\n\n";
    s += &per_image_table(m);
    s += &per_class_table(m);
    s += &by_size_table(m);
    s
}

/// An attack's name as tables show it: with what an untargeted attack pushes away from.
fn attack_name(r: &AttackRow) -> String {
    match r.reference.as_deref() {
        Some("ground-truth") => format!("{} (vs ground truth)", r.attack),
        Some(other) => format!("{} (vs {other} map)", r.attack),
        None => r.attack.clone(),
    }
}

/// The column heading of an attack row.
fn column(r: &AttackRow) -> String {
    format!("{} ε={} seed {}", attack_name(r), r.eps, r.seed)
}

/// The header of a table with one column for the clean images and one per attack row.
fn header(first: &str, m: &ModelResult) -> String {
    let cols: Vec<String> = m.attacks.iter().map(column).collect();
    format!("| {first} | clean | {} |\n|---|---|{}\n", cols.join(" | "), "---|".repeat(cols.len()))
}

fn image_cell(s: Option<&ImageScore>) -> String {
    s.map_or("–".into(), |s| format!("{:.4} / {:.4}", s.miou, s.pixel_accuracy))
}

/// Per image: mIoU / pixel accuracy of the undefended model, clean and under every attack.
fn per_image_table(m: &ModelResult) -> String {
    if m.clean_per_image.is_empty() {
        return String::new();
    }
    let mut s = format!("Per image (undefended, mIoU / pixel accuracy against ground truth):\n\n{}", header("image", m));
    for (i, c) in m.clean_per_image.iter().enumerate() {
        s += &format!("| {} | {} |", c.image, image_cell(Some(c)));
        for r in &m.attacks {
            s += &format!(" {} |", image_cell(r.per_image.get(i)));
        }
        s += "\n";
    }
    s + "\n"
}

/// IoU per class against ground truth (undefended), for the classes present anywhere.
fn per_class_table(m: &ModelResult) -> String {
    let details: Vec<&MapDetail> = std::iter::once(&m.clean_detail).chain(m.attacks.iter().map(|r| &r.detail)).collect();
    let n = details.iter().map(|d| d.per_class_iou.len()).max().unwrap_or(0);
    if n == 0 {
        return String::new();
    }
    let mut s = format!("IoU per class against ground truth (undefended):\n\n{}", header("class", m));
    for c in 0..n {
        let cells: Vec<Option<f64>> = details.iter().map(|d| d.per_class_iou.get(c).copied().flatten()).collect();
        if cells.iter().all(Option::is_none) {
            continue;
        }
        let name = m.classes.get(c).cloned().unwrap_or_else(|| c.to_string());
        let cells: Vec<String> = cells.iter().map(|v| v.map_or("–".into(), |v| format!("{v:.4}"))).collect();
        s += &format!("| {name} | {} |\n", cells.join(" | "));
    }
    s + "\n"
}

fn bucket_cell(b: &BucketScore) -> String {
    b.accuracy.map_or("–".into(), |a| format!("{a:.4}"))
}

/// Accuracy on small, medium and large ground-truth objects (undefended).
fn by_size_table(m: &ModelResult) -> String {
    let c = &m.clean_detail.by_size;
    if c.small.objects + c.medium.objects + c.large.objects == 0 {
        return String::new();
    }
    let mut s = format!(
        "Pixel accuracy by ground-truth object size (undefended; 4-connected objects: small < 0.33 %, medium < 3 %, large ≥ 3 % of the image):\n\n\
         | | small ({} objects) | medium ({}) | large ({}) |\n|---|---|---|---|\n| clean | {} | {} | {} |\n",
        c.small.objects,
        c.medium.objects,
        c.large.objects,
        bucket_cell(&c.small),
        bucket_cell(&c.medium),
        bucket_cell(&c.large)
    );
    for r in &m.attacks {
        let b = &r.detail.by_size;
        s += &format!("| {} | {} | {} | {} |\n", column(r), bucket_cell(&b.small), bucket_cell(&b.medium), bucket_cell(&b.large));
    }
    s + "\n"
}

/// The transfer matrix.
fn transfer_table(t: &TransferResult, images: &str) -> String {
    let mut s = String::new();
    s += &format!(
        "### Transfer matrix ({} at ε = {}, {} {}): mIoU of the column model on images crafted against the row model\n\n",
        t.attack,
        t.eps,
        t.n_images,
        images
    );
    s += &format!("| source \\ target | {} |\n|---|{}\n", t.models.join(" | "), "---|".repeat(t.models.len()));
    let clean: Vec<String> = t.clean_miou.iter().map(|v| format!("{v:.4}")).collect();
    s += &format!("| (clean) | {} |\n", clean.join(" | "));
    for (i, row) in t.miou.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(j, v)| if i == j { format!("**{v:.4}**") } else { format!("{v:.4}") })
            .collect();
        s += &format!("| {} | {} |\n", t.models[i], cells.join(" | "));
    }
    s += "\n";
    s
}

#[cfg(test)]
mod tests {
    use super::super::file::ExperimentFile;
    use super::super::file::tests::GOOD;
    use super::super::result::{DefenseScore, Skipped};
    use super::*;

    fn image(miou: f64, target_agreement: Option<f64>) -> ImageScore {
        ImageScore { image: "0".into(), miou, pixel_accuracy: 0.9, target_agreement }
    }

    /// A detail with one small object kept to `small` accuracy.
    fn detail(per_class_iou: Vec<Option<f64>>, small: f64) -> MapDetail {
        let b = BucketScore { objects: 1, pixels: 8, correct: (small * 8.0) as u64, accuracy: Some(small) };
        MapDetail { per_class_iou, by_size: crate::metrics::SizeAccuracy { small: b, ..Default::default() } }
    }

    #[test]
    fn markdown_has_every_table() {
        let s = Score { miou: 0.5, pixel_accuracy: 0.9, target_agreement: None };
        let r = ExperimentResult {
            experiment: ExperimentFile::parse(GOOD).unwrap(),
            images: vec!["0".into()],
            skipped: vec![Skipped { image: "bad.png".into(), error: "broken".into() }],
            models: vec![ModelResult {
                model: "m".into(),
                input_size: (257, 257),
                n_images: 1,
                clean: s,
                clean_defended: vec![("ms".into(), s)],
                attacks: vec![AttackRow {
                    attack: "a".into(),
                    reference: None,
                    eps: "4/255".into(),
                    eps_value: 4.0 / 255.0,
                    seed: 0,
                    attacked: Score { target_agreement: Some(0.7), ..s },
                    clean_target_agreement: Some(0.1),
                    linf: 0.0157,
                    psnr: 40.0,
                    seconds: 0.0,
                    defenses: vec![DefenseScore { defense: "ms".into(), non_adaptive: s, adaptive: None }],
                    per_image: vec![image(0.25, Some(0.7))],
                    detail: detail(vec![Some(0.3), None, None], 0.125),
                }],
                classes: vec!["background".into(), "aeroplane".into(), "bicycle".into()],
                clean_per_image: vec![image(0.5, None)],
                clean_detail: detail(vec![Some(0.9), None, Some(0.8)], 0.875),
            }],
            transfer: Some(TransferResult {
                models: vec!["m".into(), "n".into()],
                attack: "a".into(),
                eps: "4/255".into(),
                n_images: 1,
                clean_miou: vec![0.9, 0.8],
                miou: vec![vec![0.1, 0.5], vec![0.4, 0.2]],
                pixel_accuracy: vec![vec![0.2, 0.6], vec![0.5, 0.3]],
            }),
            seconds: vec![("m".into(), 3.0)],
        };
        let md = r.to_markdown();
        for needle in [
            "| image | clean | a ε=4/255 seed 0 |",
            "| 0 | 0.5000 / 0.9000 | 0.2500 / 0.9000 |",
            "| background | 0.9000 | 0.3000 |",
            "| bicycle | 0.8000 | – |",
            "| small (1 objects) | medium (0) | large (0) |",
            "| clean | 0.8750 | – | – |",
            "| a ε=4/255 seed 0 | 0.1250 | – | – |",
        ] {
            assert!(md.contains(needle), "{needle} missing in\n{md}");
        }
        assert!(!md.contains("| aeroplane |"), "a class absent everywhere has no row:\n{md}");
        for needle in ["### m (257×257)", "ms: non-adaptive", "| clean | 0 | – | 0.5000 / 0.9000 |", "Agreement with the target map", "| 0.1000 | 0.7000 |", "**0.1000**", "Skipped: bad.png (broken)", "m 3 s"] {
            assert!(md.contains(needle), "{needle} missing in\n{md}");
        }
        let json = r.to_json().unwrap();
        assert!(!json.contains("seconds"));
        let back: ExperimentResult = serde_json::from_str(&json).unwrap();
        assert_eq!(back.models, r.models);
        assert!(json.contains("\"per_class_iou\"") && json.contains("\"per_image\"") && json.contains("\"by_size\""), "{json}");
        // results written before the per-image and per-class fields still read
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        for key in ["classes", "clean_per_image", "clean_detail"] {
            old["models"][0].as_object_mut().unwrap().remove(key);
        }
        old["models"][0]["attacks"][0].as_object_mut().unwrap().remove("detail");
        let back: ExperimentResult = serde_json::from_value(old).unwrap();
        assert!(back.models[0].classes.is_empty() && back.models[0].attacks[0].detail.per_class_iou.is_empty());
    }
}
