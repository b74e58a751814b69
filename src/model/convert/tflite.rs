//! A TFLite model reader: the tensors (name, shape, type, constant data) and operators of the
//! first subgraph, read directly from the flatbuffer (no generated code).
//!
//! FlatBuffers layout, as used here: the file starts with a `u32` offset to the root table; a
//! table starts with an `i32` whose subtraction from the table's position gives its vtable;
//! the vtable holds `u16` sizes then one `u16` offset per field (0 = absent, default value);
//! fields holding tables, vectors and strings store a `u32` offset relative to the field.
//! Vectors and strings start with a `u32` length. All little-endian.
//!
//! Schema subset (tensorflow/lite/schema/schema.fbs, field indices):
//! `Model { version 0, operator_codes 1, subgraphs 2, description 3, buffers 4 }`,
//! `SubGraph { tensors 0, inputs 1, outputs 2, operators 3, name 4 }`,
//! `Tensor { shape 0, type 1, buffer 2, name 3 }`, `Buffer { data 0, offset 1, size 2 }`,
//! `Operator { opcode_index 0, inputs 1, outputs 2, builtin_options_type 3, builtin_options 4 }`,
//! `OperatorCode { deprecated_builtin_code 0, custom_code 1, version 2, builtin_code 3 }`.

use super::tensor::f16_to_f32;
pub use super::tflite_options::{TfOptions, TfPadding};
use crate::error::{Error, Result};

/// Builtin operator codes used by the converters.
pub mod op {
    /// `ADD`.
    pub const ADD: i32 = 0;
    /// `AVERAGE_POOL_2D`.
    pub const AVERAGE_POOL_2D: i32 = 1;
    /// `CONCATENATION`.
    pub const CONCATENATION: i32 = 2;
    /// `CONV_2D` (weights OHWI).
    pub const CONV_2D: i32 = 3;
    /// `DEPTHWISE_CONV_2D` (weights 1HWC).
    pub const DEPTHWISE_CONV_2D: i32 = 4;
    /// `DEQUANTIZE` (float16 constant → float32).
    pub const DEQUANTIZE: i32 = 6;
    /// `LOGISTIC` (sigmoid).
    pub const LOGISTIC: i32 = 14;
    /// `MUL`.
    pub const MUL: i32 = 18;
    /// `RELU`.
    pub const RELU: i32 = 19;
    /// `RELU6`.
    pub const RELU6: i32 = 21;
    /// `RESIZE_BILINEAR` (second input: int32 `[height, width]`).
    pub const RESIZE_BILINEAR: i32 = 23;
    /// `MEAN` (second input: the int32 axes).
    pub const MEAN: i32 = 40;
    /// `CUSTOM` (the operator code of custom operators; [`super::TfOperator::opcode`] is `-1`).
    pub const CUSTOM: i32 = 32;
    /// `HARD_SWISH`.
    pub const HARD_SWISH: i32 = 117;
}

/// Element types of TFLite tensors (`TensorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TfType {
    /// `FLOAT32`.
    F32,
    /// `FLOAT16`.
    F16,
    /// `INT32`.
    I32,
    /// `UINT8`.
    U8,
    /// `INT64`.
    I64,
    /// Any other type, by its schema number.
    Other(u8),
}

impl TfType {
    fn from_code(c: u8) -> Self {
        match c {
            0 => TfType::F32,
            1 => TfType::F16,
            2 => TfType::I32,
            3 => TfType::U8,
            4 => TfType::I64,
            o => TfType::Other(o),
        }
    }
}

/// One tensor of the subgraph.
#[derive(Debug, Clone)]
pub struct TfTensor {
    /// Its name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its element type.
    pub dtype: TfType,
    /// Constant data (weights), little-endian; `None` for activations.
    pub data: Option<Vec<u8>>,
}

impl TfTensor {
    /// Constant float data as float32 (float16 converted exactly); error for other types or
    /// non-constant tensors.
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        let data = self.constant()?;
        match self.dtype {
            TfType::F32 => Ok(data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4"))).collect()),
            TfType::F16 => Ok(data.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect()),
            t => Err(Error::Weights(format!("tensor '{}' is {t:?}, not float32/float16", self.name))),
        }
    }

