//! The per-sample function a loader runs for a pretext task: an optional `prepare` step (decode
//! conversions, a crop to a fixed size, log-mel features for audio) followed by the task's generator.
//!
//! Keys: the generator draws from the sample's key as the loader hands it over (`view` 0); `prepare`
//! gets the same key with `view = PREPARE_VIEW`, so its draws are independent of the generator's and
//! still a function of `(seed, epoch, index)` only.

use crate::config::{pretext_generator, PretextConfig};
use crate::PretextGenerator;
use selfsup_core::{Result, Sample, SampleKey};
use selfsup_data::ViewPipeline;
use std::sync::Arc;

/// The `view` field of the key handed to `prepare`.
pub const PREPARE_VIEW: u64 = 1 << 32;

/// A step run on every sample before the generator (e.g. crop/pad a clip and compute log-mel features).
pub type Prepare = Arc<dyn Fn(Sample, SampleKey) -> Result<Sample> + Send + Sync>;

/// A sample and its key to the task's views and target (`selfsup_data::PretextFn`).
pub type PretextFn = selfsup_data::PretextFn;

/// Builds the per-sample function of `cfg` (validated) and its number of views.
pub fn pretext_fn(cfg: &PretextConfig, prepare: Option<Prepare>) -> Result<(usize, PretextFn)> {
    let generator: Arc<dyn PretextGenerator> = Arc::from(pretext_generator(cfg)?);
    let n_views = generator.n_views();
    let f: PretextFn = Box::new(move |sample: Sample, key: SampleKey| {
        let sample = match &prepare {
            Some(p) => p(sample, key.with_view(PREPARE_VIEW))?,
            None => sample,
        };
        generator.generate_keyed(&sample, key)
    });
    Ok((n_views, f))
}

/// The loader pipeline of a pretext task: `ViewPipeline::Pretext` with [`pretext_fn`]'s function.
/// `prepare` runs first on every sample (e.g. crop/pad a clip to a fixed length and compute its
/// standardised log-mel spectrogram: the spectrogram tasks need `Sample::Spectrogram` input, and a
/// batch needs equal shapes). Image datasets' 8-bit images need no preparation.
pub fn pretext_pipeline(cfg: &PretextConfig, prepare: Option<Prepare>) -> Result<ViewPipeline> {
    let (n_views, f) = pretext_fn(cfg, prepare)?;
    Ok(ViewPipeline::Pretext { n_views, f })
}

#[cfg(test)]
mod tests {
    use super::*;
    use selfsup_core::ImageF32;

    #[test]
    fn pretext_fn_is_keyed_and_runs_prepare() {
        let cfg = PretextConfig::from_kind("rotation").unwrap();
        let img = Sample::Image(ImageF32::new(1, 2, 2, vec![0.0, 1.0, 2.0, 3.0]).unwrap());
        let (n, f) = pretext_fn(&cfg, None).unwrap();
        assert_eq!(n, 1);
        let k = SampleKey::new(1, 2, 3);
        assert_eq!(f(img.clone(), k).unwrap(), f(img.clone(), k).unwrap());
        let prepare: Prepare = Arc::new(|_s, key: SampleKey| {
            assert_eq!(key.view, PREPARE_VIEW);
            Ok(Sample::Image(ImageF32::zeros(1, 3, 3)))
        });
        let (_, g) = pretext_fn(&cfg, Some(prepare)).unwrap();
        let (views, _) = g(img, k).unwrap();
        assert_eq!(views[0], Sample::Image(ImageF32::zeros(1, 3, 3)));
    }
}
