//! Numbers written as fractions (`8/255`), as every front end accepts them for ε and step sizes.

use crate::error::{Error, Result};

/// A number or a fraction: `8/255`, `0.03`, `4 / 255`. `what` names the value in the error.
pub fn parse_fraction(s: &str, what: &str) -> Result<f64> {
    let bad = || Error::InvalidArgument(format!("{what} '{s}' is not a number or a fraction such as 8/255"));
    let v = match s.split_once('/') {
        Some((a, b)) => {
            let (a, b): (f64, f64) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
            if b == 0.0 {
                return Err(bad());
            }
            a / b
        }
        None => s.trim().parse().map_err(|_| bad())?,
    };
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_parse() {
        assert!((parse_fraction("8/255", "eps").unwrap() - 8.0 / 255.0).abs() < 1e-15);
        assert_eq!(parse_fraction(" 0.5 ", "eps").unwrap(), 0.5);
        assert!(parse_fraction("1/0", "--eps").unwrap_err().to_string().contains("--eps '1/0'"));
        assert!(parse_fraction("abc", "eps").is_err());
    }
}
