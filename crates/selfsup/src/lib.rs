//! # selfsup
//!
//! Self-supervised learning in Rust. This facade only re-exports the workspace crates behind features,
//! so one dependency gives the whole toolkit while single crates stay importable alone:
//!
//! | module | crate | needs libtorch |
//! | --- | --- | --- |
//! | [`core`] | `selfsup-core`: samples, `Transform`, keyed RNG, errors | no |
//! | `augment` | `selfsup-augment`: image and audio augmentation, recipes | no |
//! | `data` | `selfsup-data`: datasets and the multi-view loader | no |
//! | `pretext` | `selfsup-pretext`: pretext-task generators | no (its `torch` feature adds heads) |
//! | `nn` | `selfsup-nn`: backbones, heads, tensor bridge, `Method` | yes |
//! | `contrastive` | `selfsup-contrastive`: losses, memory bank, methods | yes |
//! | `autoencoder` | `selfsup-autoencoder`: AE, VAE, MAE | yes |
//! | `train` | `selfsup-train`: trainer, optimizers, checkpoints, evaluation | yes |
//! | [`methods`] | every method family united in one [`methods::MethodConfig`] | yes |
//! | [`run`] | whole runs: `RunConfig` (one TOML file) and `run_config` (data → loader → method → trainer → evaluation → run folder) | yes |
//!
//! Besides the re-exports, the facade holds the code that needs every family at once, so no single
//! family crate can hold it: [`methods::MethodConfig`], the registry that routes a `[method]` table to
//! the family crate owning its `kind`, and [`run`], the whole-run configuration and orchestration that
//! the `selfsup` program and the examples use.

pub use selfsup_core as core;

#[cfg(feature = "augment")]
pub use selfsup_augment as augment;
#[cfg(feature = "torch")]
pub use selfsup_autoencoder as autoencoder;
#[cfg(feature = "torch")]
pub use selfsup_contrastive as contrastive;
#[cfg(feature = "data")]
pub use selfsup_data as data;
#[cfg(feature = "torch")]
pub use selfsup_nn as nn;
#[cfg(feature = "pretext")]
pub use selfsup_pretext as pretext;
#[cfg(feature = "torch")]
pub use selfsup_train as train;
#[cfg(feature = "torch")]
pub mod methods;
#[cfg(feature = "torch")]
pub mod run;
/// libtorch's Rust binding, as the `torch` crates use it (`selfsup::tch::Device`, `Tensor`), so
/// that a program depending on `selfsup` alone can name devices and tensors.
#[cfg(feature = "torch")]
pub use tch;

/// The README's code blocks, compiled and run as this crate's doc-tests, so that the quick-starts
/// there cannot drift from the API (the library loop is `no_run`: it needs the vendored data and
/// minutes of training).
#[cfg(all(doctest, feature = "torch"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
