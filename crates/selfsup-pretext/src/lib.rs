//! # selfsup-pretext
//!
//! Pretext-task generators: functions from a raw sample to `(views, target)` whose targets come for
//! free, plus (behind the `torch` feature) the heads and `selfsup_nn::Method`s that learn
//! from them.
//!
//! | task | module | input | views | target |
//! |---|---|---|---|---|
//! | rotation (RotNet) | [`rotation`] | image | 1 rotated image, or all 4 rotations | class `k` (4), or `[0,1,2,3]` |
//! | jigsaw | [`jigsaw`] | image | `grid²` shuffled tiles | permutation index |
//! | relative position | [`relative`] | image | centre patch, neighbour patch | neighbour (8) |
//! | colorization | [`colorization`] | RGB image | `L/100` | `ab/110` (dense) |
//! | inpainting / masked image | [`inpainting`] + [`masks`] | image | image with regions blanked | image + weight plane |
//! | masked spectrogram | [`audio`] | spectrogram | masked spectrogram | spectrogram + weight plane |
//! | temporal order | [`audio`] | spectrogram | shuffled time segments | permutation index |
//! | CPC | [`cpc`] | spectrogram | the spectrogram | none (future latents, InfoNCE) |
//!
//! The token-sequence *views* for contrastive text pretraining (span crop, BERT-style masking as an
//! augmentation) live in `selfsup_augment::tokens`: this crate is for pseudo-labels.
//!
//! ## Design
//! A [`PretextGenerator`] is a pure, keyed function: the same sample and generator give the same pair,
//! so pretext batches are as deterministic as augmentation batches. Each task splits into drawing its
//! parameters (the rotation, the permutation, the mask) and a pure function of those parameters, and
//! each has an inverse where one exists (rotate back, un-shuffle tiles, Lab → RGB).
//!
//! Dense targets follow one convention: the target planes, then **one weight plane** saying where the
//! loss counts and how much (1 inside a masked region, the overlap weight on the context encoder's
//! border, 0 elsewhere). Heads and methods that turn these pairs into losses live behind the optional
//! `torch` feature (module `methods`).
//!
//! ## Example
//! RotNet's pretext pair for one image, keyed like an augmentation:
//! ```
//! use selfsup_core::{ImageF32, Sample, SampleKey, Target};
//! use selfsup_pretext::{pretext_generator, PretextConfig, Rotation};
//!
//! let task = pretext_generator(&PretextConfig::from_kind("rotation")?)?;
//! let img = ImageF32::new(1, 4, 4, (0..16).map(|v| v as f32 / 16.0).collect())?;
//! let (views, target) = task.generate_keyed(&Sample::Image(img.clone()), SampleKey::new(0, 0, 3))?;
//! let (Sample::Image(rotated), Target::Class(k)) = (&views[0], target) else { unreachable!() };
//! // The target is the quarter-turn count, and rotating back recovers the input.
//! assert!((0..4).contains(&k));
//! assert_eq!(Rotation::rotate_back(rotated, k as u8), img);
//! # Ok::<(), selfsup_pretext::Error>(())
//! ```
//!
//! ## Must never depend on
//! `tch`/`torch-sys` with default features (`cargo xtask check` enforces it).

pub use selfsup_core::{Error, Result};
use selfsup_core::{Generator, ImageF32, Sample, SampleKey, Spectrogram};

pub mod ab_bins;
pub mod audio;
pub mod colorization;
pub mod config;
pub mod cpc;
pub mod inpainting;
pub mod jigsaw;
pub mod language;
pub mod masks;
pub mod pipeline;
pub mod preview;
pub mod relative;
pub mod rotation;

#[cfg(feature = "torch")]
pub mod cpc_method;
#[cfg(feature = "torch")]
pub mod methods;

pub use config::{pretext_generator, PretextConfig, PretextSpec, KINDS};
pub use cpc::{Cpc, CpcConfig};
pub use pipeline::{pretext_fn, pretext_pipeline, Prepare};
pub use rotation::{Rotation, RotationConfig};

/// What a pretext task asks the model to predict for one sample: `Class(k)`, or `Dense(sample)` —
/// per-view class ids as [`Sample::Tokens`], or a float map (an image or spectrogram whose last
/// channel is the loss weight plane). The loader collates it into the batch's `Targets`.
pub use selfsup_core::Target;

