//! Collation: N samples' views (and pretext targets) stacked into a [`HostBatch`] of ndarrays.
//!
//! Shapes, view by view: images `N×C×H×W` (f32), mono waveforms `N×T` (multi-channel `N×C×T`),
//! single-channel spectrograms `N×F×T` (multi-channel `N×C×F×T`), tokens `N×L` (i64). All samples of a
//! view must have the same shape (put a crop/resize/pad in the pipeline otherwise); the error names
//! the first sample that differs. Copies into the batch run in parallel, one sample per task.
//!
//! ## Buffer reuse
//! A batch of 256 two-view 32×32 samples is 6 MB per view. Allocating that afresh for every batch
//! costs more than the copy itself: the allocator hands freed blocks of this size back to the kernel,
//! so every new batch page-faults and zeroes its memory again (measured: a third of the loader's CPU
//! time on the SimCLR 32 px bench). A `BufferPool` keeps a few finished buffers of the float views;
//! [`crate::Loader::recycle`] returns a consumed batch's buffers to it, and collation takes a buffer of the
//! exact length from it without zeroing (every element is overwritten). Recycling is optional: a
//! batch that is simply dropped frees its memory as before.

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use rayon::prelude::*;
use selfsup_core::{Error, HostBatch, Result, Sample, Target, Targets};
use std::sync::Mutex;

/// Finished float buffers waiting for reuse (at most `capacity`).
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<Vec<f32>>>,
    capacity: usize,
}

impl BufferPool {
    /// A pool that keeps at most `capacity` buffers.
    pub(crate) fn new(capacity: usize) -> Self {
        BufferPool {
            free: Mutex::new(Vec::new()),
            capacity,
        }
    }

    /// A buffer of exactly `len` elements: a recycled one (contents unspecified) or a new zeroed one.
    fn take(&self, len: usize) -> Vec<f32> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        match free.iter().position(|b| b.len() == len) {
            Some(i) => free.swap_remove(i),
            None => {
                drop(free);
                vec![0f32; len]
            }
        }
    }

    /// Keeps `buf` for reuse, unless the pool is full.
    pub(crate) fn put(&self, buf: Vec<f32>) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < self.capacity && !buf.is_empty() {
            free.push(buf);
        }
    }

    /// Returns the float views of a consumed batch to the pool.
    pub(crate) fn recycle(&self, views: Vec<ArrayD<f32>>) {
        for v in views {
            let (buf, offset) = v.into_raw_vec_and_offset();
            if offset.unwrap_or(0) == 0 {
                self.put(buf);
            }
        }
    }
}

/// One processed sample: its dataset index, label and views.
pub(crate) struct Processed {
    pub index: usize,
    pub label: Option<i64>,
    pub views: Vec<Sample>,
    pub target: Option<Target>,
}

/// Shape of one sample as it appears in a batch (without the leading N), and whether it is tokens.
fn sample_shape(s: &Sample) -> (Vec<usize>, bool) {
    match s {
        Sample::Image(i) => (vec![i.channels(), i.height(), i.width()], false),
        Sample::ImageU8(i) => (vec![i.channels(), i.height(), i.width()], false),
        Sample::Audio(a) if a.channels() == 1 => (vec![a.frames()], false),
        Sample::Audio(a) => (vec![a.channels(), a.frames()], false),
        Sample::Spectrogram(s) if s.values.channels() == 1 => {
            (vec![s.n_freq(), s.n_frames()], false)
        }
        Sample::Spectrogram(s) => (vec![s.values.channels(), s.n_freq(), s.n_frames()], false),
        Sample::Tokens(t) => (vec![t.ids.len()], true),
    }
}

fn f32_data(s: &Sample) -> &[f32] {
    match s {
        Sample::Image(i) => i.data(),
        Sample::Audio(a) => a.data(),
        Sample::Spectrogram(s) => s.values.data(),
        _ => &[],
    }
}

fn describe(s: &Sample) -> &'static str {
    match s {
        Sample::Image(_) => "float image",
        Sample::ImageU8(_) => "8-bit image",
        Sample::Audio(_) => "audio",
        Sample::Spectrogram(_) => "spectrogram",
        Sample::Tokens(_) => "tokens",
    }
}

