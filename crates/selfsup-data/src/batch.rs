//! [`Batch`] and collation: N samples' views stacked into ndarrays.
//!
//! Shapes, view by view: images `N×C×H×W` (f32), mono waveforms `N×T` (multi-channel `N×C×T`),
//! single-channel spectrograms `N×F×T` (multi-channel `N×C×F×T`), tokens `N×L` (i64). All samples of a
//! view must have the same shape (put a crop/resize/pad in the pipeline otherwise); the error names
//! the first sample that differs. Copies into the batch run in parallel, one sample per task.

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use rayon::prelude::*;
use selfsup_core::{Error, Result, Sample};

/// One batch of views, with labels and the dataset indices of its samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Float views: `views[v]` stacks view `v` of every sample (empty for token pipelines).
    pub views: Vec<ArrayD<f32>>,
    /// Token views: `tokens[v]` is `N×L` (empty for float pipelines).
    pub tokens: Vec<Array2<i64>>,
    /// Class labels (`N`), when the dataset is labelled.
    pub labels: Option<Array1<i64>>,
    /// Dataset indices of the samples (`N`), in batch order.
    pub indices: Array1<i64>,
    /// The epoch this batch belongs to.
    pub epoch: u64,
    /// Position of the batch in its epoch (skipped empty batches keep their numbers).
    pub batch_index: usize,
    /// Samples of this batch left out because their files could not be decoded (policy `skip`).
    pub skipped: usize,
}

impl Batch {
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

/// One processed sample: its dataset index, label and views.
pub(crate) struct Processed {
    pub index: usize,
    pub label: Option<i64>,
    pub views: Vec<Sample>,
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

/// Stacks processed samples into a batch.
pub(crate) fn collate(
    items: Vec<Processed>,
    n_views: usize,
    epoch: u64,
    batch_index: usize,
    skipped: usize,
) -> Result<Batch> {
    let n = items.len();
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
                let mut buf = vec![0f32; n * per];
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
                let mut buf = vec![0f32; n * per];
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
    Ok(Batch {
        views,
        tokens,
        labels,
        indices,
        epoch,
        batch_index,
        skipped,
    })
}