/// A pretext task: one sample and its generator to its views and target.
pub trait PretextGenerator: Send + Sync {
    /// The task's kind, as in [`KINDS`].
    fn kind(&self) -> &'static str;
    /// Views per sample.
    fn n_views(&self) -> usize;
    /// Classes of a classification target (`None` for dense targets).
    fn num_classes(&self) -> Option<usize>;
    /// Builds one sample's `(views, target)`; every random draw comes from `rng`.
    fn generate(&self, sample: &Sample, rng: &mut Generator) -> Result<(Vec<Sample>, Target)>;
    /// [`PretextGenerator::generate`] with the generator of `key`.
    fn generate_keyed(&self, sample: &Sample, key: SampleKey) -> Result<(Vec<Sample>, Target)> {
        self.generate(sample, &mut key.rng())
    }
}

/// The sample as a float image in `[0, 1]` (8-bit images are divided by 255); `task` names the task
/// in the error for other sample kinds.
pub fn as_image(sample: &Sample, task: &str) -> Result<ImageF32> {
    match sample {
        Sample::Image(img) => Ok(img.clone()),
        Sample::ImageU8(img) => Ok(img.to_f32()),
        other => Err(Error::shape(format!(
            "the `{task}` pretext task needs image samples, got {}",
            sample_kind(other)
        ))),
    }
}

/// The sample as a spectrogram; `task` names the task in the error for other sample kinds.
pub fn as_spectrogram(sample: &Sample, task: &str) -> Result<Spectrogram> {
    match sample {
        Sample::Spectrogram(s) => Ok(s.clone()),
        other => Err(Error::shape(format!(
            "the `{task}` pretext task needs spectrogram samples (compute log-mel features first), got {}",
            sample_kind(other)
        ))),
    }
}

/// A short name of the sample's kind, for messages.
pub fn sample_kind(s: &Sample) -> &'static str {
    match s {
        Sample::ImageU8(_) | Sample::Image(_) => "an image",
        Sample::Audio(_) => "an audio clip",
        Sample::Spectrogram(_) => "a spectrogram",
        Sample::Tokens(_) => "a token sequence",
    }
}

/// Copies the `h × w` window at `(top, left)` of every channel.
pub(crate) fn crop(img: &ImageF32, top: usize, left: usize, h: usize, w: usize) -> ImageF32 {
    let c = img.channels();
    let mut out = ImageF32::zeros(c, h, w);
    for ch in 0..c {
        let src = img.plane(ch);
        let dst = out.plane_mut(ch);
        for y in 0..h {
            let s = (top + y) * img.width() + left;
            dst[y * w..(y + 1) * w].copy_from_slice(&src[s..s + w]);
        }
    }
    out
}

/// Standardises every channel of `img` to zero mean and unit standard deviation (a constant channel
/// becomes zero), as Noroozi & Favaro normalise each jigsaw tile on its own.
pub fn standardize_channels(img: &mut ImageF32) {
    for ch in 0..img.channels() {
        let p = img.plane_mut(ch);
        let n = p.len().max(1) as f64;
        let mean = p.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = p
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let std = var.sqrt();
        let inv = if std > 1e-8 { 1.0 / std } else { 0.0 };
        p.iter_mut()
            .for_each(|v| *v = ((f64::from(*v) - mean) * inv) as f32);
    }
}

/// Index of `perm` in the lexicographic order of all permutations of `0..perm.len()` (its Lehmer
/// code), and back: [`perm_from_rank`].
pub fn perm_rank(perm: &[usize]) -> usize {
    let n = perm.len();
    let mut rank = 0;
    for i in 0..n {
        let smaller = perm[i + 1..].iter().filter(|&&v| v < perm[i]).count();
        rank = rank * (n - i) + smaller;
    }
    rank
}

/// The permutation of `0..n` with lexicographic index `rank` (inverse of [`perm_rank`]).
pub fn perm_from_rank(n: usize, mut rank: usize) -> Vec<usize> {
    let mut fact = vec![1usize; n + 1];
    for i in 1..=n {
        fact[i] = fact[i - 1] * i;
    }
    let mut pool: Vec<usize> = (0..n).collect();
    let mut out = Vec::with_capacity(n);
    for i in (0..n).rev() {
        let f = fact[i];
        out.push(pool.remove(rank / f));
        rank %= f;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perm_rank_is_the_lexicographic_index() {
        // itertools.permutations(range(3)) order: 012 021 102 120 201 210
        let order = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for (i, p) in order.iter().enumerate() {
            assert_eq!(perm_rank(p), i);
            assert_eq!(perm_from_rank(3, i), p.to_vec());
        }
    }

    #[test]
    fn standardize_gives_zero_mean_unit_std() {
        let mut img = ImageF32::new(1, 2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        standardize_channels(&mut img);
        let m: f32 = img.data().iter().sum::<f32>() / 4.0;
        let v: f32 = img.data().iter().map(|x| (x - m) * (x - m)).sum::<f32>() / 4.0;
        assert!(m.abs() < 1e-6 && (v - 1.0).abs() < 1e-5, "{m} {v}");
    }
}
