//! The converters on the real originals: every EdgeNets `.pth` in `../shared/upstream/edgenets`
//! and the DeepLab `.tflite` convert to exactly the tensors of `../shared/weights/*.safetensors`
//! (names, dtypes, shapes, values) and to the manifest's content hashes; `weights fetch` fills
//! a folder from `--from` originals and from a (file://) mirror; corrupt, truncated or wrong
//! originals and a checkpoint that is not a state dict give clear errors. A test that cannot run
//! (no `../shared`, no curl) records its skip and the reason (`common::skip`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use advseg::model::convert::fetch::{FetchOptions, Outcome, fetch_entry};
use advseg::model::convert::{self as conv, content_hash, from_safetensors};
use advseg::model::weights::{ManifestEntry, manifest};

fn upstream() -> PathBuf {
    common::shared().join("upstream")
}

fn shared_weights() -> PathBuf {
    common::shared().join("weights")
}

/// `true` (after recording the skip with its reason, see `common::skip`) when the shared
/// originals or weights are absent.
fn skip(test: &str) -> bool {
    let missing: Vec<String> =
        [upstream().join("edgenets"), shared_weights()].iter().filter(|d| !d.is_dir()).map(|d| d.display().to_string()).collect();
    if !missing.is_empty() {
        common::skip(test, &format!("{} absent: put ../shared beside the checkout or set ADVSEG_SHARED", missing.join(" and ")));
    }
    !missing.is_empty()
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advseg-convert-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn entry(name: &str) -> ManifestEntry {
    manifest().unwrap().into_iter().find(|e| e.name == name).unwrap()
}

/// Options that never touch `weights/`, `../shared/weights`, the user's cache or the network.
fn offline(dest: &Path, from: Vec<PathBuf>) -> FetchOptions {
    FetchOptions {
        dest: dest.to_path_buf(),
        shared: None,
        from,
        cache: dest.join("cache"),
        download: false,
        base_url: None,
        models: vec![],
    }
}

#[test]
fn every_original_converts_to_the_shared_tensors_exactly() {
    if skip("every_original_converts_to_the_shared_tensors_exactly") {
        return;
    }
    let mut originals: Vec<PathBuf> = std::fs::read_dir(upstream().join("edgenets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pth"))
        .collect();
    originals.sort();
    assert_eq!(originals.len(), 6, "{originals:?}");
    originals.push(shared_weights().join("deeplabv3_mnv2_257_voc.tflite"));
    for path in originals {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let format = if stem.starts_with("deeplab") { "tflite-deeplab-onnx" } else { "pth-state-dict" };
        let t0 = std::time::Instant::now();
        let got = conv::convert(format, &path.display().to_string(), &std::fs::read(&path).unwrap()).unwrap();
        let secs = t0.elapsed().as_secs_f64();
        let target = shared_weights().join(format!("{stem}.safetensors"));
        let want = from_safetensors(&target.display().to_string(), &std::fs::read(&target).unwrap()).unwrap();
        let names: Vec<&String> = got.keys().collect();
        assert_eq!(names, want.keys().collect::<Vec<_>>(), "{stem}: tensor names");
        for (name, w) in &want {
            let g = &got[name];
            assert_eq!((g.dtype, &g.shape), (w.dtype, &w.shape), "{stem}: {name}");
            assert!(g.data == w.data, "{stem}: values of {name} differ");
        }
        let e = manifest().unwrap().into_iter().find(|e| e.file == format!("{stem}.safetensors")).unwrap();
        assert_eq!(e.content_sha256.as_deref(), Some(content_hash(&got).as_str()), "{stem}");
        println!("{stem}: {} tensors identical ({secs:.3} s)", got.len());
    }
}

#[test]
fn fetch_from_originals_fills_a_folder_that_the_loader_accepts() {
    if skip("fetch_from_originals_fills_a_folder_that_the_loader_accepts") {
        return;
    }
    let dest = tmp("fetch");
    let opts = offline(&dest, vec![upstream(), shared_weights()]);
    for e in manifest().unwrap() {
        match (fetch_entry(&e, &opts).unwrap(), &e.wheel) {
            (Outcome::Converted { via: "--from", .. }, None) => {}
            // the MediaPipe models are used as published: copied from the folder that has them
            (Outcome::Shared(p), Some(_)) if p.starts_with(shared_weights()) => {}
            (other, _) => panic!("{}: {other:?}", e.name),
        }
        let bytes = std::fs::read(dest.join(&e.file)).unwrap();
        advseg::model::weights::verify(&e.file, &bytes).unwrap();
        assert_eq!(fetch_entry(&e, &opts).unwrap(), Outcome::Present, "{}", e.name);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dest).unwrap().flatten().filter(|f| f.file_name().to_string_lossy().starts_with('.')).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(&dest).unwrap();
}

#[test]
fn fetch_downloads_from_a_mirror_into_the_cache() {
    if skip("fetch_downloads_from_a_mirror_into_the_cache") {
        return;
    }
    if advseg::model::convert::download::tool() != Some("curl") {
        common::skip(
            "fetch_downloads_from_a_mirror_into_the_cache",
            "curl is not installed (the mirror is a file:// URL, which wget cannot fetch); scripts/setup.sh installs it",
        );
        return;
    }
    let dest = tmp("mirror");
    let mirror = dest.join("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    std::fs::copy(shared_weights().join("deeplabv3_mnv2_257_voc.tflite"), mirror.join("deeplabv3_257_mv_gpu.tflite")).unwrap();
    let mut opts = offline(&dest.join("weights"), vec![]);
    opts.download = true;
    opts.base_url = Some(format!("file://{}", mirror.display()));
    let e = entry("deeplabv3-mnv2-voc");
    assert!(matches!(fetch_entry(&e, &opts).unwrap(), Outcome::Converted { via: "downloaded", .. }));
    assert!(opts.cache.join("deeplabv3_257_mv_gpu.tflite").is_file());
    std::fs::remove_file(dest.join("weights").join(&e.file)).unwrap();
    assert!(matches!(fetch_entry(&e, &opts).unwrap(), Outcome::Converted { via: "cache", .. }));

    // a truncated download: error names the file, URL and expected hash; nothing is written
    let e = entry("espnetv2-voc-s0.5");
    let o = e.original.clone().unwrap();
    let bytes = std::fs::read(upstream().join("edgenets").join(&o.file)).unwrap();
    std::fs::write(mirror.join(&o.file), &bytes[..bytes.len() / 3]).unwrap();
    let msg = fetch_entry(&e, &opts).unwrap_err().to_string();
    for part in [o.file.as_str(), o.sha256.as_str(), "truncated download", &format!("file://{}/{}", mirror.display(), o.file)] {
        assert!(msg.contains(part), "missing '{part}' in: {msg}");
    }
    assert!(!dest.join("weights").join(&e.file).exists());
    // an unreachable URL
    opts.base_url = Some(format!("file://{}/nowhere", dest.display()));
    let msg = fetch_entry(&e, &opts).unwrap_err().to_string();
    assert!(msg.contains("nowhere") && msg.contains("failed") && msg.contains(&o.sha256), "{msg}");
    std::fs::remove_dir_all(&dest).unwrap();
}

#[test]
fn corrupt_truncated_and_wrong_originals_are_refused() {
    if skip("corrupt_truncated_and_wrong_originals_are_refused") {
        return;
    }
    let dir = tmp("bad");
    let e = entry("espnetv2-voc-s0.5");
    let o = e.original.clone().unwrap();
    let good = std::fs::read(upstream().join("edgenets").join(&o.file)).unwrap();
    // wrong file under the right name: the sha256 check names both hashes and the URL
    std::fs::copy(upstream().join("edgenets/espnetv2_s_0.5_city_1024x512.pth"), dir.join(&o.file)).unwrap();
    let msg = fetch_entry(&e, &offline(&dir.join("w"), vec![dir.clone()])).unwrap_err().to_string();
    assert!(msg.contains(&o.sha256) && msg.contains(&o.url) && msg.contains(&dir.join(&o.file).display().to_string()), "{msg}");
    assert!(!dir.join("w").join(&e.file).exists());

    // the converters themselves, without the hash check
    let what = "espnetv2_s_0.5_pascal_384x384.pth";
    let msg = conv::convert("pth-state-dict", what, &good[..good.len() - 1000]).unwrap_err().to_string();
    assert!(msg.contains(what) && msg.contains("truncated"), "{msg}");
    let msg = conv::convert("pth-state-dict", what, &good[..5000]).unwrap_err().to_string();
    assert!(msg.contains(what) && msg.contains("truncated"), "{msg}");
    let mut flipped = good.clone();
    flipped[137] = 0xff; // the first opcode of the state-dict pickle
    let msg = conv::convert("pth-state-dict", what, &flipped).unwrap_err().to_string();
    assert!(msg.contains(what) && msg.contains("unsupported opcode 0xff"), "{msg}");
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n - 100] ^= 0x01; // one weight's lowest bit: parses, but the content hash differs
    let msg = conv::convert_entry(&e, what, &flipped).unwrap_err().to_string();
    assert!(msg.contains("content hash") && msg.contains(e.content_sha256.as_deref().unwrap()), "{msg}");
    let tfl = std::fs::read(shared_weights().join("deeplabv3_mnv2_257_voc.tflite")).unwrap();
    let msg = conv::convert("tflite-deeplab-onnx", "d.tflite", &tfl[..tfl.len() / 2]).unwrap_err().to_string();
    assert!(msg.contains("d.tflite") && msg.contains("truncated"), "{msg}");
    let msg = conv::convert("tflite-deeplab-onnx", "d.tflite", &good).unwrap_err().to_string();
    assert!(msg.contains("not a TFLite model"), "{msg}");
    let sel = std::fs::read(shared_weights().join("selfie_segmentation.tflite"));
    if let Ok(sel) = sel {
        let msg = conv::convert("tflite-deeplab-onnx", "selfie.tflite", &sel).unwrap_err().to_string();
        assert!(msg.contains("selfie.tflite") && msg.contains("not the DeepLab model"), "{msg}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A legacy-format `.pth` whose payload is the pickle `[1, 2]` (built by hand, byte by byte).
fn list_checkpoint() -> Vec<u8> {
    let mut b = vec![0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.'];
    b.extend([0x80, 2, b'M', 0xe9, 0x03, b'.']); // protocol version 1001
    b.extend([0x80, 2, b'}', b'.']); // system info
    b.extend([0x80, 2, b']', b'(', b'K', 1, b'K', 2, b'e', b'.']); // [1, 2]
    b.extend([0x80, 2, b']', b'.']); // no storages
    b
}

#[test]
fn a_pth_that_is_not_a_state_dict_is_refused() {
    let msg = conv::convert("pth-state-dict", "list.pth", &list_checkpoint()).unwrap_err().to_string();
    assert!(msg.contains("list.pth is not a state dict") && msg.contains("a list of 2"), "{msg}");
    let out = Command::new(env!("CARGO_BIN_EXE_advseg"))
        .args(["weights", "convert", "-", "--out"])
        .arg(std::env::temp_dir().join("advseg-never.safetensors"))
        .args(["--format", "pth-state-dict"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let dir = tmp("list");
    std::fs::write(dir.join("list.pth"), list_checkpoint()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_advseg"))
        .args(["weights", "convert"])
        .arg(dir.join("list.pth"))
        .arg("--out")
        .arg(dir.join("x.safetensors"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("is not a state dict"), "{err}");
    assert!(!dir.join("x.safetensors").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_fetch_offline_from_a_folder_and_without_one() {
    if skip("cli_fetch_offline_from_a_folder_and_without_one") {
        return;
    }
    let dest = tmp("cli");
    let run = |from: &[&Path]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_advseg"));
        c.args(["weights", "fetch", "--no-shared", "--offline", "--model", "espnetv2-voc-s0.5", "--dest"]).arg(&dest);
        c.arg("--cache").arg(dest.join("cache"));
        for f in from {
            c.arg("--from").arg(f);
        }
        c.output().unwrap()
    };
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    let o = entry("espnetv2-voc-s0.5").original.unwrap();
    assert!(!out.status.success() && err.contains(&o.url) && err.contains(&o.sha256) && err.contains("--offline"), "{err}");
    let out = run(&[&upstream()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("converted from"), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(dest.join("espnetv2_s_0.5_pascal_384x384.safetensors").is_file());
    std::fs::remove_dir_all(&dest).unwrap();
}
