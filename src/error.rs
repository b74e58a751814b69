//! The crate's one error type.
//!
//! Every fallible public function returns [`Result<T>`]. Messages quote the offending value so a
//! user (CLI, browser banner) can act on them without reading the source.

use std::fmt;

/// Everything that can go wrong in advseg.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// An argument or configuration value is out of its valid range.
    InvalidArgument(String),
    /// An image could not be decoded, or is empty / too large.
    Image(String),
    /// A weights file is missing, truncated, has the wrong hash, or lacks a tensor.
    Weights(String),
    /// A model name that the zoo does not know, or an input size the model cannot take.
    Model(String),
    /// Tensors of incompatible shapes were combined.
    Shape(String),
    /// File system error, with the path involved.
    Io(String),
    /// A long-running operation was cancelled by its caller.
    Cancelled,
    /// A numerical solver failed to converge or reported infeasibility.
    Solver(String),
    /// A backend (device) could not be initialised or failed while computing.
    Backend(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::Image(m) => write!(f, "image error: {m}"),
            Error::Weights(m) => write!(f, "weights error: {m}"),
            Error::Model(m) => write!(f, "model error: {m}"),
            Error::Shape(m) => write!(f, "shape error: {m}"),
            Error::Io(m) => write!(f, "I/O error: {m}"),
            Error::Cancelled => write!(f, "cancelled"),
            Error::Solver(m) => write!(f, "solver error: {m}"),
            Error::Backend(m) => write!(f, "backend error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wrap an I/O error together with the path it concerns.
    pub fn io(path: impl AsRef<std::path::Path>, e: impl fmt::Display) -> Self {
        Error::Io(format!("{}: {e}", path.as_ref().display()))
    }
}
