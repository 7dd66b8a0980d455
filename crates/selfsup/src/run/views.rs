//! The view pipelines the CLI feeds the loader.
//!
//! - Images, recipe `mnist`: two views of `selfsup_augment::image::digit::DigitConfig` — a random
//!   resized crop (area 35–100 %, aspect 3/4–4/3, bilinear back to the input size) followed by a random
//!   brightness/contrast change and Gaussian pixel noise: the light SimCLR-style recipe that suits
//!   28×28 grey digits (no flips: they change a digit's meaning).
//! - Images, recipes `simclr`, `moco_v2`, `byol`: the recipes of `selfsup-augment` (lightly's defaults)
//!   at `augment.image_size` (default 32), without normalisation so that they match the evaluation inputs.
//! - Audio, recipe `contrastive`: the crate's COLA recipe (`selfsup_augment::audio::ColaConfig::fsdd`
//!   at `clip_seconds`, `sample_rate`, `n_mels`): two random windows with random gain and Gaussian
//!   noise at a random SNR, each turned into a log-mel spectrogram standardised per clip.
//! - Text, recipe `tokens`: two views of each token window, each a random contiguous span
//!   (`augment.tokens.crop_scale` of the window, padded or stretched back to `data.text.seq_len`) then
//!   BERT-style corruption (15 % of the non-special positions: 80 % `<mask>`, 10 % a random token, 10 %
//!   kept) — `selfsup_augment::tokens`.
//! - Evaluation: images resized (shorter side) and centre-cropped to `augment.image_size` (as they
//!   are when it is absent); audio as the first `clip_seconds` (zero-padded), same features; text is
//!   not evaluated (no labels).

use crate::methods::MethodConfig;
use crate::run::config::{DataKind, RunConfig};
use anyhow::{bail, Context, Result};
use selfsup_augment::audio::{ColaConfig, PadOrCrop, RandomCrop};
use selfsup_autoencoder::AutoencoderConfig;
use selfsup_core::{Audio, BoxTransform, ImageF32, MultiView, Sample};
use selfsup_data::{FeatureFn, ViewPipeline};
use selfsup_nn::MethodSpec;

fn audio_len(cfg: &RunConfig) -> usize {
    (cfg.augment.clip_seconds * f64::from(cfg.augment.sample_rate)).round() as usize
}

/// The CLI's audio recipe: the crate's COLA recipe ([`ColaConfig::fsdd`], the one the FSDD figures
/// were measured with) at the run's sample rate, clip length and mel count.
fn cola(cfg: &RunConfig) -> ColaConfig {
    ColaConfig {
        sample_rate: cfg.augment.sample_rate,
        segment_seconds: cfg.augment.clip_seconds,
        n_mels: cfg.augment.n_mels,
        ..ColaConfig::fsdd()
    }
}

/// Log-mel features standardised per clip (the COLA recipe's front end), for every audio method.
fn features(cfg: &RunConfig) -> Result<FeatureFn> {
    let fe = cola(cfg).front_end()?;
    Ok(Box::new(move |a: &Audio| fe.compute(a)))
}

