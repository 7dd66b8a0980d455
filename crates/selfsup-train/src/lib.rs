//! # selfsup-train
//!
//! The trainer over any [`selfsup_nn::Method`]: optimizers with their own saved state, LR and momentum
//! schedules, atomic checkpoints with exact resume, NaN guards, metrics (JSONL/CSV/PNG), progress
//! display, and the downstream evaluations (kNN, linear probe, fine-tuning).
//!
//! ## Must never depend on
//! `selfsup-cli`; it never prints (progress bars and logs go through `indicatif`/`tracing`, which the
//! binary configures).
