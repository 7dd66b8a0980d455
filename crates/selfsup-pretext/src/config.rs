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

/// Every pretext kind, as written in configs and on the command line.
pub const KINDS: &[&str] = PretextConfig::KINDS;

/// What every pretext task's config offers: its validation, the views its generator makes, the
/// samples it takes and its generator. Implemented by each kind's config; [`PretextConfig`] reaches
/// it through `family_spec()`.
pub trait PretextSpec {
    /// Checks every field.
    fn validate(&self) -> Result<()>;
    /// Views per sample the task's generator makes (without building it).
    fn n_views(&self) -> usize;
    /// Whether the task takes images (else spectrograms).
    fn takes_images(&self) -> bool;
    /// Builds the task's generator (after validation).
    fn generator(&self) -> Result<Box<dyn PretextGenerator>>;
}

/// Implements [`PretextSpec`] for one task's config: its own `validate` and `build`, the samples it
/// takes and its view count.
macro_rules! pretext_task {
    ($ty:ty, images = $images:expr, views = |$c:ident| $views:expr) => {
        impl PretextSpec for $ty {
            fn validate(&self) -> Result<()> {
                <$ty>::validate(self)
            }

            fn n_views(&self) -> usize {
                let $c = self;
                $views
            }

            fn takes_images(&self) -> bool {
                $images
            }

            fn generator(&self) -> Result<Box<dyn PretextGenerator>> {
                Ok(Box::new(self.build()?))
            }
        }
    };
}

pretext_task!(
    RotationConfig,
    images = true,
    views = |c| if c.all_four { 4 } else { 1 }
);
pretext_task!(
    JigsawConfig,
    images = true,
    views = |c| if c.assemble_views { 1 } else { c.grid * c.grid }
);
pretext_task!(
    RelativePositionConfig,
    images = true,
    views = |c| 2 + usize::from(c.whole_image_stats)
);
pretext_task!(ColorizationConfig, images = true, views = |_c| 1);
pretext_task!(InpaintingConfig, images = true, views = |_c| 1);
pretext_task!(MaskedSpectrogramConfig, images = false, views = |_c| 1);
pretext_task!(
    TemporalOrderConfig,
    images = false,
    views = |c| if c.assemble_views { 1 } else { c.segments }
);
pretext_task!(CpcConfig, images = false, views = |_c| 1);

selfsup_core::config_family! {
    /// One pretext task, tagged by `kind` (see [`KINDS`]).
    pub enum PretextConfig: PretextSpec {
        /// Predict the rotation (RotNet).
        "rotation" => Rotation(RotationConfig),
        /// Predict the tile permutation.
        "jigsaw" => Jigsaw(JigsawConfig),
        /// Predict where a patch sits relative to the centre patch.
        "relative_position" => RelativePosition(RelativePositionConfig),
        /// Predict `ab` from `L`.
        "colorization" => Colorization(ColorizationConfig),
        /// Reconstruct removed regions / masked patches.
        "inpainting" => Inpainting(InpaintingConfig),
        /// Reconstruct masked spectrogram values.
        "masked_spectrogram" => MaskedSpectrogram(MaskedSpectrogramConfig),
        /// Predict the order of shuffled segments.
        "temporal_order" => TemporalOrder(TemporalOrderConfig),
        /// Contrastive predictive coding: predict future latents (InfoNCE).
        "cpc" => Cpc(CpcConfig),
    }
}

impl PretextConfig {
    /// Views per sample the task's generator makes (without building it).
    pub fn n_views(&self) -> usize {
        self.family_spec().n_views()
    }

    /// The default config of a kind; an unknown name is a config error listing [`KINDS`].
    pub fn from_kind(kind: &str) -> Result<Self> {
        Self::with_defaults(kind).ok_or_else(|| {
            Error::config(
                "method.kind",
                format!(
                    "unknown pretext task `{kind}`; allowed: {}",
                    KINDS.join(", ")
                ),
            )
        })
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        self.family_spec().validate()
    }

    /// Whether the task takes images (else spectrograms).
    pub fn takes_images(&self) -> bool {
        self.family_spec().takes_images()
    }
}

/// Validates `cfg` and builds its generator.
pub fn pretext_generator(cfg: &PretextConfig) -> Result<Box<dyn PretextGenerator>> {
    cfg.validate()?;
    cfg.family_spec().generator()
}
