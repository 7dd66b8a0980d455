//! # selfsup-autoencoder
//!
//! Auto-associative self-supervised learning: plain, denoising and sparse autoencoders, the VAE /
//! β-VAE, and the masked autoencoder (with its Audio-MAE variant). Each model is a
//! [`selfsup_nn::Method`] whose step is a reconstruction loss, so the trainer runs it like any
//! contrastive method; `embed` gives the encoder features for kNN and linear probes, and each model
//! has an inherent `reconstruct` (input → reconstruction in input space) for pictures.
//!
//! ## Design
//! - [`AutoencoderConfig`] (`[method]`, `kind = "ae" | "dae" | "sparse_ae" | "vae" | "mae"`) is the
//!   family's one serde enum; [`AutoencoderConfig::check_input`] checks it against the backbone and
//!   the sample shape before anything is built, [`AutoencoderConfig::build_in`] builds the model; it
//!   implements [`selfsup_nn::MethodSpec`] (built from `InputSpec::shape`), so the facade's
//!   `MethodConfig` and the CLI treat it like any other family.
//! - Besides `step` and `embed`, every model implements [`selfsup_nn::Method::reconstruct`] (input →
//!   reconstruction; for the MAE the prediction with the visible patches pasted in) and
//!   [`selfsup_nn::Method::evaluate`] (`val_recon`, plus `val_kl`/`val_loss` for the VAE and
//!   `val_sparsity` for the sparse AE). The MAE's `(masked, reconstruction, original)` triplets
//!   ([`Mae::reconstruct_masked`]) and the VAE's [`Vae::sample`] / [`Vae::interpolate`] are inherent.
//! - Encoders are the workspace's backbones ([`selfsup_nn::build_backbone`], under `backbone.*`, so
//!   `selfsup export` and the probes find them); decoders mirror them ([`decoder`]: MLP, or
//!   upsampling + convolutions to the input shape). The MAE has its own ViT because it encodes the
//!   visible patches only (timm's parameter names, also under `backbone.*`).
//! - Corruption for the DAE happens in the loader as keyed `selfsup-augment` transforms
//!   ([`dae_image_pipeline`], [`dae_audio_pipeline`]; [`view_pipeline`] picks the right pipeline);
//!   the model reads `views[0]` (corrupted) and reconstructs `views[1]` (clean).
//! - Torch-side randomness (the VAE's ε, the MAE's masking noise) comes from libtorch's generator,
//!   which the trainer reseeds from `(seed, step)` each step, so a resumed run replays exactly.
//! - [`write_pictures`] ([`pictures`]) draws what a model makes of a few inputs as PNGs (input |
//!   corrupted | reconstruction, the MAE's masked | reconstruction | original, VAE samples and an
//!   interpolation strip, spectrogram panels for audio); the CLI calls it at every evaluation.
//! - Losses are logged separately: `recon` always, `kl` (VAE), `sparsity` (sparse AE).
//! - Audio is a matter of sample shape: `[F,T]` log-mels train every kind (the log-mel AE with the
//!   `audio_cnn` or `mlp` backbone; Audio-MAE = `mae` with `patch_size × patch_width` patches,
//!   [`MaeConfig::audio`]).
//!
//! | kind | model | file |
//! | --- | --- | --- |
//! | `ae` | [`Autoencoder`] | [`ae`] |
//! | `dae` | [`Autoencoder`] on `[corrupted, clean]` | [`dae`] |
//! | `sparse_ae` | [`Autoencoder`] + L1 / KL sparsity | [`sparse`] |
//! | `vae` | [`Vae`] | [`vae`] |
//! | `mae` | [`Mae`] | [`mae`] |
//!
//! ## Example
//! (A doc-test that runs: `cargo xtask test` puts libtorch on the library path for it.)
//! ```
//! use selfsup_autoencoder::AutoencoderConfig;
//! use selfsup_nn::{BackboneConfig, Batch, StepInfo};
//! use tch::{nn::VarStore, Device, Kind, Tensor};
//!
//! let cfg: AutoencoderConfig = serde_json::from_str(r#"{"kind": "mae", "mask_ratio": 0.75}"#).unwrap();
//! let mut model = cfg
//!     .build_in(VarStore::new(Device::Cpu), &BackboneConfig::default(), &[1, 28, 28])
//!     .unwrap();
//! let x = Tensor::rand([8, 1, 28, 28], (Kind::Float, Device::Cpu));
//! let batch = Batch { views: vec![x.shallow_clone()], labels: None, targets: None, indices: None };
//! let info = StepInfo { step: 0, total_steps: 1, epoch: 0, total_epochs: 1 };
//! let out = model.step(&batch, &info).unwrap(); // out.loss: masked-patch MSE; out.scalars: [("recon", …)]
//! let features = model.embed(&x).unwrap(); // 8 × 128 class tokens
//! assert_eq!(features.size()[0], 8);
//! assert!(out.loss.double_value(&[]).is_finite());
//! ```
//!
//! ## Must never depend on
//! `selfsup-train` (the trainer depends on methods, not the other way round). It uses the torch-free
//! `selfsup-augment` and `selfsup-data` only to build the DAE's loader pipeline.

pub mod ae;
pub mod common;
pub mod config;
pub mod dae;
pub mod decoder;
pub mod mae;
pub mod pictures;
pub mod sparse;
pub mod vae;

pub use ae::{AeConfig, Autoencoder};
pub use common::ReconLoss;
pub use config::{view_pipeline, AutoencoderConfig, AutoencoderSpec};
pub use dae::{dae_audio_pipeline, dae_image_pipeline, Corruption, DaeConfig};
pub use decoder::{DecoderConfig, DecoderKind};
pub use mae::{Mae, MaeConfig, Pool};
pub use pictures::write_pictures;
pub use sparse::{SparseAeConfig, SparsityPenalty};
pub use vae::{Vae, VaeConfig};
