//! The view pipelines the CLI feeds the loader.
//!
//! - Images, recipe `mnist`: two views of [`DigitCrop`] — a random resized crop (area 35–100 %,
//!   aspect 3/4–4/3, bilinear back to the input size) followed by a random brightness/contrast change
//!   and Gaussian pixel noise: the light SimCLR-style recipe that suits 28×28 grey digits (no flips:
//!   they change a digit's meaning).
//! - Images, recipes `simclr`, `moco_v2`, `byol`: the recipes of `selfsup-augment` (lightly's defaults)
//!   at `augment.image_size` (default 32), without normalisation so that they match the evaluation inputs.
//! - Audio, recipe `contrastive`: two random windows of `clip_seconds` with random gain and Gaussian
//!   noise at a random SNR, each turned into a log-mel spectrogram standardised per clip (COLA-style).
//! - Text, recipe `tokens`: two views of each token window, each a random contiguous span
//!   (`augment.tokens.crop_scale` of the window, padded or stretched back to `data.text.seq_len`) then
//!   BERT-style corruption (15 % of the non-special positions: 80 % `<mask>`, 10 % a random token, 10 %
//!   kept) — `selfsup_pretext::tokens`.
//! - Evaluation: images as they are; audio as the first `clip_seconds` (zero-padded), same features;
//!   text is not evaluated (no labels).

use crate::config::{DataKind, RunConfig};
use anyhow::{bail, Context, Result};
use selfsup_augment::audio::{AddGaussianSNR, Gain, LogMelConfig, PadOrCrop, RandomCrop};
use selfsup_core::{
    Audio, BoxTransform, Compose, Generator, ImageF32, MultiView, RandomApply, RandomTransform,
    Spectrogram,
};
use selfsup_data::{FeatureFn, ViewPipeline};

/// Random resized crop + brightness/contrast + noise for small grey images (see the module docs).
#[derive(Clone, Debug)]
pub struct DigitCrop {
    /// Crop area range as a fraction of the image.
    pub scale: (f64, f64),
    /// Brightness/contrast factor range.
    pub jitter: (f64, f64),
    /// Standard deviation of the added noise.
    pub noise: f64,
}

impl Default for DigitCrop {
    fn default() -> Self {
        DigitCrop {
            scale: (0.35, 1.0),
            jitter: (0.6, 1.4),
            noise: 0.1,
        }
    }
}

/// The drawn parameters of one [`DigitCrop`].
#[derive(Clone, Debug)]
pub struct DigitCropParams {
    top: f64,
    left: f64,
    h: f64,
    w: f64,
    contrast: f32,
    brightness: f32,
    noise_seed: u64,
}

