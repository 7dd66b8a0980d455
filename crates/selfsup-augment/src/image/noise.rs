//! Pixel-level corruptions, the inputs of denoising autoencoders (Vincent et al. 2008):
//!
//! | transform | what it does | defaults |
//! | --- | --- | --- |
//! | [`GaussianNoise`] | adds `N(mean, sigma²)` to every value, then clips to `[0, 1]` (torchvision v2 `GaussianNoise`) | mean 0, sigma 0.1, clip |
//! | [`PixelDropout`] | sets each pixel (all channels together, or each value) to `fill` with probability `p` ("masking noise") | p 0.25, fill 0 |
//! | [`SaltAndPepper`] | replaces a fraction `amount` of values by 1 (salt, with probability `salt_vs_pepper`) or 0 (pepper), as scikit-image's `random_noise(mode="s&p")` | amount 0.05, salt_vs_pepper 0.5 |
//!
//! Each is a [`RandomTransform`]: `sample_params` draws every per-value decision from the keyed
//! generator (so a corruption depends on `(seed, epoch, index, view)` only), and `apply_with` is pure.

use selfsup_core::{check, impl_transform, Error, Generator, ImageF32, RandomTransform, Result};

/// Additive Gaussian noise `x + N(mean, sigma²)`, clipped to `[0, 1]` when `clip` (torchvision v2
/// `GaussianNoise(mean=0.0, sigma=0.1, clip=True)`).
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianNoise {
    mean: f64,
    sigma: f64,
    clip: bool,
}

impl Default for GaussianNoise {
    fn default() -> Self {
        GaussianNoise {
            mean: 0.0,
            sigma: 0.1,
            clip: true,
        }
    }
}

impl GaussianNoise {
    /// Validated constructor: `sigma ≥ 0`, `mean` finite.
    pub fn new(mean: f64, sigma: f64, clip: bool) -> Result<Self> {
        check::non_negative("gaussian_noise.sigma", sigma)?;
        if !mean.is_finite() {
            return Err(Error::config("gaussian_noise.mean", "must be finite"));
        }
        Ok(GaussianNoise { mean, sigma, clip })
    }
}

impl RandomTransform<ImageF32> for GaussianNoise {
    /// The noise values, planar like the image.
    type Params = Vec<f32>;
    fn transform_name(&self) -> &str {
        "GaussianNoise"
    }
    fn sample_params(&self, img: &ImageF32, rng: &mut Generator) -> Result<Vec<f32>> {
        let mut noise = vec![0.0f32; img.data().len()];
        let (mean, sigma) = (self.mean as f32, self.sigma as f32);
        rng.map_normal(&mut noise, |v, z| *v = mean + sigma * z);
        Ok(noise)
    }
    fn apply_with(&self, mut img: ImageF32, noise: &Vec<f32>) -> Result<ImageF32> {
        if noise.len() != img.data().len() {
            return Err(Error::shape(format!(
                "GaussianNoise: {} noise values for an image of {} values",
                noise.len(),
                img.data().len()
            )));
        }
        for (v, n) in img.data_mut().iter_mut().zip(noise) {
            *v += n;
            if self.clip {
                *v = v.clamp(0.0, 1.0);
            }
        }
        Ok(img)
    }
}
impl_transform!(GaussianNoise => ImageF32);

/// Masking noise: each pixel is set to `fill` with probability `p` — all channels of a pixel together,
/// or every value independently when `per_channel`.
#[derive(Clone, Debug, PartialEq)]
pub struct PixelDropout {
    p: f64,
    fill: f32,
    per_channel: bool,
}

impl Default for PixelDropout {
    fn default() -> Self {
        PixelDropout {
            p: 0.25,
            fill: 0.0,
            per_channel: false,
        }
    }
}

