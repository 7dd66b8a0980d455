//! The `selfsup` program's building blocks, as a library so that the examples reuse them:
//!
//! - [`config`]: the run configuration (`RunConfig`: data, augment, method, backbone, train, eval) with
//!   the MNIST (default), FSDD and text presets, and the search for the vendored `data/` folder;
//! - [`data`]: datasets and their train/held-out splits and loaders (a `selfsup_data::Loader` is the
//!   trainer's batch source as it is);
//! - [`views`]: the augmentation pipelines per recipe (images, audio, token views) and the evaluation
//!   pipelines;
//! - [`pretrain`]: flags → config, evaluation helpers (kNN + linear probe before/after), and the
//!   `pretrain` command itself;
//! - [`commands`]: `eval`, `preview`, `export`; [`generate`]: sampling from a GPT run; [`doctor`]: the
//!   libtorch report.
//!
//! Commands write their results to stdout (this is the binary's side of the workspace) and their logs
//! through `tracing`.
#![allow(clippy::print_stdout)]

pub mod commands;
pub mod config;
pub mod data;
pub mod doctor;
pub mod generate;
pub mod pictures;
pub mod presets;
pub mod pretrain;
pub mod views;
