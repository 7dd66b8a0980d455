//! The seam between training and a distributed backend: [`Collectives`] (rank, world size,
//! gathers, reductions, broadcast, barrier on `tch::Tensor`s) and [`DataParallel`], how a method
//! declares what its step computes when several processes train it together.
//!
//! This crate (and the trainer) never depends on a distributed backend: `selfsup-dist` implements
//! [`Collectives`] for its c10d process group behind its `c10d` feature; [`SingleProcess`] is the
//! trivial implementation (world size 1, every collective the identity).
//!
//! ## Semantics per method ([`DataParallel`])
//! - [`DataParallel::Global`]: the method gathers what its loss couples across the batch
//!   (embeddings with [`Collectives::all_gather_with_grad`], detached keys with
//!   [`Collectives::all_gather`], labels) and evaluates, on every rank, the loss of the **global**
//!   batch. Its backward on one rank is the part of the global gradient that flows through this
//!   rank's rows, so the trainer **sums** the ranks' gradients ([`Reduction::Sum`]). With a model
//!   whose forward couples no samples (no BatchNorm, or a synchronised one), W ranks × batch B
//!   compute exactly what one process with batch W·B computes.
//! - [`DataParallel::PerSampleMean`]: the loss is a mean of per-sample terms; each rank computes
//!   it over its own batch and the trainer **averages** the gradients (PyTorch DDP): exact too.
//! - [`DataParallel::Local`] (the default of [`crate::Method::data_parallel`]): the method has
//!   batch-coupled terms computed over the rank's own batch only (what plain DDP gives a method
//!   that does nothing for it). Gradients are averaged; the result is **not** the global-batch
//!   result, and the trainer says so in a warning.

use crate::Result;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use tch::nn::VarStore;
use tch::Tensor;

/// How gradients (or statistics) are combined over ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// The sum over ranks.
    Sum,
    /// The mean over ranks.
    Mean,
}

/// What a method's step computes under data parallelism (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DataParallel {
    /// The loss of the global batch on every rank, from gathered rows; gradients summed.
    Global,
    /// A mean of per-sample terms over the rank's batch; gradients averaged.
    PerSampleMean,
    /// Batch-coupled terms over the rank's own batch; gradients averaged; not the global result.
    #[default]
    Local,
}

impl DataParallel {
    /// How the trainer combines the ranks' gradients for this declaration.
    pub fn gradient_reduction(self) -> Reduction {
        match self {
            DataParallel::Global => Reduction::Sum,
            DataParallel::PerSampleMean | DataParallel::Local => Reduction::Mean,
        }
    }

    /// Whether W ranks × B equal one process × W·B (given a forward without batch coupling).
    pub fn is_exact(self) -> bool {
        !matches!(self, DataParallel::Local)
    }
}

/// Collective operations over the ranks of one training job. Every rank must issue the same
/// collectives in the same order over tensors of the same shapes; a failed or vanished peer is an
/// `Err` (within the backend's timeout), never a hang.
pub trait Collectives {
    /// This process's rank, `0..world_size`.
    fn rank(&self) -> usize;

    /// The number of ranks.
    fn world_size(&self) -> usize;

    /// The rows of `x` (`N×…`, the same shape on every rank) of all ranks concatenated along
    /// dimension 0 in rank order (`world·N×…`), detached.
    fn all_gather(&self, x: &Tensor) -> Result<Tensor>;

    /// As [`Collectives::all_gather`], but this rank's rows are `x` itself, so gradients flow into
    /// `x` (the other ranks' rows are constants). See [`DataParallel::Global`].
    fn all_gather_with_grad(&self, x: &Tensor) -> Result<Tensor>;

    /// Reduces `x` over ranks in place (every rank gets the result).
    fn all_reduce(&self, x: &Tensor, op: Reduction) -> Result<()>;

    /// The sum of `x` over ranks as a new tensor (every rank gets it), **differentiable**: the
    /// backward sums the incoming gradients over ranks (PyTorch's
    /// `torch.distributed.nn.functional.all_reduce`), so a statistic of the global batch (e.g.
    /// [`crate::layers::BatchNorm`]'s synchronised mean and variance) passes the gradient of every
    /// rank's use of it back to every rank's rows. Every rank must run the backward through it.
    fn all_reduce_sum_with_grad(&self, x: &Tensor) -> Result<Tensor>;

    /// Copies `x` of rank `root` into `x` of every rank, in place.
    fn broadcast(&self, x: &Tensor, root: usize) -> Result<()>;

    /// Waits until every rank got here.
    fn barrier(&self) -> Result<()>;

    /// Copies every variable of `vs` (trainable or not: weights, BatchNorm statistics, EMA
    /// targets, queues) from rank 0 to all ranks, after checking that they hold the same layout.
    fn broadcast_parameters(&self, vs: &VarStore) -> Result<()>;

    /// Reduces the gradients of the trainable variables of `vs` over ranks (in buckets), after
    /// `backward` and before the optimizer step; a trainable variable without a gradient gets a
    /// zero one first, so every rank reduces the same tensors.
    fn all_reduce_gradients(&self, vs: &VarStore, op: Reduction) -> Result<()>;

