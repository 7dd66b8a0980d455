//! Pieces every model shares: the reconstruction losses, the input-shape checks done before any
//! forward pass, and the way a batch of `N×F×T` spectrograms is given a channel axis.

use selfsup_core::Error;
use selfsup_nn::{BackboneConfig, Batch, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor};

/// The reconstruction objective.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconLoss {
    /// Squared error on values (any range: images, standardised log-mels).
    #[default]
    Mse,
    /// Binary cross-entropy on logits (targets in `[0, 1]`, e.g. MNIST pixels); the decoder outputs
    /// logits and [`reconstruct`](crate::Autoencoder::reconstruct) applies the sigmoid.
    Bce,
}

impl ReconLoss {
    /// Per-element mean over the batch (PyTorch's `reduction="mean"`).
    pub fn mean(self, out: &Tensor, target: &Tensor) -> Tensor {
        match self {
            ReconLoss::Mse => out.mse_loss(target, Reduction::Mean),
            ReconLoss::Bce => {
                out.binary_cross_entropy_with_logits::<Tensor>(target, None, None, Reduction::Mean)
            }
        }
    }

    /// Summed over the elements of each sample, averaged over the batch (pytorch/examples' VAE sums
    /// over the batch too; dividing by `N` keeps the learning rate independent of the batch size).
    pub fn sum_per_sample(self, out: &Tensor, target: &Tensor) -> Tensor {
        let n = out.size().first().copied().unwrap_or(1).max(1) as f64;
        let total = match self {
            ReconLoss::Mse => out.mse_loss(target, Reduction::Sum),
            ReconLoss::Bce => {
                out.binary_cross_entropy_with_logits::<Tensor>(target, None, None, Reduction::Sum)
            }
        };
        total / n
    }

    /// The decoder output as a reconstruction in input space (sigmoid of the logits for BCE).
    pub fn to_values(self, out: &Tensor) -> Tensor {
        match self {
            ReconLoss::Mse => out.shallow_clone(),
            ReconLoss::Bce => out.sigmoid(),
        }
    }
}

/// `(channels, height, width)` of an image-like sample shape: `[C,H,W]`, or `[F,T]` read as one
/// channel; `None` for vectors (`[D]`).
pub fn image_dims(shape: &[i64]) -> Option<(i64, i64, i64)> {
    match shape {
        [c, h, w] => Some((*c, *h, *w)),
        [h, w] => Some((1, *h, *w)),
        _ => None,
    }
}

/// The `i`-th view of a batch, or an error naming the method and how many views it needs.
pub(crate) fn view<'a>(
    batch: &'a Batch,
    i: usize,
    method: &str,
    need: usize,
) -> Result<&'a Tensor> {
    batch.views.get(i).ok_or_else(|| {
        Error::config(
            "views",
            format!(
                "{method} needs {need} view(s) per batch, got {}",
                batch.views.len()
            ),
        )
        .into()
    })
}

/// Errors unless `x` is a batch of samples of exactly `shape`.
pub(crate) fn check_shape(x: &Tensor, shape: &[i64], method: &str) -> Result<()> {
    let s = x.size();
    if s.len() != shape.len() + 1 || &s[1..] != shape {
        return Err(Error::shape(format!(
            "{method} was built for samples of shape {shape:?}, got a batch of shape {s:?}"
        ))
        .into());
    }
    Ok(())
}

/// Whether a backbone reads `N×C×H×W` and so needs the channel axis added to `N×F×T` spectrograms.
pub(crate) fn needs_channel_axis(backbone: &BackboneConfig, shape: &[i64]) -> bool {
    shape.len() == 2
        && matches!(
            backbone,
            BackboneConfig::ConvNet(_)
                | BackboneConfig::ResNet18(_)
                | BackboneConfig::ResNet34(_)
                | BackboneConfig::ResNet50(_)
                | BackboneConfig::Vit(_)
        )
}

/// Checks that `backbone` can read samples of `shape` (config errors naming the field).
pub fn check_backbone_geometry(
    backbone: &BackboneConfig,
    shape: &[i64],
) -> selfsup_core::Result<()> {
    let numel: i64 = shape.iter().product();
    if shape.is_empty() || shape.iter().any(|&d| d < 1) {
        return Err(Error::config(
            "input.shape",
            format!("every dimension must be ≥ 1, got {shape:?}"),
        ));
    }
    match backbone {
        BackboneConfig::Mlp(c) if c.input_dim != numel => Err(Error::config(
            "backbone.input_dim",
            format!(
                "must equal the number of values of one sample ({numel} for shape {shape:?}), got {}",
                c.input_dim
            ),
        )),
        BackboneConfig::Vit(c) => match image_dims(shape) {
            Some((_, h, w)) if h == c.image_size && w == c.image_size => Ok(()),
            _ => Err(Error::config(
                "backbone.image_size",
                format!(
                    "the vit backbone reads {0}×{0} images, but the samples have shape {shape:?}",
                    c.image_size
                ),
            )),
        },
        BackboneConfig::ConvNet(_)
        | BackboneConfig::AudioCnn(_)
        | BackboneConfig::ResNet18(_)
        | BackboneConfig::ResNet34(_)
        | BackboneConfig::ResNet50(_)
            if image_dims(shape).is_none() =>
        {
            Err(Error::config(
                "backbone.kind",
                format!("a 2-D convolutional backbone needs [C,H,W] or [F,T] samples, got {shape:?}"),
            ))
        }
        BackboneConfig::Conv1d(_) | BackboneConfig::TransformerEncoder(_) => Err(Error::config(
            "backbone.kind",
            "the autoencoders reconstruct images, spectrograms or vectors: use mlp, conv_net, \
             resnet18/34/50, vit or audio_cnn",
        )),
        _ => Ok(()),
    }
}

/// Input channels the backbone sees for samples of `shape`.
pub(crate) fn in_channels(shape: &[i64]) -> i64 {
    image_dims(shape).map(|(c, _, _)| c).unwrap_or(1)
}

/// Mean of a scalar tensor as `f64` (for the logged scalars).
pub(crate) fn scalar(t: &Tensor) -> f64 {
    t.detach().to_kind(Kind::Double).double_value(&[])
}