/// Stacks processed samples into a batch; float buffers come from `pool`.
pub(crate) fn collate(
    pool: &BufferPool,
    items: Vec<Processed>,
    n_views: usize,
    epoch: u64,
    batch_index: usize,
    skipped: usize,
) -> Result<HostBatch> {
    let n = items.len();
    let targets = collate_targets(&items)?;
    let indices = Array1::from_iter(items.iter().map(|p| p.index as i64));
    let labels = match items.iter().filter(|p| p.label.is_some()).count() {
        0 => None,
        k if k == n => Some(Array1::from_iter(
            items.iter().map(|p| p.label.unwrap_or(0)),
        )),
        _ => {
            return Err(Error::shape(
                "some samples of the batch have labels and others do not".to_string(),
            ))
        }
    };
    let mut views = Vec::new();
    let mut tokens = Vec::new();
    for v in 0..n_views {
        let Some(first) = items.first() else { break };
        let first_view = first.views.get(v).ok_or_else(|| {
            Error::shape(format!(
                "sample {} has fewer than {n_views} views",
                first.index
            ))
        })?;
        let (shape, is_tokens) = sample_shape(first_view);
        let kind = describe(first_view);
        for p in &items {
            let s = p.views.get(v).ok_or_else(|| {
                Error::shape(format!("sample {} has fewer than {n_views} views", p.index))
            })?;
            let (sh, _) = sample_shape(s);
            if describe(s) != kind || sh != shape {
                return Err(Error::shape(format!(
                    "view {v} of sample {} is {} {:?}, but sample {} gave {kind} {shape:?}; \
                     all views in a batch need one shape (add a crop, resize or pad to the pipeline)",
                    p.index,
                    describe(s),
                    sh,
                    first.index
                )));
            }
        }
        let per: usize = shape.iter().product();
        let mut full = vec![n];
        full.extend_from_slice(&shape);
        match first_view {
            Sample::Tokens(_) => {
                let mut buf = vec![0i64; n * per];
                buf.par_chunks_mut(per.max(1))
                    .zip(items.par_iter())
                    .for_each(|(dst, p)| {
                        if let Sample::Tokens(t) = &p.views[v] {
                            dst.copy_from_slice(&t.ids);
                        }
                    });
                tokens.push(
                    Array2::from_shape_vec((n, per), buf)
                        .map_err(|e| Error::shape(e.to_string()))?,
                );
            }
            Sample::ImageU8(_) => {
                let mut buf = pool.take(n * per);
                buf.par_chunks_mut(per.max(1))
                    .zip(items.par_iter())
                    .for_each(|(dst, p)| {
                        if let Sample::ImageU8(i) = &p.views[v] {
                            for (d, &s) in dst.iter_mut().zip(i.data()) {
                                *d = f32::from(s) * (1.0 / 255.0);
                            }
                        }
                    });
                views.push(
                    ArrayD::from_shape_vec(IxDyn(&full), buf)
                        .map_err(|e| Error::shape(e.to_string()))?,
                );
            }
            _ => {
                let mut buf = pool.take(n * per);
                buf.par_chunks_mut(per.max(1))
                    .zip(items.par_iter())
                    .for_each(|(dst, p)| dst.copy_from_slice(f32_data(&p.views[v])));
                views.push(
                    ArrayD::from_shape_vec(IxDyn(&full), buf)
                        .map_err(|e| Error::shape(e.to_string()))?,
                );
            }
        }
        debug_assert!(is_tokens == matches!(first_view, Sample::Tokens(_)));
    }
    Ok(HostBatch {
        views,
        tokens,
        labels,
        targets,
        indices,
        epoch,
        batch_index,
        skipped,
    })
}

/// Stacks the samples' pretext targets: none, all class ids, or all dense samples of one shape.
fn collate_targets(items: &[Processed]) -> Result<Option<Targets>> {
    let Some(first) = items.first() else {
        return Ok(None);
    };
    let mismatch = || {
        Error::shape(
            "the pretext targets of a batch must all be classes or all dense samples of one shape"
                .to_string(),
        )
    };
    match &first.target {
        None => {
            if items.iter().any(|p| p.target.is_some()) {
                return Err(mismatch());
            }
            Ok(None)
        }
        Some(Target::Class(_)) => {
            let ids = items
                .iter()
                .map(|p| match p.target {
                    Some(Target::Class(c)) => Ok(c),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<i64>>>()?;
            Ok(Some(Targets::Classes(
                ArrayD::from_shape_vec(IxDyn(&[ids.len()]), ids)
                    .map_err(|e| Error::shape(e.to_string()))?,
            )))
        }
        Some(Target::Dense(s0)) => {
            let (shape, is_tokens) = sample_shape(s0);
            let mut full = vec![items.len()];
            full.extend_from_slice(&shape);
            let mut ints = Vec::new();
            let mut floats = Vec::new();
            for p in items {
                let Some(Target::Dense(s)) = &p.target else {
                    return Err(mismatch());
                };
                if sample_shape(s) != (shape.clone(), is_tokens) {
                    return Err(mismatch());
                }
                match s {
                    Sample::Tokens(t) => ints.extend_from_slice(&t.ids),
                    Sample::ImageU8(i) => {
                        floats.extend(i.data().iter().map(|&v| f32::from(v) * (1.0 / 255.0)))
                    }
                    other => floats.extend_from_slice(f32_data(other)),
                }
            }
            let t = if is_tokens {
                Targets::Classes(
                    ArrayD::from_shape_vec(IxDyn(&full), ints)
                        .map_err(|e| Error::shape(e.to_string()))?,
                )
            } else {
                Targets::Dense(
                    ArrayD::from_shape_vec(IxDyn(&full), floats)
                        .map_err(|e| Error::shape(e.to_string()))?,
                )
            };
            Ok(Some(t))
        }
    }
}
