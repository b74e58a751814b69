//! Converted tensors: a raw, dtype-tagged tensor, the sorted set a converter produces, its
//! content hash, and safetensors writing / reading.
//!
//! The **content hash** identifies a set of tensors independently of the file that stores them
//! (safetensors bytes differ across writers: header order, metadata, padding). It is the sha256
//! of, for every tensor in byte-wise ascending name order:
//! `u64le(len(name)) name u64le(len(dtype)) dtype u64le(ndim) u64le(dim)… u64le(len(data)) data`,
//! where `dtype` is the safetensors spelling (`F32`, `I64`, …) and `data` the little-endian
//! values, row-major.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Element type of a [`RawTensor`] (the subset of safetensors' types that checkpoints use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// IEEE half float.
    F16,
    /// bfloat16.
    BF16,
    /// 64-bit signed integer.
    I64,
    /// 32-bit signed integer.
    I32,
    /// 16-bit signed integer.
    I16,
    /// 8-bit signed integer.
    I8,
    /// 8-bit unsigned integer.
    U8,
    /// Boolean, one byte.
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// The safetensors spelling (`F32`, `I64`, …), also used in the content hash.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F64 => "F64",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::I64 => "I64",
            DType::I32 => "I32",
            DType::I16 => "I16",
            DType::I8 => "I8",
            DType::U8 => "U8",
            DType::Bool => "BOOL",
        }
    }

    fn to_safetensors(self) -> safetensors::Dtype {
        use safetensors::Dtype as S;
        match self {
            DType::F32 => S::F32,
            DType::F64 => S::F64,
            DType::F16 => S::F16,
            DType::BF16 => S::BF16,
            DType::I64 => S::I64,
            DType::I32 => S::I32,
            DType::I16 => S::I16,
            DType::I8 => S::I8,
            DType::U8 => S::U8,
            DType::Bool => S::BOOL,
        }
    }

    fn from_safetensors(d: safetensors::Dtype) -> Option<Self> {
        use safetensors::Dtype as S;
        Some(match d {
            S::F32 => DType::F32,
            S::F64 => DType::F64,
            S::F16 => DType::F16,
            S::BF16 => DType::BF16,
            S::I64 => DType::I64,
            S::I32 => DType::I32,
            S::I16 => DType::I16,
            S::I8 => DType::I8,
            S::U8 => DType::U8,
            S::BOOL => DType::Bool,
            _ => return None,
        })
    }
}

/// One tensor: type, shape and little-endian row-major bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTensor {
    /// Element type.
    pub dtype: DType,
    /// Dimensions (empty for a scalar).
    pub shape: Vec<usize>,
    /// `product(shape) * dtype.size()` bytes.
    pub data: Vec<u8>,
}

impl RawTensor {
    /// A tensor, checking that `data` has exactly the size `shape` and `dtype` call for.
    pub fn new(dtype: DType, shape: Vec<usize>, data: Vec<u8>) -> Result<Self> {
        let want = shape.iter().product::<usize>() * dtype.size();
        if data.len() != want {
            return Err(Error::Weights(format!(
                "tensor of type {} and shape {shape:?} needs {want} bytes, got {}",
                dtype.name(),
                data.len()
            )));
        }
        Ok(Self { dtype, shape, data })
    }

    /// A float32 tensor from values.
    pub fn from_f32(shape: Vec<usize>, values: &[f32]) -> Result<Self> {
        Self::new(DType::F32, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    /// An int64 tensor from values.
    pub fn from_i64(shape: Vec<usize>, values: &[i64]) -> Result<Self> {
        Self::new(DType::I64, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A converter's output: tensors by name, in name order.
pub type TensorSet = BTreeMap<String, RawTensor>;

/// The content hash of a tensor set (see the module documentation), lower-case hex.
pub fn content_hash(tensors: &TensorSet) -> String {
    let mut h = Sha256::new();
    let mut put = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    for (name, t) in tensors {
        put(name.as_bytes());
        put(t.dtype.name().as_bytes());
        let dims: Vec<u8> = t.shape.iter().flat_map(|&d| (d as u64).to_le_bytes()).collect();
        put(&dims);
        put(&t.data);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Serialise a tensor set as a safetensors file with the given metadata.
pub fn to_safetensors(tensors: &TensorSet, metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
    let mut views = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let view = safetensors::tensor::TensorView::new(t.dtype.to_safetensors(), t.shape.clone(), &t.data)
            .map_err(|e| Error::Weights(format!("tensor '{name}' cannot be stored: {e}")))?;
        views.push((name.as_str(), view));
    }
    let meta: HashMap<String, String> =
        metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    safetensors::serialize(views, (!meta.is_empty()).then_some(meta))
        .map_err(|e| Error::Weights(format!("safetensors serialisation failed: {e}")))
}

/// Read every tensor of a safetensors file (`file` names it in errors).
pub fn from_safetensors(file: &str, bytes: &[u8]) -> Result<TensorSet> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| {
        Error::Weights(format!("'{file}' is not a valid safetensors file: {e}"))
    })?;
    let mut out = TensorSet::new();
    for (name, view) in st.tensors() {
        let dtype = DType::from_safetensors(view.dtype()).ok_or_else(|| {
            Error::Weights(format!("tensor '{name}' in '{file}' has unsupported type {:?}", view.dtype()))
        })?;
        out.insert(name, RawTensor::new(dtype, view.shape().to_vec(), view.data().to_vec())?);
    }
    Ok(out)
}

/// IEEE 754 half → single precision (exact; subnormals, infinities and NaN included).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // subnormal: normalise the fraction
            let shift = f.leading_zeros() - 21; // bring the leading 1 to bit 10
            let f = (f << shift) & 0x3ff;
            sign | ((127 - 15 + 1 - shift) << 23) | (f << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> TensorSet {
        let mut s = TensorSet::new();
        s.insert("b.weight".into(), RawTensor::from_f32(vec![2, 1], &[1.0, -2.5]).unwrap());
        s.insert("a.count".into(), RawTensor::from_i64(vec![], &[7]).unwrap());
        s
    }

    #[test]
    fn size_is_checked() {
        let e = RawTensor::new(DType::F32, vec![3], vec![0; 8]).unwrap_err();
        assert!(e.to_string().contains("[3]") && e.to_string().contains("12 bytes"), "{e}");
    }

    #[test]
    fn safetensors_round_trip_keeps_the_content_hash() {
        let s = set();
        let bytes = to_safetensors(&s, &[("source", "test")]).unwrap();
        let back = from_safetensors("t.safetensors", &bytes).unwrap();
        assert_eq!(back, s);
        assert_eq!(content_hash(&back), content_hash(&s));
    }

    #[test]
    fn content_hash_sees_names_shapes_types_and_values() {
        let base = content_hash(&set());
        let mut s = set();
        s.get_mut("b.weight").unwrap().shape = vec![1, 2];
        assert_ne!(content_hash(&s), base);
        let mut s = set();
        s.get_mut("b.weight").unwrap().data[0] ^= 1;
        assert_ne!(content_hash(&s), base);
        let mut s = set();
        let t = s.remove("a.count").unwrap();
        s.insert("a.counts".into(), t);
        assert_ne!(content_hash(&s), base);
        assert_eq!(content_hash(&set()), base);
    }

    #[test]
    fn half_floats_convert_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0200), 2f32.powi(-15));
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
    }
}
