//! `bench`: time a forward pass, a forward + backward pass (the gradient of mean CE w.r.t. the
//! input) and one real PGD step through [`advseg::attack::pgd`] (backward, L∞ update and
//! projection, forward of the new iterate, reading the loss and class maps that the progress
//! observer reports) for each zoo model at its native size — or an ONNX file given by its path
//! (interpreted, `src/model/onnx`), to compare it with the hand-written network side by side.
//!
//! ```text
//! bench [--backend cpu|wgpu] [--models a,b,NET.onnx] [--repeats N] [--batch N] [--loss ce|segpgd|cospgd]
//!       [--json FILE] [--warm-up] [--rounds N] [--model-set KEY=VALUE]...
//! ```
//! `--rounds N` measures the whole list N times in turn (the models interleaved, so a busy
//! machine slows them alike); `--model-set` describes the ONNX files (docs/onnx.md).
//! Prints one line per model and a JSON line per model (prefix `json:`); `--json` also writes
//! the rows as one JSON array. Times are medians of warm runs; `first_forward_ms` and
//! `first_step_ms` are the first calls (on wgpu they include compiling the shaders), after
//! [`advseg::attack::warm_up`] at the working size with `--warm-up` (`warm_up_ms`).

use std::time::Instant;

use advseg::attack::{self, Control, Goal, LossKind, PgdConfig, Progress};
use advseg::backend;
use advseg::error::{Error, Result};
use advseg::model::{Segmenter, zoo};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Distribution, Tensor};

struct Args {
    backend: String,
    models: Vec<String>,
    repeats: usize,
    batch: usize,
    loss: LossKind,
    json: Option<String>,
    warm_up: bool,
    rounds: usize,
    model_set: Vec<String>,
}

fn parse() -> Result<Args> {
    let mut a = Args {
        backend: "cpu".into(),
        models: zoo::MODELS.iter().map(|m| m.name.to_string()).collect(),
        repeats: 3,
        batch: 1,
        loss: LossKind::Ce,
        json: None,
        warm_up: false,
        rounds: 1,
        model_set: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().ok_or_else(|| Error::InvalidArgument(format!("{k} needs a value")));
        match k.as_str() {
            "--backend" => a.backend = val()?,
            "--models" => a.models = val()?.split(',').map(str::to_string).collect(),
            "--repeats" => a.repeats = val()?.parse().map_err(|_| Error::InvalidArgument("--repeats".into()))?,
            "--batch" => a.batch = val()?.parse().map_err(|_| Error::InvalidArgument("--batch".into()))?,
            "--loss" => a.loss = val()?.parse()?,
            "--json" => a.json = Some(val()?),
            "--warm-up" => a.warm_up = true,
            "--rounds" => a.rounds = val()?.parse().map_err(|_| Error::InvalidArgument("--rounds".into()))?,
            "--model-set" => a.model_set.push(val()?),
            other => return Err(Error::InvalidArgument(format!("unknown option '{other}'"))),
        }
    }
    Ok(a)
}

