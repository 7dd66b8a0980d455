//! The `selfsup` program's building blocks, as a library so that the examples reuse them:
//!
//! - [`config`]: the run configuration (`RunConfig`: data, augment, method, backbone, train, eval) with
//!   the MNIST (default), FSDD and text presets, and the search for the vendored `data/` folder;
//! - [`defaults`]: recipe, image size, backbone and online probe chosen from the data when not set;
//! - [`data`]: datasets and their train/held-out splits and loaders (a `selfsup_data::Loader` is the
//!   trainer's batch source as it is);
//! - [`folders`]: image/audio folders: the train/val layout, `--val-data`, unlabelled folders;
//! - [`views`]: the augmentation pipelines per recipe (images, audio, token views) and the evaluation
//!   pipelines;
//! - [`pretrain`]: flags → config, evaluation helpers (kNN + linear probe before/after), and the
//!   `pretrain` command itself;
//! - [`presets`]: the auto-encoders' per-method presets; [`pictures`]: their evaluation pictures;
//! - [`distributed`]: data-parallel `pretrain` (`--nproc-per-node`, torchrun/SLURM variables; the
//!   backend with the cargo feature `dist`);
//! - [`run_dir`]: checks on the run folder before a run (not inside the dataset folder);
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

pub mod commands;
pub mod config;
pub mod data;
pub mod defaults;
pub mod distributed;
pub mod doctor;
pub mod embed;
pub mod folders;
pub mod generate;
pub mod pictures;
pub mod presets;
pub mod pretext_preview;
pub mod pretrain;
pub mod preview;
pub mod resume;
pub mod run_dir;
pub mod text_eval;
pub mod views;
