//! [`AutoencoderConfig`]: the family's one serde enum (`[method]` with `kind = "ae" | "dae" |
//! "sparse_ae" | "vae" | "mae"`), its checks, the model factory and the loader pipeline each kind needs.
//!
//! Audio is not a separate kind: the sample shape decides. `[F,T]` log-mel spectrograms give the
//! log-mel autoencoder (any kind but `mae` with the `audio_cnn` or `mlp` backbone) and, with `mae`,
//! Audio-MAE (non-square `patch_size × patch_width` patches; [`MaeConfig::audio`] is its preset with
//! mask ratio 0.8).

use crate::ae::{AeConfig, Autoencoder, Mode};
use crate::dae::{dae_image_pipeline, DaeConfig};
use crate::mae::{Mae, MaeConfig};
use crate::sparse::{SparseAeConfig, SparsityPenalty};
use crate::vae::{Vae, VaeConfig};
use selfsup_nn::{BackboneConfig, InputSpec, Method, MethodSpec, Result};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;

/// Which autoencoder to train, with its hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AutoencoderConfig {
    /// Plain autoencoder.
    Ae(AeConfig),
    /// Denoising autoencoder (two views: corrupted, clean).
    Dae(DaeConfig),
    /// Sparse autoencoder (L1 or KL sparsity).
    SparseAe(SparseAeConfig),
    /// VAE / β-VAE.
    Vae(VaeConfig),
    /// Masked autoencoder (and Audio-MAE on spectrograms).
    Mae(MaeConfig),
}

impl Default for AutoencoderConfig {
    fn default() -> Self {
        AutoencoderConfig::Ae(AeConfig::default())
    }
}

impl AutoencoderConfig {
    /// The kinds, as written in configs and on the command line.
    pub const KINDS: &'static [&'static str] = &["ae", "dae", "sparse_ae", "vae", "mae"];

    /// The default configuration of `kind`, or `None` for an unknown kind.
    pub fn from_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            "ae" => AutoencoderConfig::Ae(AeConfig::default()),
            "dae" => AutoencoderConfig::Dae(DaeConfig::default()),
            "sparse_ae" => AutoencoderConfig::SparseAe(SparseAeConfig::default()),
            "vae" => AutoencoderConfig::Vae(VaeConfig::default()),
            "mae" => AutoencoderConfig::Mae(MaeConfig::default()),
            _ => return None,
        })
    }

    /// The kind (`"ae"`, …), also the method's name.
    pub fn name(&self) -> &'static str {
        match self {
            AutoencoderConfig::Ae(_) => "ae",
            AutoencoderConfig::Dae(_) => "dae",
            AutoencoderConfig::SparseAe(_) => "sparse_ae",
            AutoencoderConfig::Vae(_) => "vae",
            AutoencoderConfig::Mae(_) => "mae",
        }
    }

    /// Views per batch: 2 for `dae` (corrupted, clean), else 1.
    pub fn min_views(&self) -> usize {
        match self {
            AutoencoderConfig::Dae(_) => 2,
            _ => 1,
        }
    }

    /// Checks every hyper-parameter (messages name the field as `method.<field>`).
    pub fn validate(&self) -> selfsup_core::Result<()> {
        match self {
            AutoencoderConfig::Ae(c) => c.validate(),
            AutoencoderConfig::Dae(c) => c.validate(),
            AutoencoderConfig::SparseAe(c) => c.validate(),
            AutoencoderConfig::Vae(c) => c.validate(),
            AutoencoderConfig::Mae(c) => c.validate(),
        }
    }

    /// Checks the configuration against the backbone and the sample shape (`[C,H,W]`, `[F,T]` or
    /// `[D]`) without building anything: a patch size that does not divide the image, an MLP whose
    /// `input_dim` is not the sample size, a `vit` of another `image_size`, a conv decoder on vectors
    /// are config errors naming the field.
    pub fn check_input(
        &self,
        backbone: &BackboneConfig,
        shape: &[i64],
    ) -> selfsup_core::Result<()> {
        self.validate()?;
        backbone.validate()?;
        match self {
            AutoencoderConfig::Mae(c) => c.geometry(backbone, shape).map(|_| ()),
            AutoencoderConfig::Ae(AeConfig { decoder, .. })
            | AutoencoderConfig::Dae(DaeConfig { decoder, .. })
            | AutoencoderConfig::SparseAe(SparseAeConfig { decoder, .. })
            | AutoencoderConfig::Vae(VaeConfig { decoder, .. }) => {
                crate::common::check_backbone_geometry(backbone, shape)?;
                decoder.resolve(backbone, shape).map(|_| ())
            }
        }
    }

    /// Builds the model for samples of `shape` in `vs` (checks first; nothing is built on error).
    pub fn build_in(
        &self,
        vs: VarStore,
        backbone: &BackboneConfig,
        shape: &[i64],
    ) -> Result<Box<dyn Method>> {
        self.check_input(backbone, shape)?;
        Ok(match self {
            AutoencoderConfig::Ae(c) => {
                Box::new(Autoencoder::new(vs, "ae", c, Mode::Plain, backbone, shape)?)
            }
            AutoencoderConfig::Dae(c) => Box::new(Autoencoder::new(
                vs,
                "dae",
                &c.ae(),
                Mode::Denoising,
                backbone,
                shape,
            )?),
            AutoencoderConfig::SparseAe(c) => {
                let weight = match c.penalty {
                    SparsityPenalty::L1 => c.l1_weight,
                    SparsityPenalty::Kl => c.beta,
                };
                Box::new(Autoencoder::new(
                    vs,
                    "sparse_ae",
                    &c.ae(),
                    Mode::Sparse {
                        penalty: c.penalty,
                        weight,
                        rho: c.rho,
                    },
                    backbone,
                    shape,
                )?)
            }
            AutoencoderConfig::Vae(c) => Box::new(Vae::new(vs, c, backbone, shape)?),
            AutoencoderConfig::Mae(c) => Box::new(Mae::new(vs, c, backbone, shape)?),
        })
    }
}

impl MethodSpec for AutoencoderConfig {
    fn name(&self) -> &'static str {
        AutoencoderConfig::name(self)
    }

    fn validate(&self) -> selfsup_core::Result<()> {
        AutoencoderConfig::validate(self)
    }

    fn min_views(&self) -> usize {
        AutoencoderConfig::min_views(self)
    }

    /// Builds the model for samples of `input.shape` (`[C,H,W]`, `[F,T]` or `[D]`); geometry errors
    /// (patch size, MLP `input_dim`, `vit` `image_size`) are config errors naming the field.
    fn build(
        &self,
        vs: VarStore,
        backbone: &BackboneConfig,
        input: &InputSpec,
    ) -> Result<Box<dyn Method>> {
        self.build_in(vs, backbone, &input.shape)
    }
}

/// The loader pipeline of an image dataset for `cfg`: `[corrupted, clean]` pairs for `dae` (see
/// [`dae_image_pipeline`]), the sample as it is (one view) for the other kinds. For audio DAE use
/// [`crate::dae_audio_pipeline`] with the run's crop and features.
pub fn view_pipeline(cfg: &AutoencoderConfig) -> selfsup_core::Result<selfsup_data::ViewPipeline> {
    cfg.validate()?;
    match cfg {
        AutoencoderConfig::Dae(c) => dae_image_pipeline(c, None),
        _ => Ok(selfsup_data::ViewPipeline::Identity),
    }
}
