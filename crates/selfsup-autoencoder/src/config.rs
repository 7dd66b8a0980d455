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
use tch::nn::VarStore;

/// What an autoencoder config offers besides [`MethodSpec`]: its geometry check against the
/// backbone and the sample shape, building its model once checked, and its loader pipeline.
pub trait AutoencoderSpec: MethodSpec {
    /// Checks the kind's geometry (patches, decoder, MLP `input_dim`) against the backbone and one
    /// sample's `shape`; the hyper-parameters are already validated.
    fn check_geometry(&self, backbone: &BackboneConfig, shape: &[i64]) -> selfsup_core::Result<()>;

    /// Builds the model for samples of `shape` in `vs` (after [`AutoencoderSpec::check_geometry`]).
    fn build_model(
        &self,
        vs: VarStore,
        backbone: &BackboneConfig,
        shape: &[i64],
    ) -> Result<Box<dyn Method>>;

    /// The loader pipeline of an image dataset: the sample as it is (one view) unless the kind
    /// corrupts it.
    fn image_pipeline(&self) -> selfsup_core::Result<selfsup_data::ViewPipeline> {
        Ok(selfsup_data::ViewPipeline::Identity)
    }
}

/// Implements [`MethodSpec`] and [`AutoencoderSpec`] for one autoencoder config: its `kind`, the
/// views it needs, its geometry check and its model (and, optionally, its image pipeline).
/// Validation is the config's own `validate`; building checks first.
macro_rules! autoencoder_method {
    (
        $ty:ty, $kind:literal, min_views = $views:expr,
        geometry = |$gc:ident, $gb:ident, $gs:ident| $geometry:expr,
        build = |$bc:ident, $vs:ident, $bb:ident, $bs:ident| $build:expr
        $(, pipeline = |$pc:ident| $pipeline:expr)? $(,)?
    ) => {
        impl MethodSpec for $ty {
            fn name(&self) -> &'static str {
                $kind
            }

            fn validate(&self) -> selfsup_core::Result<()> {
                <$ty>::validate(self)
            }

            fn min_views(&self) -> usize {
                $views
            }

            fn build(
                &self,
                vs: VarStore,
                backbone: &BackboneConfig,
                input: &InputSpec,
            ) -> Result<Box<dyn Method>> {
                check_input(self, backbone, &input.shape)?;
                self.build_model(vs, backbone, &input.shape)
            }
        }

        impl AutoencoderSpec for $ty {
            fn check_geometry(
                &self,
                $gb: &BackboneConfig,
                $gs: &[i64],
            ) -> selfsup_core::Result<()> {
                let $gc = self;
                $geometry
            }

            fn build_model(
                &self,
                $vs: VarStore,
                $bb: &BackboneConfig,
                $bs: &[i64],
            ) -> Result<Box<dyn Method>> {
                let $bc = self;
                Ok(Box::new($build?))
            }

            $(
                fn image_pipeline(&self) -> selfsup_core::Result<selfsup_data::ViewPipeline> {
                    let $pc = self;
                    $pipeline
                }
            )?
        }
    };
}

autoencoder_method!(
    AeConfig,
    "ae",
    min_views = 1,
    geometry = |c, b, shape| check_decoder(&c.decoder, b, shape),
    build = |c, vs, b, shape| Autoencoder::new(vs, "ae", c, Mode::Plain, b, shape),
);
autoencoder_method!(
    DaeConfig,
    "dae",
    min_views = 2,
    geometry = |c, b, shape| check_decoder(&c.decoder, b, shape),
    build = |c, vs, b, shape| Autoencoder::new(vs, "dae", &c.ae(), Mode::Denoising, b, shape),
    // `[corrupted, clean]` pairs (see `dae_image_pipeline`).
    pipeline = |c| dae_image_pipeline(c, None),
);
autoencoder_method!(
    SparseAeConfig,
    "sparse_ae",
    min_views = 1,
    geometry = |c, b, shape| check_decoder(&c.decoder, b, shape),
    build = |c, vs, b, shape| Autoencoder::new(vs, "sparse_ae", &c.ae(), c.mode(), b, shape),
);
autoencoder_method!(
    VaeConfig,
    "vae",
    min_views = 1,
    geometry = |c, b, shape| check_decoder(&c.decoder, b, shape),
    build = |c, vs, b, shape| Vae::new(vs, c, b, shape),
);
autoencoder_method!(
    MaeConfig,
    "mae",
    min_views = 1,
    geometry = |c, b, shape| c.geometry(b, shape).map(|_| ()),
    build = |c, vs, b, shape| Mae::new(vs, c, b, shape),
);

impl SparseAeConfig {
    /// The sparse AE's training mode: its penalty with the weight that penalty uses.
    fn mode(&self) -> Mode {
        let weight = match self.penalty {
            SparsityPenalty::L1 => self.l1_weight,
            SparsityPenalty::Kl => self.beta,
        };
        Mode::Sparse {
            penalty: self.penalty,
            weight,
            rho: self.rho,
        }
    }
}

/// Validation, then the kind's geometry against the backbone and `shape`.
fn check_input(
    spec: &dyn AutoencoderSpec,
    backbone: &BackboneConfig,
    shape: &[i64],
) -> selfsup_core::Result<()> {
    spec.validate()?;
    backbone.validate()?;
    spec.check_geometry(backbone, shape)
}

/// The geometry check of the kinds with a mirrored decoder (all but the MAE).
fn check_decoder(
    decoder: &crate::decoder::DecoderConfig,
    backbone: &BackboneConfig,
    shape: &[i64],
) -> selfsup_core::Result<()> {
    crate::common::check_backbone_geometry(backbone, shape)?;
    decoder.resolve(backbone, shape).map(|_| ())
}

selfsup_nn::method_family! {
    /// Which autoencoder to train, with its hyper-parameters.
    pub enum AutoencoderConfig: AutoencoderSpec {
        /// Plain autoencoder.
        "ae" => Ae(AeConfig),
        /// Denoising autoencoder (two views: corrupted, clean).
        "dae" => Dae(DaeConfig),
        /// Sparse autoencoder (L1 or KL sparsity).
        "sparse_ae" => SparseAe(SparseAeConfig),
        /// VAE / β-VAE.
        "vae" => Vae(VaeConfig),
        /// Masked autoencoder (and Audio-MAE on spectrograms).
        "mae" => Mae(MaeConfig),
    }
}

impl AutoencoderConfig {
    /// The default configuration of `kind`, or `None` for an unknown kind.
    pub fn from_kind(kind: &str) -> Option<Self> {
        Self::with_defaults(kind)
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
        check_input(self.family_spec(), backbone, shape)
    }

    /// Builds the model for samples of `shape` in `vs` (checks first; nothing is built on error).
    pub fn build_in(
        &self,
        vs: VarStore,
        backbone: &BackboneConfig,
        shape: &[i64],
    ) -> Result<Box<dyn Method>> {
        self.check_input(backbone, shape)?;
        self.family_spec().build_model(vs, backbone, shape)
    }
}

/// The loader pipeline of an image dataset for `cfg`: `[corrupted, clean]` pairs for `dae` (see
/// [`dae_image_pipeline`]), the sample as it is (one view) for the other kinds. For audio DAE use
/// [`crate::dae_audio_pipeline`] with the run's crop and features.
pub fn view_pipeline(cfg: &AutoencoderConfig) -> selfsup_core::Result<selfsup_data::ViewPipeline> {
    cfg.validate()?;
    cfg.family_spec().image_pipeline()
}
