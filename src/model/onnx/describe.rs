//! What a user says about an ONNX network: input layout and size, preprocessing, what the
//! output holds, classes and palette. Read from the file's metadata properties (`advseg.KEY`),
//! a sidecar TOML (`KEY = value` next to the file), or given directly (CLI `--model-set
//! KEY=VALUE`, the page's form as JSON); later sources override earlier ones, key by key.
//! Every source goes through [`OnnxDescription::set`], so every key means the same everywhere
//! (`docs/onnx.md` lists them).

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result};

/// How the model resizes scores smaller than its input to the input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputResize {
    /// Bilinear, half-pixel centres (PyTorch `align_corners=False`, TensorFlow 2).
    Bilinear,
    /// Bilinear with aligned corners.
    BilinearAlignCorners,
    /// Nearest neighbour.
    Nearest,
}

/// The description of an ONNX segmentation network; `None` means "not said here".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OnnxDescription {
    /// Name shown in reports (default: the file name).
    pub name: Option<String>,
    /// One-line description.
    pub title: Option<String>,
    /// Which graph input is the image (by name; default: the first).
    pub input: Option<String>,
    /// Which graph output holds the scores (by name; default: the first).
    pub output: Option<String>,
    /// `NHWC` instead of `NCHW`.
    pub nhwc: Option<bool>,
    /// Working size (width, height) of a graph whose spatial size is free.
    pub size: Option<(usize, usize)>,
    /// Free-size graphs: sides must be multiples of this.
    pub size_multiple: Option<usize>,
    /// Channel order BGR instead of RGB.
    pub bgr: Option<bool>,
    /// Input values in 0–255 instead of 0–1 (applied before mean/std).
    pub range_255: Option<bool>,
    /// Per-channel mean subtracted (in the input's range).
    pub mean: Option<[f32; 3]>,
    /// Per-channel standard deviation divided by.
    pub std: Option<[f32; 3]>,
    /// The output holds probabilities (softmax or sigmoid) instead of logits.
    pub probabilities: Option<bool>,
    /// Resizing of scores smaller than the input.
    pub output_resize: Option<OutputResize>,
    /// The dataset of the classes (classes, palette and ground-truth relabelling from it).
    pub dataset: Option<Dataset>,
    /// Class names, in output order.
    pub classes: Option<Vec<String>>,
    /// Evaluated classes (outputs beyond count as void).
    pub num_classes: Option<usize>,
    /// One colour per class.
    pub palette: Option<Vec<[u8; 3]>>,
}

/// Every key [`OnnxDescription::set`] takes.
pub const KEYS: &[&str] = &[
    "name", "title", "input", "output", "layout", "size", "size_multiple", "channels", "range", "mean", "std",
    "scores", "output_resize", "dataset", "classes", "num_classes", "palette",
];

fn list(v: &str) -> Vec<String> {
    let v = v.trim().trim_start_matches('[').trim_end_matches(']');
    v.split([',', ';']).map(|s| s.trim().trim_matches('"').trim_matches('\'').trim().to_string()).filter(|s| !s.is_empty()).collect()
}

fn three(key: &str, v: &str) -> Result<[f32; 3]> {
    let vals: Vec<f32> = list(v)
        .iter()
        .map(|s| s.parse::<f32>().map_err(|_| bad(key, v, "three numbers, e.g. 0.485,0.456,0.406")))
        .collect::<Result<_>>()?;
    match vals.as_slice() {
        [a] => Ok([*a; 3]),
        [a, b, c] => Ok([*a, *b, *c]),
        _ => Err(bad(key, v, "one or three numbers")),
    }
}

fn bad(key: &str, v: &str, want: &str) -> Error {
    Error::InvalidArgument(format!("model description: '{key}' = '{v}' is not valid (expected {want})"))
}

