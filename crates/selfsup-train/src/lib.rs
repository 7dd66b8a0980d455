//! # selfsup-train
//!
//! The trainer over any [`selfsup_nn::Method`]: optimizers with their own saved state, LR and momentum
//! schedules, atomic checkpoints with exact resume, NaN guards, metrics (JSONL/CSV/PNG), progress
//! display, and the downstream evaluations (kNN, linear probe, fine-tuning).
//!
//! ## Design
//! - [`Trainer`] drives one [`selfsup_nn::Method`] over a [`BatchSource`] (the data loader, seen through
//!   a small trait so that this crate does not depend on how batches are made). One *step* is one
//!   optimizer step; with gradient accumulation it consumes `grad_accum` micro-batches.
//! - [`optim::Optimizer`] implements SGD, Adam, AdamW and LARS with tch tensor ops under `no_grad`. Its
//!   state (momentum buffers, moments, step counts) is ours, named by parameter, and goes into every
//!   checkpoint, which tch's built-in optimizers cannot offer.
//! - [`schedule`] holds per-step learning-rate schedules (constant, step, linear warmup + cosine), the
//!   EMA momentum schedule and the teacher-temperature schedule.
//! - [`checkpoint`] writes one safetensors file per checkpoint (weights under `model/`, optimizer state
//!   under `optim/`, and the run state as JSON metadata) through a temporary file, `fsync` and `rename`,
//!   so a crash never leaves a half-written checkpoint under a final name.
//! - Exact resume: the loader replays an epoch from any batch (`BatchSource::epoch_from`), torch's global
//!   generator is re-seeded before every step from `(seed, step)`, and all state is in the checkpoint,
//!   so an interrupted-and-resumed run computes bit-identical losses (tested).
//! - [`run_dir`] locks a run folder to one process (`flock`, released by the kernel when the holder
//!   dies) and removes the temporary files of writes that a kill or a full disk cut short.
//! - [`metrics`] writes `metrics.jsonl`, `metrics.csv` and a TensorBoard event file ([`tensorboard`])
//!   and draws PNG curves; [`eval`] has kNN, the
//!   linear probe, fine-tuning and embedding export; [`export`] traces the encoder to TorchScript.
//!
//! - [`memory`]: the trainer makes glibc's `malloc` keep freed blocks (`train.keep_freed_memory`), so
//!   the step's buffers are reused instead of being page-faulted in again every step.
//! - [`precision`]: bf16 autocast on the CPU ([`precision::AutocastGuard`], `train.precision`)
//!   around each training step's forward pass and loss, through a small C++ shim (`build.rs`).
//! - [`data_parallel`]: data-parallel training through [`Trainer::with_collectives`] over any
//!   `selfsup_nn::Collectives` (the c10d backend is `selfsup-dist`, which this crate does not depend on).
//!
//! ## Must never depend on
//! `selfsup-cli` or `selfsup-dist`; it never prints (progress bars and logs go through `indicatif`/`tracing`, which the
//! binary configures).

pub mod checkpoint;
pub mod config;
pub mod data_parallel;
pub mod eval;
pub mod export;
mod fused;
pub mod memory;
pub mod metrics;
pub mod optim;
pub mod plot;
pub mod precision;
pub mod progress;
pub mod run_dir;
pub mod schedule;
pub mod tensorboard;
pub mod trainer;

pub use checkpoint::{Checkpoint, Checkpointer, RunState};
pub use config::{
    CheckpointConfig, LrScaling, OptimizerConfig, OptimizerKind, Precision, ProgressMode,
    ScheduleConfig, ScheduleKind, TrainConfig,
};
pub use optim::Optimizer;
/// The batch types the trainer consumes (defined in the torch-free `selfsup-core`).
pub use selfsup_core::{BatchSource, HostBatch, Targets};
pub use trainer::{install_ctrlc_handler, stop_requested, GradHook, Outcome, StepRecord, Trainer};

use std::path::PathBuf;

/// Errors of the trainer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A config, shape or I/O error from the torch-free core.
    #[error(transparent)]
    Core(#[from] selfsup_core::Error),
    /// An error from the tch-side crates (methods, bridge).
    #[error(transparent)]
    Nn(#[from] selfsup_nn::Error),
    /// An error raised by libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// The loss (or the gradient norm) became NaN or infinite.
    #[error("non-finite {what} at step {step}: {value}; stopped. Last good checkpoint: {}",
        last_checkpoint.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into()))]
    NonFinite {
        /// What was not finite (`loss`, `grad_norm`).
        what: &'static str,
        /// The global step (0-based) at which it happened.
        step: u64,
        /// The value.
        value: f64,
        /// The last checkpoint written before, left untouched.
        last_checkpoint: Option<PathBuf>,
    },
    /// A parameter, buffer (e.g. BatchNorm `running_var`) or optimizer state held NaN or inf when a
    /// checkpoint was due; nothing was written.
    #[error("non-finite values in `{name}` after step {step} (parameters, buffers and optimizer state are checked before every checkpoint); stopped without writing one. Last good checkpoint: {}",
        last_checkpoint.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into()))]
    NonFiniteState {
        /// The variable (`optim/...` for optimizer state).
        name: String,
        /// Steps completed.
        step: u64,
        /// The last checkpoint written before, left untouched.
        last_checkpoint: Option<PathBuf>,
    },
    /// A Ctrl-C or SIGTERM arrived during an evaluation (see [`trainer::stop_requested`]).
    #[error("interrupted (Ctrl-C or SIGTERM) during {0}")]
    Interrupted(&'static str),
    /// A checkpoint could not be read or does not fit the model.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    pub(crate) fn ckpt(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Checkpoint {
            path: path.into(),
            message: message.into(),
        }
    }
    pub(crate) fn io(path: impl Into<PathBuf>, e: std::io::Error) -> Self {
        Error::Core(selfsup_core::Error::io(path, e))
    }
}

/// Result alias of the trainer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
