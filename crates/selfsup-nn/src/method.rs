//! The [`Method`] trait: what the trainer needs from any self-supervised method — contrastive
//! (SimCLR, MoCo, BYOL, ...), auto-associative (AE, MAE) or pseudo-label (rotation, jigsaw, masked token).

use crate::Result;
use tch::{nn::VarStore, Tensor};

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

/// What a step returns: the loss to back-propagate and named scalars to log.
#[derive(Debug)]
pub struct StepOutput {
    /// Scalar loss (requires grad).
    pub loss: Tensor,
    /// Named scalars (already detached) for metrics, e.g. `("pos_sim", 0.8)`.
    pub scalars: Vec<(String, f64)>,
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
}