    /// Reduces a few `f64` statistics over ranks (one collective): losses, scalars, flags.
    fn all_reduce_f64(&self, values: &[f64], op: Reduction) -> Result<Vec<f64>> {
        if self.world_size() == 1 || values.is_empty() {
            return Ok(values.to_vec());
        }
        let t = Tensor::from_slice(values);
        self.all_reduce(&t, op)?;
        Ok(Vec::<f64>::try_from(&t)?)
    }
}

impl fmt::Debug for dyn Collectives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collectives")
            .field("rank", &self.rank())
            .field("world_size", &self.world_size())
            .finish()
    }
}

/// One process: world size 1, every collective the identity.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Collectives for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn world_size(&self) -> usize {
        1
    }
    fn all_gather(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.detach())
    }
    fn all_gather_with_grad(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.shallow_clone())
    }
    fn all_reduce(&self, _x: &Tensor, _op: Reduction) -> Result<()> {
        Ok(())
    }
    fn all_reduce_sum_with_grad(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.shallow_clone())
    }
    fn broadcast(&self, _x: &Tensor, _root: usize) -> Result<()> {
        Ok(())
    }
    fn barrier(&self) -> Result<()> {
        Ok(())
    }
    fn broadcast_parameters(&self, _vs: &VarStore) -> Result<()> {
        Ok(())
    }
    fn all_reduce_gradients(&self, _vs: &VarStore, _op: Reduction) -> Result<()> {
        Ok(())
    }
}

/// `x` gathered over `c`'s ranks with gradient (see [`Collectives::all_gather_with_grad`]), or `x`
/// itself without collectives or with one rank.
pub fn gather_with_grad(c: Option<&dyn Collectives>, x: &Tensor) -> Result<Tensor> {
    match c {
        Some(c) if c.world_size() > 1 => c.all_gather_with_grad(x),
        _ => Ok(x.shallow_clone()),
    }
}

/// `x` gathered over `c`'s ranks, detached (see [`Collectives::all_gather`]), or `x` detached
/// without collectives or with one rank.
pub fn gather(c: Option<&dyn Collectives>, x: &Tensor) -> Result<Tensor> {
    match c {
        Some(c) if c.world_size() > 1 => c.all_gather(x),
        _ => Ok(x.detach()),
    }
}

thread_local! {
    static SYNC_BN_GROUP: RefCell<Option<Arc<dyn Collectives>>> = const { RefCell::new(None) };
    static SYNC_BN_ERROR: RefCell<Option<crate::Error>> = const { RefCell::new(None) };
}

/// Restores the previous SyncBatchNorm group of this thread when dropped (see
/// [`install_sync_batch_norm_group`]).
#[must_use = "the group is uninstalled when the guard is dropped"]
pub struct SyncBatchNormGuard(Option<Arc<dyn Collectives>>);

impl fmt::Debug for SyncBatchNormGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncBatchNormGuard").finish_non_exhaustive()
    }
}

impl Drop for SyncBatchNormGuard {
    fn drop(&mut self) {
        let prev = self.0.take();
        SYNC_BN_GROUP.with(|g| *g.borrow_mut() = prev);
    }
}

/// Makes every [`crate::layers::BatchNorm`] run on this thread a `SyncBatchNorm` over `group`
/// until the guard is dropped: the whole model is converted, heads included, as PyTorch's
/// `SyncBatchNorm.convert_sync_batchnorm(model)` does, and the group plays the part of its default
/// (world) process group. The trainer installs its collectives for the duration of `Trainer::run`
/// when `train.sync_batch_norm = true`. Without a group, and in evaluation mode, a batch norm is
/// the plain one, bit for bit. (The MLP backbone's own `batch_norm` layers are tch's and are not
/// synchronised.)
pub fn install_sync_batch_norm_group(group: Option<Arc<dyn Collectives>>) -> SyncBatchNormGuard {
    SyncBatchNormGuard(SYNC_BN_GROUP.with(|g| std::mem::replace(&mut *g.borrow_mut(), group)))
}

/// The group installed by [`install_sync_batch_norm_group`] on this thread, if any.
pub fn sync_batch_norm_group() -> Option<Arc<dyn Collectives>> {
    SYNC_BN_GROUP.with(|g| g.borrow().clone())
}

/// Records a failed collective of a synchronised batch norm's forward pass (a module's forward
/// cannot return an error); the trainer takes it with [`take_sync_batch_norm_error`] after the
/// step and ends the run with it.
pub(crate) fn record_sync_batch_norm_error(e: crate::Error) {
    SYNC_BN_ERROR.with(|s| {
        let mut s = s.borrow_mut();
        if s.is_none() {
            *s = Some(e);
        }
    });
}

/// The first collective error of a synchronised batch norm on this thread since the last call.
pub fn take_sync_batch_norm_error() -> Option<crate::Error> {
    SYNC_BN_ERROR.with(|s| s.borrow_mut().take())
}
