//! The view pipelines the CLI feeds the loader.
//!
//! - Contrastive methods: the run's `augment.recipe` (`selfsup_augment::Recipe`) with the run-level
//!   fields applied ([`run_recipe`]), built by the library — images `digit` (old name `mnist`, the
//!   main job's), `sim_clr`, `moco_v2`, `byol`, `dino`, `swav` at `augment.image_size` (default 32)
//!   without normalisation, so that they match the evaluation inputs; audio `cola` (old name
//!   `contrastive`, the FSDD preset) or `byol_a` at `clip_seconds`, `sample_rate`, `n_mels`, with their
//!   log-mel front end (standardised per clip); text `tokens` (span crop then BERT-style masking at
//!   `data.text.seq_len`). Auto-encoders and pretext tasks use their family crate's pipelines.
//! - Evaluation: images resized (shorter side) and centre-cropped to `augment.image_size` (as they
//!   are when it is absent); audio as the first `clip_seconds` (zero-padded), same features; text is
//!   not evaluated (no labels).

use crate::methods::MethodConfig;
use crate::run::config::{DataKind, RunConfig};
use anyhow::{bail, Context, Result};
use selfsup_augment::audio::{ByolAConfig, ColaConfig, PadOrCrop, RandomCrop};
use selfsup_augment::image::digit::DigitConfig;
use selfsup_augment::recipe::{Modality, Recipe};
use selfsup_augment::tokens::TokenAugConfig;
use selfsup_autoencoder::AutoencoderConfig;
use selfsup_core::{Audio, BoxTransform, ImageF32, MultiView, Sample};
use selfsup_data::{FeatureFn, ViewPipeline};
use selfsup_nn::MethodSpec;

fn audio_len(cfg: &RunConfig) -> usize {
    (cfg.augment.clip_seconds * f64::from(cfg.augment.sample_rate)).round() as usize
}

/// The run's recipe (`augment.recipe`) with the run-level fields applied: `image_size` sets an image
/// recipe's (global) crop size — 32 when absent, except for `digit`, which then keeps the images as
/// they are — and drops the normalisation (the evaluation feeds plain `[0, 1]` images, and the
/// training views must match them in scale); `sample_rate`, `clip_seconds` and `n_mels` set an audio
/// recipe's; `[augment.tokens]` gives the token views of a bare `tokens` recipe.
pub fn run_recipe(cfg: &RunConfig) -> Recipe {
    let size = cfg.augment.image_size.map(|s| s as usize);
    match cfg.augment.recipe.0.clone() {
        Recipe::Digit(c) => Recipe::Digit(DigitConfig {
            image_size: size,
            ..c
        }),
        Recipe::Cola(c) => Recipe::Cola(ColaConfig {
            sample_rate: cfg.augment.sample_rate,
            segment_seconds: cfg.augment.clip_seconds,
            n_mels: cfg.augment.n_mels,
            ..c
        }),
        Recipe::ByolA(c) => Recipe::ByolA(ByolAConfig {
            sample_rate: cfg.augment.sample_rate,
            segment_seconds: cfg.augment.clip_seconds,
            n_mels: cfg.augment.n_mels,
            ..c
        }),
        Recipe::Tokens(c) if c == TokenAugConfig::default() => {
            Recipe::Tokens(cfg.augment.tokens.clone())
        }
        Recipe::Tokens(c) => Recipe::Tokens(c),
        image => image
            .with_input_size(size.unwrap_or(32))
            .with_normalize(None),
    }
}

/// The features of every audio method: the COLA recipe's front end at the run's rate and mel count
/// (log-mel standardised per clip).
fn features(cfg: &RunConfig) -> Result<FeatureFn> {
    let cola = ColaConfig {
        sample_rate: cfg.augment.sample_rate,
        segment_seconds: cfg.augment.clip_seconds,
        n_mels: cfg.augment.n_mels,
        ..ColaConfig::fsdd()
    };
    let fe = match run_recipe(cfg) {
        Recipe::Cola(c) => c.front_end()?,
        Recipe::ByolA(c) => c.front_end()?,
        _ => cola.front_end()?,
    };
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
    let recipe = run_recipe(cfg);
    match recipe.modality() {
        Modality::Tokens => {
            let vocab = vocab_size
                .context("the `tokens` recipe needs the text dataset's vocabulary size")?;
            let view = || {
                recipe.tokens()?.build(
                    cfg.data.text.seq_len,
                    vocab as i64,
                    selfsup_data::text::MASK + 1,
                    selfsup_data::text::PAD,
                    selfsup_data::text::MASK,
                )
            };
            Ok(ViewPipeline::Tokens(MultiView::new(vec![
                view()?,
                view()?,
            ])?))
        }
        Modality::Audio => {
            let (views, fe) = recipe.build_audio()?;
            Ok(ViewPipeline::Audio {
                views,
                features: Some(Box::new(move |a: &Audio| fe.compute(a))),
            })
        }
        Modality::Image => Ok(ViewPipeline::Image(recipe.build_image()?)),
    }
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
