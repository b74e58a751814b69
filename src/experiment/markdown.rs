//! The Markdown tables of an experiment (`results.md`).

use super::result::{AttackRow, ExperimentResult, ModelResult, Score, TransferResult};

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
        s += &format!("| {} | {} | {} | {} |", r.attack, r.eps, r.seed, cell(&r.attacked));
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
        s += &format!(" {} ε={}: L∞ {:.5}, PSNR {:.2} dB;", r.attack, r.eps, r.linf, r.psnr);
    }
    s += "\n\n";
    s
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
                    eps: "4/255".into(),
                    eps_value: 4.0 / 255.0,
                    seed: 0,
                    attacked: Score { target_agreement: Some(0.7), ..s },
                    clean_target_agreement: Some(0.1),
                    linf: 0.0157,
                    psnr: 40.0,
                    defenses: vec![DefenseScore { defense: "ms".into(), non_adaptive: s, adaptive: None }],
                }],
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
        for needle in ["### m (257×257)", "ms: non-adaptive", "| clean | 0 | – | 0.5000 / 0.9000 |", "Agreement with the target map", "| 0.1000 | 0.7000 |", "**0.1000**", "Skipped: bad.png (broken)", "m 3 s"] {
            assert!(md.contains(needle), "{needle} missing in\n{md}");
        }
        let json = r.to_json().unwrap();
        assert!(!json.contains("seconds"));
        let back: ExperimentResult = serde_json::from_str(&json).unwrap();
        assert_eq!(back.models, r.models);
    }
}
