//! # selfsup-data
//!
//! Datasets (ImageFolder, CIFAR binary, MNIST IDX/CSV, AudioFolder, FSDD, in-memory arrays, token
//! text files) and the deterministic parallel multi-view batch loader.
//!
//! ## Design
//! A [`Dataset`] is lazy and `Send + Sync`: `get(i)` decodes sample `i` on demand, on whichever rayon
//! worker asks. File-backed datasets ([`ImageFolder`], [`AudioFolder`], [`Fsdd`]) only list paths when
//! they are built, so memory stays bounded whatever the dataset size; small array datasets
//! ([`MnistCsv`], [`MnistIdx`], [`Cifar`], [`InMemory`], [`TextTokens`]) hold their bytes in memory.
//! [`Cached`] keeps decoded items of a small file-backed dataset after their first use.
//!
//! The [`Loader`] shuffles indices by `(seed, epoch)`, turns every sample into its views with the
//! [`ViewPipeline`] and the generator of the sample's [`selfsup_core::SampleKey`]
//! `{seed, epoch, index, view}`, and collates views into ndarray [`HostBatch`]es (`N×C×H×W` images,
//! `N×T` waveforms, `N×F×T` spectrograms, `N×L` tokens). Nothing depends on which thread processed
//! which sample, so batches are identical for any thread count, and [`Loader::epoch_from`] replays
//! exactly the batches `k, k+1, …` of an uninterrupted epoch. A producer thread keeps a bounded
//! queue of prepared batches ahead of the consumer.
//!
//! Files that cannot be read or decoded are handled by [`BadFilePolicy`]: `fail` stops with an error
//! naming the file and the cause; `skip` leaves the sample out of its batch, counts it in
//! [`LoaderStats`] and logs it with `tracing`.
//!
//! Splits: [`train_val_split`] draws a seeded (optionally stratified) split into two [`Subset`]s.
//!
//! ## Module map
//! - [`mnist`], [`cifar`], [`memory`], [`folder`], [`fsdd`], [`text`]: the datasets.
//! - [`plays`]: the Shakespeare play-attribution downstream task (labelled windows, held-out tails).
//! - [`layout`]: [`detect_layout`], a `train/` + `val/` (or `test/`) folder as one split dataset.
//! - [`split`]: [`Subset`], [`train_val_split`], [`Cached`].
//! - [`pipeline`]: [`ViewPipeline`], what runs on each sample.
//! - [`batch`]: collation into [`HostBatch`]es (pretext targets included).
//! - [`loader`]: [`Loader`], [`LoaderConfig`], [`EpochIter`], [`LoaderStats`].
//! - [`codec`]: the single place that calls the decoders of `selfsup-augment`.
//!
//! ## Example
//! Two augmented views of every sample, in deterministic shuffled batches:
//! ```
//! use selfsup_augment::image::digit::DigitConfig;
//! use selfsup_core::{ImageF32, Sample};
//! use selfsup_data::{InMemory, Loader, LoaderConfig, ViewPipeline};
//! use std::sync::Arc;
//!
//! let images = (0..10)
//!     .map(|i| Ok(Sample::Image(ImageF32::new(1, 28, 28, vec![i as f32 / 10.0; 28 * 28])?)))
//!     .collect::<selfsup_data::Result<Vec<_>>>()?;
//! let data = Arc::new(InMemory::new(images, Some((0..10).map(|i| i % 2).collect()))?);
//! let views = ViewPipeline::Image(DigitConfig::default().build()?);
//! let cfg = LoaderConfig { batch_size: 4, drop_last: false, seed: 7, ..Default::default() };
//! let loader = Loader::new(data, views, cfg)?;
//! let batches = loader.epoch(0).collect::<selfsup_data::Result<Vec<_>>>()?;
//! assert_eq!(batches.len(), 3); // 4 + 4 + 2
//! assert_eq!(batches[0].views.len(), 2); // two views, each N×C×H×W
//! assert_eq!(batches[0].views[0].shape(), &[4, 1, 28, 28]);
//! // Batch k of epoch e is a function of (seed, e, k): the same on every run and thread count.
//! let again = loader.epoch_from(0, 1).next().unwrap()?;
//! assert_eq!(again.views, batches[1].views);
//! # Ok::<(), selfsup_data::Error>(())
//! ```
//!
//! ## Must never depend on
//! `tch`/`torch-sys`: batches are ndarrays; `selfsup-nn` turns them into tensors.

pub mod batch;
pub mod cifar;
pub mod codec;
pub mod folder;
pub mod fsdd;
pub mod layout;
pub mod loader;
pub mod memory;
pub mod mnist;
pub mod pipeline;
pub mod plays;
pub mod split;
pub mod text;

pub use cifar::{Cifar, CifarKind};
pub use folder::{AudioFolder, FileNamePattern, ImageFolder, IMAGE_EXTENSIONS};
pub use fsdd::{Fsdd, FsddSplit};
pub use layout::{detect_layout, FolderLayout};
pub use loader::{BadFilePolicy, EpochIter, Loader, LoaderConfig, LoaderStats};
pub use memory::InMemory;
pub use mnist::{MnistCsv, MnistIdx};
pub use pipeline::{FeatureFn, PretextFn, SampleFn, ViewPipeline};
pub use selfsup_core::{BatchSource, Error, HostBatch, Result, Target, Targets};
pub use split::{train_val_split, Cached, Subset};
pub use text::{
    read_text_file, RandomWindows, SequentialWindows, TextTokens, TokenStream, TokenizerKind,
    UnknownPolicy, Vocab,
};

use std::path::PathBuf;
use std::sync::Arc;

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
    /// The label of sample `index` without decoding it when the dataset can (file-backed datasets
    /// know labels from paths). The default decodes the sample.
    fn label(&self, index: usize) -> Result<Option<i64>> {
        Ok(self.get(index)?.label)
    }
    /// Class names, index = label, when the dataset is labelled.
    fn classes(&self) -> Option<&[String]> {
        None
    }
    /// The file sample `index` comes from, for file-backed datasets (used in logs and errors).
    fn source(&self, _index: usize) -> Option<PathBuf> {
        None
    }
}

impl<D: Dataset + ?Sized> Dataset for Arc<D> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        (**self).get(index)
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        (**self).label(index)
    }
    fn classes(&self) -> Option<&[String]> {
        (**self).classes()
    }
    fn source(&self, index: usize) -> Option<PathBuf> {
        (**self).source(index)
    }
}

/// A map from class name to label, built from a dataset's class list.
pub fn label_map(classes: &[String]) -> std::collections::BTreeMap<String, i64> {
    classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), i as i64))
        .collect()
}

/// The error for an index past the end of a dataset.
pub(crate) fn out_of_range(what: &str, index: usize, len: usize) -> Error {
    Error::config(
        "index",
        format!("{what} has {len} samples (indices 0..{len}), got index {index}"),
    )
}
