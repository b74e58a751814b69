//! `advseg`: the native command line over the library, one file per subcommand.
//!
//! ```text
//! advseg segment --model espnetv2-voc IMAGE... --out DIR
//! advseg eval --model espnetv2-voc --images DIR [--json]
//! advseg eval --experiment FILE --out DIR [--shard K/N]
//! advseg merge DIR... --out OUT
//! advseg attack --model espnetv2-voc --mode untargeted --eps 8/255 --steps 10 --loss ce IMAGE... --out DIR
//! advseg attack --spec attack.toml IMAGE... --out DIR
//! advseg models
//! advseg weights fetch [--from DIR]
//! advseg scale-attack --model espnetv2-voc --scaler opencv-linear --source S --target T --ratio 4 --out DIR
//! advseg scale-attack --model espnetv2-voc --source S --target-map MAP.png|--target-class person --out DIR
//! advseg universal --model selfie --hide person --eps 8/255 --steps 40 IMAGE... --held-out IMAGE... --out DIR
//! advseg scale-defend --model espnetv2-voc --scaler opencv-linear --image A [--source S] [--target T] --out DIR
//! ```

mod attack;
mod common;
mod eval;
mod experiment;
mod scale_attack;
mod scale_defend;
mod scaling_output;
mod segment;
mod universal;
mod weights;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use advseg::error::Result;
use advseg::model::zoo;

#[derive(Parser)]
#[command(name = "advseg", version, about = "Adversarial attacks and defenses on semantic segmentation networks")]
struct Cli {
    /// Compute backend: cpu (burn flex) or wgpu (Vulkan/Metal/DX12).
    #[arg(long, global = true, default_value = "cpu")]
    backend: String,
    /// Describe an ONNX model given as --model FILE.onnx: KEY=VALUE (repeatable; keys in
    /// docs/onnx.md), over the file's metadata and its sidecar NAME.toml.
    #[arg(long = "model-set", global = true, value_name = "KEY=VALUE")]
    model_set: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the models of the zoo.
    Models,
    /// Model weights: fetch (shared copy or converted originals), convert, hash.
    Weights(weights::WeightsArgs),
    Segment(segment::SegmentArgs),
    Eval(eval::EvalArgs),
    Merge(experiment::MergeArgs),
    Attack(attack::AttackArgs),
    ScaleAttack(scale_attack::ScaleAttackArgs),
    ScaleDefend(scale_defend::ScaleDefendArgs),
    Universal(universal::UniversalArgs),
}

fn main() -> ExitCode {
    advseg::util::allocator::keep_freed_memory();
    let cli = Cli::parse();
    let b = cli.backend.as_str();
    let r: Result<()> = common::describe_onnx(&cli.model_set).and_then(|()| match &cli.command {
        Command::Models => {
            for m in zoo::MODELS {
                let (w, h) = m.native_size;
                println!("{:<20} {w}x{h}  {}", m.name, m.title);
            }
            Ok(())
        }
        Command::Weights(a) => weights::run(a),
        Command::Segment(a) => segment::run(b, a),
        Command::Eval(a) => eval::run(b, a),
        Command::Merge(a) => experiment::merge(a),
        Command::Attack(a) => attack::run(b, a),
        Command::ScaleAttack(a) => scale_attack::run(b, a),
        Command::ScaleDefend(a) => scale_defend::run(b, a),
        Command::Universal(a) => universal::run(b, a),
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("advseg: {e}");
            ExitCode::FAILURE
        }
    }
}
