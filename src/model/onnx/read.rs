//! Reading an ONNX file: size and format checks, the metadata and opset, every operator checked
//! against what we run (an error names the first one we lack, its node and the opset), external
//! weight files found, then onnx-ir's parse into typed nodes.

use onnx_ir::{Message, ModelProto, OnnxGraph, OnnxGraphBuilder};

use crate::error::{Error, Result};

/// Files larger than this (weights included) are refused: the page has to hold them in memory
/// in every worker.
pub const MAX_BYTES: u64 = 200 * 1024 * 1024;

/// The ONNX operators (default domain) the interpreter runs; `docs/onnx.md` has the table.
pub const SUPPORTED_OPS: &[&str] = &[
    "Abs", "Add", "And", "ArgMax", "Attention", "AveragePool", "BatchNormalization", "Cast", "CastLike", "Ceil", "Celu",
    "Clip", "Concat", "Constant", "ConstantOfShape", "Conv", "ConvTranspose", "DepthToSpace", "Div", "Dropout", "Elu",
    "Equal", "Erf", "Exp", "Expand", "Flatten", "Floor", "Gather", "GatherElements", "GatherND", "Gelu", "Gemm",
    "GlobalAveragePool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "GroupNormalization", "HardSigmoid", "HardSwish",
    "Identity", "InstanceNormalization", "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax",
    "MatMul", "Max", "MaxPool", "Mean", "Min", "Mish", "Mod", "Mul", "Neg", "Not", "Or", "Pad", "Pow", "PRelu", "Range",
    "Reciprocal", "ReduceL2", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare",
    "Relu", "Reshape", "Resize", "Round", "Selu", "Shape", "Sigmoid", "Sign", "Size", "Slice", "Softmax", "Softplus",
    "Softsign", "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Swish", "Tanh", "ThresholdedRelu", "Tile",
    "Transpose", "Unsqueeze", "Upsample", "Where", "Xor",
];

/// A parsed ONNX file.
pub struct OnnxFile {
    /// onnx-ir's graph.
    pub graph: OnnxGraph,
    /// The default domain's opset.
    pub opset: usize,
    /// Metadata properties (key, value).
    pub metadata: Vec<(String, String)>,
    /// The exporter, e.g. `pytorch 2.9`.
    pub producer: String,
    /// The graph's (non-constant) input names as written in the file, in onnx-ir's order.
    pub input_names: Vec<String>,
    /// The graph's output names as written in the file.
    pub output_names: Vec<String>,
    /// onnx-ir's node names (`cast1`, `conv2d7`: type and count) → the names in the file.
    pub node_names: std::collections::HashMap<String, String>,
}

/// `N bytes` and the limit, for the size errors.
pub fn too_large(name: &str, n: u64) -> Error {
    Error::Model(format!("'{name}' is {n} bytes ({:.1} MiB): ONNX models up to {} MiB are supported", n as f64 / 1048576.0, MAX_BYTES >> 20))
}

/// Read `bytes` (the file `name`); `path` is where the file lies (natively): external weight
/// files are looked for beside it.
pub fn read(name: &str, bytes: &[u8], path: Option<&std::path::Path>) -> Result<OnnxFile> {
    let dir = path.map(|p| p.parent().unwrap_or(std::path::Path::new(".")));
    if bytes.len() as u64 > MAX_BYTES {
        return Err(too_large(name, bytes.len() as u64));
    }
    let not_onnx = |why: String| Error::Model(format!("'{name}' is not a readable ONNX model ({why})"));
    if bytes.is_empty() {
        return Err(not_onnx("the file is empty".into()));
    }
    let model = ModelProto::parse_from_bytes(bytes).map_err(|e| not_onnx(format!("not an ONNX protobuf, or truncated: {e}")))?;
    let Some(g) = model.graph.as_ref() else {
        return Err(not_onnx("it has no graph".into()));
    };
    if model.ir_version <= 0 || g.node.is_empty() || g.output.is_empty() {
        return Err(not_onnx("no IR version, no nodes or no outputs: not an ONNX model, or truncated".into()));
    }
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version as usize)
        .ok_or_else(|| not_onnx("it imports no opset of the default domain".into()))?;
    for n in &g.node {
        let custom = !(n.domain.is_empty() || n.domain == "ai.onnx");
        if custom || !SUPPORTED_OPS.contains(&n.op_type.as_str()) {
            let what = if custom { format!("{}::{}", n.domain, n.op_type) } else { n.op_type.clone() };
            return Err(Error::Model(format!(
                "'{name}': node '{}' uses the operator {what} (opset {opset}), which advseg does not run (docs/onnx.md lists the supported operators)",
                n.name
            )));
        }
    }
    let mut external = 0u64;
    let mut seen = std::collections::HashSet::new();
    for t in &g.initializer {
        if t.data_location.value() != 1 {
            continue;
        }
        let loc = t.external_data.iter().find(|e| e.key == "location").map(|e| e.value.clone()).unwrap_or_default();
        let Some(dir) = dir else {
            return Err(Error::Model(format!(
                "'{name}' keeps its weights in a separate file '{loc}' (ONNX external data): save the model with all its weights inside one .onnx (onnx.save(model, path, save_as_external_data=False))"
            )));
        };
        let path = dir.join(&loc);
        match std::fs::metadata(&path) {
            Ok(m) => {
                if seen.insert(loc.clone()) {
                    external += m.len();
                }
            }
            Err(_) => {
                return Err(Error::Model(format!(
                    "'{name}': the external-data file '{loc}' that holds tensor '{}' is missing (expected at {})",
                    t.name,
                    path.display()
                )));
            }
        }
    }
    if bytes.len() as u64 + external > MAX_BYTES {
        return Err(too_large(&format!("{name}' with its external data '"), bytes.len() as u64 + external));
    }
    let inits: std::collections::HashSet<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    let input_names: Vec<String> = g.input.iter().map(|v| v.name.clone()).filter(|n| !inits.contains(n.as_str())).collect();
    let output_names: Vec<String> = g.output.iter().map(|v| v.name.clone()).collect();
    let metadata = model.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())).collect();
    let producer = format!("{} {}", model.producer_name, model.producer_version).trim().to_string();
    // onnx-ir takes Max and Min of two inputs only: longer ones become chains
    let chained = if external == 0 { binary_chains(&model) } else { None };
    let rewritten = match &chained {
        Some(m) => Some(m.write_to_bytes().map_err(|e| Error::Model(format!("rewriting Max/Min chains: {e}")))?),
        None => None,
    };
    let graph = parse(name, rewritten.as_deref().unwrap_or(bytes), path.filter(|_| external > 0))?;
    let node_names = file_names(&chained.as_ref().and_then(|m| m.graph.as_ref()).unwrap_or(g).node);
    Ok(OnnxFile { graph, opset, metadata, producer, input_names, output_names, node_names })
}

