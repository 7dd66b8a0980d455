//! Backbones (encoders): every one is a [`tch::nn::ModuleT`] that maps a batch to `N × output_dim`
//! features, reports [`Backbone::output_dim`], and is configured from serde through [`BackboneConfig`].
//!
//! | kind | input | module |
//! | --- | --- | --- |
//! | `mlp` | anything, flattened to `N × input_dim` | [`crate::Mlp`] |
//! | `conv_net` | `N×C×H×W` | [`ConvNet`]: blocks of conv3×3-BN-ReLU-maxpool, global average pool |
//! | `resnet18/34/50` | `N×C×H×W` | [`ResNet`] with torchvision's parameter names, ImageNet or CIFAR stem |
//! | `vit` | `N×C×H×W` | [`Vit`]: patch embedding, pre-norm Transformer, class token |
//! | `audio_cnn` | `N×1×mels×frames` or `N×mels×frames` (log-mel) | [`ConvNet`] over the spectrogram |
//! | `conv1d` | `N×1×T` (waveform) | [`Conv1dNet`] |
//! | `transformer_encoder` | `N×L` int64 token ids | [`TokenTransformer`], mean-pooled |
//!
//! [`Gpt`] (causal decoder or bidirectional encoder with a tied language-model head) is built by the
//! language-model methods of `selfsup-pretext` from a [`GptConfig`], not through [`BackboneConfig`].
//!
//! Every module is built on a `nn::Path`, whose names are the checkpoint names; nothing random is
//! drawn outside libtorch's generator, which methods seed from the run seed (`tch::manual_seed`).

mod audio;
mod convnet;
mod gpt;
mod kind;
mod resnet;
mod transformer;

pub use audio::{Conv1dConfig, Conv1dNet};
pub use convnet::{ConvNet, ConvNetConfig};
pub use gpt::{Gpt, GptConfig};
pub use kind::BackboneKind;
pub use resnet::{ResNet, ResNetConfig, ResNetDepth, Stem};
pub use transformer::{TokenTransformer, TransformerBlock, TransformerConfig, Vit, VitConfig};

use crate::{Mlp, MlpConfig, Result};
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::Tensor;

/// An encoder: a module with a known output width.
pub trait Backbone: ModuleT {
    /// Width of the feature vector the backbone produces.
    fn output_dim(&self) -> i64;

    /// The feature map before the global pool (`N×output_dim×h×w`), for backbones that have one
    /// (`conv_net`, `audio_cnn`): `forward_t` is its global average. `None` (the default) for the
    /// others. Dense pretext heads decode from it (e.g. masked spectrogram modelling).
    fn forward_map_t(&self, _xs: &Tensor, _train: bool) -> Option<Tensor> {
        None
    }
}

/// Which backbone to build, with its hyper-parameters (`kind = "conv_net"`, `kind = "resnet18"`, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BackboneConfig {
    /// Multi-layer perceptron over the flattened input.
    Mlp(MlpConfig),
    /// Small VGG-like ConvNet.
    ConvNet(ConvNetConfig),
    /// ResNet-18 (BasicBlock, `[2,2,2,2]`).
    #[serde(rename = "resnet18")]
    ResNet18(ResNetConfig),
    /// ResNet-34 (BasicBlock, `[3,4,6,3]`).
    #[serde(rename = "resnet34")]
    ResNet34(ResNetConfig),
    /// ResNet-50 (Bottleneck, `[3,4,6,3]`).
    #[serde(rename = "resnet50")]
    ResNet50(ResNetConfig),
    /// Vision Transformer.
    Vit(VitConfig),
    /// 2-D CNN over log-mel spectrograms (`N×1×mels×frames`).
    AudioCnn(ConvNetConfig),
    /// 1-D CNN over raw waveforms (`N×1×T`).
    Conv1d(Conv1dConfig),
    /// Transformer encoder over token ids (`N×L`, int64).
    TransformerEncoder(TransformerConfig),
}

impl Default for BackboneConfig {
    fn default() -> Self {
        BackboneConfig::ConvNet(ConvNetConfig::default())
    }
}

impl BackboneConfig {
    /// Checks every field (messages name the field as `backbone.<field>`).
    pub fn validate(&self) -> selfsup_core::Result<()> {
        match self {
            BackboneConfig::Mlp(c) => c.validate(),
            BackboneConfig::ConvNet(c) | BackboneConfig::AudioCnn(c) => c.validate(),
            BackboneConfig::ResNet18(c)
            | BackboneConfig::ResNet34(c)
            | BackboneConfig::ResNet50(c) => c.validate(),
            BackboneConfig::Vit(c) => c.validate(),
            BackboneConfig::Conv1d(c) => c.validate(),
            BackboneConfig::TransformerEncoder(c) => c.validate(),
        }
    }

