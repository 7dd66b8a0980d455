//! Host-side batches and where they come from: [`HostBatch`], per-sample pretext [`Target`]s and
//! their collated form [`Targets`], and the [`BatchSource`] trait through which a trainer pulls
//! batches.
//!
//! These types carry no libtorch types, so the loader (`selfsup-data`, torch-free) produces them and
//! the trainer (`selfsup-train`) consumes them without either crate knowing the other:
//! `selfsup_data::Loader` implements [`BatchSource`], `selfsup_nn::host_to_device` turns a
//! [`HostBatch`] into tensors.

use crate::{Result, Sample};
use ndarray::{Array1, Array2, ArrayD};

/// The pretext target of one sample, made by a pretext task next to its views.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A class id (rotation index, jigsaw permutation, relative position, ...).
    Class(i64),
    /// A dense target: token ids (`Sample::Tokens`, e.g. masked-token targets with `-100` = ignore)
    /// collate into integer [`Targets::Classes`]; any other sample into float [`Targets::Dense`].
    Dense(Sample),
}

/// The pretext targets of a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Integer targets: `N` class ids, or `N×L` per-position ids.
    Classes(ArrayD<i64>),
    /// Float targets (`N×…`): reconstruction targets, masks.
    Dense(ArrayD<f32>),
}

/// One batch on the host, as the loader produces it.
#[derive(Clone, Debug, PartialEq)]
pub struct HostBatch {
    /// Float views: `views[v]` stacks view `v` of every sample (`N×C×H×W`, `N×T`, `N×F×T`, ...).
    pub views: Vec<ArrayD<f32>>,
    /// Token views: `tokens[v]` is `N×L` (empty for float pipelines).
    pub tokens: Vec<Array2<i64>>,
    /// Class labels (`N`), when the dataset is labelled.
    pub labels: Option<Array1<i64>>,
    /// Pretext targets, when a pretext task made them.
    pub targets: Option<Targets>,
    /// Dataset indices of the samples (`N`), in batch order.
    pub indices: Array1<i64>,
    /// The epoch this batch belongs to.
    pub epoch: u64,
    /// Position of the batch in its epoch (skipped empty batches keep their numbers).
    pub batch_index: usize,
    /// Samples of this batch left out because their files could not be decoded (policy `skip`).
    pub skipped: usize,
}

impl HostBatch {
    /// A batch of float views with labels (and indices `0..N`): for tests and custom sources.
    pub fn from_views(views: Vec<ArrayD<f32>>, labels: Option<Vec<i64>>) -> HostBatch {
        let n = views.first().map(|v| v.shape()[0]).unwrap_or(0);
        HostBatch {
            views,
            tokens: Vec::new(),
            labels: labels.map(Array1::from),
            targets: None,
            indices: Array1::from_iter(0..n as i64),
            epoch: 0,
            batch_index: 0,
            skipped: 0,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// True when the batch has no samples.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Number of views (float and token views together).
    pub fn n_views(&self) -> usize {
        self.views.len() + self.tokens.len()
    }
}

/// Where a trainer's batches come from: the two calls it needs, plus buffer recycling.
pub trait BatchSource {
    /// Batches in one epoch (the same for every epoch).
    fn batches_per_epoch(&self) -> usize;

    /// The batches of `epoch`, starting at batch `skip`: must equal the tail of the full epoch (this
    /// is what makes resume exact).
    fn epoch_from(
        &self,
        epoch: u64,
        skip: usize,
    ) -> Box<dyn Iterator<Item = Result<HostBatch>> + '_>;

    /// The samples per batch, when every batch has that many (a loader with `drop_last`): the
    /// trainer's learning-rate scaling by the global batch needs it. The default: unknown.
    fn batch_size(&self) -> Option<usize> {
        None
    }

    /// Takes back a batch the consumer has finished with, so that its buffers can be reused (the
    /// selfsup loader spares allocating and page-faulting megabytes per batch). The default drops it.
    fn recycle(&self, batch: HostBatch) {
        drop(batch);
    }
}
