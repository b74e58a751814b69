//! PyTorch checkpoints (`torch.save` of a state dict) → tensors, without torch.
//!
//! Two container formats:
//! - **legacy** (torch < 1.6, what EdgeNets ships): five consecutive pickles — the magic number
//!   `0x1950a86a20f9469cfc6c`, the protocol version (1001), system info (endianness), the
//!   state dict, the list of storage keys — then every storage in that list's order as an
//!   8-byte little-endian element count followed by its raw little-endian data;
//! - **zip** (torch ≥ 1.6): `<dir>/data.pkl` (the state dict) and one stored entry
//!   `<dir>/data/<key>` per storage.
//!
//! In both, a tensor is pickled as `torch._utils._rebuild_tensor_v2(storage, offset, size,
//! stride, …)` whose storage is the persistent id `('storage', torch.<Type>Storage, key,
//! location, numel)`. A checkpoint whose top level is a dict holding the state dict under
//! `state_dict` / `model_state_dict` / `model` is accepted too.

use std::collections::HashMap;

use super::pickle::{self, Value};
use super::tensor::{DType, RawTensor, TensorSet};
use super::zip::{self, ZipArchive};
use crate::error::{Error, Result};

/// The legacy format's magic number, as the little-endian bytes of its pickled long.
const MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
/// The legacy format's protocol version.
const PROTOCOL_VERSION: i64 = 1001;

/// A tensor as the pickle describes it, before its storage is read.
#[derive(Debug, Clone)]
struct TensorRef {
    key: String,
    dtype: DType,
    storage_numel: usize,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

/// Read the state dict of a `.pth` / `.pt` checkpoint (either format); `what` names the file in
/// errors.
pub fn read(what: &str, bytes: &[u8]) -> Result<TensorSet> {
    if zip::is_zip(bytes) {
        read_zip(what, bytes)
    } else if bytes.first() == Some(&0x80) {
        read_legacy(what, bytes)
    } else {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Err(Error::Weights(format!(
            "{what} is not a PyTorch checkpoint: it starts with bytes [{}], neither a zip archive \
             (torch ≥ 1.6) nor a pickle (legacy format)",
            head.join(" ")
        )))
    }
}

fn read_legacy(what: &str, bytes: &[u8]) -> Result<TensorSet> {
    let mut pos = 0;
    let next = |pos: &mut usize| -> Result<Value> {
        let (v, used) = pickle::load(what, &bytes[*pos..])?;
        *pos += used;
        Ok(v)
    };
    match next(&mut pos)? {
        Value::BigInt(b) if b == MAGIC => {}
        other => {
            return Err(Error::Weights(format!(
                "{what} is not a legacy PyTorch checkpoint: its first pickle is {}, not the magic number \
                 0x1950a86a20f9469cfc6c",
                other.kind()
            )));
        }
    }
    match next(&mut pos)?.as_int() {
        Some(PROTOCOL_VERSION) => {}
        v => {
            return Err(Error::Weights(format!(
                "{what}: unsupported legacy protocol version {v:?} (expected {PROTOCOL_VERSION})"
            )));
        }
    }
    check_little_endian(what, &next(&mut pos)?)?;
    let root = next(&mut pos)?;
    let refs = state_dict(what, &root)?;
    let keys = next(&mut pos)?;
    let keys = keys.items().ok_or_else(|| {
        Error::Weights(format!("{what}: the storage key list is {}, not a list", keys.kind()))
    })?;
    let mut storages: HashMap<String, &[u8]> = HashMap::new();
    for key in keys {
        let key = key.as_str().ok_or_else(|| Error::Weights(format!("{what}: a storage key is {}", key.kind())))?;
        let r = refs.iter().find(|(_, r)| r.key == key).map(|(_, r)| r).ok_or_else(|| {
            Error::Weights(format!("{what}: storage '{key}' is listed but no tensor uses it"))
        })?;
        let truncated = |need: usize| {
            Error::Weights(format!(
                "{what} is truncated: storage '{key}' needs {need} bytes at byte {pos}, the file has {} left",
                bytes.len() - pos.min(bytes.len())
            ))
        };
        let count = bytes.get(pos..pos + 8).ok_or_else(|| truncated(8))?;
        let count = u64::from_le_bytes(count.try_into().expect("8 bytes")) as usize;
        if count != r.storage_numel {
            return Err(Error::Weights(format!(
                "{what}: storage '{key}' holds {count} elements, its tensors say {}",
                r.storage_numel
            )));
        }
        let len = count.checked_mul(r.dtype.size()).ok_or_else(|| truncated(usize::MAX))?;
        let data = bytes.get(pos + 8..pos + 8 + len).ok_or_else(|| truncated(len + 8))?;
        storages.insert(key.to_string(), data);
        pos += 8 + len;
    }
    if pos != bytes.len() {
        return Err(Error::Weights(format!(
            "{what}: {} unexpected bytes after the last storage (corrupt file?)",
            bytes.len() - pos
        )));
    }
    materialise(what, refs, &storages)
}

fn check_little_endian(what: &str, sys_info: &Value) -> Result<()> {
    if let Value::Dict(d) = sys_info {
        let le = d.borrow().iter().find(|(k, _)| k.as_str() == Some("little_endian")).map(|(_, v)| v.as_int());
        if le == Some(Some(0)) {
            return Err(Error::Weights(format!("{what} was saved on a big-endian machine; not supported")));
        }
        return Ok(());
    }
    Err(Error::Weights(format!("{what}: the system-info pickle is {}, not a dict", sys_info.kind())))
}

fn read_zip(what: &str, bytes: &[u8]) -> Result<TensorSet> {
    let z = ZipArchive::open(what, bytes)?;
    let pkl: Vec<&str> = z
        .entries()
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| *n == "data.pkl" || n.ends_with("/data.pkl"))
        .collect();
    let [pkl] = pkl[..] else {
        return Err(Error::Weights(format!(
            "{what}: a zip-format checkpoint has exactly one '<dir>/data.pkl'; found {}",
            pkl.len()
        )));
    };
    let prefix = &pkl[..pkl.len() - "data.pkl".len()];
    if let Ok(order) = z.read(&format!("{prefix}byteorder")) {
        if order != b"little" {
            return Err(Error::Weights(format!(
                "{what}: byte order '{}' is not supported",
                String::from_utf8_lossy(order)
            )));
        }
    }
    let (root, _) = pickle::load(&format!("{what}:{pkl}"), z.read(pkl)?)?;
    let refs = state_dict(what, &root)?;
    let mut storages: HashMap<String, &[u8]> = HashMap::new();
    for (_, r) in &refs {
        if !storages.contains_key(&r.key) {
            let data = z.read(&format!("{prefix}data/{}", r.key))?;
            if data.len() < r.storage_numel * r.dtype.size() {
                return Err(Error::Weights(format!(
                    "{what}: storage '{}' has {} bytes, its tensors need {}",
                    r.key,
                    data.len(),
                    r.storage_numel * r.dtype.size()
                )));
            }
            storages.insert(r.key.clone(), data);
        }
    }
    materialise(what, refs, &storages)
}

