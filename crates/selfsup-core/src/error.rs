//! The shared error type: every selfsup crate either uses it directly or wraps it in its own `Error`.
//!
//! Errors name what went wrong in terms a user can act on: the config field and its allowed range,
//! the file and the cause, the expected and the actual shape.

use std::path::PathBuf;

/// Result alias used throughout `selfsup-core` and the torch-free crates.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the torch-free part of selfsup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is outside its allowed range (the message names the range).
    #[error("invalid value for `{field}`: {message}")]
    InvalidConfig {
        /// Dotted path of the offending field, e.g. `color_jitter.brightness`.
        field: String,
        /// What is allowed, and what was given.
        message: String,
    },
    /// A sample or array does not have the shape an operation needs.
    #[error("shape error: {0}")]
    Shape(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// A file exists but its content could not be decoded (corrupt, truncated, unsupported).
    #[error("cannot decode {}: {message}", path.display())]
    Decode {
        /// The file concerned.
        path: PathBuf,
        /// The decoder's explanation.
        message: String,
    },
    /// A recorded parameter trace does not fit the pipeline it is replayed through.
    #[error("replay mismatch: {0}")]
    Replay(String),
    /// Anything else, with a full sentence of explanation.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// An [`Error::InvalidConfig`] for `field`.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An [`Error::Shape`].
    pub fn shape(message: impl Into<String>) -> Self {
        Error::Shape(message.into())
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Decode`] for `path`.
    pub fn decode(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Decode {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Validation helpers shared by every config in the workspace, so that messages look the same everywhere.
pub mod check {
    use super::{Error, Result};

    /// `value` must be finite and lie in `[lo, hi]`.
    pub fn in_range(field: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
        if value.is_finite() && value >= lo && value <= hi {
            Ok(())
        } else {
            Err(Error::config(
                field,
                format!("must be in [{lo}, {hi}], got {value}"),
            ))
        }
    }

    /// `value` must be a probability in `[0, 1]`.
    pub fn probability(field: &str, value: f64) -> Result<()> {
        in_range(field, value, 0.0, 1.0)
    }

    /// `value` must be finite and strictly positive.
    pub fn positive(field: &str, value: f64) -> Result<()> {
        if value.is_finite() && value > 0.0 {
            Ok(())
        } else {
            Err(Error::config(
                field,
                format!("must be a finite number > 0, got {value}"),
            ))
        }
    }

    /// `value` must be finite and `>= 0`.
    pub fn non_negative(field: &str, value: f64) -> Result<()> {
        if value.is_finite() && value >= 0.0 {
            Ok(())
        } else {
            Err(Error::config(
                field,
                format!("must be a finite number >= 0, got {value}"),
            ))
        }
    }

    /// An integer count must be at least `min`.
    pub fn at_least(field: &str, value: usize, min: usize) -> Result<()> {
        if value >= min {
            Ok(())
        } else {
            Err(Error::config(
                field,
                format!("must be >= {min}, got {value}"),
            ))
        }
    }

    /// `(lo, hi)` must satisfy `min <= lo <= hi <= max`, all finite.
    pub fn interval(field: &str, (lo, hi): (f64, f64), min: f64, max: f64) -> Result<()> {
        if lo.is_finite() && hi.is_finite() && min <= lo && lo <= hi && hi <= max {
            Ok(())
        } else {
            Err(Error::config(
                field,
                format!("must be an interval (lo, hi) with {min} <= lo <= hi <= {max}, got ({lo}, {hi})"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_the_field_and_the_range() {
        let e = check::probability("random_apply.p", 1.5).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("random_apply.p"), "{text}");
        assert!(text.contains("[0, 1]"), "{text}");
        assert!(check::probability("p", f64::NAN).is_err());
        assert!(check::interval("scale", (0.5, 0.2), 0.0, 1.0).is_err());
        assert!(check::interval("scale", (0.2, 0.5), 0.0, 1.0).is_ok());
        assert!(check::positive("sigma", 0.0).is_err());
        assert!(check::at_least("size", 0, 1).is_err());
    }
}