    /// The backbone's output width (without building it). `in_channels` matters only for no kind
    /// today, but is part of the signature so that future kinds may depend on it.
    pub fn output_dim(&self, _in_channels: i64) -> i64 {
        match self {
            BackboneConfig::Mlp(c) => c.output_dim,
            BackboneConfig::ConvNet(c) | BackboneConfig::AudioCnn(c) => {
                c.widths.last().copied().unwrap_or(0)
            }
            BackboneConfig::ResNet18(_) | BackboneConfig::ResNet34(_) => 512,
            BackboneConfig::ResNet50(_) => 2048,
            BackboneConfig::Vit(c) => c.dim,
            BackboneConfig::Conv1d(c) => c.widths.last().copied().unwrap_or(0),
            BackboneConfig::TransformerEncoder(c) => c.dim,
        }
    }
}

impl BackboneConfig {
    /// Checks, before anything is built or run, that the backbone's forward reads a batch of samples
    /// of `shape` (one sample without the batch axis, exactly as the method feeds it): `C×H×W` for
    /// `conv_net`, `resnet*` and `vit` (whose `image_size` must match), `C×H×W` or `F×T` for
    /// `audio_cnn`, `T` or `1×T` for `conv1d`, `L` token ids for `transformer_encoder`, and
    /// `input_dim` values for `mlp`. The error names the field to change and what the data gives.
    pub fn check_input(&self, shape: &[i64]) -> selfsup_core::Result<()> {
        use selfsup_core::Error;
        if shape.is_empty() || shape.iter().any(|&d| d < 1) {
            return Err(Error::config(
                "input.shape",
                format!("every dimension of a sample must be ≥ 1, got {shape:?}"),
            ));
        }
        let kind = self.kind_name();
        let what = match shape.len() {
            1 => "1-D samples (a waveform or token ids)",
            2 => "2-D samples (a spectrogram F×T)",
            3 => "C×H×W images",
            _ => "samples of rank > 3",
        };
        let wrong_kind = |reads: &str, use_instead: &str| {
            Err(Error::config(
                "backbone.kind",
                format!(
                    "`{kind}` reads {reads}, but the data gives {what} of shape {shape:?}; {use_instead}"
                ),
            ))
        };
        let for_data = match shape.len() {
            1 => "use conv1d (waveforms), transformer_encoder (tokens) or mlp",
            2 => "use audio_cnn (or mlp with input_dim = F·T)",
            _ => "use conv_net, resnet18/34/50, vit or mlp",
        };
        match self {
            BackboneConfig::Mlp(c) => {
                let numel: i64 = shape.iter().product();
                if c.input_dim != numel {
                    return Err(Error::config(
                        "backbone.input_dim",
                        format!(
                            "must equal the number of values of one sample ({numel} for shape {shape:?}), got {}",
                            c.input_dim
                        ),
                    ));
                }
            }
            BackboneConfig::ConvNet(_)
            | BackboneConfig::ResNet18(_)
            | BackboneConfig::ResNet34(_)
            | BackboneConfig::ResNet50(_) => {
                if shape.len() != 3 {
                    return wrong_kind("C×H×W images", for_data);
                }
            }
            BackboneConfig::Vit(c) => {
                let [_, h, w] = shape else {
                    return wrong_kind("C×H×W images", for_data);
                };
                if *h != c.image_size || *w != c.image_size {
                    return Err(Error::config(
                        "backbone.image_size",
                        format!(
                            "the vit backbone reads {0}×{0} images, but the samples are {h}×{w} (shape {shape:?}); set backbone.image_size = {h} with a patch_size dividing it, or resize the data",
                            c.image_size
                        ),
                    ));
                }
            }
            BackboneConfig::AudioCnn(_) => {
                if !(2..=3).contains(&shape.len()) {
                    return wrong_kind("F×T spectrograms (or C×H×W)", for_data);
                }
            }
            BackboneConfig::Conv1d(_) => {
                if !(shape.len() == 1 || (shape.len() == 2 && shape[0] == 1)) {
                    return wrong_kind("1-D waveforms (T or 1×T)", for_data);
                }
            }
            BackboneConfig::TransformerEncoder(_) => {
                if shape.len() != 1 {
                    return wrong_kind("1-D token ids", for_data);
                }
            }
        }
        Ok(())
    }
}

impl Backbone for Mlp {
    fn output_dim(&self) -> i64 {
        Mlp::output_dim(self)
    }
}

/// Builds the configured backbone under `p`, for inputs with `in_channels` channels (ignored by
/// `mlp`, which takes `input_dim`, and by `transformer_encoder`, which takes token ids).
pub fn build_backbone(
    p: &nn::Path<'_>,
    cfg: &BackboneConfig,
    in_channels: i64,
) -> Result<Box<dyn Backbone>> {
    cfg.validate()?;
    selfsup_core::check::at_least("in_channels", in_channels.max(0) as usize, 1)?;
    Ok(match cfg {
        BackboneConfig::Mlp(c) => Box::new(Mlp::new(p, c)?),
        BackboneConfig::ConvNet(c) => Box::new(ConvNet::new(p, c, in_channels)?),
        BackboneConfig::AudioCnn(c) => Box::new(SpectrogramCnn(ConvNet::new(p, c, in_channels)?)),
        BackboneConfig::ResNet18(c) => Box::new(ResNet::new(p, ResNetDepth::R18, c, in_channels)?),
        BackboneConfig::ResNet34(c) => Box::new(ResNet::new(p, ResNetDepth::R34, c, in_channels)?),
        BackboneConfig::ResNet50(c) => Box::new(ResNet::new(p, ResNetDepth::R50, c, in_channels)?),
        BackboneConfig::Vit(c) => Box::new(Vit::new(p, c, in_channels)?),
        BackboneConfig::Conv1d(c) => Box::new(Conv1dNet::new(p, c, in_channels)?),
        BackboneConfig::TransformerEncoder(c) => Box::new(TokenTransformer::new(p, c)?),
    })
}