impl PixelDropout {
    /// Validated constructor: `p ∈ [0, 1]`, `fill` finite.
    pub fn new(p: f64, fill: f32, per_channel: bool) -> Result<Self> {
        check::probability("pixel_dropout.p", p)?;
        if !fill.is_finite() {
            return Err(Error::config("pixel_dropout.fill", "must be finite"));
        }
        Ok(PixelDropout {
            p,
            fill,
            per_channel,
        })
    }
}

impl RandomTransform<ImageF32> for PixelDropout {
    /// `true` = dropped; one per pixel (`H·W`) or one per value (`C·H·W`) when `per_channel`.
    type Params = Vec<bool>;
    fn transform_name(&self) -> &str {
        "PixelDropout"
    }
    fn sample_params(&self, img: &ImageF32, rng: &mut Generator) -> Result<Vec<bool>> {
        let (c, h, w) = img.dims();
        let n = if self.per_channel { c * h * w } else { h * w };
        Ok((0..n).map(|_| rng.bernoulli(self.p)).collect())
    }
    fn apply_with(&self, mut img: ImageF32, drop: &Vec<bool>) -> Result<ImageF32> {
        let (c, h, w) = img.dims();
        let plane = h * w;
        if drop.len() != plane && drop.len() != c * plane {
            return Err(Error::shape(format!(
                "PixelDropout: {} decisions for a {c}×{h}×{w} image",
                drop.len()
            )));
        }
        let per_value = drop.len() != plane;
        for (i, v) in img.data_mut().iter_mut().enumerate() {
            let d = if per_value { drop[i] } else { drop[i % plane] };
            if d {
                *v = self.fill;
            }
        }
        Ok(img)
    }
}
impl_transform!(PixelDropout => ImageF32);

/// Salt-and-pepper noise (scikit-image `random_noise(mode="s&p", amount, salt_vs_pepper)`): each value
/// is replaced with probability `amount`; a replaced value becomes 1 with probability `salt_vs_pepper`,
/// else 0.
#[derive(Clone, Debug, PartialEq)]
pub struct SaltAndPepper {
    amount: f64,
    salt_vs_pepper: f64,
}

impl Default for SaltAndPepper {
    fn default() -> Self {
        SaltAndPepper {
            amount: 0.05,
            salt_vs_pepper: 0.5,
        }
    }
}

impl SaltAndPepper {
    /// Validated constructor: both probabilities in `[0, 1]`.
    pub fn new(amount: f64, salt_vs_pepper: f64) -> Result<Self> {
        check::probability("salt_and_pepper.amount", amount)?;
        check::probability("salt_and_pepper.salt_vs_pepper", salt_vs_pepper)?;
        Ok(SaltAndPepper {
            amount,
            salt_vs_pepper,
        })
    }
}

/// One value's fate under [`SaltAndPepper`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speck {
    /// Left alone.
    Keep,
    /// Set to 1.
    Salt,
    /// Set to 0.
    Pepper,
}

impl RandomTransform<ImageF32> for SaltAndPepper {
    /// One decision per value, planar like the image.
    type Params = Vec<Speck>;
    fn transform_name(&self) -> &str {
        "SaltAndPepper"
    }
    fn sample_params(&self, img: &ImageF32, rng: &mut Generator) -> Result<Vec<Speck>> {
        Ok((0..img.data().len())
            .map(|_| {
                if rng.bernoulli(self.amount) {
                    if rng.bernoulli(self.salt_vs_pepper) {
                        Speck::Salt
                    } else {
                        Speck::Pepper
                    }
                } else {
                    Speck::Keep
                }
            })
            .collect())
    }
    fn apply_with(&self, mut img: ImageF32, specks: &Vec<Speck>) -> Result<ImageF32> {
        if specks.len() != img.data().len() {
            return Err(Error::shape(format!(
                "SaltAndPepper: {} decisions for an image of {} values",
                specks.len(),
                img.data().len()
            )));
        }
        for (v, s) in img.data_mut().iter_mut().zip(specks) {
            match s {
                Speck::Keep => {}
                Speck::Salt => *v = 1.0,
                Speck::Pepper => *v = 0.0,
            }
        }
        Ok(img)
    }
}
impl_transform!(SaltAndPepper => ImageF32);

