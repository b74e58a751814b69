//! `advseg eval --experiment FILE --out DIR [--shard K/N]`: an experiment run, whole or one
//! shard of it, resumable (DIR keeps every finished unit), and `advseg merge DIR… --out OUT`,
//! which assembles the shards' units into the result a single run writes.

use std::path::{Path, PathBuf};

use advseg::error::{Error, Result};
use advseg::experiment::{ExperimentFile, ExperimentProgress, ExperimentResult, Prepared, Shard, Store, result_of, run_units};

use crate::common::{create_dir, fmt_seconds, progress};

/// Merge the run folders of an experiment's shards (`eval --experiment … --shard K/N --out
/// DIR`) into results.md and results.json — the same JSON a single run writes.
#[derive(clap::Args)]
pub struct MergeArgs {
    /// Run folders (the shards may share one folder or have one each).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where results.md and results.json go.
    #[arg(long)]
    pub out: PathBuf,
}

/// Run the experiment in `file` (or shard `shard` of it) into `out`.
pub fn run(backend: &str, file: &Path, out: &Path, shard: Option<Shard>) -> Result<()> {
    let exp = ExperimentFile::load(file)?;
    let device = advseg::backend::by_name(backend)?;
    let start = std::time::Instant::now();
    let prepared = Prepared::new(&exp)?;
    let store = Store::create(out)?;
    let pb = progress(1, "experiment");
    // without a terminal (CI logs, cluster jobs) the bar is hidden: one line per unit instead
    let lines = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut on_progress = |p: &ExperimentProgress| {
        pb.set_length(p.total as u64);
        pb.set_position(p.done as u64);
        pb.set_message(p.message.clone());
        if lines {
            let elapsed = start.elapsed().as_secs_f64();
            // by unit count: units differ in cost (a clean pass vs an adaptive attack), so a guide only
            let eta = match p.done {
                0 => String::new(),
                d => format!(", ETA ~{}", fmt_seconds(elapsed * (p.total - d) as f64 / d as f64)),
            };
            eprintln!("[{}/{} {}{eta}] {}", p.done, p.total, fmt_seconds(elapsed), p.message);
        }
    };
    let (results, summary) = run_units(&prepared, &device, Some(&store), shard.unwrap_or(Shard::ALL), &mut on_progress)?;
    pb.finish_and_clear();
    let took = fmt_seconds(start.elapsed().as_secs_f64());
    if let Some(s) = shard {
        println!(
            "shard {s}: {} of {} units ({} done now, {} found done) in {took}, saved in {}; when every shard is done: advseg merge {} --out OUT",
            summary.units,
            prepared.n_units(),
            summary.done,
            summary.resumed,
            out.display(),
            out.display()
        );
        return Ok(());
    }
    let result = result_of(&prepared, &results)?;
    let command = format!("advseg --backend {backend} eval --experiment {} --out {}", file.display(), out.display());
    let resumed = match summary.resumed {
        0 => String::new(),
        n => format!("; {n} of {} units read back from an earlier run", summary.units),
    };
    write(&result, out, &command, &format!("{took} in all, {}{resumed}", advseg::backend::describe(&device)))
}

/// `advseg merge`.
pub fn merge(a: &MergeArgs) -> Result<()> {
    let result = advseg::experiment::merge(&a.dirs)?;
    let dirs: Vec<String> = a.dirs.iter().map(|d| d.display().to_string()).collect();
    let unit_time: f64 = result.seconds.iter().map(|(_, s)| s).sum();
    let command = format!("advseg merge {} --out {}", dirs.join(" "), a.out.display());
    write(&result, &a.out, &command, &format!("units of {} folder(s), {} of work in all", dirs.len(), fmt_seconds(unit_time)))
}

fn write(result: &ExperimentResult, out: &Path, command: &str, how: &str) -> Result<()> {
    for s in &result.skipped {
        eprintln!("advseg: skipped {}: {}", s.image, s.error);
    }
    create_dir(out)?;
    let md = format!("{}\nCommand: `{command}` ({how}).\n", result.to_markdown());
    let (md_path, json_path) = (out.join("results.md"), out.join("results.json"));
    std::fs::write(&md_path, &md).map_err(|e| Error::io(&md_path, e))?;
    std::fs::write(&json_path, result.to_json()?).map_err(|e| Error::io(&json_path, e))?;
    println!("{md}");
    println!("wrote {} and {}", md_path.display(), json_path.display());
    Ok(())
}
