//! [`Radius`]: a length in pixel units as written — a number (`0.03`) or a fraction
//! (`"8/255"`) — read from TOML, JSON and flags alike, and lists of them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Result;
use crate::util::parse_fraction;

/// A length in `[0, 1]` pixel units as written: a number (`0.03`) or a fraction (`"8/255"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Radius {
    /// Its value.
    pub value: f64,
    /// As written (kept for tables and reports).
    pub text: String,
}

impl Radius {
    /// Parse `8/255`, `0.03`; errors quote the text and name `what`.
    pub fn parse(text: &str, what: &str) -> Result<Radius> {
        Ok(Radius { value: parse_fraction(text, what)?, text: text.trim().to_string() })
    }

    /// A value without a written form.
    pub fn of(value: f64) -> Radius {
        Radius { value, text: format!("{value}") }
    }
}

impl Serialize for Radius {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// Reads a radius from a number or a text, or a list of them (serde's untagged enums would
/// hide the parse error, which quotes the bad value).
struct RadiusVisitor {
    many: bool,
}

impl<'de> serde::de::Visitor<'de> for RadiusVisitor {
    type Value = Vec<Radius>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.many { "a radius (8/255, 0.03) or a list of radii" } else { "a radius such as 8/255 or 0.03" })
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
        Ok(vec![Radius::of(v)])
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
        Ok(vec![Radius::of(v as f64)])
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
        Ok(vec![Radius::of(v as f64)])
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Radius::parse(v, "radius").map(|r| vec![r]).map_err(E::custom)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
        if !self.many {
            return Err(serde::de::Error::invalid_type(serde::de::Unexpected::Seq, &self));
        }
        let mut out = Vec::new();
        while let Some(r) = seq.next_element::<Radius>()? {
            out.push(r);
        }
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for Radius {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let mut v = d.deserialize_any(RadiusVisitor { many: false })?;
        Ok(v.remove(0))
    }
}


/// One radius as itself, several as a list.
pub(crate) fn one_or_list<S: Serializer>(v: &[Radius], s: S) -> std::result::Result<S::Ok, S::Error> {
    match v {
        [one] => one.serialize(s),
        many => many.serialize(s),
    }
}

pub(crate) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<Radius>, D::Error> {
    d.deserialize_any(RadiusVisitor { many: true })
}

