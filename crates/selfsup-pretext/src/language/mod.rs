//! Language-model pretraining: next-token prediction (GPT) and masked-token prediction (BERT).
//!
//! - [`masking`] (default features, no torch): [`MlmMasker`], BERT's 15 % / 80-10-10 corruption as a
//!   keyed generator `ids → (masked ids, targets with -100)`, Bernoulli or exact-count selection,
//!   optional span masking; [`mlm_views`] makes the two token views the loader delivers.
//! - Loader pipelines: [`train_pipeline`] (keyed random windows; for `bert` corrupted by the masker
//!   with targets through [`ViewPipeline::Pretext`]) and [`eval_pipeline`] (validation windows as they
//!   are for `gpt`, corrupted for `bert`).
//! - [`config`]: [`LanguageModelConfig`] (`kind = "gpt" | "bert"`, [`KINDS`]) and its validation.
//! - `methods` (feature `torch`): `NextToken` and `MaskedToken`, `selfsup_nn::Method`s over the
//!   `selfsup_nn::backbones::Gpt` model; held-out evaluation (`LmEval`: nats/token, bits/char,
//!   perplexity, MLM accuracy) and seeded sampling (`NextToken::generate`).
//!
//! Data: next-token windows are `L + 1` ids (`selfsup_data::RandomWindows` for training,
//! `selfsup_data::SequentialWindows` for validation); masked-token samples are `L` ids corrupted by
//! [`MlmMasker`] inside the loader, keyed by the sample's `(seed, epoch, index)`.

pub mod config;
pub mod masking;
#[cfg(feature = "torch")]
pub mod methods;

pub use config::{
    LanguageModelConfig, LanguageModelSpec, MaskedTokenConfig, NextTokenConfig, TokenPool, KINDS,
};
pub use masking::{MlmMaskConfig, MlmMasker, SelectMode, IGNORE_INDEX};
#[cfg(feature = "torch")]
pub use methods::{evaluate_held_out, lm_scalars, model_config, LmEval, MaskedToken, NextToken};

use selfsup_core::{Error, Result, Sample, SampleKey, Target, Tokens};
use selfsup_data::{RandomWindows, ViewPipeline};
use std::sync::Arc;

/// The two token views of a masked-token sample: view 0 the corrupted ids, view 1 the targets
/// (`-100` where not predicted), drawn with the sample key's generator (`key.rng()`).
pub fn mlm_views(masker: &MlmMasker, ids: &[i64], key: SampleKey) -> Result<[Tokens; 2]> {
    let mut g = key.rng();
    let (x, y) = masker.apply(ids, &mut g)?;
    Ok([Tokens { ids: x }, Tokens { ids: y }])
}

fn tokens_of(s: Sample) -> Result<Vec<i64>> {
    match s {
        Sample::Tokens(t) => Ok(t.ids),
        other => Err(Error::shape(format!(
            "language models read token samples, got {}",
            match other {
                Sample::Audio(_) => "audio",
                Sample::Spectrogram(_) => "a spectrogram",
                _ => "an image",
            }
        ))),
    }
}

/// The masker of a `bert` config for `vocab_size` ids (mask id 2, regular ids from 3: the
/// vocabularies of `selfsup-data`); `None` for `gpt`.
pub fn masker_of(cfg: &LanguageModelConfig, vocab_size: i64) -> Result<Option<MlmMasker>> {
    match cfg {
        LanguageModelConfig::Gpt(_) => Ok(None),
        LanguageModelConfig::Bert(c) => MlmMasker::new(c.mask.clone(), vocab_size, 2, 3).map(Some),
    }
}

/// The training pipeline over keyed random windows (`seq_len + 1` ids at offsets drawn from
/// `(seed, epoch, index)`): `gpt` gets the window as its one token view; `bert` gets the first
/// `seq_len` ids corrupted by its masker (generator `key.with_view(1).rng()`) as view 0 and the
/// targets (`-100` where not predicted) as the batch's pretext targets.
pub fn train_pipeline(
    cfg: &LanguageModelConfig,
    windows: &Arc<RandomWindows>,
    vocab_size: i64,
) -> Result<ViewPipeline> {
    cfg.validate()?;
    let Some(masker) = masker_of(cfg, vocab_size)? else {
        return Ok(windows.pipeline());
    };
    let w = Arc::clone(windows);
    let seq_len = w.seq_len();
    Ok(ViewPipeline::Pretext {
        n_views: 1,
        f: Box::new(move |_sample, key| {
            let ids = w.window(key);
            mlm_pretext(&masker, &ids[..seq_len], key)
        }),
    })
}

/// The validation pipeline over `selfsup_data::SequentialWindows` samples (`seq_len + 1` ids): `gpt`
/// reads them as they are; `bert` corrupts the first `seq_len` ids like [`train_pipeline`] (keyed by
/// the loader's key, so a fixed seed and epoch give the same positions at every evaluation).
pub fn eval_pipeline(cfg: &LanguageModelConfig, vocab_size: i64) -> Result<ViewPipeline> {
    cfg.validate()?;
    let Some(masker) = masker_of(cfg, vocab_size)? else {
        return Ok(ViewPipeline::Identity);
    };
    Ok(ViewPipeline::Pretext {
        n_views: 1,
        f: Box::new(move |sample, key| {
            let ids = tokens_of(sample)?;
            let n = ids.len().saturating_sub(1).max(1);
            mlm_pretext(&masker, &ids[..n.min(ids.len())], key)
        }),
    })
}

/// The loader over held-out windows (`selfsup_data::SequentialWindows`) for [`evaluate_held_out`]:
/// the [`eval_pipeline`] of `cfg`, in order, every window (the last batch may be short), keyed by
/// `seed` (the MLM positions of window `i` are the same at every evaluation of a run).
pub fn eval_loader(
    cfg: &LanguageModelConfig,
    windows: Arc<dyn selfsup_data::Dataset>,
    vocab_size: i64,
    batch_size: usize,
    seed: u64,
    num_threads: usize,
) -> Result<selfsup_data::Loader> {
    if windows.is_empty() {
        return Err(Error::config(
            "data.val_path",
            "the held-out text has no window to evaluate",
        ));
    }
    let lc = selfsup_data::LoaderConfig {
        batch_size: batch_size.clamp(1, windows.len()),
        shuffle: false,
        drop_last: false,
        num_threads,
        seed,
        ..Default::default()
    };
    selfsup_data::Loader::new(windows, eval_pipeline(cfg, vocab_size)?, lc)
}

fn mlm_pretext(masker: &MlmMasker, ids: &[i64], key: SampleKey) -> Result<(Vec<Sample>, Target)> {
    let [x, y] = mlm_views(masker, ids, key.with_view(1))?;
    Ok((vec![Sample::Tokens(x)], Target::Dense(Sample::Tokens(y))))
}
