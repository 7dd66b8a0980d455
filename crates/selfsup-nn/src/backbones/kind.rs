//! [`BackboneKind`]: the names of the backbones without their hyper-parameters, for flags and
//! messages (with the optional `clap` feature a `clap::ValueEnum`, so a program's `--help` lists them).

use super::BackboneConfig;
use serde::{Deserialize, Serialize};

/// Which backbone, by its `kind` (the serde tag of [`BackboneConfig`]).
///
/// ```
/// use selfsup_nn::{BackboneConfig, BackboneKind};
///
/// let b = BackboneConfig::from(BackboneKind::ResNet18);
/// assert_eq!(b.kind(), BackboneKind::ResNet18);
/// assert_eq!(b.kind_name(), "resnet18");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "clap", value(rename_all = "snake_case"))]
pub enum BackboneKind {
    /// Multi-layer perceptron over the flattened input.
    Mlp,
    /// Small VGG-like ConvNet.
    ConvNet,
    /// ResNet-18.
    #[serde(rename = "resnet18")]
    #[cfg_attr(feature = "clap", value(name = "resnet18"))]
    ResNet18,
    /// ResNet-34.
    #[serde(rename = "resnet34")]
    #[cfg_attr(feature = "clap", value(name = "resnet34"))]
    ResNet34,
    /// ResNet-50.
    #[serde(rename = "resnet50")]
    #[cfg_attr(feature = "clap", value(name = "resnet50"))]
    ResNet50,
    /// Vision Transformer.
    Vit,
    /// 2-D CNN over log-mel spectrograms.
    AudioCnn,
    /// 1-D CNN over raw waveforms.
    #[serde(rename = "conv1d")]
    #[cfg_attr(feature = "clap", value(name = "conv1d"))]
    Conv1d,
    /// Transformer encoder over token ids.
    TransformerEncoder,
}

impl BackboneKind {
    /// The `kind` as written in a config file.
    pub fn name(self) -> &'static str {
        match self {
            BackboneKind::Mlp => "mlp",
            BackboneKind::ConvNet => "conv_net",
            BackboneKind::ResNet18 => "resnet18",
            BackboneKind::ResNet34 => "resnet34",
            BackboneKind::ResNet50 => "resnet50",
            BackboneKind::Vit => "vit",
            BackboneKind::AudioCnn => "audio_cnn",
            BackboneKind::Conv1d => "conv1d",
            BackboneKind::TransformerEncoder => "transformer_encoder",
        }
    }
}

impl std::fmt::Display for BackboneKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl BackboneConfig {
    /// Which backbone this is.
    pub fn kind(&self) -> BackboneKind {
        match self {
            BackboneConfig::Mlp(_) => BackboneKind::Mlp,
            BackboneConfig::ConvNet(_) => BackboneKind::ConvNet,
            BackboneConfig::ResNet18(_) => BackboneKind::ResNet18,
            BackboneConfig::ResNet34(_) => BackboneKind::ResNet34,
            BackboneConfig::ResNet50(_) => BackboneKind::ResNet50,
            BackboneConfig::Vit(_) => BackboneKind::Vit,
            BackboneConfig::AudioCnn(_) => BackboneKind::AudioCnn,
            BackboneConfig::Conv1d(_) => BackboneKind::Conv1d,
            BackboneConfig::TransformerEncoder(_) => BackboneKind::TransformerEncoder,
        }
    }

    /// The serde `kind` of this backbone (`"conv_net"`, `"vit"`, ...).
    pub fn kind_name(&self) -> &'static str {
        self.kind().name()
    }
}

/// The backbone of that kind with its default hyper-parameters (what `kind = "..."` alone gives in a
/// config file).
impl From<BackboneKind> for BackboneConfig {
    fn from(k: BackboneKind) -> Self {
        match k {
            BackboneKind::Mlp => BackboneConfig::Mlp(Default::default()),
            BackboneKind::ConvNet => BackboneConfig::ConvNet(Default::default()),
            BackboneKind::ResNet18 => BackboneConfig::ResNet18(Default::default()),
            BackboneKind::ResNet34 => BackboneConfig::ResNet34(Default::default()),
            BackboneKind::ResNet50 => BackboneConfig::ResNet50(Default::default()),
            BackboneKind::Vit => BackboneConfig::Vit(Default::default()),
            BackboneKind::AudioCnn => BackboneConfig::AudioCnn(Default::default()),
            BackboneKind::Conv1d => BackboneConfig::Conv1d(Default::default()),
            BackboneKind::TransformerEncoder => {
                BackboneConfig::TransformerEncoder(Default::default())
            }
        }
    }
}
