//! # selfsup-contrastive
//!
//! Contrastive and non-contrastive self-supervised objectives (NT-Xent/InfoNCE, DCL, SupCon, triplet,
//! CLIP, negative cosine, Barlow Twins, VICReg, NNCLR, DINO, SwAV, CPC), the FIFO memory bank, and the
//! [`selfsup_nn::Method`]s that bundle encoder + heads + loss + per-step updates (SimCLR, MoCo, BYOL, ...).
//!
//! ## Design
//! - [`losses`] are pure functions of tensors (float32 or float64), validated, with the exact
//!   semantics written in each file; they are checked against float64 plain-loop references, closed
//!   forms, finite differences and lightly fixtures (`tests/`).
//! - [`MemoryBank`] is a FIFO ring buffer living in the method's `VarStore`.
//! - [`methods`] implement [`selfsup_nn::Method`]: each owns one `VarStore` holding *all* its state
//!   (online and EMA-target weights, BN statistics, queues, the DINO centre), so a checkpoint is the
//!   VarStore plus the optimizer state. [`MethodConfig`] (serde, tag `kind`) + [`build_method`] is the
//!   factory the trainer calls.
//!
//! ## Must never depend on
//! `selfsup-train` or the data crates: methods consume tensors and report losses; the trainer drives them.

pub mod losses;
pub mod memory_bank;
pub mod methods;

pub use losses::NtXentLoss;
pub use memory_bank::MemoryBank;
pub use methods::{build_method, MethodConfig};
