//! Sharded, merged and resumed experiment runs through the command line, on the real weights
//! (experiments/ci_shards.toml: every kind of work unit, 3 VOC images): N shards merged give
//! byte for byte the JSON of one run, for N = 1, 2, 3, and so does a run killed midway and
//! resumed; bad shard arguments and missing units are explained.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn advseg() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_advseg"));
    c.env("ADVSEG_SHARED", common::shared());
    c
}

fn run(args: &[&str]) -> Output {
    advseg().args(args).output().expect("advseg runs")
}

fn ok(o: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "advseg failed:\n{text}");
    text
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advseg-shards-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn experiment() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/ci_shards.toml").display().to_string()
}

fn results(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("results.json")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn units_in(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("units")).map_or(0, |d| d.filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))).count())
}

#[test]
fn shards_merged_and_resumed_runs_equal_one_run() {
    if common::skip_without_fixtures("shards_merged_and_resumed_runs_equal_one_run") {
        return;
    }
    let root = tmpdir("equal");
    let exp = experiment();
    // one run; its folder merged alone is the N = 1 case
    let single = root.join("single");
    ok(&run(&["eval", "--experiment", &exp, "--out", s(&single)]));
    let reference = results(&single);
    assert!(reference.contains("\"transfer\"") && reference.contains("to-image-3"), "{reference}");
    let n_units = units_in(&single);
    assert_eq!(n_units, 18, "per batch of images (2): clean, two attacks and their adaptive runs, transfer clean × 2 and craft × 2");
    let rows = std::fs::read_to_string(single.join("rows.jsonl")).unwrap();
    // per image: clean ×2 (undefended, jpeg), apgd ×2 + adaptive, to-image ×3 (+ clean vs
    // target) + adaptive, transfer clean ×2 and crafted ×2 × 2 targets: 15 rows × 3 images
    let rows: Vec<serde_json::Value> = rows.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 45);
    assert!(rows.iter().any(|r| r["part"] == "jpeg-75 (adaptive)" && r["image"] == "1" && r["miou"].is_number()), "{rows:?}");
    let m1 = root.join("merged-1");
    ok(&run(&["merge", s(&single), "--out", s(&m1)]));
    assert_eq!(results(&m1), reference, "N = 1");
    // N = 2 in one shared folder, N = 3 in a folder per shard
    let shared = root.join("n2");
    for k in 1..=2 {
        let text = ok(&run(&["eval", "--experiment", &exp, "--shard", &format!("{k}/2"), "--out", s(&shared)]));
        assert!(text.contains(&format!("shard {k}/2: 9 of 18 units")), "{text}");
    }
    let m2 = root.join("merged-2");
    ok(&run(&["merge", s(&shared), "--out", s(&m2)]));
    assert_eq!(results(&m2), reference, "N = 2");
    let dirs: Vec<PathBuf> = (1..=3).map(|k| root.join(format!("n3-{k}"))).collect();
    for (k, d) in dirs.iter().enumerate() {
        ok(&run(&["eval", "--experiment", &exp, "--shard", &format!("{}/3", k + 1), "--out", s(d)]));
    }
    let m3 = root.join("merged-3");
    let mut args = vec!["merge"];
    args.extend(dirs.iter().map(|d| s(d)));
    args.extend(["--out", s(&m3)]);
    ok(&run(&args));
    assert_eq!(results(&m3), reference, "N = 3");
    // a missing shard: the merge names what is not done
    let o = run(&["merge", s(&dirs[0]), s(&dirs[1]), "--out", s(&root.join("partial"))]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("6 of 18 units are not done") && err.contains("#3 espnetv2-voc-s0.5: apgd ε=4/255 seed 0, images 1–2"), "{err}");
    // a run killed midway (after 3 units), then resumed, gives the same JSON
    let killed = root.join("killed");
    let mut child = advseg()
        .args(["eval", "--experiment", &exp, "--out", s(&killed)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while units_in(&killed) < 3 && t0.elapsed() < Duration::from_secs(600) {
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = units_in(&killed);
    assert!((3..n_units).contains(&kept), "killed after {kept} units");
    let text = ok(&run(&["eval", "--experiment", &exp, "--out", s(&killed)]));
    assert!(text.contains(&format!("{kept} of 18 units read back")), "{text}");
    assert_eq!(results(&killed), reference, "killed and resumed");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn bad_shards_and_folders_are_explained() {
    let root = tmpdir("bad");
    let exp = experiment();
    for (shard, says) in [("5/4", "shard 5/4 is out of range"), ("0/2", "shard 0/2 is out of range"), ("two", "expected K/N")] {
        let o = run(&["eval", "--experiment", &exp, "--shard", shard, "--out", s(&root)]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "{shard}: {err}");
    }
    let o = run(&["merge", s(&root.join("nowhere")), "--out", s(&root.join("m"))]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("nowhere") && err.contains("no manifest.json"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}
