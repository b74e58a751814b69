//! `advseg universal`: one perturbation for a whole image set. The flags become one
//! [`UniversalSpec`] (or `--spec FILE` gives it); [`run_universal`] crafts `δ` on the IMAGE
//! arguments (or takes `--delta FILE`) and scores it there and on `--held-out` images; writes
//! `delta.png` (δ mapped from [−ε, ε] to 0..255, ε in a text chunk), `delta_view.png`
//! (amplified), `report.json` and, per image, the perturbed image and its map.

use std::path::PathBuf;

use advseg::attack::{
    ClassRef, Control, MapOrigin, Progress, Radius, SetEval, UniversalDelta, UniversalGoal, UniversalReport, UniversalSpec,
    run_universal,
};
use advseg::error::{Error, Result};
use advseg::image::{self as imaging, to_tensor01};
use advseg::model::{Segmenter, predict_batched};
use advseg::util::block_on;

use crate::common::{create_dir, load_batch, parse_size, pct, progress, write_json};

/// Universal perturbation (Metzen et al., ICCV 2017): one L∞-bounded δ added to every image,
/// crafted on the IMAGE arguments by sign steps on mini-batches; scored on them and on
/// --held-out images against a random δ of the same ε.
#[derive(clap::Args)]
pub struct UniversalArgs {
    /// Zoo model name (see `advseg models`).
    #[arg(long, default_value = "selfie")]
    pub model: String,
    /// The whole spec as a TOML or JSON file (the keys of `UniversalSpec`); replaces the flags
    /// below.
    #[arg(long, conflicts_with_all = ["hide", "background", "vs_gt", "eps", "steps", "step_size", "loss", "batch_size", "seed", "random_start"])]
    pub spec: Option<PathBuf>,
    /// Hide this class (index or name, e.g. person): its pixels should become --background;
    /// without it the goal is untargeted.
    #[arg(long)]
    pub hide: Option<String>,
    /// With --hide: the class the hidden pixels should become.
    #[arg(long, default_value = "0")]
    pub background: String,
    /// Untargeted: away from the ground truth (NAME_label.png) instead of the clean map.
    #[arg(long)]
    pub vs_gt: bool,
    /// L∞ radius ε: a number or a fraction such as 8/255.
    #[arg(long, default_value = "8/255")]
    pub eps: String,
    /// Sign steps, one mini-batch each.
    #[arg(long, default_value_t = 40)]
    pub steps: usize,
    /// Step size α (number or fraction); default ε/4.
    #[arg(long)]
    pub step_size: Option<String>,
    /// Loss: ce, segpgd, cospgd, masked-ce, balanced-ce or js.
    #[arg(long, default_value = "ce")]
    pub loss: String,
    /// Images per step.
    #[arg(long, default_value_t = 4)]
    pub batch_size: usize,
    /// Seed of the shuffling, the random start and the random baseline.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Start from a random δ in the ε-ball.
    #[arg(long)]
    pub random_start: bool,
    /// Score this δ (a delta.png) instead of crafting one.
    #[arg(long)]
    pub delta: Option<PathBuf>,
    /// Images held apart from crafting, scored with the same δ.
    #[arg(long, num_args = 1..)]
    pub held_out: Vec<PathBuf>,
    /// Input size WxH (default: the model's native size).
    #[arg(long)]
    pub size: Option<String>,
    /// Output directory.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// The crafting images (PNG or JPEG).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

fn class_ref(s: &str) -> ClassRef {
    match s.parse::<u32>() {
        Ok(i) => ClassRef::Index(i),
        Err(_) => ClassRef::Name(s.to_string()),
    }
}

impl UniversalArgs {
    /// The spec the flags (or `--spec`) describe, validated.
    pub fn spec(&self) -> Result<UniversalSpec> {
        if let Some(path) = &self.spec {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let spec = if json {
                serde_json::from_str(&text)
                    .map_err(|e| Error::InvalidArgument(format!("bad universal spec: {e}")))
                    .and_then(UniversalSpec::from_json_value)
            } else {
                UniversalSpec::from_toml(&text)
            };
            return spec.map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())));
        }
        let spec = UniversalSpec {
            goal: if self.hide.is_some() { UniversalGoal::HideClass } else { UniversalGoal::Untargeted },
            class: self.hide.as_deref().map(class_ref),
            background: class_ref(&self.background),
            reference: if self.vs_gt { MapOrigin::GroundTruth } else { MapOrigin::Predicted },
            loss: self.loss.parse()?,
            eps: Radius::parse(&self.eps, "--eps")?,
            steps: self.steps,
            step_size: self.step_size.as_deref().map(|s| Radius::parse(s, "--step-size")).transpose()?,
            step_factor: None,
            batch_size: self.batch_size,
            seed: self.seed,
            random_start: self.random_start,
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// Amplified view of δ: grey = 0, the extremes ±ε.
fn delta_view(d: &UniversalDelta) -> Result<image::RgbImage> {
    let data = d.data.iter().map(|v| (0.5 + f64::from(*v) / (2.0 * d.eps)) as f32).collect();
    imaging::from_tensor01(&imaging::RgbImage01::new(d.width, d.height, data)?)
}

pub fn run(backend: &str, a: &UniversalArgs) -> Result<()> {
    let start = std::time::Instant::now();
    let spec = a.spec()?;
    let device = advseg::backend::autodiff(&advseg::backend::by_name(backend)?);
    let seg = Segmenter::load(&a.model, &device)?;
    let (w, h) = match &a.size {
        Some(s) => parse_size(s)?,
        None => seg.spec.native_size,
    };
    seg.spec.check_size(w, h)?;
    let crafting = load_batch(&a.images, w, h, seg.spec.dataset)?;
    let held_out = if a.held_out.is_empty() { Vec::new() } else { load_batch(&a.held_out, w, h, seg.spec.dataset)? };
    let given = match &a.delta {
        Some(p) => {
            let d = UniversalDelta::from_png(&std::fs::read(p).map_err(|e| Error::io(p, e))?)?;
            if (d.eps - spec.eps.value).abs() > 1e-9 && a.spec.is_none() {
                eprintln!("advseg: the perturbation's own ε = {:.5} is used (not --eps)", d.eps);
            }
            Some(d)
        }
        None => None,
    };
    create_dir(&a.out)?;
    let pb = progress(spec.steps, "universal");
    let mut observer = |p: &Progress| {
        pb.set_position(p.step as u64);
        pb.set_message(format!("universal loss {:.3} agreement {:.3}", p.loss, p.mean_agreement));
        Control::Continue
    };
    let observer: Option<&mut dyn FnMut(&Progress) -> Control> = if given.is_some() { None } else { Some(&mut observer) };
    let (mut report, delta) = block_on(run_universal(&seg, seg.spec, &spec, &crafting, &held_out, given, &device, observer))?;
    pb.finish_and_clear();
    report.backend = advseg::backend::describe(&device);
    report.seconds = start.elapsed().as_secs_f64();
    std::fs::write(a.out.join("delta.png"), delta.to_png()?).map_err(|e| Error::io(&a.out.join("delta.png"), e))?;
    imaging::save_png(&delta_view(&delta)?, &a.out.join("delta_view.png"))?;
    let palette = seg.spec.palette();
    for it in crafting.iter().chain(&held_out) {
        let adv = delta.apply(&to_tensor01(&it.image))?;
        let map = block_on(predict_batched(&seg, std::slice::from_ref(&adv), 1, &device))?.remove(0);
        imaging::save_png(&imaging::from_tensor01(&adv)?, &a.out.join(format!("{}_universal.png", it.name)))?;
        imaging::save_png(&imaging::colorize(&map.data, w, h, &palette)?, &a.out.join(format!("{}_universal_map.png", it.name)))?;
    }
    write_json(&report, &a.out.join("report.json"))?;
    print_summary(&report, &a.out);
    Ok(())
}

fn print_set(what: &str, s: &SetEval) {
    let (u, r) = (&s.universal.pooled, &s.random.pooled);
    let mut line = format!(
        "  {what} ({} images): accuracy vs clean {} (random δ {})",
        s.images.len(),
        pct(u.accuracy_vs_clean),
        pct(r.accuracy_vs_clean)
    );
    if let (Some(uv), Some(rv)) = (u.vanished, r.vanished) {
        line += &format!(", hidden class vanished {} (random δ {})", pct(uv), pct(rv));
    }
    if let (Some(ug), Some(rg)) = (u.accuracy_vs_ground_truth, r.accuracy_vs_ground_truth) {
        line += &format!(", accuracy vs ground truth {} (random δ {})", pct(ug), pct(rg));
    }
    println!("{line}");
}

fn print_summary(r: &UniversalReport, out: &std::path::Path) {
    println!(
        "{} universal {:?} ε={} ({:.5}) {} steps ({:.1} s)",
        r.model,
        r.spec.goal,
        r.spec.eps.text,
        r.eps,
        r.steps_run,
        r.seconds
    );
    print_set("crafting", &r.crafting);
    if let Some(h) = &r.held_out {
        print_set("held out", h);
    }
    println!("  wrote {}", out.display());
}
