//! Data-parallel training in the [`crate::Trainer`] (see [`crate::Trainer::with_collectives`]),
//! over any [`Collectives`] (`selfsup-dist` implements it on c10d; this crate does not depend on
//! it).
//!
//! Per run and step, every rank does the same collectives in the same order:
//! 1. at the start of a run, the method's variables are broadcast from rank 0 (weights, buffers,
//!    EMA targets, queues), so every rank starts from rank 0's model;
//! 2. before each step, the ranks agree on whether to stop (a Ctrl-C or SIGTERM seen by any rank
//!    stops all of them after the same step, with rank 0's checkpoint);
//! 3. after the backward passes, the gradients are reduced in buckets, **summed** for a method
//!    that declares [`selfsup_nn::DataParallel::Global`] (it already evaluated the global batch's loss from
//!    gathered rows) and **averaged** otherwise (DDP);
//! 4. the step's loss and scalars are averaged over the ranks (one small all-reduce), so the
//!    record and the logs are the global batch's;
//! 5. with `train.sync_batch_norm`, every BatchNorm's training statistics are the global
//!    batch's (two differentiable all-reduces per layer and forward, two more in backward);
//! 6. at the end of an epoch, rank 0 alone runs the evaluation while the others wait at a
//!    barrier (every rank holds the same weights, so gathering features over ranks would give the
//!    same numbers for W times the collectives; the barrier waits up to the backend's timeout).
//!
//! Only rank 0 writes the run folder (`config.toml`, metrics, plots, checkpoints); every rank reads
//! it on resume (a shared folder, as on one machine or a shared file system), which restores the
//! same state on every rank, so a resume on the same world size replays exactly. The world size is
//! recorded in checkpoints and a resume with another one warns.

use crate::{Result, TrainConfig};
use selfsup_nn::collectives::{install_sync_batch_norm_group, SyncBatchNormGuard};
use selfsup_nn::{Collectives, Method, Reduction};
use std::sync::Arc;

/// With `train.sync_batch_norm` and collectives, makes every BatchNorm of the run a
/// `SyncBatchNorm` over them until the guard drops (the end of `Trainer::run`).
pub(crate) fn sync_batch_norm(
    c: Option<&Arc<dyn Collectives>>,
    cfg: &TrainConfig,
) -> Option<SyncBatchNormGuard> {
    let c = c.filter(|_| cfg.sync_batch_norm)?;
    Some(install_sync_batch_norm_group(Some(c.clone())))
}

/// Whether this process writes the run folder: no collectives, or rank 0.
pub(crate) fn is_writer(c: Option<&dyn Collectives>) -> bool {
    c.is_none_or(|c| c.rank() == 0)
}

/// Broadcasts the method's variables from rank 0 and says how the run will combine the ranks.
pub(crate) fn start(c: &dyn Collectives, method: &dyn Method) -> Result<()> {
    if c.world_size() < 2 {
        return Ok(());
    }
    c.broadcast_parameters(method.var_store())?;
    let decl = method.data_parallel();
    if decl.is_exact() {
        tracing::info!(
            rank = c.rank(),
            world_size = c.world_size(),
            method = method.name(),
            semantics = ?decl,
            "data-parallel: the ranks together compute one process's global-batch step"
        );
    } else if c.rank() == 0 {
        tracing::warn!(
            world_size = c.world_size(),
            method = method.name(),
            "data-parallel: `{}` computes its batch-coupled terms over each rank's own batch (gradients averaged, as plain DDP): the run is not equal to one process with the global batch",
            method.name()
        );
    }
    Ok(())
}

/// Whether any rank asks to stop (one all-reduce of a flag).
pub(crate) fn agree_stop(c: Option<&dyn Collectives>, local: bool) -> Result<bool> {
    match c {
        Some(c) if c.world_size() > 1 => {
            let v = c.all_reduce_f64(&[f64::from(u8::from(local))], Reduction::Sum)?;
            Ok(v[0] > 0.0)
        }
        _ => Ok(local),
    }
}

/// Reduces the gradients of the method's trainable variables as its declaration asks.
pub(crate) fn reduce_gradients(c: Option<&dyn Collectives>, method: &dyn Method) -> Result<()> {
    if let Some(e) = selfsup_nn::collectives::take_sync_batch_norm_error() {
        return Err(e.into());
    }
    if let Some(c) = c.filter(|c| c.world_size() > 1) {
        let op = method.data_parallel().gradient_reduction();
        c.all_reduce_gradients(method.var_store(), op)?;
    }
    Ok(())
}

/// The mean over ranks of the step's loss and scalars (the scalars in place); every rank must
/// report the same scalar names in the same order (one method, one code path).
pub(crate) fn reduce_stats(
    c: Option<&dyn Collectives>,
    loss: f64,
    scalars: &mut [(String, f64)],
) -> Result<f64> {
    let Some(c) = c.filter(|c| c.world_size() > 1) else {
        return Ok(loss);
    };
    let mut v = Vec::with_capacity(1 + scalars.len());
    v.push(loss);
    v.extend(scalars.iter().map(|(_, x)| *x));
    let m = c.all_reduce_f64(&v, Reduction::Mean)?;
    for ((_, x), y) in scalars.iter_mut().zip(&m[1..]) {
        *x = *y;
    }
    Ok(m[0])
}