    /// Constant int32 data.
    pub fn to_i32(&self) -> Result<Vec<i32>> {
        let data = self.constant()?;
        match self.dtype {
            TfType::I32 => Ok(data.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().expect("4"))).collect()),
            t => Err(Error::Weights(format!("tensor '{}' is {t:?}, not int32", self.name))),
        }
    }

    fn constant(&self) -> Result<&[u8]> {
        let data = self.data.as_deref().ok_or_else(|| {
            Error::Weights(format!("tensor '{}' has no constant data", self.name))
        })?;
        let size = match self.dtype {
            TfType::F32 | TfType::I32 => 4,
            TfType::F16 => 2,
            TfType::I64 => 8,
            TfType::U8 | TfType::Other(_) => 1,
        };
        let numel: usize = self.shape.iter().product();
        if data.len() != numel * size {
            return Err(Error::Weights(format!(
                "tensor '{}' of shape {:?} has {} data bytes, expected {}",
                self.name,
                self.shape,
                data.len(),
                numel * size
            )));
        }
        Ok(data)
    }
}

/// One operator of the subgraph.
#[derive(Debug, Clone)]
pub struct TfOperator {
    /// The builtin operator code (see [`op`]); custom operators give `-1`.
    pub opcode: i32,
    /// Input tensor indices (`-1` = optional input absent).
    pub inputs: Vec<i32>,
    /// Output tensor indices.
    pub outputs: Vec<i32>,
    /// The fused activation of a `CONV_2D` / `DEPTHWISE_CONV_2D` (0 none, 1 RELU, 3 RELU6, …).
    pub fused_activation: Option<u8>,
    /// The name of a custom operator (`OperatorCode.custom_code`).
    pub custom_code: Option<String>,
    /// The builtin options read for the operators the native networks execute.
    pub options: TfOptions,
    /// The raw `custom_options` bytes of a custom operator.
    pub custom_options: Vec<u8>,
}

/// The first subgraph of a TFLite model.
#[derive(Debug, Clone)]
pub struct TfliteModel {
    /// Its tensors, by index.
    pub tensors: Vec<TfTensor>,
    /// Its operators, in execution order.
    pub operators: Vec<TfOperator>,
    /// The subgraph's input tensor indices.
    pub inputs: Vec<i32>,
    /// The subgraph's output tensor indices.
    pub outputs: Vec<i32>,
}

/// A flatbuffer table: its position and its vtable.
#[derive(Clone, Copy)]
pub(super) struct Table<'a> {
    b: &'a [u8],
    pos: usize,
    vtable: usize,
    vlen: usize,
}

fn rd<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

impl<'a> Table<'a> {
    fn at(b: &'a [u8], pos: usize) -> Option<Self> {
        let soff = i32::from_le_bytes(rd(b, pos)?) as i64;
        let vtable = usize::try_from(pos as i64 - soff).ok()?;
        let vlen = u16::from_le_bytes(rd(b, vtable)?) as usize;
        Some(Self { b, pos, vtable, vlen })
    }

    /// Position of field `i`, if present.
    fn field(&self, i: usize) -> Option<usize> {
        if 4 + 2 * i + 2 > self.vlen {
            return None;
        }
        let off = u16::from_le_bytes(rd(self.b, self.vtable + 4 + 2 * i)?) as usize;
        (off != 0).then_some(self.pos + off)
    }

    pub(super) fn u8(&self, i: usize) -> Option<u8> {
        self.field(i).map(|p| self.b.get(p).copied()).unwrap_or(Some(0))
    }

    pub(super) fn u32(&self, i: usize) -> Option<u32> {
        self.field(i).map(|p| rd(self.b, p).map(u32::from_le_bytes)).unwrap_or(Some(0))
    }

    fn u64(&self, i: usize) -> Option<u64> {
        self.field(i).map(|p| rd(self.b, p).map(u64::from_le_bytes)).unwrap_or(Some(0))
    }

    /// Follow the offset stored at field `i`.
    fn target(&self, i: usize) -> Option<Option<usize>> {
        match self.field(i) {
            None => Some(None),
            Some(p) => Some(Some(p.checked_add(u32::from_le_bytes(rd(self.b, p)?) as usize)?)),
        }
    }

