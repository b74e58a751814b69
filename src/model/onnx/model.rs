//! [`OnnxModel`]: an ONNX file made ready to run — parsed, planned, its description resolved
//! against the graph (input layout and size, preprocessing, what the output holds, classes),
//! and run once on the CPU so every problem shows at load time, not in the middle of an attack.

use std::sync::Arc;

use burn::tensor::Tensor;

use super::describe::{OnnxDescription, OutputResize};
use super::plan::{Plan, build};
use super::read::{OnnxFile, read};
use crate::data::Dataset;
use crate::data::dataset::voc_colour;
use crate::error::{Error, Result};

/// Preprocessing and postprocessing around the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Prep {
    /// Channels in BGR order.
    pub bgr: bool,
    /// Input range multiplier (1 or 255).
    pub scale: f32,
    /// Mean per graph channel.
    pub mean: [f32; 3],
    /// Standard deviation per graph channel.
    pub std: [f32; 3],
    /// NHWC layout (input and output).
    pub nhwc: bool,
    /// The graph's batch axis is fixed to 1: images run one at a time.
    pub batch_one: bool,
    /// The output holds probabilities.
    pub probabilities: bool,
    /// Resizing of a smaller output.
    pub resize: OutputResize,
}

/// How the model takes sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizes {
    /// Exactly this (width, height): the graph's own.
    Fixed(usize, usize),
    /// Free: sides multiples of `multiple`, working at (width, height).
    Free {
        /// Side multiple.
        multiple: usize,
        /// Working size.
        native: (usize, usize),
    },
}

/// Classes and their colours.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// Dataset whose label files the ground truth is read as (VOC when not said).
    pub dataset: Dataset,
    /// Whether the classes come from `dataset` (else from the description or numbered).
    pub from_dataset: bool,
    /// Names of the evaluated classes.
    pub classes: Vec<String>,
    /// Colours.
    pub palette: Vec<[u8; 3]>,
    /// Score channels of the network (after a one-channel output became two).
    pub outputs: usize,
}

/// A loaded ONNX network, device-independent.
#[derive(Debug)]
pub struct OnnxModel {
    /// The key it is registered under (the path or the page's name).
    pub key: String,
    /// The display name.
    pub name: String,
    /// One-line description.
    pub title: String,
    /// The steps.
    pub plan: Arc<Plan>,
    /// Pre/postprocessing.
    pub prep: Prep,
    /// Sizes.
    pub sizes: Sizes,
    /// Classes.
    pub labels: Labels,
    /// The default domain's opset.
    pub opset: usize,
}

/// Default working size of a graph whose spatial size is free.
pub const FREE_DEFAULT: (usize, usize) = (512, 512);
/// Default side multiple of a free-size graph.
pub const FREE_MULTIPLE: usize = 32;

