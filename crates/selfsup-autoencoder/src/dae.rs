//! Denoising autoencoder (Vincent et al. 2008, `kind = "dae"`): the model is
//! [`Autoencoder`](crate::Autoencoder) trained from `views[0]` (corrupted) to `views[1]` (clean).
//!
//! The corruption happens in the loader, as a keyed transform from `selfsup-augment`, so that it is
//! reproducible by `(seed, epoch, index)` like every other draw and costs no training-thread time:
//!
//! - images: [`GaussianNoise`] (additive, clipped), [`PixelDropout`] (masking noise) or
//!   [`SaltAndPepper`] — [`dae_image_pipeline`];
//! - audio: [`AddGaussianSNR`] on the waveform before the features — [`dae_audio_pipeline`].
//!
//! Both pipelines first run an optional `prepare` transform (a crop, a resize) once with the key's
//! view 0, then corrupt a copy with view 1, so the clean target is exactly the uncorrupted input.

use crate::ae::AeConfig;
use crate::common::ReconLoss;
use crate::decoder::DecoderConfig;
use selfsup_augment::audio::AddGaussianSNR;
use selfsup_augment::image::{GaussianNoise, PixelDropout, SaltAndPepper};
use selfsup_core::{Audio, BoxTransform, Error, ImageF32, Sample, SampleKey, Transform};
use selfsup_data::{FeatureFn, ViewPipeline};
use serde::{Deserialize, Serialize};

/// The image corruption of a denoising autoencoder (`[method.corruption]`, tagged by `kind`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Corruption {
    /// `x + N(0, sigma²)`, clipped to `[0, 1]` when `clip`.
    GaussianNoise {
        /// Noise standard deviation.
        sigma: f64,
        /// Clip to `[0, 1]`.
        clip: bool,
    },
    /// Each pixel set to 0 with probability `p` (masking noise).
    PixelDropout {
        /// Drop probability.
        p: f64,
    },
    /// A fraction `amount` of values set to 1 (salt) or 0 (pepper).
    SaltAndPepper {
        /// Fraction of values replaced.
        amount: f64,
        /// Probability that a replaced value is salt.
        salt_vs_pepper: f64,
    },
}

impl Default for Corruption {
    fn default() -> Self {
        Corruption::GaussianNoise {
            sigma: 0.3,
            clip: true,
        }
    }
}

impl Corruption {
    /// The transform (errors name `method.corruption.<field>`).
    pub fn build(&self) -> selfsup_core::Result<BoxTransform<ImageF32>> {
        let rename = |e: Error| match e {
            Error::InvalidConfig { field, message } => Error::config(
                format!(
                    "method.corruption.{}",
                    field.rsplit('.').next().unwrap_or(&field)
                ),
                message,
            ),
            other => other,
        };
        Ok(match *self {
            Corruption::GaussianNoise { sigma, clip } => {
                Box::new(GaussianNoise::new(0.0, sigma, clip).map_err(rename)?)
            }
            Corruption::PixelDropout { p } => {
                Box::new(PixelDropout::new(p, 0.0, false).map_err(rename)?)
            }
            Corruption::SaltAndPepper {
                amount,
                salt_vs_pepper,
            } => Box::new(SaltAndPepper::new(amount, salt_vs_pepper).map_err(rename)?),
        })
    }
}

/// Denoising autoencoder hyper-parameters (`kind = "dae"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaeConfig {
    /// Reconstruction loss: `mse` (default) or `bce`.
    pub recon_loss: ReconLoss,
    /// The decoder (`[method.decoder]`).
    pub decoder: DecoderConfig,
    /// Image corruption (`[method.corruption]`).
    pub corruption: Corruption,
    /// Audio corruption: white noise at a signal-to-noise ratio drawn in this range (dB).
    pub audio_snr_db: [f64; 2],
}

impl Default for DaeConfig {
    fn default() -> Self {
        DaeConfig {
            recon_loss: ReconLoss::default(),
            decoder: DecoderConfig::default(),
            corruption: Corruption::default(),
            audio_snr_db: [5.0, 15.0],
        }
    }
}

impl DaeConfig {
    /// Checks the decoder and both corruptions.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        self.ae().validate()?;
        self.corruption.build()?;
        AddGaussianSNR::new(self.audio_snr_db[0], self.audio_snr_db[1])
            .map_err(|e| Error::config("method.audio_snr_db", e.to_string()))?;
        Ok(())
    }

    /// The autoencoder part.
    pub fn ae(&self) -> AeConfig {
        AeConfig {
            recon_loss: self.recon_loss,
            decoder: self.decoder.clone(),
        }
    }
}

fn to_image(sample: Sample) -> selfsup_core::Result<ImageF32> {
    match sample {
        Sample::ImageU8(u) => Ok(u.to_f32()),
        Sample::Image(f) => Ok(f),
        _ => Err(Error::config(
            "pipeline",
            "the image denoising pipeline got a non-image sample; use dae_audio_pipeline for audio",
        )),
    }
}

/// The loader pipeline of an image DAE: `[corrupted, clean]` per sample. `prepare` (optional) runs
/// once with the key's view 0, the corruption with view 1.
pub fn dae_image_pipeline(
    cfg: &DaeConfig,
    prepare: Option<BoxTransform<ImageF32>>,
) -> selfsup_core::Result<ViewPipeline> {
    cfg.validate()?;
    let corrupt = cfg.corruption.build()?;
    Ok(ViewPipeline::Custom {
        n_views: 2,
        f: Box::new(move |sample: Sample, key: SampleKey| {
            let mut img = to_image(sample)?;
            if let Some(p) = &prepare {
                img = p.apply(img, &mut key.with_view(0).rng())?;
            }
            let noisy = corrupt.apply(img.clone(), &mut key.with_view(1).rng())?;
            Ok(vec![Sample::Image(noisy), Sample::Image(img)])
        }),
    })
}

/// The loader pipeline of an audio DAE: the clip is prepared once (view 0, e.g. a crop to a fixed
/// length), a copy gets white noise at a random SNR in `cfg.audio_snr_db` (view 1), and `features`
/// (e.g. log-mel) turn both into the views `[corrupted, clean]`.
pub fn dae_audio_pipeline(
    cfg: &DaeConfig,
    prepare: Option<BoxTransform<Audio>>,
    features: Option<FeatureFn>,
) -> selfsup_core::Result<ViewPipeline> {
    cfg.validate()?;
    let noise = AddGaussianSNR::new(cfg.audio_snr_db[0], cfg.audio_snr_db[1])?;
    Ok(ViewPipeline::Custom {
        n_views: 2,
        f: Box::new(move |sample: Sample, key: SampleKey| {
            let Sample::Audio(mut clip) = sample else {
                return Err(Error::config(
                    "pipeline",
                    "the audio denoising pipeline got a non-audio sample",
                ));
            };
            if let Some(p) = &prepare {
                clip = p.apply(clip, &mut key.with_view(0).rng())?;
            }
            let noisy = noise.apply(clip.clone(), &mut key.with_view(1).rng())?;
            Ok(match &features {
                Some(f) => vec![
                    Sample::Spectrogram(f(&noisy)?),
                    Sample::Spectrogram(f(&clip)?),
                ],
                None => vec![Sample::Audio(noisy), Sample::Audio(clip)],
            })
        }),
    })
}