/// The `(name, tensor)` entries of the state dict inside `root`.
fn state_dict(what: &str, root: &Value) -> Result<Vec<(String, TensorRef)>> {
    let not_sd = |why: String| Error::Weights(format!("{what} is not a state dict: {why}"));
    let Value::Dict(d) = root else {
        return Err(not_sd(format!("its pickle holds {}, not a dict of tensors", root.kind())));
    };
    let entries = d.borrow();
    let all_tensors = entries.iter().all(|(_, v)| tensor_ref(what, v).is_ok());
    if !all_tensors || entries.is_empty() {
        for wrapper in ["state_dict", "model_state_dict", "model"] {
            if let Some((_, inner)) = entries.iter().find(|(k, _)| k.as_str() == Some(wrapper)) {
                if matches!(inner, Value::Dict(_)) {
                    return state_dict(what, inner);
                }
            }
        }
    }
    if entries.is_empty() {
        return Err(not_sd("its dict is empty".into()));
    }
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries.iter() {
        let name = k.as_str().ok_or_else(|| not_sd(format!("a key is {}", k.kind())))?;
        let r = tensor_ref(what, v).map_err(|e| not_sd(format!("entry '{name}' is {} ({e})", v.kind())))?;
        out.push((name.to_string(), r));
    }
    Ok(out)
}

