//! The plan of an interpreted graph: steps over value slots in the graph's order, constants,
//! convolution weights (BatchNorms folded into the convolutions before them), and when each
//! slot can be dropped.

use std::collections::HashMap;
use std::sync::Arc;

use onnx_ir::{OnnxGraph, ValueSource};

use super::host::HostTensor;
use super::lower::{HostConv, Weights, lower, param_inputs};
use super::op::Op;
use crate::error::{Error, Result};

/// One step: `op` on the slots `inputs` (by the node's input positions; `None` for an absent
/// optional input or a weight), writing `outputs`, then dropping the slots in `free`.
#[derive(Debug, Clone)]
pub struct Step {
    /// What it computes.
    pub op: Op,
    /// The node's name (as onnx-ir gives it).
    pub name: String,
    /// The ONNX operator (onnx-ir's node type).
    pub kind: String,
    /// Slots read.
    pub inputs: Vec<Option<usize>>,
    /// Slots written.
    pub outputs: Vec<usize>,
    /// Slots no later step reads.
    pub free: Vec<usize>,
}

/// A constant slot: its host value and whether some step reads it as a float tensor on the
/// device (then the network keeps a device copy).
#[derive(Debug, Clone)]
pub struct Constant {
    /// Slot.
    pub slot: usize,
    /// Value.
    pub value: Arc<HostTensor>,
    /// Needed on the device.
    pub device: bool,
}

/// The whole graph as steps.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Steps in order.
    pub steps: Vec<Step>,
    /// Number of slots.
    pub slots: usize,
    /// Constants.
    pub consts: Vec<Constant>,
    /// Slot of the image input.
    pub input: usize,
    /// Slot of the scores output.
    pub output: usize,
    /// Convolution weights.
    pub convs: Vec<HostConv>,
    /// Transposed convolution weights.
    pub tconvs: Vec<HostConv>,
    /// BatchNormalizations folded into the convolution before them.
    pub folded: usize,
}

/// Slot numbering while building.
#[derive(Default)]
struct Slots {
    by_name: HashMap<String, usize>,
    consts: Vec<Constant>,
    n: usize,
}

impl Slots {
    fn new_slot(&mut self) -> usize {
        self.n += 1;
        self.n - 1
    }

    fn named(&mut self, name: &str) -> usize {
        if let Some(&s) = self.by_name.get(name) {
            return s;
        }
        let s = self.new_slot();
        self.by_name.insert(name.to_string(), s);
        s
    }

    /// The slot of a node input (a constant slot for constant data).
    fn input(&mut self, arg: &onnx_ir::Argument) -> Result<Option<usize>> {
        match arg.value_source {
            ValueSource::Optional => Ok(None),
            ValueSource::Dynamic => Ok(self.by_name.get(&arg.name).copied().or(Some(usize::MAX))),
            ValueSource::Static(id) => self.constant(&format!("#static{id}"), arg).map(Some),
            ValueSource::Constant => self.constant(&format!("#const:{}", arg.name), arg).map(Some),
        }
    }

    fn constant(&mut self, key: &str, arg: &onnx_ir::Argument) -> Result<usize> {
        if let Some(&s) = self.by_name.get(key) {
            return Ok(s);
        }
        let data = arg.value().ok_or_else(|| Error::Model(format!("the constant '{}' has no data", arg.name)))?;
        let s = self.named(key);
        self.consts.push(Constant { slot: s, value: Arc::new(HostTensor::from_onnx(&data)?), device: false });
        Ok(s)
    }
}

/// Build the plan of `graph`, reading image input `input` and output `output`; `opset` (the
/// model's default-domain opset) and `names` (onnx-ir's node names → the file's) are for error
/// messages.
pub fn build(graph: &OnnxGraph, input: usize, output: usize, opset: usize, names: &HashMap<String, String>) -> Result<Plan> {
    let mut slots = Slots::default();
    let in_slot = slots.named(&graph.inputs[input].name);
    let mut weights = Weights::default();
    let mut steps = Vec::new();
    for node in &graph.nodes {
        let name = display_name(node.name(), names);
        let at = |e: Error| node_error(&name, &node.node_type().to_string(), opset, e);
        let Some(low) = lower(node, &mut weights).map_err(at)? else { continue };
        let mut inputs = Vec::new();
        for (k, arg) in node.inputs().iter().enumerate() {
            if low.first_only && k > 0 {
                inputs.push(None);
                continue;
            }
            let s = slots.input(arg)?;
            if s == Some(usize::MAX) {
                return Err(at(Error::Model(format!("its input '{}' is not computed by any earlier node", arg.name))));
            }
            inputs.push(s);
        }
        let outputs = node.outputs().iter().map(|a| slots.named(&a.name)).collect();
        steps.push(Step { op: low.op, name, kind: node.node_type().to_string(), inputs, outputs, free: Vec::new() });
    }
    let out_name = &graph.outputs[output].name;
    let out_slot = match slots.by_name.get(out_name) {
        Some(&s) if steps.iter().any(|st| st.outputs.contains(&s)) || s == in_slot => s,
        _ => return Err(Error::Model(format!("the graph output '{out_name}' is not computed from the input"))),
    };
    let mut plan = Plan {
        steps,
        slots: slots.n,
        consts: slots.consts,
        input: in_slot,
        output: out_slot,
        convs: weights.convs,
        tconvs: weights.tconvs,
        folded: 0,
    };
    fold_batch_norms(&mut plan);
    mark_device_constants(&mut plan);
    set_frees(&mut plan);
    Ok(plan)
}