/// The `audio_cnn` backbone: a [`ConvNet`] over spectrograms that also accepts `N×mels×frames` batches
/// (what the loader collates for one-channel spectrograms) by adding the channel axis.
#[derive(Debug)]
struct SpectrogramCnn(ConvNet);

impl ModuleT for SpectrogramCnn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        if xs.dim() == 3 {
            self.0.forward_t(&xs.unsqueeze(1), train)
        } else {
            self.0.forward_t(xs, train)
        }
    }
}

impl Backbone for SpectrogramCnn {
    fn output_dim(&self) -> i64 {
        self.0.output_dim()
    }

    fn forward_map_t(&self, xs: &Tensor, train: bool) -> Option<Tensor> {
        if xs.dim() == 3 {
            self.0.forward_map_t(&xs.unsqueeze(1), train)
        } else {
            self.0.forward_map_t(xs, train)
        }
    }
}

/// Global average pool over every dimension after the first two: `N×C×…` → `N×C`.
pub(crate) fn global_avg_pool(x: &Tensor) -> Tensor {
    let dims: Vec<i64> = (2..x.dim() as i64).collect();
    if dims.is_empty() {
        x.shallow_clone()
    } else {
        x.mean_dim(&dims[..], false, x.kind())
    }
}

fn positive_i64(field: &str, v: i64) -> selfsup_core::Result<()> {
    selfsup_core::check::at_least(field, v.max(0) as usize, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(r: selfsup_core::Result<()>) -> String {
        match r {
            Err(selfsup_core::Error::InvalidConfig { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn the_input_check_names_the_field_for_every_mismatch_and_passes_what_runs() {
        let mnist = [1i64, 28, 28];
        let spectrogram = [40i64, 63];
        let vit28 = BackboneConfig::Vit(VitConfig::tiny(28, 4));
        let conv1d = BackboneConfig::Conv1d(Conv1dConfig::default());
        // Accepted: what each forward reads.
        for (b, shape) in [
            (BackboneConfig::default(), &mnist[..]),
            (
                BackboneConfig::ResNet18(ResNetConfig::default()),
                &mnist[..],
            ),
            (vit28.clone(), &mnist[..]),
            (BackboneConfig::Mlp(MlpConfig::default()), &mnist[..]),
            (
                BackboneConfig::AudioCnn(ConvNetConfig::default()),
                &spectrogram[..],
            ),
            (
                BackboneConfig::AudioCnn(ConvNetConfig::default()),
                &mnist[..],
            ),
            (conv1d.clone(), &[4000][..]),
            (conv1d.clone(), &[1, 4000][..]),
        ] {
            b.check_input(shape)
                .unwrap_or_else(|e| panic!("{} on {shape:?}: {e}", b.kind_name()));
            // And it really runs: a batch of two through the built backbone.
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let c = crate::InputSpec {
                shape: shape.to_vec(),
                vocab_size: None,
            }
            .channels();
            let net = build_backbone(&vs.root(), &b, c).unwrap();
            let mut dims = vec![2i64];
            dims.extend_from_slice(shape);
            let y = net.forward_t(
                &Tensor::zeros(dims.as_slice(), (tch::Kind::Float, tch::Device::Cpu)),
                false,
            );
            assert_eq!(
                y.size(),
                [2, net.output_dim()],
                "{} on {shape:?}",
                b.kind_name()
            );
        }
        // Refused, naming the field to change.
        let vit32 = BackboneConfig::Vit(VitConfig::default());
        for (b, shape, field) in [
            (vit32, &mnist[..], "backbone.image_size"),
            (conv1d.clone(), &mnist[..], "backbone.kind"),
            (conv1d, &spectrogram[..], "backbone.kind"),
            (BackboneConfig::default(), &spectrogram[..], "backbone.kind"),
            (
                BackboneConfig::ResNet18(ResNetConfig::default()),
                &spectrogram[..],
                "backbone.kind",
            ),
            (vit28, &spectrogram[..], "backbone.kind"),
            (
                BackboneConfig::Mlp(MlpConfig::default()),
                &spectrogram[..],
                "backbone.input_dim",
            ),
            (BackboneConfig::default(), &[1, 0, 28][..], "input.shape"),
        ] {
            assert_eq!(
                field_of(b.check_input(shape)),
                field,
                "{} on {shape:?}",
                b.kind_name()
            );
        }
    }
}