/// Interpret a `_rebuild_tensor_v2` (or `_rebuild_parameter`) call.
fn tensor_ref(what: &str, v: &Value) -> std::result::Result<TensorRef, String> {
    let Value::Object(o) = v else { return Err("not a tensor".into()) };
    let (module, name) = (&o.class.0, &o.class.1);
    if module == "torch._utils" && name == "_rebuild_parameter" {
        return tensor_ref(what, o.args.first().ok_or("_rebuild_parameter without data")?);
    }
    if module != "torch._utils" || (name != "_rebuild_tensor_v2" && name != "_rebuild_tensor") {
        return Err(format!("{module}.{name} is not a tensor constructor this reader knows"));
    }
    let arg = |i: usize| o.args.get(i).ok_or_else(|| format!("{name} has {} arguments", o.args.len()));
    let Value::PersistentId(pid) = arg(0)? else { return Err("its storage is not a persistent id".into()) };
    let pid = pid.items().ok_or("persistent id is not a tuple")?;
    if pid.len() < 5 || pid[0].as_str() != Some("storage") {
        return Err(format!("unexpected persistent id of {} items", pid.len()));
    }
    let dtype = match &pid[1] {
        Value::Global(_, t) => storage_dtype(t).ok_or_else(|| format!("storage type {t} is not supported"))?,
        other => return Err(format!("storage type is {}", other.kind())),
    };
    let key = pid[2].as_str().ok_or("storage key is not a string")?.to_string();
    let dims = |v: &Value| -> std::result::Result<Vec<usize>, String> {
        v.items()
            .ok_or("size/stride is not a tuple")?
            .iter()
            .map(|d| d.as_int().and_then(|i| usize::try_from(i).ok()).ok_or_else(|| "bad dimension".to_string()))
            .collect()
    };
    Ok(TensorRef {
        key,
        dtype,
        storage_numel: pid[4].as_int().and_then(|n| usize::try_from(n).ok()).ok_or("bad storage size")?,
        offset: arg(1)?.as_int().and_then(|n| usize::try_from(n).ok()).ok_or("bad storage offset")?,
        size: dims(arg(2)?)?,
        stride: dims(arg(3)?)?,
    })
}

fn storage_dtype(t: &str) -> Option<DType> {
    Some(match t {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "BoolStorage" => DType::Bool,
        _ => return None,
    })
}