/// The model with every `Max` / `Min` of more than two inputs written as a chain of two-input
/// ones (the same values); `None` when there is none.
fn binary_chains(model: &ModelProto) -> Option<ModelProto> {
    let g = model.graph.as_ref()?;
    let long = |n: &onnx_ir::NodeProto| (n.op_type == "Max" || n.op_type == "Min") && n.input.len() > 2;
    if !g.node.iter().any(long) {
        return None;
    }
    let mut m = model.clone();
    let graph = m.graph.as_mut().expect("checked above");
    let mut nodes = Vec::with_capacity(graph.node.len());
    for n in graph.node.drain(..) {
        if !long(&n) {
            nodes.push(n);
            continue;
        }
        let mut acc = n.input[0].clone();
        for (k, next) in n.input.iter().enumerate().skip(1) {
            let mut step = n.clone();
            step.input = vec![acc.clone(), next.clone()];
            let last = k == n.input.len() - 1;
            let out = if last { n.output[0].clone() } else { format!("{}__advseg_chain{k}", n.output[0]) };
            step.output = vec![out.clone()];
            if !last {
                step.name = format!("{}__advseg_chain{k}", n.name);
            }
            nodes.push(step);
            acc = out;
        }
    }
    graph.node = nodes;
    Some(m)
}

/// onnx-ir renames every node `{type}{count}` (lower case, counted per type in file order,
/// Conv / pooling as their 2-D forms): the file's own names by those keys. Gemm and MatMul are
/// left out (onnx-ir may turn them into `Linear`, counted apart).
fn file_names(nodes: &[onnx_ir::NodeProto]) -> std::collections::HashMap<String, String> {
    let mut count: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out = std::collections::HashMap::new();
    for n in nodes {
        let ty = match n.op_type.as_str() {
            "Conv" => "Conv2d".to_string(),
            "ConvTranspose" => "ConvTranspose2d".to_string(),
            "MaxPool" => "MaxPool2d".to_string(),
            "AveragePool" => "AveragePool2d".to_string(),
            other => other.to_string(),
        }
        .to_lowercase();
        let c = count.entry(ty.clone()).or_insert(0);
        *c += 1;
        if !n.name.is_empty() && ty != "gemm" && ty != "matmul" {
            out.insert(format!("{ty}{c}"), n.name.clone());
        }
    }
    out
}

/// onnx-ir's parse (from the file when its external data is needed). Natively a panic inside
/// the parser becomes an error too.
fn parse(name: &str, bytes: &[u8], path: Option<&std::path::Path>) -> Result<OnnxGraph> {
    let go = || match path {
        Some(p) => OnnxGraphBuilder::new().parse_file(p),
        None => OnnxGraphBuilder::new().parse_bytes(bytes),
    };
    #[cfg(not(target_arch = "wasm32"))]
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(go))
        .map_err(|_| Error::Model(format!("'{name}' could not be read: the ONNX parser failed on it")))?;
    #[cfg(target_arch = "wasm32")]
    let parsed = go();
    parsed.map_err(|e| Error::Model(format!("'{name}' could not be read: {e}")))
}