    fn table(&self, i: usize) -> Option<Option<Table<'a>>> {
        match self.target(i)? {
            None => Some(None),
            Some(p) => Table::at(self.b, p).map(Some),
        }
    }

    /// `(length, position of the first element)` of the vector at field `i` (empty if absent).
    fn vector(&self, i: usize) -> Option<(usize, usize)> {
        match self.target(i)? {
            None => Some((0, 0)),
            Some(p) => Some((u32::from_le_bytes(rd(self.b, p)?) as usize, p + 4)),
        }
    }

    fn bytes(&self, i: usize) -> Option<&'a [u8]> {
        let (n, p) = self.vector(i)?;
        if n == 0 {
            return Some(&[]);
        }
        self.b.get(p..p.checked_add(n)?)
    }

    fn string(&self, i: usize) -> Option<String> {
        Some(String::from_utf8_lossy(self.bytes(i)?).into_owned())
    }

    fn ints(&self, i: usize) -> Option<Vec<i32>> {
        let (n, p) = self.vector(i)?;
        (0..n).map(|k| rd(self.b, p + 4 * k).map(i32::from_le_bytes)).collect()
    }

    fn tables(&self, i: usize) -> Option<Vec<Table<'a>>> {
        let (n, p) = self.vector(i)?;
        (0..n)
            .map(|k| {
                let at = p + 4 * k;
                Table::at(self.b, at.checked_add(u32::from_le_bytes(rd(self.b, at)?) as usize)?)
            })
            .collect()
    }
}

/// Parse a `.tflite` file (`what` names it in errors).
pub fn read(what: &str, bytes: &[u8]) -> Result<TfliteModel> {
    if bytes.get(4..8) != Some(b"TFL3") {
        return Err(Error::Weights(format!(
            "{what} is not a TFLite model (no 'TFL3' identifier at byte 4; {} bytes)",
            bytes.len()
        )));
    }
    parse(bytes).ok_or_else(|| {
        Error::Weights(format!(
            "{what}: corrupt or truncated TFLite flatbuffer ({} bytes; an offset points outside the file)",
            bytes.len()
        ))
    })
}