/// A node's name for messages: the file's name, with onnx-ir's where they differ.
pub fn display_name(ir: &str, names: &HashMap<String, String>) -> String {
    match names.get(ir) {
        Some(n) if n != ir => format!("{n}' ('{ir}"),
        _ => ir.to_string(),
    }
}

/// An error inside node `name` (operator `kind`), naming it.
pub fn node_error(name: &str, kind: &str, opset: usize, e: Error) -> Error {
    Error::Model(format!("node '{name}' ({kind}, opset {opset}): {}", strip(e)))
}

/// The message of an error without its category prefix.
pub fn strip(e: Error) -> String {
    match e {
        Error::Model(m) | Error::Shape(m) | Error::InvalidArgument(m) => m,
        other => other.to_string(),
    }
}

/// How many steps read each slot (the graph output counts as a reader).
fn readers(plan: &Plan) -> Vec<usize> {
    let mut r = vec![0; plan.slots];
    for st in &plan.steps {
        for s in st.inputs.iter().flatten() {
            r[*s] += 1;
        }
    }
    r[plan.output] += 1;
    r
}

/// Fold each eval-mode BatchNormalization with constant statistics into the convolution whose
/// output only it reads; a BatchNormalization standing alone becomes a per-channel affine map.
fn fold_batch_norms(plan: &mut Plan) {
    let consts: HashMap<usize, Arc<HostTensor>> = plan.consts.iter().map(|c| (c.slot, c.value.clone())).collect();
    let readers = readers(plan);
    let producer: HashMap<usize, usize> =
        plan.steps.iter().enumerate().flat_map(|(i, st)| st.outputs.iter().map(move |&s| (s, i))).collect();
    let mut remove = Vec::new();
    let mut new_consts = Vec::new();
    let mut next_slot = plan.slots;
    for i in 0..plan.steps.len() {
        let Op::BatchNorm { eps } = plan.steps[i].op else { continue };
        let st = &plan.steps[i];
        let stats: Option<Vec<Vec<f32>>> =
            (1..5).map(|k| st.inputs.get(k).copied().flatten().and_then(|s| consts.get(&s)).map(|t| t.to_f32())).collect();
        let (Some(stats), Some(Some(x))) = (stats, st.inputs.first().copied()) else { continue };
        let c = stats[0].len();
        if stats.iter().any(|v| v.len() != c) {
            continue;
        }
        let scale: Vec<f32> = (0..c).map(|j| (f64::from(stats[0][j]) / (f64::from(stats[3][j]) + eps).sqrt()) as f32).collect();
        let shift: Vec<f32> = (0..c).map(|j| (f64::from(stats[1][j]) - f64::from(stats[2][j]) * f64::from(scale[j])) as f32).collect();
        let out = st.outputs[0];
        if let Some(&p) = producer.get(&x)
            && readers[x] == 1
            && let Op::Conv(conv) = &plan.steps[p].op
            && plan.convs[conv.k].shape[0] == c
        {
            let k = conv.k;
            let w = &mut plan.convs[k];
            let per_out = w.weight.len() / c;
            for (o, chunk) in w.weight.chunks_mut(per_out).enumerate() {
                chunk.iter_mut().for_each(|v| *v *= scale[o]);
            }
            let bias = w.bias.get_or_insert_with(|| vec![0.0; c]);
            for o in 0..c {
                bias[o] = bias[o] * scale[o] + shift[o];
            }
            plan.steps[p].outputs[0] = out;
            remove.push(i);
            plan.folded += 1;
            continue;
        }
        // alone: x · scale + shift with per-channel constants ([C], laid along axis 1 when run)
        let (s_slot, b_slot) = (next_slot, next_slot + 1);
        next_slot += 2;
        let shape = vec![c];
        new_consts.push(Constant { slot: s_slot, value: Arc::new(HostTensor::f32(shape.clone(), scale)), device: true });
        new_consts.push(Constant { slot: b_slot, value: Arc::new(HostTensor::f32(shape, shift)), device: true });
        let st = &mut plan.steps[i];
        st.op = Op::Affine;
        st.inputs = vec![Some(x), Some(s_slot), Some(b_slot)];
        st.outputs.truncate(1);
    }
    for i in remove.into_iter().rev() {
        plan.steps.remove(i);
    }
    plan.slots = next_slot;
    plan.consts.extend(new_consts);
}

/// Float constants read as tensors (not as shapes or axes) get a device copy.
fn mark_device_constants(plan: &mut Plan) {
    let mut on_device = vec![false; plan.slots];
    for st in &plan.steps {
        let params = param_inputs(&st.op);
        let tensor_operands = !matches!(st.op, Op::Gather { .. } | Op::GatherNd { .. } | Op::GatherElements { .. });
        for (k, s) in st.inputs.iter().enumerate() {
            if let Some(s) = s
                && !params.contains(&k)
                && (tensor_operands || k == 0)
            {
                on_device[*s] = true;
            }
        }
    }
    for c in &mut plan.consts {
        c.device |= on_device[c.slot] && c.value.is_float();
    }
}

/// After its last reader, a slot is dropped (the output never).
fn set_frees(plan: &mut Plan) {
    let mut last = vec![None; plan.slots];
    for (i, st) in plan.steps.iter().enumerate() {
        for s in st.inputs.iter().flatten() {
            last[*s] = Some(i);
        }
    }
    for st in &mut plan.steps {
        st.free.clear();
    }
    for (s, l) in last.into_iter().enumerate() {
        if let Some(i) = l
            && s != plan.output
        {
            plan.steps[i].free.push(s);
        }
    }
}
