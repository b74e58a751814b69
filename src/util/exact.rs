//! `f64` values that survive a JSON round trip bit for bit (serde_json's default float parser
//! may be off by one ulp): written as their shortest round-trip decimal text (`"0.1"`, `"inf"`),
//! read back with Rust's correctly rounded parser. Used where merged results must equal a
//! single run's exactly (experiment shards).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An `f64` serialised as exact text.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Exact(pub f64);

impl Serialize for Exact {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Exact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<f64>().map(Exact).map_err(|e| serde::de::Error::custom(format!("'{text}' is not a number: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_bit_for_bit() {
        let hard = [0.1, 1.0 / 3.0, 0.123_456_789_012_345_67, 5e-324, f64::MAX, f64::INFINITY, -0.0, 0.9876543210987654];
        for v in hard {
            let text = serde_json::to_string(&Exact(v)).unwrap();
            let back: Exact = serde_json::from_str(&text).unwrap();
            assert_eq!(back.0.to_bits(), v.to_bits(), "{v} via {text}");
        }
        assert!(serde_json::from_str::<Exact>("\"abc\"").unwrap_err().to_string().contains("'abc'"));
    }
}
