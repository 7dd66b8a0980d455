//! Data-parallel training on libtorch's own distributed engine, c10d — the engine behind PyTorch
//! DDP — through a small C++ shim compiled against the libtorch that `tch` links.
//!
//! - [`Store`] (c10d `FileStore` / `TCPStore` / `PrefixStore`) is the rendezvous;
//!   [`ProcessGroup`] is a c10d `ProcessGroupGloo` with blocking [`ProcessGroup::all_reduce`],
//!   [`ProcessGroup::all_gather`], [`ProcessGroup::broadcast`] and [`ProcessGroup::barrier`] on
//!   `tch::Tensor`s. Every C++ exception comes back as an [`Error`]; a dead or stuck peer gives an
//!   error within [`GlooOptions::timeout`], never a hang or an abort.
//! - [`Distributed`] is a group as `selfsup_nn::Collectives`, the seam through which the trainer
//!   (`selfsup_train::Trainer::with_collectives`) and the methods use it without depending on
//!   this crate.
//! - [`DistEnv`], [`init_process_group`] and [`spawn_local`] launch the way torchrun does.
//! - [`broadcast_parameters`], [`allreduce_gradients`] (bucketed, DDP's 25 MB default),
//!   [`gather_with_grad`] and [`Shard`] are the training semantics; `docs/distributed.md` states
//!   them per loss.
//!
//! **Invariant:** every collective is issued by every rank in the same order over tensors of the
//! same shapes (variables are visited sorted by name; each rank has the same number of batches), so
//! W ranks × batch B compute what one process with batch W·B computes.
//!
//! This crate is a workspace member outside `default-members`: it needs Gloo's headers at build
//! time (`cargo xtask setup --dist`, Debian's `libgloo-dev`), and nothing else.

mod c10d;
mod collectives;
mod ddp;
mod error;
mod launch;

pub use c10d::{GlooOptions, ProcessGroup, ReduceOp, Store};
pub use collectives::Distributed;
pub use ddp::{
    allreduce_gradients, broadcast_parameters, check_same_layout, gather_with_grad, GradReduction,
    DEFAULT_BUCKET_BYTES,
};
pub use error::{Error, Result};
pub use launch::{
    free_port, init_process_group, spawn_local, DistEnv, LocalWorkers, DEFAULT_MASTER_PORT,
};
/// The disjoint sharding of the keyed epoch order (defined torch-free in `selfsup-core`).
pub use selfsup_core::Shard;
