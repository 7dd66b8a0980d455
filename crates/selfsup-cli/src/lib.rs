//! The `selfsup` program: argument parsing and printing over the library. The run configuration
//! (`RunConfig`), the data-driven defaults, datasets, view pipelines and the whole-run orchestration
//! (`run_config`) are `selfsup::run` (re-exported here under their old module names: [`config`],
//! [`data`], [`defaults`], [`folders`], [`views`], [`presets`], [`pictures`], [`run_dir`]).
//!
//! - [`pretrain`]: the flags of `selfsup pretrain`, flags → config, and the command itself;
//! - [`distributed`]: data-parallel `pretrain` (`--nproc-per-node`, torchrun/SLURM variables; the
//!   backend with the cargo feature `dist`);
//! - [`resume`]: `--resume` restores the run's own config and refuses contradicting flags;
//! - [`embed`]: `selfsup embed`, features of every file of a folder to safetensors / .npy / CSV;
//! - [`preview`]: `selfsup preview` for images (in colour) and audio (spectrograms);
//! - [`commands`]: `eval`, `preview`, `export` ([`pretext_preview`]: `preview --method <pretext
//!   task>`); [`text_eval`]: `eval --data`, the language-model loss
//!   of a text file; [`generate`]: sampling from a GPT run; [`doctor`]: the libtorch report.
//!
//! Commands write their results to stdout (this is the binary's side of the workspace) and their logs
//! through `tracing`.
#![allow(clippy::print_stdout)]

// The run configuration and orchestration live in the library (`selfsup::run`); the commands use
// them under their old paths.
pub use selfsup::run::{config, data, defaults, folders, pictures, presets, run_dir, views};

pub mod commands;
pub mod distributed;
pub mod doctor;
pub mod embed;
pub mod generate;
pub mod pretext_preview;
pub mod pretrain;
pub mod preview;
pub mod resume;
pub mod text_eval;
