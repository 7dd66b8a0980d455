//! The [`Method`] trait: what the trainer needs from any self-supervised method — contrastive
//! (SimCLR, MoCo, BYOL, ...), auto-associative (AE, MAE) or pseudo-label (rotation, jigsaw, masked token)
//! — and [`MethodSpec`], what every method *config* offers so that one mechanism validates and builds
//! any of them (a family's serde enum implements it; the facade unites the families).

use crate::collectives::{Collectives, DataParallel};
use crate::{BackboneConfig, Result};
use std::sync::Arc;
use tch::{nn::VarStore, Device, Tensor};

/// One training batch, on the method's device.
#[derive(Debug)]
pub struct Batch {
    /// The views: `views[v]` is the batch of view `v` (e.g. `N×C×H×W`). Single-view methods use `views[0]`.
    pub views: Vec<Tensor>,
    /// Class labels (`N`, int64), when the dataset has them (supervised methods, online probes).
    pub labels: Option<Tensor>,
    /// Pretext targets (class ids or dense targets), when a pretext task made them.
    pub targets: Option<Tensor>,
    /// Dataset indices of the samples (`N`, int64).
    pub indices: Option<Tensor>,
}

/// Where the run stands when a step is taken (for schedules inside methods: EMA momentum, DINO's
/// teacher temperature, freezing the last layer, ...).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInfo {
    /// 0-based global optimizer step.
    pub step: u64,
    /// Total optimizer steps of the run.
    pub total_steps: u64,
    /// 0-based epoch.
    pub epoch: u64,
    /// Total epochs of the run.
    pub total_epochs: u64,
}

impl StepInfo {
    /// Progress through the run in `[0, 1]`.
    pub fn progress(&self) -> f64 {
        if self.total_steps == 0 {
            1.0
        } else {
            (self.step as f64 / self.total_steps as f64).min(1.0)
        }
    }
}

/// What a step returns: the loss to back-propagate, named scalars to log and, when the method has
/// them at hand, the encoder features of view 0.
#[derive(Debug)]
pub struct StepOutput {
    /// Scalar loss (requires grad).
    pub loss: Tensor,
    /// Named scalars (already detached) for metrics, e.g. `("pos_sim", 0.8)`.
    pub scalars: Vec<(String, f64)>,
    /// The encoder features of `views[0]` computed by this step's forward pass (`N ×`
    /// [`Method::embed_dim`], training mode, detached), or `None`. The trainer's online probe trains
    /// on them; without them it calls [`Method::embed`] on `views[0]`, a second encoder forward per
    /// batch. Set them with [`StepOutput::with_features`].
    pub features: Option<Tensor>,
}

impl StepOutput {
    /// The loss and scalars of a step, without features.
    pub fn new(loss: Tensor, scalars: Vec<(String, f64)>) -> Self {
        StepOutput {
            loss,
            scalars,
            features: None,
        }
    }

    /// Adds the encoder features of view 0 (detached here).
    pub fn with_features(mut self, features: &Tensor) -> Self {
        self.features = Some(features.detach());
        self
    }
}

/// A self-supervised method: model + objective + per-step updates.
pub trait Method {
    /// The method's name, e.g. `"simclr"`.
    fn name(&self) -> &str;

    /// All state: trainable weights and non-trainable buffers (BN statistics, EMA targets, queues).
    fn var_store(&self) -> &VarStore;

    /// Mutable access to the store (for loading checkpoints).
    fn var_store_mut(&mut self) -> &mut VarStore;

    /// Computes the loss of one batch in training mode.
    fn step(&mut self, batch: &Batch, info: &StepInfo) -> Result<StepOutput>;

    /// Called after each optimizer step: EMA/momentum updates, queue updates, centre updates.
    fn after_optimizer_step(&mut self, _info: &StepInfo) -> Result<()> {
        Ok(())
    }

