//! [`PretextConfig`]: one serde config for every pretext task (`kind = "rotation"`, ...), the `[method]`
//! table of a pretext run, and [`pretext_generator`], which builds the task's generator from it.
//!
//! Which samples each kind takes: images for `rotation` (square), `jigsaw`, `relative_position`,
//! `inpainting`; RGB images for `colorization`; spectrograms for `masked_spectrogram`,
//! `temporal_order` and `cpc`.

use crate::audio::{MaskedSpectrogramConfig, TemporalOrderConfig};
use crate::colorization::ColorizationConfig;
pub use crate::cpc::CpcConfig;
use crate::inpainting::InpaintingConfig;
use crate::jigsaw::JigsawConfig;
use crate::relative::RelativePositionConfig;
use crate::rotation::RotationConfig;
use crate::PretextGenerator;
use selfsup_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Every pretext kind, as written in configs and on the command line.
pub const KINDS: &[&str] = &[
    "rotation",
    "jigsaw",
    "relative_position",
    "colorization",
    "inpainting",
    "masked_spectrogram",
    "temporal_order",
    "cpc",
];

/// One pretext task, tagged by `kind` (see [`KINDS`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PretextConfig {
    /// Predict the rotation (RotNet).
    Rotation(RotationConfig),
    /// Predict the tile permutation.
    Jigsaw(JigsawConfig),
    /// Predict where a patch sits relative to the centre patch.
    RelativePosition(RelativePositionConfig),
    /// Predict `ab` from `L`.
    Colorization(ColorizationConfig),
    /// Reconstruct removed regions / masked patches.
    Inpainting(InpaintingConfig),
    /// Reconstruct masked spectrogram values.
    MaskedSpectrogram(MaskedSpectrogramConfig),
    /// Predict the order of shuffled segments.
    TemporalOrder(TemporalOrderConfig),
    /// Contrastive predictive coding: predict future latents (InfoNCE).
    Cpc(CpcConfig),
}

impl Default for PretextConfig {
    fn default() -> Self {
        PretextConfig::Rotation(RotationConfig::default())
    }
}

impl PretextConfig {
    /// Every `kind` of this family (the same list as the module's [`KINDS`]).
    pub const KINDS: &'static [&'static str] = KINDS;

    /// Views per sample the task's generator makes (without building it).
    pub fn n_views(&self) -> usize {
        match self {
            PretextConfig::Rotation(c) => {
                if c.all_four {
                    4
                } else {
                    1
                }
            }
            PretextConfig::Jigsaw(c) if c.assemble_views => 1,
            PretextConfig::Jigsaw(c) => c.grid * c.grid,
            PretextConfig::RelativePosition(_) => 2,
            PretextConfig::TemporalOrder(c) => c.segments,
            PretextConfig::Colorization(_)
            | PretextConfig::Inpainting(_)
            | PretextConfig::MaskedSpectrogram(_)
            | PretextConfig::Cpc(_) => 1,
        }
    }

    /// The kind (an entry of [`KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            PretextConfig::Rotation(_) => "rotation",
            PretextConfig::Jigsaw(_) => "jigsaw",
            PretextConfig::RelativePosition(_) => "relative_position",
            PretextConfig::Colorization(_) => "colorization",
            PretextConfig::Inpainting(_) => "inpainting",
            PretextConfig::MaskedSpectrogram(_) => "masked_spectrogram",
            PretextConfig::TemporalOrder(_) => "temporal_order",
            PretextConfig::Cpc(_) => "cpc",
        }
    }

    /// The default config of a kind; an unknown name is a config error listing [`KINDS`].
    pub fn from_kind(kind: &str) -> Result<Self> {
        Ok(match kind {
            "rotation" => PretextConfig::Rotation(Default::default()),
            "jigsaw" => PretextConfig::Jigsaw(Default::default()),
            "relative_position" => PretextConfig::RelativePosition(Default::default()),
            "colorization" => PretextConfig::Colorization(Default::default()),
            "inpainting" => PretextConfig::Inpainting(Default::default()),
            "masked_spectrogram" => PretextConfig::MaskedSpectrogram(Default::default()),
            "temporal_order" => PretextConfig::TemporalOrder(Default::default()),
            "cpc" => PretextConfig::Cpc(Default::default()),
            other => {
                return Err(Error::config(
                    "method.kind",
                    format!(
                        "unknown pretext task `{other}`; allowed: {}",
                        KINDS.join(", ")
                    ),
                ))
            }
        })
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        match self {
            PretextConfig::Rotation(c) => c.validate(),
            PretextConfig::Jigsaw(c) => c.validate(),
            PretextConfig::RelativePosition(c) => c.validate(),
            PretextConfig::Colorization(c) => c.validate(),
            PretextConfig::Inpainting(c) => c.validate(),
            PretextConfig::MaskedSpectrogram(c) => c.validate(),
            PretextConfig::TemporalOrder(c) => c.validate(),
            PretextConfig::Cpc(c) => c.validate(),
        }
    }

    /// Whether the task takes images (else spectrograms).
    pub fn takes_images(&self) -> bool {
        matches!(
            self,
            PretextConfig::Rotation(_)
                | PretextConfig::Jigsaw(_)
                | PretextConfig::RelativePosition(_)
                | PretextConfig::Colorization(_)
                | PretextConfig::Inpainting(_)
        )
    }
}

/// Validates `cfg` and builds its generator.
pub fn pretext_generator(cfg: &PretextConfig) -> Result<Box<dyn PretextGenerator>> {
    cfg.validate()?;
    Ok(match cfg {
        PretextConfig::Rotation(c) => Box::new(c.build()?),
        PretextConfig::Jigsaw(c) => Box::new(c.build()?),
        PretextConfig::RelativePosition(c) => Box::new(c.build()?),
        PretextConfig::Colorization(c) => Box::new(c.build()?),
        PretextConfig::Inpainting(c) => Box::new(c.build()?),
        PretextConfig::MaskedSpectrogram(c) => Box::new(c.build()?),
        PretextConfig::TemporalOrder(c) => Box::new(c.build()?),
        PretextConfig::Cpc(c) => Box::new(c.build()?),
    })
}