fn parse(b: &[u8]) -> Option<TfliteModel> {
    let model = Table::at(b, u32::from_le_bytes(rd(b, 0)?) as usize)?;
    let codes: Vec<(i32, Option<String>)> = model
        .tables(1)?
        .iter()
        .map(|c| {
            let old = c.u8(0)? as i8 as i32;
            let new = c.u32(3)? as i32;
            let custom = if c.field(1).is_some() { Some(c.string(1)?) } else { None };
            Some(if custom.is_some() && old == op::CUSTOM { (-1, custom) } else { (old.max(new), None) })
        })
        .collect::<Option<_>>()?;
    let buffers = model.tables(4)?;
    let subgraph = *model.tables(2)?.first()?;
    let tensors = subgraph
        .tables(0)?
        .iter()
        .map(|t| {
            let shape = t.ints(0)?.into_iter().map(|d| usize::try_from(d).ok()).collect::<Option<_>>()?;
            let buf = buffers.get(t.u32(2)? as usize)?;
            let data = buffer_data(b, buf)?;
            Some(TfTensor {
                name: t.string(3)?,
                shape,
                dtype: TfType::from_code(t.u8(1)?),
                data: (!data.is_empty()).then(|| data.to_vec()),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let operators = subgraph
        .tables(3)?
        .iter()
        .map(|o| {
            let (opcode, custom_code) = codes.get(o.u32(0)? as usize)?.clone();
            Some(TfOperator {
                opcode,
                inputs: o.ints(1)?,
                outputs: o.ints(2)?,
                fused_activation: activation(o, opcode)?,
                custom_code,
                options: super::tflite_options::parse(o.u8(3)?, o.table(4)?)?,
                custom_options: o.bytes(5)?.to_vec(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(TfliteModel { tensors, operators, inputs: subgraph.ints(1)?, outputs: subgraph.ints(2)? })
}

/// A buffer's bytes: inline (`data`) or, in models over 2 GB, at `offset`/`size` in the file.
fn buffer_data<'a>(b: &'a [u8], buf: &Table<'a>) -> Option<&'a [u8]> {
    let (offset, size) = (buf.u64(1)?, buf.u64(2)?);
    if offset > 1 {
        let start = usize::try_from(offset).ok()?;
        return b.get(start..start.checked_add(usize::try_from(size).ok()?)?);
    }
    buf.bytes(0)
}

/// The fused activation of convolution options (`Conv2DOptions` field 3, union type 1;
/// `DepthwiseConv2DOptions` field 4, union type 2).
fn activation(o: &Table<'_>, opcode: i32) -> Option<Option<u8>> {
    let field = match (opcode, o.u8(3)?) {
        (op::CONV_2D, 1) => 3,
        (op::DEPTHWISE_CONV_2D, 2) => 4,
        _ => return Some(None),
    };
    match o.table(4)? {
        Some(opts) => Some(Some(opts.u8(field)?)),
        None => Some(Some(0)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A flatbuffer node for the test builder.
    pub(crate) enum Node {
        /// A table: one slot per field (`None` = absent).
        Table(Vec<Option<Node>>),
        /// A scalar field stored in 4 bytes (u8 values use the low byte).
        Scalar(u32),
        /// A vector of int32.
        Ints(Vec<i32>),
        /// A vector of bytes.
        Bytes(Vec<u8>),
        /// A vector of tables.
        Tables(Vec<Node>),
        /// A string.
        Str(String),
    }

    /// Serialise a model: root offset, "TFL3", then the root table.
    pub(crate) fn build(root: Node) -> Vec<u8> {
        let mut out = vec![0u8; 8];
        out[4..8].copy_from_slice(b"TFL3");
        let pos = write(&mut out, &root);
        out[0..4].copy_from_slice(&(pos as u32).to_le_bytes());
        out
    }

    fn pad4(out: &mut Vec<u8>) {
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }

    fn write(out: &mut Vec<u8>, node: &Node) -> usize {
        pad4(out);
        match node {
            Node::Table(fields) => {
                let vt = out.len();
                let n = fields.len();
                out.extend(((4 + 2 * n) as u16).to_le_bytes());
                out.extend(((4 + 4 * n) as u16).to_le_bytes());
                for (i, f) in fields.iter().enumerate() {
                    out.extend(if f.is_some() { (4 + 4 * i) as u16 } else { 0 }.to_le_bytes());
                }
                pad4(out);
                let t = out.len();
                out.extend(((t - vt) as i32).to_le_bytes());
                out.extend(vec![0u8; 4 * n]);
                for (i, f) in fields.iter().enumerate() {
                    let at = t + 4 + 4 * i;
                    let v = match f {
                        None => continue,
                        Some(Node::Scalar(v)) => *v,
                        Some(child) => (write(out, child) - at) as u32,
                    };
                    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
                }
                t
            }
            Node::Scalar(_) => unreachable!("scalars live in tables"),
            Node::Ints(v) => {
                let p = out.len();
                out.extend((v.len() as u32).to_le_bytes());
                v.iter().for_each(|x| out.extend(x.to_le_bytes()));
                p
            }
            Node::Bytes(v) => {
                let p = out.len();
                out.extend((v.len() as u32).to_le_bytes());
                out.extend(v);
                p
            }
            Node::Str(s) => {
                let p = out.len();
                out.extend((s.len() as u32).to_le_bytes());
                out.extend(s.as_bytes());
                out.push(0);
                p
            }
            Node::Tables(items) => {
                let p = out.len();
                out.extend((items.len() as u32).to_le_bytes());
                out.extend(vec![0u8; 4 * items.len()]);
                for (k, item) in items.iter().enumerate() {
                    let at = p + 4 + 4 * k;
                    let child = write(out, item);
                    out[at..at + 4].copy_from_slice(&((child - at) as u32).to_le_bytes());
                }
                p
            }
        }
    }

    /// `Tensor { shape, type, buffer, name }`.
    pub(crate) fn tensor(name: &str, shape: &[i32], ty: u32, buffer: u32) -> Node {
        Node::Table(vec![
            Some(Node::Ints(shape.to_vec())),
            Some(Node::Scalar(ty)),
            Some(Node::Scalar(buffer)),
            Some(Node::Str(name.into())),
        ])
    }

    /// `Operator { opcode_index, inputs, outputs, options type, options }`.
    pub(crate) fn operator(code: u32, inputs: &[i32], outputs: &[i32], options: Option<(u32, Node)>) -> Node {
        let (ty, opts) = match options {
            Some((t, n)) => (Some(Node::Scalar(t)), Some(n)),
            None => (None, None),
        };
        Node::Table(vec![
            Some(Node::Scalar(code)),
            Some(Node::Ints(inputs.to_vec())),
            Some(Node::Ints(outputs.to_vec())),
            ty,
            opts,
        ])
    }

    /// `Model` with the given operator codes, tensors, operators and buffers.
    pub(crate) fn model(codes: &[u32], tensors: Vec<Node>, ops: Vec<Node>, buffers: Vec<Vec<u8>>) -> Vec<u8> {
        model_io(codes, tensors, ops, buffers, None)
    }

    /// [`model`] whose subgraph also names its (inputs, outputs).
    pub(crate) fn model_io(
        codes: &[u32],
        tensors: Vec<Node>,
        ops: Vec<Node>,
        buffers: Vec<Vec<u8>>,
        io: Option<(Vec<i32>, Vec<i32>)>,
    ) -> Vec<u8> {
        let codes = codes
            .iter()
            .map(|&c| Node::Table(vec![Some(Node::Scalar(c.min(127))), None, Some(Node::Scalar(1)), Some(Node::Scalar(c))]))
            .collect();
        let buffers = buffers
            .into_iter()
            .map(|d| Node::Table(vec![(!d.is_empty()).then_some(Node::Bytes(d))]))
            .collect();
        let (inputs, outputs) = match io {
            Some((i, o)) => (Some(Node::Ints(i)), Some(Node::Ints(o))),
            None => (None, None),
        };
        let subgraph = Node::Table(vec![Some(Node::Tables(tensors)), inputs, outputs, Some(Node::Tables(ops))]);
        build(Node::Table(vec![
            Some(Node::Scalar(3)),
            Some(Node::Tables(codes)),
            Some(Node::Tables(vec![subgraph])),
            None,
            Some(Node::Tables(buffers)),
        ]))
    }

    fn tiny() -> Vec<u8> {
        let f16 = [0x3c00u16, 0xc000].iter().flat_map(|h| h.to_le_bytes()).collect();
        let w: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let conv_opts = Node::Table(vec![None, Some(Node::Scalar(1)), Some(Node::Scalar(1)), Some(Node::Scalar(3))]);
        model(
            &[op::CONV_2D as u32, op::RESIZE_BILINEAR as u32],
            vec![tensor("x", &[1, 2, 2, 1], 0, 0), tensor("w", &[2, 1, 1, 1], 0, 1), tensor("h", &[2], 1, 2), tensor("y", &[1, 2, 2, 2], 0, 0)],
            vec![operator(0, &[0, 1, -1], &[3], Some((1, conv_opts))), operator(1, &[3, 2], &[0], None)],
            vec![vec![], w, f16],
        )
    }

    #[test]
    fn reads_tensors_buffers_and_operators() {
        let m = read("tiny.tflite", &tiny()).unwrap();
        let names: Vec<&str> = m.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["x", "w", "h", "y"]);
        assert_eq!(m.tensors[1].shape, [2, 1, 1, 1]);
        assert_eq!(m.tensors[1].to_f32().unwrap(), [1.5, -2.0]);
        assert_eq!(m.tensors[2].dtype, TfType::F16);
        assert_eq!(m.tensors[2].to_f32().unwrap(), [1.0, -2.0]);
        assert!(m.tensors[0].data.is_none());
        assert!(m.tensors[0].to_f32().unwrap_err().to_string().contains("'x'"));
        assert_eq!(m.operators[0].opcode, op::CONV_2D);
        assert_eq!(m.operators[0].inputs, [0, 1, -1]);
        assert_eq!(m.operators[0].fused_activation, Some(3));
        assert_eq!(m.operators[1].opcode, op::RESIZE_BILINEAR);
        assert_eq!(m.operators[1].fused_activation, None);
    }

    #[test]
    fn truncation_and_garbage_are_reported() {
        let bytes = tiny();
        for cut in [8, 40, bytes.len() / 2, bytes.len() - 3] {
            let e = read("tiny.tflite", &bytes[..cut]).unwrap_err().to_string();
            assert!(e.contains("tiny.tflite") && e.contains("truncated"), "{cut}: {e}");
        }
        let e = read("x.tflite", b"PK\x03\x04 not a model").unwrap_err().to_string();
        assert!(e.contains("not a TFLite model"), "{e}");
    }
}