impl RandomTransform<ImageF32> for DigitCrop {
    type Params = DigitCropParams;
    fn transform_name(&self) -> &str {
        "DigitCrop"
    }
    fn sample_params(
        &self,
        img: &ImageF32,
        rng: &mut Generator,
    ) -> selfsup_core::Result<DigitCropParams> {
        let (hh, ww) = (img.height() as f64, img.width() as f64);
        let area = rng.uniform(self.scale.0, self.scale.1) * hh * ww;
        let log_r = rng.uniform((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln());
        let r = log_r.exp();
        let w = (area * r).sqrt().min(ww);
        let h = (area / r).sqrt().min(hh);
        let top = rng.uniform(0.0, hh - h);
        let left = rng.uniform(0.0, ww - w);
        Ok(DigitCropParams {
            top,
            left,
            h,
            w,
            contrast: rng.uniform(self.jitter.0, self.jitter.1) as f32,
            brightness: rng.uniform(-0.2, 0.2) as f32,
            noise_seed: rng.below(u64::MAX),
        })
    }
    fn apply_with(&self, img: ImageF32, p: &DigitCropParams) -> selfsup_core::Result<ImageF32> {
        let (c, hh, ww) = img.dims();
        let mut out = ImageF32::zeros(c, hh, ww);
        let mut noise = Generator::seed_from_u64(p.noise_seed);
        for ch in 0..c {
            let src = img.plane(ch);
            let mean: f32 = src.iter().sum::<f32>() / src.len().max(1) as f32;
            for y in 0..hh {
                let sy =
                    (p.top + (y as f64 + 0.5) * p.h / hh as f64 - 0.5).clamp(0.0, hh as f64 - 1.0);
                let (y0, fy) = (sy.floor() as usize, (sy - sy.floor()) as f32);
                let y1 = (y0 + 1).min(hh - 1);
                for x in 0..ww {
                    let sx = (p.left + (x as f64 + 0.5) * p.w / ww as f64 - 0.5)
                        .clamp(0.0, ww as f64 - 1.0);
                    let (x0, fx) = (sx.floor() as usize, (sx - sx.floor()) as f32);
                    let x1 = (x0 + 1).min(ww - 1);
                    let v = (1.0 - fy) * ((1.0 - fx) * src[y0 * ww + x0] + fx * src[y0 * ww + x1])
                        + fy * ((1.0 - fx) * src[y1 * ww + x0] + fx * src[y1 * ww + x1]);
                    let v = (v - mean) * p.contrast + mean + p.brightness;
                    let v = v + (self.noise * noise.normal()) as f32;
                    out.set(ch, y, x, v.clamp(0.0, 1.0));
                }
            }
        }
        Ok(out)
    }
}
selfsup_core::impl_transform!(DigitCrop => ImageF32);

fn audio_len(cfg: &RunConfig) -> usize {
    (cfg.augment.clip_seconds * f64::from(cfg.augment.sample_rate)).round() as usize
}

fn features(cfg: &RunConfig) -> Result<FeatureFn> {
    let lm = LogMelConfig::for_rate(cfg.augment.sample_rate, cfg.augment.n_mels).build()?;
    Ok(Box::new(
        move |a: &Audio| -> selfsup_core::Result<Spectrogram> {
            let s = lm.compute(&a.downmix())?;
            // Standardise per clip: dB values become zero-mean, unit-variance network inputs.
            let (c, f, t) = (s.values.channels(), s.n_freq(), s.n_frames());
            let data = s.values.data();
            let n = data.len().max(1) as f32;
            let mean = data.iter().sum::<f32>() / n;
            let var = data.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
            let std = var.sqrt().max(1e-5);
            Spectrogram::new(c, f, t, data.iter().map(|v| (v - mean) / std).collect())
        },
    ))
}

/// The augmented multi-view pipeline of pretraining; text needs the dataset's `vocab_size` (the
/// random replacements of the masking are drawn from it).
pub fn train_pipeline(cfg: &RunConfig, vocab_size: Option<usize>) -> Result<ViewPipeline> {
    let recipe = cfg.augment.recipe.as_str();
    if cfg.data.kind == DataKind::Text {
        if recipe != "tokens" {
            bail!("invalid value for `augment.recipe`: `{recipe}`; allowed for text: tokens");
        }
        let vocab =
            vocab_size.context("the `tokens` recipe needs the text dataset's vocabulary size")?;
        let first_regular = selfsup_data::text::MASK + 1;
        let view = || {
            cfg.augment.tokens.build(
                cfg.data.text.seq_len,
                vocab as i64,
                first_regular,
                selfsup_data::text::PAD,
                selfsup_data::text::MASK,
            )
        };
        return Ok(ViewPipeline::Tokens(MultiView::new(vec![
            view()?,
            view()?,
        ])?));
    }
    if cfg.data.kind.is_audio() {
        if recipe != "contrastive" {
            bail!("invalid value for `augment.recipe`: `{recipe}`; allowed for audio: contrastive");
        }
        let len = audio_len(cfg);
        let view = || -> Result<BoxTransform<Audio>> {
            Ok(Box::new(
                Compose::new(vec![])
                    .then(RandomCrop::new(len)?)
                    .then(RandomApply::new(0.8, Gain::new(-12.0, 12.0)?)?)
                    .then(RandomApply::new(0.8, AddGaussianSNR::new(5.0, 30.0)?)?),
            ))
        };
        return Ok(ViewPipeline::Audio {
            views: MultiView::new(vec![view()?, view()?])?,
            features: Some(features(cfg)?),
        });
    }
    match recipe {
        "mnist" => {
            let v = || -> BoxTransform<ImageF32> { Box::new(DigitCrop::default()) };
            Ok(ViewPipeline::Image(MultiView::new(vec![v(), v()])?))
        }
        other => image_recipe(other, cfg),
    }
}

fn image_recipe(name: &str, cfg: &RunConfig) -> Result<ViewPipeline> {
    let kind = match name {
        "simclr" => "sim_clr",
        "moco_v2" => "moco_v2",
        "byol" => "byol",
        other => bail!(
            "invalid value for `augment.recipe`: `{other}`; allowed for images: mnist, simclr, moco_v2, byol"
        ),
    };
    // The recipe's own defaults, at the run's image size and without normalisation: the evaluation
    // pipeline feeds plain [0, 1] images, and the training views must match them in scale.
    let size = cfg.augment.image_size.unwrap_or(32);
    let recipe: selfsup_augment::image::recipes::ImageRecipe = serde_json::from_value(
        serde_json::json!({ "kind": kind, "input_size": size, "normalize": null }),
    )
    .map_err(|e| anyhow::anyhow!("invalid image recipe `{name}`: {e}"))?;
    Ok(ViewPipeline::Image(recipe.build()?))
}

/// The evaluation pipeline: no augmentation.
pub fn eval_pipeline(cfg: &RunConfig) -> Result<ViewPipeline> {
    if cfg.data.kind.is_audio() {
        let t: BoxTransform<Audio> = Box::new(PadOrCrop::new(audio_len(cfg))?);
        return Ok(ViewPipeline::Audio {
            views: MultiView::new(vec![t])?,
            features: Some(features(cfg)?),
        });
    }
    Ok(ViewPipeline::Identity)
}