/// The augmented multi-view pipeline of pretraining; text needs the dataset's `vocab_size` (the
/// random replacements of the masking are drawn from it).
pub fn train_pipeline(cfg: &RunConfig, vocab_size: Option<usize>) -> Result<ViewPipeline> {
    match &cfg.method {
        MethodConfig::Autoencoder(c) => return autoencoder_pipeline(cfg, c),
        MethodConfig::Pretext(c) => return pretext_pipeline(cfg, c),
        MethodConfig::Language(_) => bail!(
            "invalid value for `method`: `{}` is a language model and takes text: use `--dataset shakespeare` or `--dataset text`",
            cfg.method.name()
        ),
        MethodConfig::Contrastive(_) => {}
    }
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
        return Ok(ViewPipeline::Audio {
            views: cola(cfg).build()?,
            features: Some(features(cfg)?),
        });
    }
    match recipe {
        "mnist" => {
            // With an image size, images are first brought to it as the evaluation does.
            let digit = selfsup_augment::image::digit::DigitConfig {
                image_size: cfg.augment.image_size.map(|s| s as usize),
                ..Default::default()
            };
            Ok(ViewPipeline::Image(digit.build()?))
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

/// A random crop of `clip_seconds` (the training window of every audio method).
fn audio_crop(cfg: &RunConfig) -> Result<BoxTransform<Audio>> {
    Ok(Box::new(RandomCrop::new(audio_len(cfg))?))
}

/// Auto-encoders train on the sample itself (one view; images as they are, audio as the log-mel
/// features of a random crop); the denoising AE adds a corrupted copy as view 0
/// (`selfsup_autoencoder::dae_*_pipeline`).
fn autoencoder_pipeline(cfg: &RunConfig, c: &AutoencoderConfig) -> Result<ViewPipeline> {
    if cfg.data.kind == DataKind::Text {
        bail!("invalid value for `method`: auto-encoders take images or audio, not text");
    }
    if !cfg.data.kind.is_audio() {
        // Images of any size are brought to the run's size first, as the evaluation does.
        return Ok(match (c, image_resize(cfg)?) {
            (AutoencoderConfig::Dae(d), resize) => {
                selfsup_autoencoder::dae_image_pipeline(d, resize)?
            }
            (_, Some(resize)) => {
                c.validate()?;
                ViewPipeline::Image(MultiView::new(vec![resize])?)
            }
            (_, None) => selfsup_autoencoder::view_pipeline(c)?,
        });
    }
    Ok(match c {
        AutoencoderConfig::Dae(d) => selfsup_autoencoder::dae_audio_pipeline(
            d,
            Some(audio_crop(cfg)?),
            Some(features(cfg)?),
        )?,
        _ => ViewPipeline::Audio {
            views: MultiView::new(vec![audio_crop(cfg)?])?,
            features: Some(features(cfg)?),
        },
    })
}

/// Pretext tasks: `selfsup_pretext::pretext_pipeline`, with audio first cropped and turned into its
/// standardised log-mel spectrogram (the spectrogram tasks' input).
fn pretext_pipeline(cfg: &RunConfig, c: &selfsup_pretext::PretextConfig) -> Result<ViewPipeline> {
    if cfg.data.kind == DataKind::Text {
        bail!("invalid value for `method`: the pretext tasks take images or audio; for text use gpt or bert");
    }
    if c.takes_images() == cfg.data.kind.is_audio() {
        bail!(
            "invalid value for `method`: the `{}` pretext task takes {}, and `data.kind = {}` gives {}",
            c.kind(),
            if c.takes_images() { "images" } else { "spectrograms (audio data)" },
            cfg.data.kind.name(),
            if cfg.data.kind.is_audio() { "audio" } else { "images" }
        );
    }
    let prepare = pretext_prepare(cfg)?;
    Ok(selfsup_pretext::pretext_pipeline(c, prepare)?)
}

/// Pretext tasks: runs the task on the first training sample, so that data the task cannot use
/// (images too small for the grid, clips too short for the segments or the prediction steps) is a
/// clear error naming the field and the limit before anything is evaluated or trained. Other methods:
/// nothing to check.
pub fn pretext_preflight(cfg: &RunConfig, train: &dyn selfsup_data::Dataset) -> Result<()> {
    let MethodConfig::Pretext(c) = &cfg.method else {
        return Ok(());
    };
    // The task-vs-data-kind check first (its message names the task and the data kind).
    pretext_pipeline(cfg, c)?;
    if train.is_empty() {
        return Ok(());
    }
    let (_, f) = selfsup_pretext::pretext_fn(c, pretext_prepare(cfg)?)?;
    f(
        train.get(0)?.sample,
        selfsup_core::SampleKey::new(cfg.train.seed, 0, 0),
    )
    .with_context(|| {
        format!(
            "the `{}` pretext task cannot use this data (checked on the first training sample)",
            c.kind()
        )
    })?;
    Ok(())
}

/// What a pretext task's samples go through first: for audio data a random `clip_seconds` crop and
/// its standardised log-mel spectrogram (the spectrogram tasks' input); for images the evaluation's
/// resize and centre crop to the run's image size ([`image_resize`]), so that photos of mixed sizes
/// make one batch.
pub fn pretext_prepare(cfg: &RunConfig) -> Result<Option<selfsup_pretext::Prepare>> {
    if !cfg.data.kind.is_audio() {
        let Some(resize) = image_resize(cfg)? else {
            return Ok(None);
        };
        return Ok(Some(std::sync::Arc::new(
            move |s: Sample, key: selfsup_core::SampleKey| -> selfsup_core::Result<Sample> {
                let img = match s {
                    Sample::ImageU8(u) => u.to_f32(),
                    Sample::Image(f) => f,
                    other => return Ok(other),
                };
                Ok(Sample::Image(resize.apply(img, &mut key.rng())?))
            },
        )));
    }
    let crop = audio_crop(cfg)?;
    let feats = features(cfg)?;
    Ok(Some(std::sync::Arc::new(
        move |s: Sample, key: selfsup_core::SampleKey| -> selfsup_core::Result<Sample> {
            let Sample::Audio(a) = s else {
                return Err(selfsup_core::Error::shape(
                    "the audio pretext preparation got a non-audio sample".to_string(),
                ));
            };
            let a = crop.apply(a, &mut key.rng())?;
            Ok(Sample::Spectrogram(feats(&a)?))
        },
    )))
}

/// The evaluation pipeline: no augmentation. Images with an `augment.image_size` are resized
/// (shorter side) and centre-cropped to it (`selfsup_augment::image::eval_transform`, torchvision's
/// and lightly's evaluation transform), so that photos of mixed sizes stack into one batch and match
/// the training crops; without one they are used as they are.
pub fn eval_pipeline(cfg: &RunConfig) -> Result<ViewPipeline> {
    if cfg.data.kind.is_audio() {
        let t: BoxTransform<Audio> = Box::new(PadOrCrop::new(audio_len(cfg))?);
        return Ok(ViewPipeline::Audio {
            views: MultiView::new(vec![t])?,
            features: Some(features(cfg)?),
        });
    }
    match image_resize(cfg)? {
        Some(t) => Ok(ViewPipeline::Image(MultiView::new(vec![t])?)),
        None => Ok(ViewPipeline::Identity),
    }
}

/// Images: the resize (shorter side) and centre crop to `augment.image_size` (32 for image folders
/// when absent) — torchvision's evaluation convention, which brings files of any size (1×1, very
/// thin, odd-sized) to the size the training views have. It runs before the auto-encoders and the
/// pretext tasks too. `None` for other data, or images without an image size.
pub fn image_resize(cfg: &RunConfig) -> Result<Option<BoxTransform<ImageF32>>> {
    if cfg.data.kind.is_audio() || cfg.data.kind == DataKind::Text {
        return Ok(None);
    }
    let size = match cfg.augment.image_size {
        Some(s) => Some(s),
        None if cfg.data.kind == DataKind::ImageFolder => Some(32),
        None => None,
    };
    Ok(size
        .map(|s| selfsup_augment::image::eval_transform(s as usize, None))
        .transpose()?)
}
