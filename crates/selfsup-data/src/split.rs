//! Subsets, seeded train/validation splits, and a cache of decoded items.
//!
//! [`train_val_split`] draws the validation part with a generator keyed by
//! `("split", seed)` (or `("split", seed, label)` per class when stratified), so a split is the same on
//! every machine. Sizes: `round(fraction · n)` validation samples overall, or `round(fraction · n_c)` of
//! every class `c` when stratified (classes keep their proportions exactly, up to rounding). Both
//! subsets list their indices in increasing order.

use crate::{out_of_range, Dataset, Item};
use selfsup_core::{check, Error, Generator, Result, Sample};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// A view of some indices of another dataset (sample `i` of the subset is `indices[i]` of the parent).
#[derive(Clone)]
pub struct Subset {
    parent: Arc<dyn Dataset>,
    indices: Vec<usize>,
}

impl std::fmt::Debug for Subset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subset")
            .field("len", &self.indices.len())
            .field("parent_len", &self.parent.len())
            .finish()
    }
}

impl Subset {
    /// The samples `indices` of `parent`; every index must be in range.
    pub fn new(parent: Arc<dyn Dataset>, indices: Vec<usize>) -> Result<Self> {
        let n = parent.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::config(
                "indices",
                format!("the parent dataset has {n} samples, got index {bad}"),
            ));
        }
        Ok(Subset { parent, indices })
    }

    /// The parent indices, in subset order.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    fn parent_index(&self, index: usize) -> Result<usize> {
        self.indices
            .get(index)
            .copied()
            .ok_or_else(|| out_of_range("subset", index, self.indices.len()))
    }
}

impl Dataset for Subset {
    fn len(&self) -> usize {
        self.indices.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        self.parent.get(self.parent_index(index)?)
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        self.parent.label(self.parent_index(index)?)
    }
    fn classes(&self) -> Option<&[String]> {
        self.parent.classes()
    }
    fn source(&self, index: usize) -> Option<PathBuf> {
        self.parent.source(*self.indices.get(index)?)
    }
}

fn val_count(fraction: f64, n: usize) -> usize {
    ((fraction * n as f64).round() as usize).min(n)
}

/// Splits `dataset` into `(train, validation)` with `val_fraction ∈ [0, 1]` of the samples in
/// validation, drawn with `seed`. `stratified` splits every class separately (needs labels; errors
/// name the first unlabelled sample).
pub fn train_val_split(
    dataset: Arc<dyn Dataset>,
    val_fraction: f64,
    seed: u64,
    stratified: bool,
) -> Result<(Subset, Subset)> {
    check::probability("val_fraction", val_fraction)?;
    let n = dataset.len();
    let mut is_val = vec![false; n];
    if stratified {
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let l = dataset.label(i)?.ok_or_else(|| {
                Error::config(
                    "stratified",
                    format!("a stratified split needs labels, but sample {i} has none"),
                )
            })?;
            labels.push(l);
        }
        for (label, members) in crate::folder::indices_by_label(&labels) {
            let mut rng = Generator::from_domain("split", &[seed, label as u64]);
            let perm = rng.permutation(members.len());
            for &p in perm.iter().take(val_count(val_fraction, members.len())) {
                is_val[members[p]] = true;
            }
        }
    } else {
        let mut rng = Generator::from_domain("split", &[seed]);
        for &p in rng.permutation(n).iter().take(val_count(val_fraction, n)) {
            is_val[p] = true;
        }
    }
    let train = (0..n).filter(|&i| !is_val[i]).collect();
    let val = (0..n).filter(|&i| is_val[i]).collect();
    Ok((
        Subset::new(dataset.clone(), train)?,
        Subset::new(dataset, val)?,
    ))
}

/// Keeps successfully decoded items of `inner` in memory after their first use (for small datasets
/// whose decoding dominates, e.g. a folder of small JPEGs). Errors are not cached, so a bad file fails
/// (or is skipped) in every epoch. Memory is bounded by a byte budget ([`Cached::with_budget`]; the
/// sample payloads are counted): once it is spent, further items are decoded on every use, as without
/// a cache. Which items are cached depends on timing, but what `get` returns never does.
pub struct Cached {
    inner: Arc<dyn Dataset>,
    items: Vec<OnceLock<Item>>,
    budget: u64,
    used: AtomicU64,
}

/// Bytes of a sample's payload.
fn sample_bytes(s: &Sample) -> u64 {
    let n = match s {
        Sample::ImageU8(i) => i.data().len(),
        Sample::Image(i) => 4 * i.data().len(),
        Sample::Audio(a) => 4 * a.data().len(),
        Sample::Spectrogram(x) => 4 * x.values.data().len(),
        Sample::Tokens(t) => 8 * t.ids.len(),
    };
    n as u64
}

impl Cached {
    /// Wraps `inner` with no byte budget (the whole decoded dataset may stay in memory).
    pub fn new(inner: Arc<dyn Dataset>) -> Self {
        Self::with_budget(inner, u64::MAX)
    }

    /// Wraps `inner`, caching items while their payloads total at most `max_bytes`.
    pub fn with_budget(inner: Arc<dyn Dataset>, max_bytes: u64) -> Self {
        let items = (0..inner.len()).map(|_| OnceLock::new()).collect();
        Cached {
            inner,
            items,
            budget: max_bytes,
            used: AtomicU64::new(0),
        }
    }

    /// Payload bytes held so far.
    pub fn bytes(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Number of items decoded so far.
    pub fn cached(&self) -> usize {
        self.items.iter().filter(|c| c.get().is_some()).count()
    }
}

impl Dataset for Cached {
    fn len(&self) -> usize {
        self.items.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        let slot = self
            .items
            .get(index)
            .ok_or_else(|| out_of_range("cached dataset", index, self.items.len()))?;
        if let Some(item) = slot.get() {
            return Ok(item.clone());
        }
        let item = self.inner.get(index)?;
        let size = sample_bytes(&item.sample);
        let reserved = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                u.checked_add(size).filter(|&t| t <= self.budget)
            })
            .is_ok();
        if !reserved {
            return Ok(item);
        }
        let mut fresh = false;
        let cached = slot
            .get_or_init(|| {
                fresh = true;
                item
            })
            .clone();
        if !fresh {
            // Another thread cached this item first: give the reservation back.
            self.used.fetch_sub(size, Ordering::Relaxed);
        }
        Ok(cached)
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        self.inner.label(index)
    }
    fn classes(&self) -> Option<&[String]> {
        self.inner.classes()
    }
    fn source(&self, index: usize) -> Option<PathBuf> {
        self.inner.source(index)
    }
}
