//! # selfsup-pretext
//!
//! Pretext-task generators: functions from a raw sample to `(input, target)` whose targets come for
//! free — rotation (4-way), jigsaw permutations, relative patch position, masked tokens (BERT-style),
//! next token (GPT-style).
//!
//! [`tokens`] holds the token-sequence augmentations (random span crop, BERT-style masking) that make
//! the two views of a text sample for contrastive pretraining (`selfsup pretrain --dataset text`).
//!
//! ## Design
//! A [`PretextTask`] is a pure, keyed function: the same sample and generator give the same pair, so
//! pretext batches are as deterministic as augmentation batches. Heads and trainer methods that turn
//! these pairs into losses live behind the optional `torch` feature.
//!
//! ## Must never depend on
//! `tch`/`torch-sys` with default features (`cargo xtask check` enforces it).

pub use selfsup_core::{Error, Result};
use selfsup_core::{Generator, ImageF32};

pub mod language;
mod rotation;
pub mod tokens;
pub use rotation::Rotation;

/// What a pretext task asks the model to predict.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A class id (rotation index, permutation index, ...).
    Class(i64),
    /// Dense targets (a reconstruction target, masked token ids with -100 where not predicted, ...).
    Dense(Vec<f32>),
}

/// A pretext task over samples of type `S`.
pub trait PretextTask<S>: Send + Sync {
    /// Number of classes for classification targets (`None` for dense targets).
    fn num_classes(&self) -> Option<usize>;
    /// Builds one `(input, target)` pair.
    fn make(&self, sample: &S, rng: &mut Generator) -> Result<(S, Target)>;
}

/// Convenience alias for image pretext tasks.
pub trait ImagePretext: PretextTask<ImageF32> {}
impl<T: PretextTask<ImageF32>> ImagePretext for T {}