fn colour(key: &str, s: &str) -> Result<[u8; 3]> {
    let h = s.trim().trim_start_matches('#');
    if h.len() == 6
        && let Ok(v) = u32::from_str_radix(h, 16)
    {
        return Ok([(v >> 16) as u8, (v >> 8) as u8, v as u8]);
    }
    let parts: Vec<u8> = s.split_whitespace().filter_map(|p| p.parse().ok()).collect();
    match parts.as_slice() {
        [r, g, b] => Ok([*r, *g, *b]),
        _ => Err(bad(key, s, "colours as #rrggbb (or 'r g b'), separated by commas")),
    }
}

impl OnnxDescription {
    /// Set `key` (without the `advseg.` prefix) from its text form.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let v = value.trim();
        let flag = |yes: &str, no: &str, want: &str| -> Result<bool> {
            match v.to_ascii_lowercase() {
                s if s == yes => Ok(true),
                s if s == no => Ok(false),
                _ => Err(bad(key, v, want)),
            }
        };
        match key.trim().trim_start_matches("advseg.") {
            "name" => self.name = Some(v.to_string()),
            "title" => self.title = Some(v.to_string()),
            "input" => self.input = Some(v.to_string()),
            "output" => self.output = Some(v.to_string()),
            "layout" => self.nhwc = Some(flag("nhwc", "nchw", "NCHW or NHWC")?),
            "channels" => self.bgr = Some(flag("bgr", "rgb", "RGB or BGR")?),
            "range" => {
                self.range_255 = Some(match v.replace(' ', "").as_str() {
                    "0-255" | "255" => true,
                    "0-1" | "1" => false,
                    _ => return Err(bad(key, v, "0-1 or 0-255")),
                })
            }
            "scores" => self.probabilities = Some(flag("probabilities", "logits", "logits or probabilities")?),
            "size" => {
                let (w, h) = v.split_once(['x', 'X', ',']).ok_or_else(|| bad(key, v, "WIDTHxHEIGHT, e.g. 512x512"))?;
                let p = |s: &str| s.trim().parse::<usize>().ok().filter(|&n| n > 0);
                self.size = Some((p(w).ok_or_else(|| bad(key, v, "WIDTHxHEIGHT"))?, p(h).ok_or_else(|| bad(key, v, "WIDTHxHEIGHT"))?));
            }
            "size_multiple" => self.size_multiple = Some(v.parse().ok().filter(|&n| n > 0).ok_or_else(|| bad(key, v, "a positive integer"))?),
            "num_classes" => self.num_classes = Some(v.parse().ok().filter(|&n| n > 0).ok_or_else(|| bad(key, v, "a positive integer"))?),
            "mean" => self.mean = Some(three(key, v)?),
            "std" => {
                let s = three(key, v)?;
                if s.iter().any(|&x| x <= 0.0) {
                    return Err(bad(key, v, "positive numbers"));
                }
                self.std = Some(s);
            }
            "output_resize" => {
                self.output_resize = Some(match v.to_ascii_lowercase().as_str() {
                    "bilinear" => OutputResize::Bilinear,
                    "bilinear-align-corners" | "bilinear_align_corners" => OutputResize::BilinearAlignCorners,
                    "nearest" => OutputResize::Nearest,
                    _ => return Err(bad(key, v, "bilinear, bilinear-align-corners or nearest")),
                })
            }
            "dataset" => {
                self.dataset = Some(match v.to_ascii_lowercase().as_str() {
                    "voc" | "pascal" => Dataset::Voc,
                    "cityscapes" | "city" => Dataset::Cityscapes,
                    "selfie" | "person" => Dataset::Selfie,
                    _ => return Err(bad(key, v, "voc, cityscapes or selfie")),
                })
            }
            "classes" => {
                let c = list(v);
                if c.is_empty() {
                    return Err(bad(key, v, "class names separated by commas"));
                }
                self.classes = Some(c);
            }
            "palette" => self.palette = Some(list(v).iter().map(|s| colour(key, s)).collect::<Result<_>>()?),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "model description: unknown key '{other}' (known: {})",
                    KEYS.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// From `advseg.*` metadata properties (other keys are ignored: exporters write their own).
    pub fn from_metadata<'a>(props: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut d = Self::default();
        for (k, v) in props {
            if let Some(key) = k.strip_prefix("advseg.") {
                d.set(key, v).map_err(|e| Error::InvalidArgument(format!("the file's metadata property '{k}': {}", super::plan::strip(e))))?;
            }
        }
        Ok(d)
    }

