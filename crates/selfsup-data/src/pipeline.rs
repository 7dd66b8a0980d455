//! [`ViewPipeline`]: what the loader does to each sample — turn it into its N views.
//!
//! View `v` of sample `i` in epoch `e` is drawn with the generator of
//! `SampleKey { seed, epoch: e, index: i, view: v }` (through [`MultiView::generate`]), so a view
//! depends on nothing but its key. Images arrive from datasets as `ImageU8` and are converted with
//! [`ImageU8::to_f32`](selfsup_core::ImageU8::to_f32) (value / 255) before an image pipeline runs.
//!
//! [`ViewPipeline::Pretext`] is how pretext tasks (rotation, jigsaw, masked tokens, ...) reach the
//! trainer: its function returns the views *and* the sample's [`Target`], which the loader collates
//! into the batch's [`selfsup_core::Targets`].

use selfsup_core::{
    Audio, Error, ImageF32, MultiView, Result, Sample, SampleKey, Spectrogram, Target, Tokens,
};

/// Turns an (augmented) clip into features, e.g. a log-mel spectrogram.
pub type FeatureFn = Box<dyn Fn(&Audio) -> Result<Spectrogram> + Send + Sync>;

/// A free-form per-sample function: the sample and its key (view field 0) to its views.
pub type SampleFn = Box<dyn Fn(Sample, SampleKey) -> Result<Vec<Sample>> + Send + Sync>;

/// A pretext task as the loader runs it: the sample and its key (view field 0) to its views and its
/// pretext target.
pub type PretextFn = Box<dyn Fn(Sample, SampleKey) -> Result<(Vec<Sample>, Target)> + Send + Sync>;

/// The per-sample work of a [`Loader`](crate::Loader).
pub enum ViewPipeline {
    /// Image views (SimCLR, BYOL, multi-crop, …) over float images in `[0, 1]`.
    Image(MultiView<ImageF32>),
    /// Waveform views, optionally turned into spectrograms by `features` after augmentation.
    Audio {
        /// The waveform pipelines, one per view.
        views: MultiView<Audio>,
        /// Applied to every augmented view when set.
        features: Option<FeatureFn>,
    },
    /// Views of spectrogram samples (e.g. SpecAugment on precomputed features).
    Spectrogram(MultiView<Spectrogram>),
    /// Views of token sequences.
    Tokens(MultiView<Tokens>),
    /// Any function of the sample and its key; `n_views` is the number of samples it returns.
    Custom {
        /// Number of views the function returns.
        n_views: usize,
        /// The function.
        f: SampleFn,
    },
    /// A pretext task: views plus a per-sample [`Target`]; `n_views` is the number of views it returns.
    Pretext {
        /// Number of views the function returns.
        n_views: usize,
        /// The task.
        f: PretextFn,
    },
    /// One view: the sample as it is (8-bit images converted to float).
    Identity,
}

impl std::fmt::Debug for ViewPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ViewPipeline::{}({} views)", self.kind(), self.n_views())
    }
}

fn kind_of(s: &Sample) -> &'static str {
    match s {
        Sample::ImageU8(_) | Sample::Image(_) => "image",
        Sample::Audio(_) => "audio",
        Sample::Spectrogram(_) => "spectrogram",
        Sample::Tokens(_) => "tokens",
    }
}

impl ViewPipeline {
    /// Number of views per sample.
    pub fn n_views(&self) -> usize {
        match self {
            ViewPipeline::Image(m) => m.n_views(),
            ViewPipeline::Audio { views, .. } => views.n_views(),
            ViewPipeline::Spectrogram(m) => m.n_views(),
            ViewPipeline::Tokens(m) => m.n_views(),
            ViewPipeline::Custom { n_views, .. } | ViewPipeline::Pretext { n_views, .. } => {
                *n_views
            }
            ViewPipeline::Identity => 1,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ViewPipeline::Image(_) => "Image",
            ViewPipeline::Audio { .. } => "Audio",
            ViewPipeline::Spectrogram(_) => "Spectrogram",
            ViewPipeline::Tokens(_) => "Tokens",
            ViewPipeline::Custom { .. } => "Custom",
            ViewPipeline::Pretext { .. } => "Pretext",
            ViewPipeline::Identity => "Identity",
        }
    }

    fn mismatch(&self, s: &Sample) -> Error {
        Error::config(
            "pipeline",
            format!(
                "ViewPipeline::{} cannot take {} samples; pick the pipeline that matches the dataset",
                self.kind(),
                kind_of(s)
            ),
        )
    }

    /// All views of `sample` for `key` and its pretext target (`None` but for
    /// [`ViewPipeline::Pretext`]); the key's `view` field is ignored.
    pub fn views_and_target(
        &self,
        sample: Sample,
        key: SampleKey,
    ) -> Result<(Vec<Sample>, Option<Target>)> {
        match self {
            ViewPipeline::Pretext { n_views, f } => {
                let (out, target) = f(sample, key.with_view(0))?;
                check_count(*n_views, out.len())?;
                Ok((out, Some(target)))
            }
            _ => Ok((self.views(sample, key)?, None)),
        }
    }

    /// All views of `sample` for `key` (the key's `view` field is ignored; a pretext task's target
    /// is dropped).
    pub fn views(&self, sample: Sample, key: SampleKey) -> Result<Vec<Sample>> {
        let key = key.with_view(0);
        match self {
            ViewPipeline::Image(mv) => {
                let img = match sample {
                    Sample::ImageU8(u) => u.to_f32(),
                    Sample::Image(f) => f,
                    other => return Err(self.mismatch(&other)),
                };
                Ok(mv
                    .generate(&img, key)?
                    .into_iter()
                    .map(Sample::Image)
                    .collect())
            }
            ViewPipeline::Audio { views, features } => {
                let Sample::Audio(clip) = sample else {
                    return Err(self.mismatch(&sample));
                };
                let out = views.generate(&clip, key)?;
                match features {
                    None => Ok(out.into_iter().map(Sample::Audio).collect()),
                    Some(f) => out.iter().map(|a| f(a).map(Sample::Spectrogram)).collect(),
                }
            }
            ViewPipeline::Spectrogram(mv) => {
                let Sample::Spectrogram(s) = sample else {
                    return Err(self.mismatch(&sample));
                };
                Ok(mv
                    .generate(&s, key)?
                    .into_iter()
                    .map(Sample::Spectrogram)
                    .collect())
            }
            ViewPipeline::Tokens(mv) => {
                let Sample::Tokens(t) = sample else {
                    return Err(self.mismatch(&sample));
                };
                Ok(mv
                    .generate(&t, key)?
                    .into_iter()
                    .map(Sample::Tokens)
                    .collect())
            }
            ViewPipeline::Custom { n_views, f } => {
                let out = f(sample, key)?;
                check_count(*n_views, out.len())?;
                Ok(out)
            }
            ViewPipeline::Pretext { .. } => Ok(self.views_and_target(sample, key)?.0),
            ViewPipeline::Identity => Ok(vec![match sample {
                Sample::ImageU8(u) => Sample::Image(u.to_f32()),
                other => other,
            }]),
        }
    }
}

fn check_count(declared: usize, got: usize) -> Result<()> {
    if declared != got {
        return Err(Error::shape(format!(
            "the pipeline declared {declared} views but returned {got}"
        )));
    }
    Ok(())
}
