//! # selfsup-data
//!
//! Datasets (ImageFolder, CIFAR binary, MNIST IDX/CSV, AudioFolder, FSDD, in-memory arrays, token
//! text files) and the deterministic parallel multi-view batch loader.
//!
//! ## Design
//! A [`Dataset`] is lazy and `Send + Sync`: `get(i)` decodes sample `i` on demand, on whichever rayon
//! worker asks. The loader shuffles indices by `(seed, epoch)`, augments each sample with the generator
//! of its [`selfsup_core::SampleKey`], and collates views into ndarray batches, so batches are identical
//! for any thread count and a resumed epoch replays exactly the batches of an uninterrupted one.
//!
//! ## Must never depend on
//! `tch`/`torch-sys`: batches are ndarrays; `selfsup-nn` turns them into tensors.

pub use selfsup_core::{Error, Result};

/// One item of a dataset: a sample and its label, if the dataset has labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The decoded sample.
    pub sample: selfsup_core::Sample,
    /// The class index, when labelled.
    pub label: Option<i64>,
}

/// A lazily decoded, thread-safe collection of samples.
pub trait Dataset: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;
    /// True when the dataset has no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Decodes sample `index`.
    fn get(&self, index: usize) -> Result<Item>;
    /// Class names, index = label, when the dataset is labelled.
    fn classes(&self) -> Option<&[String]> {
        None
    }
}
