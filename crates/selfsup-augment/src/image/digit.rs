//! The `digit` recipe (the main job's `mnist` recipe): two light views for small grey images
//! (MNIST-like digits), each a [`Compose`] of the crate's transforms —
//!
//! 0. only when `degrees` or `shear` is non-zero: [`RandomAffine`], a rotation by `U(±degrees)` and an
//!    x-shear by `U(±shear)` degrees about the centre, bilinear, filled with 0 (the digits' background);
//! 1. [`RandomContrastBrightness`]: contrast about the image mean, factor `U(contrast)`, then an
//!    additive shift `U(brightness)`, unclipped;
//! 2. [`RandomSubpixelCrop`]: a random resized crop with a continuous box (area `U(scale)` of the
//!    image, aspect 3/4–4/3) resampled bilinearly back to the input size;
//! 3. [`GaussianNoise`]: `N(0, noise²)` per pixel, then clamped to `[0, 1]` (default `noise = 0`:
//!    off — with 0.1, the main job's kNN on a validation split was 2.5 points lower, issue 16's
//!    ablations in `docs/benchmarks.md`; the clamp lifts the black background the evaluation never sees).
//!
//! No flips: they change a digit's meaning. The contrast comes first so that it pivots on the whole
//! image's mean; since the crop's bilinear weights sum to one, this is the arithmetic of the hand-made
//! `DigitCrop` transform the main job's figures were measured with (crop, then jitter about the *source*
//! mean, then noise, one clamp at the end), with the same parameter distributions —
//! `tests/digit_recipe.rs` checks both against a copy of that code.
//!
//! With `image_size`, images are first brought to it by the evaluation transform ([`eval_transform`]:
//! resize of the shorter side, centre crop), as the evaluation does.

use super::color::RandomContrastBrightness;
use super::geometry::RandomSubpixelCrop;
use super::noise::GaussianNoise;
use super::recipes::eval_transform;
use super::warp::RandomAffine;
use super::Interpolation;
use selfsup_core::{check, BoxTransform, Compose, ImageF32, MultiView, Result};
use serde::{Deserialize, Serialize};

/// The `digit` recipe's configuration (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DigitConfig {
    /// Crop area range as a fraction of the image, in `(0, 1]`.
    pub scale: (f64, f64),
    /// Contrast factor range, in `[0, 10]`.
    pub contrast: (f64, f64),
    /// Additive brightness range, in `[−1, 1]`.
    pub brightness: (f64, f64),
    /// Standard deviation of the added noise (≥ 0).
    pub noise: f64,
    /// Rotation range `±degrees`, in `[0, 180]`; 0 with `shear` 0: no affine step.
    pub degrees: f64,
    /// x-shear range `±shear` degrees, in `[0, 60]`.
    pub shear: f64,
    /// Number of views (≥ 1).
    pub n_views: usize,
    /// Bring images to this size first (shorter side, centre crop); `None`: as they are.
    pub image_size: Option<usize>,
}

impl Default for DigitConfig {
    fn default() -> Self {
        DigitConfig {
            scale: (0.35, 1.0),
            contrast: (0.6, 1.4),
            brightness: (-0.2, 0.2),
            noise: 0.0,
            degrees: 0.0,
            shear: 0.0,
            n_views: 2,
            image_size: None,
        }
    }
}

impl DigitConfig {
    /// Checks every field; errors name the field (`digit.scale`, ...) and the allowed range.
    pub fn validate(&self) -> Result<()> {
        check::interval("digit.scale", self.scale, 0.0, 1.0)?;
        check::positive("digit.scale[0]", self.scale.0)?;
        check::interval("digit.contrast", self.contrast, 0.0, 10.0)?;
        check::interval("digit.brightness", self.brightness, -1.0, 1.0)?;
        check::non_negative("digit.noise", self.noise)?;
        check::in_range("digit.degrees", self.degrees, 0.0, 180.0)?;
        check::in_range("digit.shear", self.shear, 0.0, 60.0)?;
        check::at_least("digit.n_views", self.n_views, 1)?;
        if let Some(s) = self.image_size {
            check::at_least("digit.image_size", s, 1)?;
        }
        Ok(())
    }

    /// One view's pipeline.
    pub fn view(&self) -> Result<BoxTransform<ImageF32>> {
        self.validate()?;
        let mut c: Compose<ImageF32> = Compose::new(Vec::new());
        if let Some(s) = self.image_size {
            c.push(eval_transform(s, None)?);
        }
        if self.degrees > 0.0 || self.shear > 0.0 {
            let shear = (self.shear > 0.0).then_some((-self.shear, self.shear, 0.0, 0.0));
            c.push(
                RandomAffine::new((-self.degrees, self.degrees), None, None, shear)?
                    .with(Interpolation::Bilinear, vec![0.0])?,
            );
        }
        c.push(RandomContrastBrightness::new(
            self.contrast,
            self.brightness,
            false,
        )?);
        c.push(RandomSubpixelCrop::new(self.scale, (3.0 / 4.0, 4.0 / 3.0))?);
        c.push(GaussianNoise::new(0.0, self.noise, true)?);
        Ok(Box::new(c))
    }

    /// The multi-view pipeline (`n_views` independent views).
    pub fn build(&self) -> Result<MultiView<ImageF32>> {
        MultiView::new(
            (0..self.n_views)
                .map(|_| self.view())
                .collect::<Result<_>>()?,
        )
    }
}
