//! # selfsup-nn
//!
//! The tch (libtorch) building blocks shared by every training-side crate:
//!
//! - [`bridge`]: ndarray batches from `selfsup-data` → `tch::Tensor` on a device, and back.
//! - [`method`]: the one [`Method`] trait that contrastive, autoencoder and pretext methods implement
//!   and the trainer drives (a reconstruction loss or a pseudo-label loss is just another `step`).
//! - [`family`]: [`method_family!`], the macro that makes a method family's config enum and its
//!   [`MethodSpec`] from one line per method.
//! - [`collectives`]: the [`Collectives`] seam a distributed backend (`selfsup-dist`) implements, and
//!   [`DataParallel`], what a method's step computes on several processes.
//! - [`mlp`]: the MLP backbone/head; the other backbones (ConvNet, ResNet, ViT, audio encoders,
//!   Transformer) and heads (projection/prediction MLPs, EMA) live beside it.
//!
//! ## Design
//! Modules are built on a `tch::nn::Path` (`p / "layer1" / "0" / "conv1"`); those paths are the
//! checkpoint names, so they are stable and mirror torchvision where a torchvision model exists. A
//! method keeps *all* of its state — trainable weights, BN statistics, EMA target weights, queues and
//! centres — in its `VarStore` (non-trainable state as non-trainable variables), so a checkpoint is the
//! VarStore plus the optimizer state, and nothing is forgotten on resume.
//!
//! ## Must never depend on
//! `selfsup-data`, `selfsup-train` or the CLI: data flows in as ndarray/tensors; training policy lives
//! in `selfsup-train`.

pub mod backbones;
pub mod bridge;
pub mod collectives;
pub mod ema;
pub mod family;
pub mod heads;
pub mod layers;
pub mod method;
pub mod mlp;

pub use backbones::{build_backbone, Backbone, BackboneConfig, BackboneKind};
pub use ema::{build_frozen, copy_prefix, cosine_momentum, ema_update, set_trainable};
pub use heads::{LinearClassifier, ProjectionHead};

pub use bridge::{array_to_tensor, host_to_device, tensor_to_array};
pub use collectives::{Collectives, DataParallel, Reduction, SingleProcess};
pub use method::{Batch, InputSpec, Method, MethodSpec, StepInfo, StepOutput};
pub use mlp::{Mlp, MlpConfig};

/// Errors of the tch-side crates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the torch-free core (config, shape, ...).
    #[error(transparent)]
    Core(#[from] selfsup_core::Error),
    /// An error raised by libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A collective failed: a peer died or timed out, the ranks disagree, or the backend is
    /// missing (the message says which).
    #[error("distributed: {0}")]
    Distributed(String),
    /// A loss became NaN or infinite.
    #[error("non-finite loss at step {step}: {value}")]
    NonFinite {
        /// The global step.
        step: u64,
        /// The loss value.
        value: f64,
    },
}

/// Result alias of the tch-side crates.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The device to train on: `"cpu"`, `"cuda"` (first GPU) or `"cuda:N"`.
pub fn parse_device(spec: &str) -> Result<tch::Device> {
    match spec {
        "cpu" => Ok(tch::Device::Cpu),
        "cuda" | "gpu" => {
            if tch::Cuda::is_available() {
                Ok(tch::Device::Cuda(0))
            } else {
                Err(selfsup_core::Error::config(
                    "device",
                    "`cuda` asked for, but libtorch sees no CUDA device (see `selfsup doctor`)",
                )
                .into())
            }
        }
        s if s.starts_with("cuda:") => {
            let n: usize = s[5..].parse().map_err(|_| {
                selfsup_core::Error::config(
                    "device",
                    format!("expected cpu, cuda or cuda:N, got `{s}`"),
                )
            })?;
            if n < tch::Cuda::device_count() as usize {
                Ok(tch::Device::Cuda(n))
            } else {
                Err(selfsup_core::Error::config(
                    "device",
                    format!(
                        "`{s}` asked for, but libtorch sees {} CUDA device(s)",
                        tch::Cuda::device_count()
                    ),
                )
                .into())
            }
        }
        other => Err(selfsup_core::Error::config(
            "device",
            format!("expected cpu, cuda or cuda:N, got `{other}`"),
        )
        .into()),
    }
}
