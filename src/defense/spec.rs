//! [`DefenseSpec`]: the one description of a defense that every front end becomes — an
//! experiment's `[[defenses]]` entry, an attack spec's `defense`, the page's defense options.
//!
//! ```toml
//! name = "jpeg-ms"
//! reconstruct = "jpeg:75,median:3"         # or a list: ["jpeg:75", "median:3"]
//! multiscale = { scales = [0.5, 0.75, 1.0, 1.25], flip = true, combine = "mean" }
//! adaptive = true                          # also craft against the defended model (EOT / BPDA)
//! ```

use serde::{Deserialize, Deserializer, Serialize};

use super::config::DefenseConfig;
use super::multiscale::{Combine, MultiScaleConfig};
use super::reconstruct::{Pipeline, Reconstruction};
use crate::error::{Error, Result};

fn steps<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Text(t) if t.trim().is_empty() || t.trim().eq_ignore_ascii_case("none") => Vec::new(),
        Raw::Text(t) => t.split(',').map(|s| s.trim().to_string()).collect(),
        Raw::List(v) => v,
    })
}

/// Multi-scale settings (absent fields take [`MultiScaleConfig`]'s defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MultiScaleSpec {
    /// Scales relative to the input size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scales: Option<Vec<f64>>,
    /// Mirror too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flip: Option<bool>,
    /// `mean` or `max`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub combine: Option<Combine>,
}

/// One defense (serde; absent keys take their defaults, unknown keys are errors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefenseSpec {
    /// A name for tables (experiment files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Reconstruction steps in order, e.g. `jpeg:75`, `median:3`, `bits:4`, `gauss:1`, `tv:0.08`.
    #[serde(deserialize_with = "steps")]
    pub reconstruct: Vec<String>,
    /// Multi-scale inference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multiscale: Option<MultiScaleSpec>,
    /// Also attack the defended model itself (EOT through the scales, BPDA through the
    /// reconstructions).
    pub adaptive: bool,
}

impl Default for DefenseSpec {
    fn default() -> Self {
        DefenseSpec { name: None, reconstruct: Vec::new(), multiscale: None, adaptive: true }
    }
}

impl DefenseSpec {
    /// The defense it describes, every value checked (errors quote it).
    pub fn config(&self) -> Result<DefenseConfig> {
        let pipeline = Pipeline(self.reconstruct.iter().map(|s| s.parse::<Reconstruction>()).collect::<Result<_>>()?);
        let multiscale = self.multiscale.as_ref().map(|m| {
            let mut c = MultiScaleConfig::new();
            if let Some(s) = &m.scales {
                c.scales = s.clone();
            }
            if let Some(f) = m.flip {
                c.flip = f;
            }
            if let Some(k) = m.combine {
                c.combine = k;
            }
            c
        });
        if pipeline.is_empty() && multiscale.is_none() {
            return Err(Error::InvalidArgument(format!(
                "defense '{}' does nothing: give reconstruct or multiscale",
                self.label()
            )));
        }
        let cfg = DefenseConfig::new().with_reconstruct(pipeline).with_multiscale(multiscale);
        cfg.validate()?;
        Ok(cfg)
    }

    /// The name, else the configuration's own label.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => match self.reconstruct.is_empty() {
                true if self.multiscale.is_some() => "multi-scale".into(),
                _ => self.reconstruct.join("+"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_list_forms_agree_and_errors_quote() {
        let a: DefenseSpec = serde_json::from_str(r#"{"reconstruct": "jpeg:75,median:3"}"#).unwrap();
        let b: DefenseSpec = serde_json::from_str(r#"{"reconstruct": ["jpeg:75", "median:3"]}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.config().unwrap().reconstruct.to_string(), "jpeg:75+median:3");
        assert!(a.adaptive);
        let e = serde_json::from_str::<DefenseSpec>(r#"{"reconstruct": "jpeg:75", "colour": 1}"#).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
        let none: DefenseSpec = serde_json::from_str(r#"{"name": "x"}"#).unwrap();
        assert!(none.config().unwrap_err().to_string().contains("'x' does nothing"));
        let ms: DefenseSpec = serde_json::from_str(r#"{"multiscale": {"scales": [0.5, 1.0], "flip": false}}"#).unwrap();
        let c = ms.config().unwrap().multiscale.unwrap();
        assert_eq!((c.scales, c.flip), (vec![0.5, 1.0], false));
        let bad: DefenseSpec = serde_json::from_str(r#"{"reconstruct": "unicorn:9"}"#).unwrap();
        assert!(bad.config().unwrap_err().to_string().contains("unicorn"));
    }
}