#[cfg(test)]
mod tests {
    use super::*;
    use selfsup_core::{SampleKey, Transform};

    fn img(c: usize, h: usize, w: usize) -> ImageF32 {
        let data = (0..c * h * w)
            .map(|i| (i % 7) as f32 / 7.0 + 0.05)
            .collect();
        ImageF32::new(c, h, w, data).unwrap()
    }

    fn run<T: Transform<ImageF32>>(t: &T, x: ImageF32, index: u64) -> ImageF32 {
        t.apply(x, &mut SampleKey::new(3, 0, index).rng()).unwrap()
    }

    #[test]
    fn gaussian_noise_statistics_and_clip() {
        let t = GaussianNoise::new(0.0, 0.2, false).unwrap();
        let x = ImageF32::new(1, 100, 100, vec![0.5; 10_000]).unwrap();
        let y = run(&t, x, 1);
        let n = y.data().len() as f64;
        let mean = y.data().iter().map(|&v| v as f64 - 0.5).sum::<f64>() / n;
        let var = y
            .data()
            .iter()
            .map(|&v| (v as f64 - 0.5 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var.sqrt() - 0.2).abs() < 0.01, "std {}", var.sqrt());
        let clipped = run(
            &GaussianNoise::new(0.0, 0.5, true).unwrap(),
            img(3, 8, 8),
            1,
        );
        assert!(clipped.data().iter().all(|&v| (0.0..=1.0).contains(&v)));
        // keyed: same key same noise, other key other noise
        assert_eq!(
            run(&t, img(1, 4, 4), 5).data(),
            run(&t, img(1, 4, 4), 5).data()
        );
        assert_ne!(
            run(&t, img(1, 4, 4), 5).data(),
            run(&t, img(1, 4, 4), 6).data()
        );
    }

    #[test]
    fn pixel_dropout_drops_whole_pixels_at_rate_p() {
        let t = PixelDropout::new(0.3, 0.0, false).unwrap();
        let y = run(&t, img(3, 60, 60), 2);
        let plane = 3600;
        let mut dropped = 0;
        for i in 0..plane {
            let zeros = (0..3).filter(|&c| y.data()[c * plane + i] == 0.0).count();
            assert!(zeros == 0 || zeros == 3, "pixel {i} partly dropped");
            dropped += (zeros == 3) as usize;
        }
        let rate = dropped as f64 / plane as f64;
        assert!((rate - 0.3).abs() < 0.03, "rate {rate}");
        let none = run(&PixelDropout::new(0.0, 0.0, true).unwrap(), img(2, 5, 5), 1);
        assert_eq!(none.data(), img(2, 5, 5).data());
    }

    #[test]
    fn salt_and_pepper_rates() {
        let t = SaltAndPepper::new(0.2, 0.25).unwrap();
        let x = ImageF32::new(1, 100, 100, vec![0.5; 10_000]).unwrap();
        let y = run(&t, x, 4);
        let salt = y.data().iter().filter(|&&v| v == 1.0).count() as f64 / 1e4;
        let pepper = y.data().iter().filter(|&&v| v == 0.0).count() as f64 / 1e4;
        assert!((salt - 0.05).abs() < 0.01, "salt {salt}");
        assert!((pepper - 0.15).abs() < 0.015, "pepper {pepper}");
        assert!(y.data().iter().all(|&v| v == 0.0 || v == 1.0 || v == 0.5));
    }

    #[test]
    fn bad_parameters_are_config_errors() {
        assert!(GaussianNoise::new(0.0, -1.0, true).is_err());
        assert!(PixelDropout::new(1.5, 0.0, false).is_err());
        assert!(SaltAndPepper::new(0.1, -0.1).is_err());
    }
}