    /// Encoder features for evaluation (`N × output_dim`), in eval mode, without gradient.
    fn embed(&self, x: &Tensor) -> Result<Tensor>;

    /// Width of [`Method::embed`]'s output.
    fn embed_dim(&self) -> i64;

    /// The VarStore path prefix of the encoder (what `selfsup export` writes), e.g. `"backbone"`.
    fn encoder_prefix(&self) -> &str {
        "backbone"
    }

    /// Auto-encoders: the reconstruction of `x` in input space (eval mode, no gradient); `None` for
    /// methods that do not reconstruct.
    fn reconstruct(&self, _x: &Tensor) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// The concrete method, for code that knows a family's own types (e.g. the auto-encoders' picture
    /// writer reaching `Vae::sample`); `None` (the default) for methods that do not offer it.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// Metrics of one held-out batch in eval mode without gradient (e.g. `val_loss`, `mlm_acc`);
    /// empty for methods without a held-out objective. Callers average them over batches.
    fn evaluate(&mut self, _batch: &Batch) -> Result<Vec<(String, f64)>> {
        Ok(Vec::new())
    }

    /// What [`Method::step`] computes when several processes train the method together (see
    /// [`crate::collectives`]): the default, [`DataParallel::Local`], is a method that does nothing
    /// for it (batch-coupled terms over the rank's own batch, not the global-batch result).
    fn data_parallel(&self) -> DataParallel {
        DataParallel::Local
    }

    /// Gives the method the job's collectives, once, before the first step of a data-parallel
    /// run; a method that declares [`DataParallel::Global`] gathers through them in
    /// [`Method::step`] (and in [`Method::after_optimizer_step`], e.g. queue updates). The default
    /// ignores them.
    fn set_collectives(&mut self, _collectives: Arc<dyn Collectives>) {}
}

/// What a method is built for: the shape of one input sample and, for token inputs, the vocabulary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputSpec {
    /// One sample without the batch axis: `[C, H, W]` images, `[F, T]` spectrograms, `[T]`
    /// waveforms, `[L]` token ids.
    pub shape: Vec<i64>,
    /// Token inputs: the vocabulary size (specials included).
    pub vocab_size: Option<i64>,
}

impl InputSpec {
    /// An image input `C×H×W`.
    pub fn image(channels: i64, height: i64, width: i64) -> InputSpec {
        InputSpec {
            shape: vec![channels, height, width],
            vocab_size: None,
        }
    }

    /// The channel count the backbone is built for: axis 0 of a `C×H×W` sample, else 1 (a
    /// spectrogram `F×T` is one channel; token ids have none).
    pub fn channels(&self) -> i64 {
        if self.shape.len() >= 3 {
            self.shape[0]
        } else {
            1
        }
    }
}

/// A method's configuration: validated and built the same way for every family.
pub trait MethodSpec {
    /// The method's name (its serde `kind`), e.g. `"simclr"`, `"mae"`.
    fn name(&self) -> &'static str;

    /// Checks every hyper-parameter; errors name the field as `method.<field>`.
    fn validate(&self) -> selfsup_core::Result<()>;

    /// How many views a batch must carry (at least).
    fn min_views(&self) -> usize {
        1
    }

    /// Builds the method in `vs` with `backbone` as its encoder, for inputs described by `input`.
    fn build(
        &self,
        vs: VarStore,
        backbone: &BackboneConfig,
        input: &InputSpec,
    ) -> Result<Box<dyn Method>>;

    /// Validates the config and the backbone, seeds libtorch's generator with `seed` (initial
    /// weights are a function of the seed), makes a `VarStore` on `device` and builds the method.
    fn instantiate(
        &self,
        backbone: &BackboneConfig,
        input: &InputSpec,
        device: Device,
        seed: u64,
    ) -> Result<Box<dyn Method>> {
        self.validate()?;
        backbone.validate()?;
        tch::manual_seed(seed as i64);
        self.build(VarStore::new(device), backbone, input)
    }
}
