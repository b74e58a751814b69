//! Standard dataset layouts (issue 13): a VOCdevkit tree (JPEG images, palette-PNG labels, a
//! split file) and a Cityscapes tree (`leftImg8bit/`, `gtFine/…_labelIds.png`) built here from
//! the shared fixture images give exactly the metrics of `advseg eval` on a flat folder of the
//! same images; a missing file is reported by path and skipped, a label of the wrong size and an
//! image that does not decode are named, a missing split file is an error naming it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use advseg::data::layout::CITYSCAPES_TRAIN_ID;

fn eval(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_advseg")).args(["eval", "--json"]).args(args).output().expect("advseg runs");
    assert!(out.status.success(), "advseg eval {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("eval --json prints JSON")
}

fn eval_err(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_advseg")).args(["eval", "--json"]).args(args).output().expect("advseg runs");
    assert!(!out.status.success(), "advseg eval {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advseg-layouts-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn mkdirs(p: &Path) -> &Path {
    std::fs::create_dir_all(p).unwrap();
    p
}

/// CRC-32 (IEEE) of PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

/// An 8-bit greyscale PNG rewritten as a palette PNG (colour type 3) with the VOC colour map:
/// the same pixel bytes, now indices into a palette — the form of VOC's SegmentationClass files.
fn as_voc_palette_png(grey: &[u8]) -> Vec<u8> {
    let mut out = grey[..8].to_vec();
    let mut pos = 8;
    while pos < grey.len() {
        let len = u32::from_be_bytes(grey[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &grey[pos + 4..pos + 8];
        let mut data = grey[pos + 8..pos + 8 + len].to_vec();
        let mut push = |kind: &[u8], data: &[u8]| {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend_from_slice(&body);
            out.extend_from_slice(&crc32(&body).to_be_bytes());
        };
        if kind == b"IHDR" {
            assert_eq!((data[8], data[9]), (8, 0), "an 8-bit greyscale label");
            data[9] = 3;
            push(b"IHDR", &data);
            let voc = advseg::data::dataset::voc_palette();
            let palette: Vec<u8> = (0..256usize).flat_map(|i| voc.get(i).copied().unwrap_or(advseg::data::VOID_COLOUR)).collect();
            push(b"PLTE", &palette);
        } else {
            push(kind, &data);
        }
        pos += 12 + len;
    }
    out
}

#[test]
fn voc_tree_gives_the_flat_folder_metrics() {
    if common::skip_without_fixtures("voc_tree_gives_the_flat_folder_metrics") {
        return;
    }
    let src = common::fixtures().join("images/voc");
    let root = tmp("voc");
    let flat = mkdirs(&root.join("flat")).to_path_buf();
    let voc = root.join("VOCdevkit/VOC2012");
    let (jpeg, seg, sets) = (voc.join("JPEGImages"), voc.join("SegmentationClass"), voc.join("ImageSets/Segmentation"));
    for d in [&jpeg, &seg, &sets] {
        mkdirs(d);
    }
    let ids = ["0", "1", "8"];
    for id in ids {
        // one JPEG for both trees, so both decode the same pixels
        let img = image::open(src.join(format!("{id}.png"))).unwrap().to_rgb8();
        img.save(jpeg.join(format!("{id}.jpg"))).unwrap();
        std::fs::copy(jpeg.join(format!("{id}.jpg")), flat.join(format!("{id}.jpg"))).unwrap();
        let label = std::fs::read(src.join(format!("{id}_label.png"))).unwrap();
        std::fs::write(flat.join(format!("{id}_label.png")), &label).unwrap();
        std::fs::write(seg.join(format!("{id}.png")), as_voc_palette_png(&label)).unwrap();
    }
    // "missing" is listed but has no files: reported by path and skipped
    std::fs::write(sets.join("val.txt"), "0\n1\nmissing\n8\n").unwrap();
    let model = ["--model", "espnetv2-voc-s0.5"];
    let a = eval(&[&model[..], &["--images", flat.to_str().unwrap()]].concat());
    let b = eval(&[&model[..], &["--dataset", "voc", "--root", root.to_str().unwrap()]].concat());
    println!("flat: mIoU {} acc {}; VOCdevkit: mIoU {} acc {}", a["miou"], a["pixel_accuracy"], b["miou"], b["pixel_accuracy"]);
    for k in ["miou", "pixel_accuracy", "n_labelled_pixels", "per_class_iou", "n_images"] {
        assert_eq!(a[k], b[k], "{k}");
    }
    let skipped = b["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped.iter().any(|s| s.as_str().unwrap().contains("JPEGImages/missing.jpg")), "{skipped:?}");
    // --limit, a missing split file, a label of the wrong size and an undecodable image
    let c = eval(&[&model[..], &["--dataset", "voc", "--root", voc.to_str().unwrap(), "--limit", "1"]].concat());
    assert_eq!(c["n_images"], 1);
    let e = eval_err(&[&model[..], &["--dataset", "voc", "--root", root.to_str().unwrap(), "--split", "train"]].concat());
    assert!(e.contains("ImageSets/Segmentation/train.txt"), "{e}");
    image::GrayImage::new(100, 80).save(seg.join("1.png")).unwrap();
    image::RgbImage::new(10, 10).save(jpeg.join("0.jpg")).unwrap();
    std::fs::write(jpeg.join("8.jpg"), b"not a jpeg").unwrap();
    let d = eval(&[&model[..], &["--dataset", "voc", "--root", root.to_str().unwrap()]].concat());
    let skipped = d["skipped"].to_string();
    println!("skipped: {skipped}");
    assert!(skipped.contains("8.jpg"), "{skipped}");
    assert!(skipped.contains("SegmentationClass/1.png is 100×80, its image is 513×513"), "{skipped}");
    assert!(skipped.contains("0.jpg") && skipped.contains("10×10"), "{skipped}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn cityscapes_tree_with_label_ids_gives_the_flat_folder_metrics() {
    if common::skip_without_fixtures("cityscapes_tree_with_label_ids_gives_the_flat_folder_metrics") {
        return;
    }
    let src = common::fixtures().join("images/cityscapes");
    let name = "frankfurt_000000_000294";
    let root = tmp("city");
    let images = mkdirs(&root.join("leftImg8bit/val/frankfurt")).to_path_buf();
    let labels = mkdirs(&root.join("gtFine/val/frankfurt")).to_path_buf();
    std::fs::copy(src.join(format!("{name}_leftImg8bit.png")), images.join(format!("{name}_leftImg8bit.png"))).unwrap();
    // train ids → label ids (the first label id of each train id; void → 0 "unlabeled")
    let train = image::open(src.join(format!("{name}_gtFine_labelTrainIds.png"))).unwrap().to_luma8();
    let ids = image::GrayImage::from_fn(train.width(), train.height(), |x, y| {
        let t = train.get_pixel(x, y)[0];
        image::Luma([CITYSCAPES_TRAIN_ID.iter().position(|&v| v == t && t != 255).unwrap_or(0) as u8])
    });
    ids.save(labels.join(format!("{name}_gtFine_labelIds.png"))).unwrap();
    let model = ["--model", "espnetv2-city-s0.5"];
    let a = eval(&[&model[..], &["--images", src.to_str().unwrap()]].concat());
    let b = eval(&[&model[..], &["--dataset", "cityscapes", "--root", root.to_str().unwrap()]].concat());
    println!("flat: mIoU {}; Cityscapes tree (labelIds): mIoU {}", a["miou"], b["miou"]);
    for k in ["miou", "pixel_accuracy", "n_labelled_pixels", "per_class_iou", "n_images"] {
        assert_eq!(a[k], b[k], "{k}");
    }
    let e = eval_err(&[&model[..], &["--dataset", "voc", "--root", root.to_str().unwrap()]].concat());
    assert!(e.contains("does not predict the classes"), "{e}");
    std::fs::remove_dir_all(&root).unwrap();
}