/// Copy every tensor out of its storage (any strides), row-major.
fn materialise(what: &str, refs: Vec<(String, TensorRef)>, storages: &HashMap<String, &[u8]>) -> Result<TensorSet> {
    let mut out = TensorSet::new();
    for (name, r) in refs {
        let storage = storages
            .get(&r.key)
            .ok_or_else(|| Error::Weights(format!("{what}: tensor '{name}' uses storage '{}', which is missing", r.key)))?;
        let es = r.dtype.size();
        let numel: usize = r.size.iter().product();
        let out_of_range = || {
            Error::Weights(format!(
                "{what}: tensor '{name}' (size {:?}, stride {:?}, offset {}) reaches past its storage of {} elements",
                r.size, r.stride, r.offset, r.storage_numel
            ))
        };
        if r.size.len() != r.stride.len() {
            return Err(out_of_range());
        }
        let last = r.offset + r.size.iter().zip(&r.stride).map(|(&d, &s)| d.saturating_sub(1) * s).sum::<usize>();
        if numel > 0 && (last >= r.storage_numel || (last + 1) * es > storage.len()) {
            return Err(out_of_range());
        }
        let mut data = Vec::with_capacity(numel * es);
        let mut idx = vec![0usize; r.size.len()];
        for _ in 0..numel {
            let e = r.offset + idx.iter().zip(&r.stride).map(|(i, s)| i * s).sum::<usize>();
            data.extend_from_slice(&storage[e * es..(e + 1) * es]);
            for d in (0..idx.len()).rev() {
                idx[d] += 1;
                if idx[d] < r.size[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        out.insert(name, RawTensor::new(r.dtype, r.size, data)?);
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::pickle::tests::Writer;
    use super::super::zip::write_stored;
    use super::*;

    /// Pickle `{name: tensor}` (an OrderedDict) the way torch does; each tensor is
    /// `(name, storage type, key, storage numel, offset, size, stride)`.
    pub(crate) fn state_dict_pickle(tensors: &[(&str, &str, &str, usize, usize, &[usize], &[usize])]) -> Vec<u8> {
        let mut w = Writer::default();
        w.proto().global("collections", "OrderedDict").op(b")R(");
        for (name, ty, key, numel, offset, size, stride) in tensors {
            w.str(name).global("torch._utils", "_rebuild_tensor_v2").op(b"((").str("storage");
            w.global("torch", ty).str(key).str("cpu").int(*numel as i32).op(b"NtQ").int(*offset as i32);
            w.op(b"(");
            for &d in size.iter() {
                w.int(d as i32);
            }
            w.op(b"t(");
            for &d in stride.iter() {
                w.int(d as i32);
            }
            w.op(b"t").op(&[0x89]).global("collections", "OrderedDict").op(b")RtR");
        }
        w.op(b"u").stop();
        w.out
    }

    /// A legacy checkpoint: magic, version, sys info, the state dict, keys, storages.
    pub(crate) fn legacy(pkl: &[u8], storages: &[(&str, usize, &[u8])]) -> Vec<u8> {
        let mut w = Writer::default();
        w.proto().op(&[0x8a, 10]).op(&MAGIC).stop();
        w.proto().op(b"M").op(&1001u16.to_le_bytes()).stop();
        w.proto().op(b"}(").str("little_endian").op(&[0x88]).op(b"u").stop();
        w.op(pkl);
        w.proto().op(b"](");
        for (k, _, _) in storages {
            w.str(k);
        }
        w.op(b"e").stop();
        for (_, numel, data) in storages {
            w.op(&(*numel as u64).to_le_bytes()).op(data);
        }
        w.out
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn sample_pickle() -> Vec<u8> {
        state_dict_pickle(&[
            ("conv.weight", "FloatStorage", "0", 6, 0, &[2, 3], &[3, 1]),
            ("conv.weight_t", "FloatStorage", "0", 6, 0, &[3, 2], &[1, 3]),
            ("bn.num_batches_tracked", "LongStorage", "1", 1, 0, &[], &[]),
        ])
    }

    fn check_sample(t: &TensorSet) {
        assert_eq!(t.len(), 3);
        assert_eq!(t["conv.weight"], RawTensor::from_f32(vec![2, 3], &[1., 2., 3., 4., 5., 6.]).unwrap());
        assert_eq!(t["conv.weight_t"], RawTensor::from_f32(vec![3, 2], &[1., 4., 2., 5., 3., 6.]).unwrap());
        assert_eq!(t["bn.num_batches_tracked"], RawTensor::from_i64(vec![], &[42]).unwrap());
    }

    #[test]
    fn legacy_checkpoint_with_strided_views_and_int64_scalars() {
        let w = f32s(&[1., 2., 3., 4., 5., 6.]);
        let file = legacy(&sample_pickle(), &[("0", 6, &w), ("1", 1, &42i64.to_le_bytes())]);
        check_sample(&read("t.pth", &file).unwrap());
        let e = read("t.pth", &file[..file.len() - 3]).unwrap_err().to_string();
        assert!(e.contains("t.pth is truncated") && e.contains("storage '1'"), "{e}");
        let mut longer = file.clone();
        longer.push(0);
        assert!(read("t.pth", &longer).unwrap_err().to_string().contains("unexpected bytes"));
    }

    #[test]
    fn zip_checkpoint_of_torch_1_6_and_later() {
        let w = f32s(&[1., 2., 3., 4., 5., 6.]);
        let file = write_stored(&[
            ("ckpt/data.pkl", &sample_pickle()),
            ("ckpt/byteorder", b"little"),
            ("ckpt/data/0", &w),
            ("ckpt/data/1", &42i64.to_le_bytes()),
            ("ckpt/version", b"3\n"),
        ]);
        check_sample(&read("t.pt", &file).unwrap());
        let missing = write_stored(&[("ckpt/data.pkl", &sample_pickle()), ("ckpt/data/0", &w)]);
        let e = read("t.pt", &missing).unwrap_err().to_string();
        assert!(e.contains("ckpt/data/1"), "{e}");
    }

    #[test]
    fn a_checkpoint_wrapping_the_state_dict_is_unwrapped() {
        let inner = sample_pickle();
        let mut w = Writer::default();
        w.proto().op(b"}(").str("epoch").int(3).str("state_dict");
        w.op(&inner[2..inner.len() - 1]).op(b"u").stop();
        let ww = f32s(&[1., 2., 3., 4., 5., 6.]);
        let file = legacy(&w.out, &[("0", 6, &ww), ("1", 1, &42i64.to_le_bytes())]);
        check_sample(&read("t.pth", &file).unwrap());
    }

    #[test]
    fn not_a_state_dict_or_not_a_checkpoint() {
        let mut w = Writer::default();
        w.proto().op(b"](").int(1).int(2).op(b"e").stop();
        let e = read("list.pth", &legacy(&w.out, &[])).unwrap_err().to_string();
        assert!(e.contains("list.pth is not a state dict") && e.contains("a list of 2"), "{e}");
        let mut w = Writer::default();
        w.proto().op(b"}(").str("lr").op(b"G").op(&0.1f64.to_be_bytes()).op(b"u").stop();
        let e = read("opt.pth", &legacy(&w.out, &[])).unwrap_err().to_string();
        assert!(e.contains("entry 'lr' is a float"), "{e}");
        let e = read("x.pth", b"GIF89a...").unwrap_err().to_string();
        assert!(e.contains("x.pth is not a PyTorch checkpoint"), "{e}");
        let mut w = Writer::default();
        w.proto().int(5).stop();
        let e = read("y.pth", &w.out).unwrap_err().to_string();
        assert!(e.contains("magic number"), "{e}");
    }

    #[test]
    fn views_past_their_storage_are_rejected() {
        let pkl = state_dict_pickle(&[("w", "FloatStorage", "0", 2, 1, &[2], &[1])]);
        let e = read("t.pth", &legacy(&pkl, &[("0", 2, &f32s(&[1., 2.]))])).unwrap_err().to_string();
        assert!(e.contains("'w'") && e.contains("past its storage"), "{e}");
    }
}
