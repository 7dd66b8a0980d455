//! [`selfsup_nn::Collectives`] for a c10d [`ProcessGroup`]: what the trainer and the methods
//! call, so that neither depends on this crate.
//!
//! [`Distributed`] owns the group (and the store that keeps its rendezvous alive) and can be
//! shared as an `Arc<dyn Collectives>` by the trainer and the method.

use crate::{
    allreduce_gradients, broadcast_parameters, gather_with_grad, GradReduction, ProcessGroup,
    ReduceOp, Store, DEFAULT_BUCKET_BYTES,
};
use selfsup_nn::{Collectives, Reduction};
use tch::nn::VarStore;
use tch::Tensor;

/// A process group (and its store) as the trainer's [`Collectives`].
pub struct Distributed {
    pg: ProcessGroup,
    _store: Option<Store>,
    bucket_bytes: usize,
}

impl std::fmt::Debug for Distributed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Distributed")
            .field("rank", &self.pg.rank())
            .field("world_size", &self.pg.size())
            .field("bucket_bytes", &self.bucket_bytes)
            .finish()
    }
}

impl Distributed {
    /// Wraps `pg`; `store` (when given) is kept alive as long as the group.
    pub fn new(pg: ProcessGroup, store: Option<Store>) -> Self {
        Distributed {
            pg,
            _store: store,
            bucket_bytes: DEFAULT_BUCKET_BYTES,
        }
    }

    /// The gradient bucket size in bytes (default [`DEFAULT_BUCKET_BYTES`], DDP's 25 MB).
    pub fn with_bucket_bytes(mut self, bytes: usize) -> Self {
        self.bucket_bytes = bytes.max(1);
        self
    }

    /// The process group.
    pub fn process_group(&self) -> &ProcessGroup {
        &self.pg
    }
}

fn op(r: Reduction) -> ReduceOp {
    match r {
        Reduction::Sum => ReduceOp::Sum,
        Reduction::Mean => ReduceOp::Avg,
    }
}

impl Collectives for Distributed {
    fn rank(&self) -> usize {
        self.pg.rank()
    }
    fn world_size(&self) -> usize {
        self.pg.size()
    }
    fn all_gather(&self, x: &Tensor) -> selfsup_nn::Result<Tensor> {
        Ok(self.pg.all_gather(&x.detach())?)
    }
    fn all_gather_with_grad(&self, x: &Tensor) -> selfsup_nn::Result<Tensor> {
        Ok(gather_with_grad(&self.pg, x)?)
    }
    fn all_reduce(&self, x: &Tensor, r: Reduction) -> selfsup_nn::Result<()> {
        Ok(self.pg.all_reduce(x, op(r))?)
    }
    fn all_reduce_sum_with_grad(&self, x: &Tensor) -> selfsup_nn::Result<Tensor> {
        Ok(self.pg.all_reduce_sum_with_grad(x)?)
    }
    fn broadcast(&self, x: &Tensor, root: usize) -> selfsup_nn::Result<()> {
        Ok(self.pg.broadcast(x, root)?)
    }
    fn barrier(&self) -> selfsup_nn::Result<()> {
        Ok(self.pg.barrier()?)
    }
    fn broadcast_parameters(&self, vs: &VarStore) -> selfsup_nn::Result<()> {
        Ok(broadcast_parameters(&self.pg, vs, 0)?)
    }
    fn all_reduce_gradients(&self, vs: &VarStore, r: Reduction) -> selfsup_nn::Result<()> {
        let g = match r {
            Reduction::Sum => GradReduction::Sum,
            Reduction::Mean => GradReduction::Mean,
        };
        Ok(allreduce_gradients(&self.pg, vs, g, self.bucket_bytes)?)
    }
}