    /// From `KEY=VALUE` pairs (the CLI's `--model-set`).
    pub fn from_pairs(pairs: &[String]) -> Result<Self> {
        let mut d = Self::default();
        for p in pairs {
            let (k, v) = p.split_once('=').ok_or_else(|| Error::InvalidArgument(format!("--model-set '{p}' is not KEY=VALUE")))?;
            d.set(k, v)?;
        }
        Ok(d)
    }

    /// From a JSON object of keys (strings, numbers or arrays; the page's form).
    pub fn from_json(text: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::InvalidArgument(format!("model description JSON: {e}")))?;
        let obj = v.as_object().ok_or_else(|| Error::InvalidArgument("model description: expected a JSON object".into()))?;
        let mut d = Self::default();
        for (k, v) in obj {
            let text = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) if s.trim().is_empty() => continue,
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())).collect::<Vec<_>>().join(","),
                other => other.to_string(),
            };
            d.set(k, &text)?;
        }
        Ok(d)
    }

    /// From a sidecar TOML file's text (`KEY = value`; arrays allowed).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_toml(text: &str, file: &str) -> Result<Self> {
        let table: toml::Table = text.parse().map_err(|e| Error::InvalidArgument(format!("{file}: {e}")))?;
        let json = serde_json::to_string(&table).map_err(|e| Error::InvalidArgument(format!("{file}: {e}")))?;
        Self::from_json(&json).map_err(|e| Error::InvalidArgument(format!("{file}: {}", super::plan::strip(e))))
    }

    /// Keys set in `over` replace those here.
    pub fn merge(&mut self, over: &OnnxDescription) {
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { self.$f = over.$f.clone(); } )* };
        }
        take!(name, title, input, output, nhwc, size, size_multiple, bgr, range_255, mean, std, probabilities, output_resize, dataset, classes, num_classes, palette);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_every_source_alike() {
        let meta = OnnxDescription::from_metadata([
            ("advseg.mean", "0.485, 0.456, 0.406"),
            ("advseg.std", "[0.229,0.224,0.225]"),
            ("advseg.classes", "background,cat"),
            ("pkg.torch.version", "2.9"),
        ])
        .unwrap();
        assert_eq!(meta.mean, Some([0.485, 0.456, 0.406]));
        assert_eq!(meta.classes.as_deref(), Some(&["background".to_string(), "cat".to_string()][..]));
        let json = OnnxDescription::from_json(r#"{"mean": [0.485, 0.456, 0.406], "std": "0.229,0.224,0.225", "range": "0-255", "size": "512x256"}"#).unwrap();
        assert_eq!(json.mean, meta.mean);
        assert_eq!(json.std, meta.std);
        assert_eq!(json.range_255, Some(true));
        assert_eq!(json.size, Some((512, 256)));
        let pairs = OnnxDescription::from_pairs(&["palette=#ff0000, 0 255 0".into(), "layout=NHWC".into()]).unwrap();
        assert_eq!(pairs.palette, Some(vec![[255, 0, 0], [0, 255, 0]]));
        assert_eq!(pairs.nhwc, Some(true));
        let mut m = meta.clone();
        m.merge(&pairs);
        assert_eq!((m.mean, m.nhwc), (meta.mean, Some(true)));
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = OnnxDescription::from_pairs(&["std=0,1,1".into()]).unwrap_err().to_string();
        assert!(e.contains("'std'"), "{e}");
        let e = OnnxDescription::from_pairs(&["colour=red".into()]).unwrap_err().to_string();
        assert!(e.contains("unknown key 'colour'"), "{e}");
        let e = OnnxDescription::from_metadata([("advseg.range", "0-100")]).unwrap_err().to_string();
        assert!(e.contains("advseg.range") && e.contains("0-255"), "{e}");
    }
}