impl OnnxModel {
    /// Read `bytes` (`file`: its name in messages; `path`: where it lies, natively, for its
    /// external data) described by its metadata with `over` on top.
    pub fn from_bytes(key: &str, file: &str, bytes: &[u8], path: Option<&std::path::Path>, over: &OnnxDescription) -> Result<Self> {
        let f = read(file, bytes, path)?;
        let mut desc = OnnxDescription::from_metadata(f.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        desc.merge(over);
        let named = |e: Error| Error::Model(format!("'{file}': {}", super::plan::strip(e)));
        Self::resolve(key, file, f, &desc).map_err(named)
    }

    fn resolve(key: &str, file: &str, f: OnnxFile, d: &OnnxDescription) -> Result<Self> {
        let g = &f.graph;
        let pick = |want: &Option<String>, names: &[String], ir: &[onnx_ir::Argument], what: &str| -> Result<usize> {
            match want {
                None => Ok(0),
                Some(n) => names
                    .iter()
                    .position(|x| x == n)
                    .or_else(|| ir.iter().position(|a| &a.name == n))
                    .ok_or_else(|| Error::Model(format!("it has no {what} '{n}' (it has {})", names.join(", ")))),
            }
        };
        if g.inputs.is_empty() {
            return Err(Error::Model("the graph has no input".into()));
        }
        if g.inputs.len() > 1 && d.input.is_none() {
            return Err(Error::Model(format!(
                "the graph has {} inputs ({}): advseg feeds one image; say which with input = \"NAME\" (the others must be constants)",
                g.inputs.len(),
                f.input_names.join(", ")
            )));
        }
        let input = pick(&d.input, &f.input_names, &g.inputs, "input")?;
        let output = pick(&d.output, &f.output_names, &g.outputs, "output")?;
        let nhwc = d.nhwc.unwrap_or(false);
        let arg = &g.inputs[input];
        let onnx_ir::ArgType::Tensor(t) = &arg.ty else {
            return Err(Error::Model(format!("its input '{}' is {}, not an image tensor", arg.name, arg.ty)));
        };
        if !matches!(t.dtype, onnx_ir::DType::F32) {
            return Err(Error::Model(format!("its input '{}' holds {:?}: only float32 inputs are supported", arg.name, t.dtype)));
        }
        if t.rank != 4 {
            return Err(Error::Model(format!("its input '{}' has rank {}: an image batch [N, 3, H, W] (or NHWC) is expected", arg.name, t.rank)));
        }
        let dims: Vec<Option<usize>> = t.static_shape.clone().unwrap_or_else(|| vec![None; 4]);
        let (c, h, w) = if nhwc { (dims[3], dims[1], dims[2]) } else { (dims[1], dims[2], dims[3]) };
        if c.is_some_and(|c| c != 3) {
            return Err(Error::Model(format!(
                "its input '{}' has {} channels ({:?}{}): advseg feeds RGB images",
                arg.name,
                c.unwrap_or(0),
                dims,
                if nhwc { "" } else { "; for an [N, H, W, C] input say layout = \"NHWC\"" }
            )));
        }
        let sizes = sizes(w, h, d)?;
        let prep = Prep {
            bgr: d.bgr.unwrap_or(false),
            scale: if d.range_255.unwrap_or(false) { 255.0 } else { 1.0 },
            mean: d.mean.unwrap_or([0.0; 3]),
            std: d.std.unwrap_or([1.0; 3]),
            nhwc,
            batch_one: dims[0] == Some(1),
            probabilities: d.probabilities.unwrap_or(false),
            resize: d.output_resize.unwrap_or(OutputResize::Bilinear),
        };
        let plan = build(g, input, output, f.opset, &f.node_names)?;
        let name = d.name.clone().unwrap_or_else(|| file.to_string());
        let mut model = OnnxModel {
            key: key.to_string(),
            title: d.title.clone().unwrap_or_else(|| format!("ONNX model {file}{}", if f.producer.is_empty() { String::new() } else { format!(" ({})", f.producer) })),
            name,
            plan: Arc::new(plan),
            prep,
            sizes,
            labels: Labels { dataset: Dataset::Voc, from_dataset: false, classes: Vec::new(), palette: Vec::new(), outputs: 0 },
            opset: f.opset,
        };
        let channels = model.dry_run()?;
        model.labels = labels(d, channels)?;
        Ok(model)
    }

    /// The working size (width, height).
    pub fn native_size(&self) -> (usize, usize) {
        match self.sizes {
            Sizes::Fixed(w, h) => (w, h),
            Sizes::Free { native, .. } => native,
        }
    }

    /// One forward pass at the working size on the CPU: checks that every node runs and that the
    /// output is a score map; gives its channel count.
    fn dry_run(&self) -> Result<usize> {
        let device = crate::backend::cpu();
        let (w, h) = self.native_size();
        let probe = Arc::new(OnnxModel {
            key: self.key.clone(),
            name: self.name.clone(),
            title: self.title.clone(),
            plan: self.plan.clone(),
            prep: self.prep.clone(),
            sizes: self.sizes,
            labels: self.labels.clone(),
            opset: self.opset,
        });
        let net = super::net::OnnxNet::new(probe, &device);
        let x = Tensor::<4>::full([1, 3, h, w], 0.5, &device);
        let y = net.forward(x)?;
        let [_, c, oh, ow] = y.dims();
        if (oh, ow) != (h, w) {
            return Err(Error::Model(format!("the scores came out {ow}×{oh} for a {w}×{h} input")));
        }
        Ok(c)
    }
}

/// Classes, palette and dataset from the description and the number of score channels.
fn labels(d: &OnnxDescription, outputs: usize) -> Result<Labels> {
    let from_dataset = d.dataset.is_some() && d.classes.is_none();
    let mut classes: Vec<String> = match (&d.classes, d.dataset) {
        (Some(c), _) => c.clone(),
        (None, Some(ds)) => ds.classes().iter().map(|s| s.to_string()).collect(),
        (None, None) if outputs == 2 && d.num_classes.is_none() => (0..2).map(|i| format!("class {i}")).collect(),
        (None, None) => (0..outputs).map(|i| format!("class {i}")).collect(),
    };
    if let Some(n) = d.num_classes {
        if n > classes.len() {
            classes.extend((classes.len()..n).map(|i| format!("class {i}")));
        }
        classes.truncate(n);
    }
    if classes.len() > outputs {
        return Err(Error::Model(format!(
            "{} classes are described ({}…), but the network outputs {outputs} score channels",
            classes.len(),
            classes.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    if classes.len() > 255 {
        return Err(Error::Model(format!("{} classes: at most 255 are supported (class maps are 8-bit, 255 is void)", classes.len())));
    }
    let n = classes.len();
    let palette = match (&d.palette, d.dataset) {
        (Some(p), _) => {
            if p.len() < n {
                return Err(Error::Model(format!("the palette has {} colours for {n} classes", p.len())));
            }
            p[..n].to_vec()
        }
        (None, Some(ds)) if ds.num_classes() >= n => ds.palette()[..n].to_vec(),
        _ => (0..n).map(|c| voc_colour(c as u8)).collect(),
    };
    Ok(Labels { dataset: d.dataset.unwrap_or(Dataset::Voc), from_dataset, classes, palette, outputs })
}

/// The working size: the graph's fixed size (a described `size` must equal it), else the
/// described or default size of a free-size graph, a multiple of `size_multiple`.
fn sizes(w: Option<usize>, h: Option<usize>, d: &OnnxDescription) -> Result<Sizes> {
    Ok(match (w, h) {
        (Some(w), Some(h)) => {
            if let Some((sw, sh)) = d.size.filter(|&s| s != (w, h)) {
                return Err(Error::Model(format!("the graph takes exactly {w}×{h}, but the description says size {sw}x{sh}")));
            }
            Sizes::Fixed(w, h)
        }
        _ => {
            let multiple = d.size_multiple.unwrap_or(FREE_MULTIPLE);
            let native = d.size.unwrap_or(FREE_DEFAULT);
            if native.0 % multiple != 0 || native.1 % multiple != 0 {
                return Err(Error::Model(format!("size {}x{} is not a multiple of size_multiple = {multiple}", native.0, native.1)));
            }
            Sizes::Free { multiple, native }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_default_to_numbered_classes_with_the_voc_palette() {
        let l = labels(&OnnxDescription::default(), 6).unwrap();
        assert_eq!(l.classes.len(), 6);
        assert_eq!(l.classes[5], "class 5");
        assert_eq!(l.palette[15.min(5)], voc_colour(5));
        let mut d = OnnxDescription { dataset: Some(Dataset::Cityscapes), ..Default::default() };
        let l = labels(&d, 20).unwrap();
        assert_eq!((l.classes.len(), l.from_dataset), (19, true));
        d.classes = Some(vec!["a".into(); 21]);
        assert!(labels(&d, 20).unwrap_err().to_string().contains("21 classes"));
    }
}