fn sync(device: &Device) -> Result<()> {
    device.sync().map_err(|e| Error::Backend(format!("{e:?}")))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median time of one PGD step: the interval between the observer's reports of iterates `t`
/// and `t + 1` (the first interval is dropped as warm-up).
fn pgd_step(seg: &Segmenter, x: Tensor<4>, repeats: usize, loss: LossKind) -> Result<f64> {
    let cfg = PgdConfig::new().with_eps(8.0 / 255.0).with_steps(repeats + 1).with_loss(loss);
    let mut stamps = Vec::new();
    let mut observer = |_: &Progress| {
        stamps.push(Instant::now());
        Control::Continue
    };
    advseg::util::block_on(attack::pgd(seg, x, &Goal::untargeted(), &cfg, Some(&mut observer)))?;
    let steps: Vec<f64> = stamps.windows(2).skip(1).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
    if steps.is_empty() {
        return Err(Error::Backend("no PGD step was timed".into()));
    }
    Ok(median(steps))
}

fn main() -> std::process::ExitCode {
    advseg::util::allocator::keep_freed_memory();
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args = parse()?;
    let base = backend::by_name(&args.backend)?;
    let ad = backend::autodiff(&base);
    println!("device: {}", backend::describe(&base));
    if !args.model_set.is_empty() {
        advseg::model::onnx::registry::set_overrides(advseg::model::onnx::OnnxDescription::from_pairs(&args.model_set)?);
    }
    let mut rows = Vec::new();
    let list: Vec<&String> = (0..args.rounds.max(1)).flat_map(|_| args.models.iter()).collect();
    for name in list {
        let spec = zoo::spec(name)?;
        let (w, h) = spec.native_size;
        let seg = Segmenter::load(name, &base)?;
        let seg_ad = Segmenter::load(name, &ad)?;
        let x = Tensor::<4>::random([args.batch, 3, h, w], Distribution::Uniform(0.0, 1.0), &base);
        let t = Instant::now();
        if args.warm_up {
            advseg::util::block_on(attack::warm_up(&seg_ad, &ad, attack::AttackKind::Apgd, args.batch, w, h))?;
            sync(&ad)?;
        }
        let warm_up = t.elapsed().as_secs_f64();
        // the first call (cold: shader compilation on wgpu, allocator on CPU — unless warmed up)
        let t = Instant::now();
        let _ = seg.logits(x.clone())?.into_data();
        let first_forward = t.elapsed().as_secs_f64();
        let mut fwd = Vec::new();
        for _ in 0..args.repeats {
            let t = Instant::now();
            let y = seg.logits(x.clone())?;
            let _ = y.into_data();
            sync(&base)?;
            fwd.push(t.elapsed().as_secs_f64());
        }
        let target = seg.logits(x.clone())?.argmax(1).squeeze_dim::<3>(1);
        let step = || -> Result<f64> {
            let t = Instant::now();
            let xa = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
            let logits = seg_ad.logits(xa.clone())?;
            let tgt = Tensor::<3, burn::tensor::Int>::from_data(target.to_data(), &ad);
            let loss = log_softmax(logits, 1).gather(1, tgt.unsqueeze_dim::<4>(1)).mean().neg();
            let grads = loss.backward();
            let g = xa.grad(&grads).ok_or_else(|| Error::Backend("no input gradient".into()))?;
            let _ = g.sign().into_data();
            sync(&ad)?;
            Ok(t.elapsed().as_secs_f64())
        };
        let first_step = step()?;
        let mut fb = Vec::new();
        for _ in 0..args.repeats {
            fb.push(step()?);
        }
        let p = pgd_step(&seg_ad, x.clone(), args.repeats, args.loss)?;
        let (f, b) = (median(fwd), median(fb));
        println!(
            "{name:<20} {w}x{h} batch {}  forward {:8.1} ms   forward+backward {:8.1} ms   PGD step ({}) {:8.1} ms   ({})",
            args.batch,
            f * 1e3,
            b * 1e3,
            args.loss,
            p * 1e3,
            args.backend
        );
        let row = serde_json::json!({"model": name, "backend": args.backend, "width": w, "height": h,
            "batch": args.batch, "forward_ms": f * 1e3, "forward_backward_ms": b * 1e3,
            "pgd_step_ms": p * 1e3, "pgd_loss": args.loss, "repeats": args.repeats,
            "first_forward_ms": first_forward * 1e3, "first_step_ms": first_step * 1e3,
            "warm_up_ms": args.warm_up.then_some(warm_up * 1e3), "device": backend::describe(&base)});
        println!("json: {row}");
        rows.push(row);
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| Error::Backend(format!("bench JSON: {e}")))?;
        std::fs::write(path, text).map_err(|e| Error::Io(format!("{path}: {e}")))?;
    }
    Ok(())
}
