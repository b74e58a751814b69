//! What the page asks the core instead of restating it: the attack families, losses and
//! reconstruction presets, the scalers of the scaling attack, the model size that attack works
//! at, and the nearest resize of class maps.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::convert::js_err;
use super::session::Session;
use crate::attack::{AttackKind, AttackSpec, LossKind};
use crate::data::nearest_resize_map;
use crate::defense::reconstruct::PRESETS;
use crate::resize::ScalerKind;
use crate::scaling::ScalingSpec;

/// One scaler as the page lists it.
#[derive(Serialize)]
struct ScalerEntry {
    name: &'static str,
    library: &'static str,
    /// The scaler of the page's scaling experiment when none is chosen.
    default: bool,
}

/// The scalers of the scaling attack (`ScalerKind::ALL`, OpenCV first), as `[{name, library:
/// "opencv" | "pillow", default}]`; exactly one is the default.
#[wasm_bindgen(js_name = listScalers)]
pub fn list_scalers() -> std::result::Result<JsValue, JsError> {
    let default = ScalingSpec::default().pipeline.scaler;
    let list: Vec<ScalerEntry> =
        ScalerKind::ALL.iter().map(|&k| ScalerEntry { name: k.name(), library: k.library(), default: k == default }).collect();
    serde_wasm_bindgen::to_value(&list).map_err(|e| JsError::new(&format!("cannot list the scalers: {e}")))
}

/// One menu entry.
#[derive(Serialize)]
struct Entry {
    name: &'static str,
    title: &'static str,
    default: bool,
}

/// An attack family with the settings that apply to it.
#[derive(Serialize)]
struct KindEntry {
    name: &'static str,
    title: &'static str,
    default: bool,
    uses_step_size: bool,
    uses_loss: bool,
    /// Its steps when none are given (SEA: its authors' 300 per loss).
    default_steps: usize,
    /// Whether it starts from a random point unless told otherwise.
    default_random_start: bool,
}

/// A ready-made attack for the page's menu: a name, a title that says what it is, and the
/// options (spec keys) it sets.
#[derive(Serialize)]
struct Preset {
    name: &'static str,
    title: &'static str,
    options: serde_json::Value,
}

/// The presets the page offers beside the families.
fn presets() -> Vec<Preset> {
    vec![
        Preset {
            name: "sea-quick",
            title: "SEA, quick preset: 20 steps per loss (the authors evaluate with 300)",
            options: serde_json::json!({"kind": "sea", "steps": 20}),
        },
        Preset {
            name: "worst-case",
            title: "Worst case of SEA, APGD-SegPGD and PGD-CosPGD (30 steps each)",
            options: serde_json::json!({"kind": "worst-case", "members": [
                {"kind": "sea", "steps": 30},
                {"kind": "apgd", "loss": "segpgd", "steps": 30},
                {"kind": "pgd", "loss": "cospgd", "steps": 30, "step_factor": 0.125},
            ]}),
        },
    ]
}

/// What the attack menus offer.
#[derive(Serialize)]
struct AttackCatalog {
    kinds: Vec<KindEntry>,
    losses: Vec<Entry>,
    /// The losses SEA runs.
    sea_losses: Vec<String>,
    /// Ready-made attacks (a short SEA, a worst case).
    presets: Vec<Preset>,
    /// Reconstruction defenses (`name` is the spec text, e.g. `jpeg:75`).
    reconstructions: Vec<Entry>,
}

/// The attack families (`AttackKind::ALL`), losses (`LossKind::ALL`) and reconstruction presets,
/// as `{kinds: [{name, title, default, uses_step_size, uses_loss, default_steps,
/// default_random_start}], losses: [{name, title, default}], sea_losses: [name], presets: [{name,
/// title, options}], reconstructions: [{name, title, default}]}`; `default` marks the spec's
/// defaults.
#[wasm_bindgen(js_name = listAttacks)]
pub fn list_attacks() -> std::result::Result<JsValue, JsError> {
    let d = AttackSpec::default();
    let catalog = AttackCatalog {
        kinds: AttackKind::ALL
            .iter()
            .map(|&k| KindEntry {
                name: k.name(),
                title: k.title(),
                default: k == d.kind,
                uses_step_size: k.uses_step_size(),
                uses_loss: k.uses_loss(),
                default_steps: AttackSpec { kind: k, ..AttackSpec::default() }.steps(),
                default_random_start: AttackSpec { kind: k, ..AttackSpec::default() }.random_start(),
            })
            .collect(),
        losses: LossKind::ALL.iter().map(|&l| Entry { name: l.name(), title: l.title(), default: l == d.loss }).collect(),
        sea_losses: LossKind::SEA.iter().map(ToString::to_string).collect(),
        presets: presets(),
        reconstructions: PRESETS.iter().map(|&(name, title)| Entry { name, title, default: false }).collect(),
    };
    serde_wasm_bindgen::to_value(&catalog).map_err(|e| JsError::new(&format!("cannot list the attacks: {e}")))
}

/// A `width × height` class map (`classes`, row-major) nearest-resized to `newWidth ×
/// newHeight`, as the core brings predicted maps to a label's size.
#[wasm_bindgen(js_name = resizeMap)]
pub fn resize_map(
    classes: &[u8],
    width: u32,
    height: u32,
    new_width: u32,
    new_height: u32,
) -> std::result::Result<Vec<u8>, JsError> {
    nearest_resize_map(classes, width as usize, height as usize, new_width as usize, new_height as usize).map_err(js_err)
}

#[wasm_bindgen]
impl Session {
    /// The size `[w, h]` the scaling attack hands this model (the downscaled image, and the
    /// size of its `wantedMap`): 256×256 where the model takes it, else its native size.
    #[wasm_bindgen(js_name = scalingInputSize)]
    pub fn scaling_input_size(&self) -> std::result::Result<Vec<u32>, JsError> {
        let (model, _) = crate::scaling::pipeline::resolve_sizes(self.inner.spec, &ScalingSpec::default().pipeline).map_err(js_err)?;
        Ok(vec![model.0 as u32, model.1 as u32])
    }
}
