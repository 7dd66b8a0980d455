//! Disjoint sharding of a keyed epoch order across ranks.
//!
//! The loader's epoch order is a permutation `order[0..L]` that depends on `(seed, epoch)` only
//! (`selfsup-data`). One process with batch `G` takes global batch `k` as the positions
//! `k·G .. (k+1)·G` of `order` (the trailing `L mod G` positions are dropped: `drop_last`).
//!
//! With `W` ranks and a per-rank batch `B` (so `G = W·B`), rank `r` takes, as its batch `k`, the
//! **contiguous block** `k·G + r·B .. k·G + (r+1)·B` of that same global batch. Hence:
//! - the ranks' batches `k` are disjoint and their union is exactly the global batch `k` of one
//!   process with batch `W·B` (same samples, and since every augmentation is keyed by the sample
//!   index, the same views);
//! - concatenating them in rank order (what an all-gather does) gives the
//!   global batch **in the same row order**, so a loss over gathered rows sees the same matrix as
//!   the single process;
//! - every rank has the same number of batches per epoch, `⌊L / G⌋`, so no rank waits in a
//!   collective for a batch that never comes.
//!
//! `selfsup-data`'s `Loader::with_shard` applies it to the loader's keyed order; `selfsup-dist`
//! re-exports it. It lives here, torch-free, so that both can use one definition.

use crate::{Error, Result};
use std::ops::Range;

/// Rank `rank` of `world` with per-rank batch `batch` (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Number of ranks `W ≥ 1`.
    pub world: usize,
    /// This rank, `< world`.
    pub rank: usize,
    /// Per-rank batch size `B ≥ 1`.
    pub batch: usize,
}

impl Shard {
    /// A validated shard.
    pub fn new(world: usize, rank: usize, batch: usize) -> Result<Self> {
        if world == 0 {
            return Err(Error::config("world_size", "must be at least 1"));
        }
        if rank >= world {
            return Err(Error::config(
                "rank",
                format!("must be < world_size ({world}), got {rank}"),
            ));
        }
        if batch == 0 {
            return Err(Error::config("batch_size", "must be at least 1"));
        }
        Ok(Shard { world, rank, batch })
    }

    /// The global batch `W·B`.
    pub fn global_batch(&self) -> usize {
        self.world * self.batch
    }

    /// Batches per epoch of `epoch_len` samples (the same on every rank): `⌊L / (W·B)⌋`.
    pub fn batches_per_epoch(&self, epoch_len: usize) -> usize {
        epoch_len / self.global_batch()
    }

    /// Positions in the epoch order of this rank's batch `k`.
    pub fn positions(&self, k: usize) -> Range<usize> {
        let start = k * self.global_batch() + self.rank * self.batch;
        start..start + self.batch
    }

    /// This rank's batches of one epoch: `order` is the epoch's keyed permutation.
    pub fn batches<T: Copy>(&self, order: &[T]) -> Vec<Vec<T>> {
        (0..self.batches_per_epoch(order.len()))
            .map(|k| order[self.positions(k)].to_vec())
            .collect()
    }
}
