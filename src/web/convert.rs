//! Conversions at the wasm boundary: options objects in (through `serde_json`, so unknown keys
//! are errors as everywhere else), results out (serde-wasm-bindgen; pixels as `Uint8Array`).

use js_sys::Uint8Array;
use serde::Serialize;
use serde_bytes::ByteBuf;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::image::{self as imaging, ResizeMethod};
use crate::model::zoo::ModelSpec;

pub(crate) fn js_err(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

/// A JS value as a plain object for the page (maps as objects, bytes as `Uint8Array`).
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue> {
    let ser = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    value.serialize(&ser).map_err(|e| Error::Backend(format!("cannot convert a result for JavaScript: {e}")))
}

/// An options object as JSON (`undefined` / `null`: an empty object), so that the core's serde
/// specs read it exactly as they read TOML and JSON files.
pub(crate) fn to_json(value: JsValue) -> Result<serde_json::Value> {
    if value.is_undefined() || value.is_null() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    if !value.is_object() {
        return Err(Error::InvalidArgument(format!(
            "options must be an object, got {}",
            value.js_typeof().as_string().unwrap_or_default()
        )));
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| Error::InvalidArgument(format!("bad options: {e}")))
}

/// The working size of a `width × height` image for `spec` (see `Session::inputSize`).
pub(crate) fn working_size(spec: &ModelSpec, width: usize, height: usize, max_side: usize) -> Result<(usize, usize)> {
    if width == 0 || height == 0 {
        return Err(Error::InvalidArgument(format!("image size {width}×{height} is empty")));
    }
    let limit = if max_side == 0 { spec.native_size.0.max(spec.native_size.1) } else { max_side };
    if !(16..=4096).contains(&limit) {
        return Err(Error::InvalidArgument(format!("max side {max_side} must be in 16..=4096 (or 0 for the model's own)")));
    }
    let scale = (limit as f64 / width.max(height) as f64).min(1.0);
    let (w, h) = ((width as f64 * scale).round() as usize, (height as f64 * scale).round() as usize);
    Ok(spec.nearest_valid_size(w.max(1), h.max(1)))
}

/// An image error prefixed with which image it is.
pub(crate) fn prefix(e: Error, what: &str) -> Error {
    match e {
        Error::Image(m) => Error::Image(format!("{what}: {m}")),
        other => other,
    }
}

/// Decode one `Uint8Array` (PNG or JPEG).
pub(crate) fn decode(bytes: &Uint8Array, what: &str) -> Result<image::RgbImage> {
    imaging::decode(&bytes.to_vec()).map_err(|e| prefix(e, what))
}

/// Decode every `Uint8Array` of `images` and resize it to `w × h` (Pillow bilinear).
pub(crate) fn decode_all(spec: &ModelSpec, images: &js_sys::Array, w: usize, h: usize) -> Result<Vec<image::RgbImage>> {
    if images.length() == 0 {
        return Err(Error::InvalidArgument("no images given (an empty list)".into()));
    }
    spec.check_size(w, h)?;
    images
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let bytes = v.dyn_into::<Uint8Array>().map_err(|v| {
                Error::InvalidArgument(format!("image {} is not a Uint8Array but {:?}", i + 1, v.js_typeof().as_string()))
            })?;
            let img = decode(&bytes, &format!("image {}", i + 1))?;
            imaging::resize(&img, w as u32, h as u32, ResizeMethod::PilBilinear)
        })
        .collect()
}

/// RGB bytes of images (each `Uint8Array` in JS).
pub(crate) fn rgb_bytes(images: &[image::RgbImage]) -> Vec<ByteBuf> {
    images.iter().map(|i| ByteBuf::from(i.as_raw().clone())).collect()
}

/// Class indices of maps (each `Uint8Array` in JS).
pub(crate) fn map_bytes(maps: &[ClassMap]) -> Vec<ByteBuf> {
    maps.iter().map(|m| ByteBuf::from(m.data.clone())).collect()
}

/// A class map as `{width, height, classes: Uint8Array}`.
#[derive(Serialize)]
pub(crate) struct MapJs {
    pub width: usize,
    pub height: usize,
    pub classes: ByteBuf,
}

impl From<&ClassMap> for MapJs {
    fn from(m: &ClassMap) -> Self {
        MapJs { width: m.width, height: m.height, classes: ByteBuf::from(m.data.clone()) }
    }
}

/// An image as `{width, height, rgb: Uint8Array}`.
#[derive(Serialize)]
pub(crate) struct ImageJs {
    pub width: u32,
    pub height: u32,
    pub rgb: ByteBuf,
}

impl From<&image::RgbImage> for ImageJs {
    fn from(i: &image::RgbImage) -> Self {
        ImageJs { width: i.width(), height: i.height(), rgb: ByteBuf::from(i.as_raw().clone()) }
    }
}
