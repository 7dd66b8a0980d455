//! # selfsup-contrastive
//!
//! Contrastive and non-contrastive self-supervised objectives (NT-Xent/InfoNCE, DCL, SupCon, triplet,
//! CLIP, negative cosine, Barlow Twins, VICReg, NNCLR, DINO, SwAV, CPC), the FIFO memory bank, and the
//! [`selfsup_nn::Method`]s that bundle encoder + heads + loss + per-step updates (SimCLR, MoCo, BYOL, ...).
//!
//! ## Must never depend on
//! `selfsup-train` or the data crates: methods consume tensors and report losses; the trainer drives them.
