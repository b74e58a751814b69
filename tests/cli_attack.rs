//! `advseg attack` on the real weights: the files it writes, the fields of `report.json`, and
//! clear errors for bad arguments. Small on purpose (DeepLab, 2 images, 2–3 steps).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn advseg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_advseg")).args(args).output().expect("advseg runs")
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advseg-cli-attack-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn voc(name: &str) -> String {
    common::fixtures().join(format!("images/voc/{name}.png")).display().to_string()
}

fn report(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

/// Equal JSON up to the last bits of floats (serde_json's parser may round the last digit).
fn assert_close(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "{at}: {x} vs {y}");
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{at}");
            for (k, v) in x {
                assert_close(v, &y[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                assert_close(p, q, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

/// `miou`, `pixel_accuracy`, `agreement` in [0, 1].
fn check_metrics(v: &Value, what: &str) {
    for f in ["miou", "pixel_accuracy", "agreement"] {
        let x = num(&v[f], &format!("{what}.{f}"));
        assert!((0.0..=1.0).contains(&x), "{what}.{f} = {x}");
    }
}

#[test]
fn targeted_image_writes_files_and_a_full_report() {
    if common::skip_without_fixtures("targeted_image_writes_files_and_a_full_report") {
        return;
    }
    let out = tmpdir("targeted");
    let o = out.to_str().unwrap();
    let res = advseg(&[
        // PGD, 3 steps; image #2 is the target itself: no iterate is closer to the target
        // than its start, so the attack never returns it less on the target
        "attack", "--model", "deeplabv3-mnv2-voc", "--kind", "pgd", "--mode", "targeted-image", "--target-index", "2",
        "--eps", "8/255", "--steps", "3", "--loss", "segpgd", &voc("294"), &voc("474"), "--out", o,
    ]);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    for name in ["294", "474"] {
        for suffix in ["adv", "clean_map", "adv_map", "perturbation", "target_map"] {
            let im = image::open(out.join(format!("{name}_{suffix}.png"))).unwrap_or_else(|e| panic!("{name}_{suffix}: {e}"));
            assert_eq!((im.width(), im.height()), (257, 257), "{name}_{suffix}");
        }
    }
    let r = report(&out);
    assert_eq!(r["model"], "deeplabv3-mnv2-voc");
    assert_eq!(r["schema"], "advseg.attack/2");
    assert_eq!(r["spec"]["goal"], "targeted-image");
    assert_eq!(r["spec"]["kind"], "pgd");
    assert!(r["images"][0]["winning_loss"].is_null());
    assert_eq!(r["spec"]["target_index"], 2);
    assert_eq!(r["target_image"], "474");
    assert_eq!(r["spec"]["steps"], 3);
    assert_eq!(r["spec"]["loss"], "segpgd");
    assert_eq!(r["spec"]["norm"], "linf");
    assert_eq!(r["spec"]["eps"], "8/255");
    assert!((num(&r["eps"], "eps") - 8.0 / 255.0).abs() < 1e-12);
    assert_eq!(r["n_images"], 2);
    assert_eq!(r["history"].as_array().unwrap().len(), 4);
    let images = r["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["name"], "294");
    for (i, img) in images.iter().enumerate() {
        assert_eq!(img["has_ground_truth"], true);
        check_metrics(&img["clean"]["vs_ground_truth"], "clean.vs_ground_truth");
        check_metrics(&img["clean"]["vs_target"], "clean.vs_target");
        let kept = img["kept_step"].as_u64().unwrap_or_else(|| panic!("no kept_step in {img}"));
        assert!(kept <= 3, "kept step {kept}");
        for kind in ["adversarial", "quantized"] {
            let a = &img[kind];
            for m in ["vs_clean", "vs_target", "vs_ground_truth"] {
                check_metrics(&a[m], &format!("{kind}.{m}"));
            }
            let linf = num(&a["linf"], "linf");
            assert!(linf <= 8.0 / 255.0 + 1e-6, "{kind} linf {linf}");
            // image 0 moves; image 1 (the target itself) keeps agreement 1, at its start or
            // at an iterate that left it in place (a saturated softmax has no gradient)
            let l2 = num(&a["l2"], "l2");
            assert!(l2 >= 0.0 && (i == 1 || l2 > 0.0), "image {i}: {kind} l2 {l2} with kept step {kept}");
            if l2 > 0.0 {
                assert!(num(&a["psnr"], "psnr") > 30.0);
            }
        }
    }
    // image #2 is the target itself: its clean map agrees with the target everywhere
    assert_eq!(num(&images[1]["clean"]["vs_target"]["agreement"], "agreement"), 1.0);
    assert_eq!(num(&images[1]["adversarial"]["vs_target"]["agreement"], "agreement"), 1.0);
    // and the other image moves towards it
    let before = num(&images[0]["clean"]["vs_target"]["agreement"], "before");
    let after = num(&images[0]["adversarial"]["vs_target"]["agreement"], "after");
    assert!(after > before, "agreement with target {before} → {after}");
    assert!(images[0]["kept_step"].as_u64() > Some(0));
    for kind in ["clean", "adversarial", "quantized"] {
        check_metrics(&r["overall"][kind]["vs_ground_truth"], &format!("overall.{kind}"));
        check_metrics(&r["overall"][kind]["vs_target"], &format!("overall.{kind}.vs_target"));
    }
    for f in ["linf", "l2", "psnr"] {
        num(&r["overall"]["quantized"][f], f);
    }
    check_detail(&r);
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(stdout.contains("agreement with target"), "{stdout}");
}

/// The per-class IoU and accuracy by object size of a targeted-image report on VOC whose
/// image #2 is the target.
fn check_detail(r: &Value) {
    assert_eq!(r["classes"].as_array().map(Vec::len), Some(21));
    assert_eq!(r["classes"][15], "person");
    let images = r["images"].as_array().unwrap();
    for (what, d) in [("image 1", &images[0]["detail"]), ("image 2", &images[1]["detail"]), ("overall", &r["overall"]["detail"])] {
        let wanted: [(&str, &[&str]); 2] = [("clean", &["vs_target", "vs_ground_truth"]), ("adversarial", &["vs_clean", "vs_target", "vs_ground_truth"])];
        for (kind, refs) in wanted {
            for m in refs {
                let x = &d[kind][m];
                assert_eq!(x["per_class_iou"].as_array().map(Vec::len), Some(21), "{what}.{kind}.{m}");
                let objects: u64 = ["small", "medium", "large"].iter().map(|b| x["by_size"][b]["objects"].as_u64().unwrap()).sum();
                assert!(objects > 0, "{what}.{kind}.{m}: no objects");
            }
        }
        assert!(d["clean"]["vs_clean"].is_null(), "{what}");
    }
    // the target image's clean map is its own target: every class present has IoU 1
    let own = images[1]["detail"]["clean"]["vs_target"]["per_class_iou"].as_array().unwrap();
    assert!(own.iter().all(|v| v.is_null() || v.as_f64() == Some(1.0)), "{own:?}");
    // the mean of the per-class IoU is the mIoU of the same comparison
    let iou: Vec<f64> = images[0]["detail"]["adversarial"]["vs_ground_truth"]["per_class_iou"].as_array().unwrap().iter().filter_map(Value::as_f64).collect();
    let miou = num(&images[0]["quantized"]["vs_ground_truth"]["miou"], "miou");
    assert!((iou.iter().sum::<f64>() / iou.len() as f64 - miou).abs() < 1e-9, "{iou:?} vs {miou}");
}

#[test]
fn untargeted_reports_ground_truth_only_where_a_label_exists() {
    if common::skip_without_fixtures("untargeted_reports_ground_truth_only_where_a_label_exists") {
        return;
    }
    let out = tmpdir("untargeted");
    let photo = common::fixtures().join("images/photos/chelsea.png");
    let res = advseg(&[
        "attack", "--model", "deeplabv3-mnv2-voc", "--steps", "2", "--norm", "l2", "--eps", "1.5",
        &voc("8"), photo.to_str().unwrap(), "--out", out.to_str().unwrap(),
    ]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    let r = report(&out);
    assert_eq!(r["spec"]["norm"], "l2");
    assert_eq!(r["n_images_with_ground_truth"], 1);
    let images = r["images"].as_array().unwrap();
    assert_eq!(images[1]["name"], "chelsea");
    assert!(images[1]["adversarial"]["vs_ground_truth"].is_null());
    assert!(images[1]["adversarial"]["vs_target"].is_null());
    check_metrics(&images[0]["adversarial"]["vs_ground_truth"], "vs_ground_truth");
    check_metrics(&r["overall"]["adversarial"]["vs_ground_truth"], "overall");
    for img in images {
        let l2 = num(&img["adversarial"]["l2"], "l2");
        assert!(l2 <= 1.5 + 1e-4, "l2 {l2}");
    }
    assert!(out.join("chelsea_perturbation.png").is_file());
    assert!(!out.join("chelsea_target_map.png").exists());
}

#[test]
fn bad_arguments_are_reported() {
    if common::skip_without_fixtures("bad_arguments_are_reported") {
        return;
    }
    let out = tmpdir("bad");
    let o = out.to_str().unwrap();
    let (a, b) = (voc("294"), voc("474"));
    let cases: [(&[&str], &str); 11] = [
        (&["--mode", "targeted-image", "--target-index", "3"], "target_index 3"),
        (&["--eps", "-1/255"], "'-1/255'"),
        (&["--steps", "0"], "steps = 0"),
        (&["--mode", "targeted-class"], "target_class"),
        (&["--mode", "targeted-class", "--target-class", "21"], "target_class 21"),
        (&["--mode", "targeted-class", "--target-class", "unicorn"], "'unicorn'"),
        (&["--loss", "dice"], "'dice'"),
        (&["--kind", "sea", "--losses", "js,hinge"], "'hinge'"),
        (&["--restarts", "0"], "restarts = 0"),
        (&["--radius-schedule", "--eps", "0"], "eps '0'"),
        (&["--radius-schedule", "--kind", "pgd"], "'pgd'"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["attack", "--model", "deeplabv3-mnv2-voc", "--out", o, a.as_str(), b.as_str()];
        args.extend_from_slice(extra);
        let res = advseg(&args);
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert!(!res.status.success(), "{extra:?} should fail");
        assert!(stderr.contains(want), "{extra:?}: {stderr}");
    }
    // a named class works
    let res = advseg(&[
        "attack", "--model", "deeplabv3-mnv2-voc", "--mode", "targeted-class", "--target-class", "person", "--steps", "1",
        "--out", o, a.as_str(),
    ]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    assert_eq!(report(&out)["target_class"], 15);
    assert_eq!(report(&out)["target_class_name"], "person");
}

/// `advseg attack --spec` on DeepLab with `toml` written into `out`, writing into `out`.
fn attack_with_spec(toml: &str, img: &str, out: &Path) {
    let spec_file = out.join("attack.toml");
    std::fs::write(&spec_file, toml).unwrap();
    let res = advseg(&[
        "attack", "--model", "deeplabv3-mnv2-voc", "--spec", spec_file.to_str().unwrap(), img, "--out", out.to_str().unwrap(),
    ]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
}

/// `voc/NAME.png` at DeepLab's 257×257 as a one-image batch, as the CLI loads it (with its
/// label when `with_label`).
fn voc_batch(name: &str, with_label: bool) -> [advseg::attack::BatchImage; 1] {
    let path = voc(name);
    let image =
        advseg::image::resize(&advseg::image::load(Path::new(&path)).unwrap(), 257, 257, advseg::image::ResizeMethod::PilBilinear)
            .unwrap();
    let ground_truth = with_label.then(|| {
        let (data, width, height) =
            advseg::image::load_label_png(&common::fixtures().join(format!("images/voc/{name}_label.png"))).unwrap();
        advseg::data::ClassMap { width, height, data }
    });
    [advseg::attack::BatchImage { name: name.into(), input: Some(path), image, ground_truth }]
}

/// One attack as CLI flags, as a TOML file (`--spec`) and as the page's JSON: one spec, one
/// result.
#[test]
fn flags_toml_and_json_are_one_spec_with_one_result() {
    if common::skip_without_fixtures("flags_toml_and_json_are_one_spec_with_one_result") {
        return;
    }
    use advseg::attack::{AttackSpec, GoalMaps, run_attack};
    let (flags_out, toml_out) = (tmpdir("flags"), tmpdir("toml"));
    let img = voc("294");
    let res = advseg(&[
        "attack", "--model", "deeplabv3-mnv2-voc", "--mode", "targeted-class", "--target-class", "person", "--eps", "4/255",
        "--steps", "2", "--loss", "cospgd", "--reconstruct", "jpeg:75", &img, "--out", flags_out.to_str().unwrap(),
    ]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    let toml = "goal = \"targeted-class\"\ntarget_class = \"person\"\neps = \"4/255\"\nsteps = 2\nloss = \"cospgd\"\n\
                [defense]\nreconstruct = \"jpeg:75\"\nadaptive = false\n";
    attack_with_spec(toml, &img, &toml_out);
    let (a, b) = (report(&flags_out), report(&toml_out));
    let js = r#"{"goal": "targeted-class", "target_class": "person", "eps": "4/255", "steps": 2, "loss": "cospgd",
                 "defense": {"reconstruct": "jpeg:75", "adaptive": false}}"#;
    let from_flags = AttackSpec::from_json_value(a["spec"].clone()).unwrap();
    // the report echoes the spec with its defaults written out
    let dl = advseg::model::zoo::spec("deeplabv3-mnv2-voc").unwrap();
    assert_eq!(from_flags, AttackSpec::from_toml(toml).unwrap().for_model(dl));
    assert_eq!(from_flags, AttackSpec::from_json(js).unwrap().for_model(dl));
    assert_eq!(a["spec"], b["spec"]);
    assert_eq!(a["overall"], b["overall"]);
    assert_eq!(a["images"], b["images"]);
    // the library on the JSON spec (what the page runs) gives the same numbers
    let device = advseg::backend::autodiff(&advseg::backend::cpu());
    let seg = advseg::model::Segmenter::load("deeplabv3-mnv2-voc", &device).unwrap();
    let batch = voc_batch("294", true);
    let out = advseg::util::block_on(run_attack(&seg, &batch, &AttackSpec::from_json(js).unwrap(), GoalMaps::default(), None)).unwrap();
    let lib = serde_json::to_value(&out.report).unwrap();
    assert_close(&lib["overall"], &a["overall"], "overall");
    assert_close(&lib["images"], &a["images"], "images");
    assert!(a["overall"]["defended"]["vs_target"]["agreement"].is_number(), "{}", a["overall"]);
}

/// `--kind apgd`, `kind = "apgd"` (TOML) and `{"kind": "apgd"}` (the page's JSON) run the same
/// APGD attack, which is not PGD's.
#[test]
fn apgd_from_flags_toml_and_json_is_one_attack() {
    if common::skip_without_fixtures("apgd_from_flags_toml_and_json_is_one_attack") {
        return;
    }
    use advseg::attack::{AttackKind, AttackSpec, GoalMaps, run_attack};
    let (flags_out, toml_out) = (tmpdir("apgd-flags"), tmpdir("apgd-toml"));
    let img = voc("166");
    let res = advseg(&[
        "attack", "--model", "deeplabv3-mnv2-voc", "--kind", "apgd", "--eps", "1/255", "--steps", "3", &img, "--out",
        flags_out.to_str().unwrap(),
    ]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    let toml = "kind = \"apgd\"\neps = \"1/255\"\nsteps = 3\n";
    attack_with_spec(toml, &img, &toml_out);
    let (a, b) = (report(&flags_out), report(&toml_out));
    assert_eq!(a["spec"]["kind"], "apgd");
    assert_eq!(a["spec"], b["spec"]);
    assert_eq!(a["overall"], b["overall"]);
    let js = AttackSpec::from_json(r#"{"kind": "apgd", "eps": "1/255", "steps": 3}"#).unwrap();
    let dl = advseg::model::zoo::spec("deeplabv3-mnv2-voc").unwrap();
    assert_eq!(AttackSpec::from_json_value(a["spec"].clone()).unwrap(), js.for_model(dl));
    // the library on the JSON spec gives the same numbers; the same spec as PGD does not
    let seg = advseg::model::Segmenter::load("deeplabv3-mnv2-voc", &advseg::backend::autodiff(&advseg::backend::cpu())).unwrap();
    let batch = voc_batch("166", false);
    let run = |spec: &AttackSpec| advseg::util::block_on(run_attack(&seg, &batch, spec, GoalMaps::default(), None)).unwrap();
    let lib = serde_json::to_value(run(&js).report).unwrap();
    assert_close(&lib["overall"]["adversarial"]["vs_clean"], &a["overall"]["adversarial"]["vs_clean"], "apgd");
    let pgd = serde_json::to_value(run(&AttackSpec { kind: AttackKind::Pgd, ..js.clone() }).report).unwrap();
    assert_ne!(pgd["overall"]["adversarial"], lib["overall"]["adversarial"], "apgd and pgd gave the same result");
}

/// `advseg attack --kind sea` (ESPNetv2 s0.5 at 128×128, 2 images, 2 steps per loss) writes a
/// report with the loss that won each image; `kind = "sea"` in TOML and JSON is the same spec
/// (echoed with its defaults for the model).
#[test]
fn sea_writes_the_winning_loss_of_each_image() {
    if common::skip_without_fixtures("sea_writes_the_winning_loss_of_each_image") {
        return;
    }
    use advseg::attack::AttackSpec;
    let out = tmpdir("sea");
    let res = advseg(&[
        "attack", "--model", "espnetv2-voc-s0.5", "--size", "128x128", "--kind", "sea", "--eps", "2/255", "--steps", "2",
        &voc("166"), &voc("474"), "--out", out.to_str().unwrap(),
    ]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    let r = report(&out);
    assert_eq!(r["spec"]["kind"], "sea");
    assert_eq!((r["steps_run"].as_u64(), r["history"].as_array().map(Vec::len)), (Some(6), Some(9)));
    let images = r["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    for img in images {
        let w = img["winning_loss"].as_str().unwrap_or_else(|| panic!("no winning_loss in {img}"));
        assert!(["masked-ce", "balanced-ce-voc", "js"].contains(&w), "{w}");
        assert!(num(&img["adversarial"]["linf"], "linf") <= 2.0 / 255.0 + 1e-6);
    }
    // the report echoes the spec with SEA's defaults written out
    let spec = AttackSpec::from_json_value(r["spec"].clone()).unwrap();
    assert_eq!((r["spec"]["random_start"].as_bool(), r["spec"]["radius_schedule"].as_bool()), (Some(true), Some(true)));
    let voc = advseg::model::zoo::spec("espnetv2-voc-s0.5").unwrap();
    assert_eq!(spec, AttackSpec::from_toml("kind = \"sea\"\neps = \"2/255\"\nsteps = 2\n").unwrap().for_model(voc));
    assert_eq!(spec, AttackSpec::from_json(r#"{"kind": "sea", "eps": "2/255", "steps": 2}"#).unwrap().for_model(voc));
    // on a VOC model SEA's balanced loss has its authors' fixed class weights
    assert_eq!(r["runs"], serde_json::json!(["masked-ce", "balanced-ce-voc", "js"]));
    assert!(r["overall"]["miou_worst_case"]["adversarial"]["vs_clean"]["miou"].is_number());
    assert_eq!(r["budget"]["holds"], true);
}

/// `advseg attack --kind worst-case --members …` (DeepLab, 2 images, 2 steps each) runs each
/// member, keeps per image the strongest (`winner` indexes `runs`) and reports the mIoU worst
/// case beside it; the saved images keep ε.
#[test]
fn worst_case_over_members_is_one_command() {
    if common::skip_without_fixtures("worst_case_over_members_is_one_command") {
        return;
    }
    let out = tmpdir("worst-case");
    let res = advseg(&[
        "attack", "--model", "deeplabv3-mnv2-voc", "--kind", "worst-case", "--members", "apgd-ce,pgd-cospgd,dag", "--eps", "1/255",
        "--steps", "2", "--vs-gt", &voc("166"), &voc("474"), "--out", out.to_str().unwrap(),
    ]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    let r = report(&out);
    assert_eq!(r["runs"], serde_json::json!(["apgd-ce", "pgd-cospgd", "dag"]));
    assert!(r["steps_run"].as_u64().is_some_and(|s| (5..=6).contains(&s)), "{}", r["steps_run"]);
    for img in r["images"].as_array().unwrap() {
        let (w, m) = (img["winner"].as_u64().unwrap(), img["miou_winner"].as_u64().unwrap());
        assert!(w < 3 && m < 3, "{img}");
        assert!(img["kept_step"].is_u64());
    }
    let o = &r["overall"];
    let (acc, greedy) = (num(&o["adversarial"]["vs_ground_truth"]["miou"], "miou"), num(&o["miou_worst_case"]["adversarial"]["vs_ground_truth"]["miou"], "greedy"));
    assert!(greedy <= acc + 1e-12, "the mIoU worst case {greedy} is above the accuracy one's {acc}");
    assert_eq!(r["budget"]["holds"], true);
    assert!(num(&r["budget"]["quantized_linf"], "quantized_linf") <= 1.0 / 255.0);
    let e = advseg(&["attack", "--kind", "worst-case", "--members", "fgsm", &voc("166"), "--out", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("'fgsm'"));
}
