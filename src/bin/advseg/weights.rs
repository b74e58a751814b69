//! `advseg weights …`: fetch the zoo's weights (shared copy, or the published originals
//! converted here), convert a single checkpoint, print content hashes.

use std::path::PathBuf;

use advseg::error::{Error, Result};
use advseg::model::convert::fetch::{self, FetchOptions, Outcome};
use advseg::model::convert::original::{FORMAT_DEEPLAB_TFLITE, FORMAT_PTH};
use advseg::model::convert::{self as conv, content_hash, from_safetensors, to_safetensors};

/// Arguments of `advseg weights`.
#[derive(clap::Args)]
pub struct WeightsArgs {
    #[command(subcommand)]
    command: WeightsCommand,
}

#[derive(clap::Subcommand)]
enum WeightsCommand {
    /// Fill weights/ with every model of weights/manifest.json: the copy in ../shared/weights
    /// (sha256-checked) if there is one, else the published original — from --from DIR, the
    /// cache, or downloaded with curl/wget (mirror: $ADVSEG_ORIGINALS_URL) — sha256-checked,
    /// converted, and checked against the manifest's content hash.
    Fetch {
        /// A folder of originals downloaded by hand (also searched one level down); repeatable;
        /// $ADVSEG_ORIGINALS_DIR is one too.
        #[arg(long = "from")]
        from: Vec<PathBuf>,
        /// Download cache of originals [default: ~/.cache/advseg/originals].
        #[arg(long)]
        cache: Option<PathBuf>,
        /// The weights folder to fill [default: the checkout's weights/].
        #[arg(long)]
        dest: Option<PathBuf>,
        /// Folder of ready safetensors files [default: $ADVSEG_SHARED_WEIGHTS or ../shared/weights].
        #[arg(long, conflicts_with = "no_shared")]
        shared: Option<PathBuf>,
        /// Do not use the shared folder (always convert from originals).
        #[arg(long)]
        no_shared: bool,
        /// Never download (use --from and the cache only).
        #[arg(long)]
        offline: bool,
        /// Only this model (manifest name, e.g. espnetv2-voc); repeatable.
        #[arg(long = "model")]
        models: Vec<String>,
    },
    /// Convert one original — a PyTorch checkpoint (.pth/.pt, legacy or zip; its state dict) or
    /// the DeepLab .tflite — into a safetensors file, and print its content hash.
    Convert {
        /// The original file.
        input: PathBuf,
        /// Output .safetensors file.
        #[arg(long)]
        out: PathBuf,
        /// pth-state-dict or tflite-deeplab-onnx [default: by file extension].
        #[arg(long)]
        format: Option<String>,
    },
    /// Print the content hash (sorted names, dtypes, shapes, values) of safetensors files.
    Hash {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Run `advseg weights …`.
pub fn run(args: &WeightsArgs) -> Result<()> {
    match &args.command {
        WeightsCommand::Fetch { from, cache, dest, shared, no_shared, offline, models } => {
            let mut opts = FetchOptions::defaults();
            opts.from.extend(from.iter().cloned());
            opts.download = !offline;
            opts.models = models.clone();
            if let Some(c) = cache {
                opts.cache = c.clone();
            }
            if let Some(d) = dest {
                opts.dest = d.clone();
            }
            if *no_shared {
                opts.shared = None;
            } else if let Some(s) = shared {
                opts.shared = Some(s.clone());
            }
            fetch::fetch_all(&opts, &mut |e, r| match r {
                Ok(Outcome::Present) => println!("{:<20} {} present (verified)", e.name, e.file),
                Ok(Outcome::Shared(p)) => println!("{:<20} {} <- {} (sha256 ok)", e.name, e.file, p.display()),
                Ok(Outcome::Converted { original, via, seconds }) => println!(
                    "{:<20} {} <- converted from {} ({via}; sha256 and content hash ok; {seconds:.2} s)",
                    e.name,
                    e.file,
                    original.display()
                ),
                Err(_) => eprintln!("{:<20} {} FAILED (why: below)", e.name, e.file),
            })
        }
        WeightsCommand::Convert { input, out, format } => {
            let format = match format {
                Some(f) => f.clone(),
                None => match input.extension().and_then(|e| e.to_str()) {
                    Some("tflite") => FORMAT_DEEPLAB_TFLITE.to_string(),
                    Some("pth" | "pt" | "ckpt" | "bin") => FORMAT_PTH.to_string(),
                    _ => return Err(Error::InvalidArgument(format!("cannot tell the format of {}; pass --format", input.display()))),
                },
            };
            let bytes = std::fs::read(input).map_err(|e| Error::io(input, e))?;
            let tensors = conv::convert(&format, &input.display().to_string(), &bytes)?;
            fetch::write_atomic(out, &to_safetensors(&tensors, &[("source", &input.display().to_string())])?)?;
            println!("{}: {} tensors, content hash {}", out.display(), tensors.len(), content_hash(&tensors));
            Ok(())
        }
        WeightsCommand::Hash { files } => {
            for f in files {
                let bytes = std::fs::read(f).map_err(|e| Error::io(f, e))?;
                let tensors = from_safetensors(&f.display().to_string(), &bytes)?;
                println!("{}  {} ({} tensors)", content_hash(&tensors), f.display(), tensors.len());
            }
            Ok(())
        }
    }
}
