//! The error type of `selfsup-dist`.

use std::path::PathBuf;

/// Errors of the distributed layer. Every failure of libtorch's c10d (a dead peer, a timeout, a
/// shape mismatch between ranks) arrives as [`Error::Backend`] with c10d's message; nothing aborts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A c10d store or collective failed (message from libtorch, without its C++ stack trace).
    #[error("c10d {op}: {message}")]
    Backend {
        /// The operation that failed (`all_reduce`, `FileStore`, ...).
        op: &'static str,
        /// libtorch's message.
        message: String,
    },
    /// Invalid configuration or environment (names the field or variable).
    #[error(transparent)]
    Core(#[from] selfsup_core::Error),
    /// An error from a tch operation around a collective.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// Launching or waiting for worker processes failed.
    #[error("worker {rank}: {message}")]
    Worker {
        /// The worker's rank.
        rank: usize,
        /// What happened (exit status, spawn error).
        message: String,
    },
    /// An I/O error on a path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A configuration error naming `field` (a config field or environment variable).
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Core(selfsup_core::Error::config(field, message))
    }
}

impl From<selfsup_nn::Error> for Error {
    fn from(e: selfsup_nn::Error) -> Self {
        match e {
            selfsup_nn::Error::Core(c) => Error::Core(c),
            selfsup_nn::Error::Torch(t) => Error::Torch(t),
            other => Error::Backend {
                op: "method",
                message: other.to_string(),
            },
        }
    }
}

impl From<Error> for selfsup_nn::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Core(c) => selfsup_nn::Error::Core(c),
            Error::Torch(t) => selfsup_nn::Error::Torch(t),
            other => selfsup_nn::Error::Distributed(other.to_string()),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
