//! Language-model pretraining: next-token prediction (GPT) and masked-token prediction (BERT).
//!
//! - [`masking`] (default features, no torch): [`MlmMasker`], BERT's 15 % / 80-10-10 corruption as a
//!   keyed generator `ids → (masked ids, targets with -100)`, Bernoulli or exact-count selection,
//!   optional span masking; [`mlm_views`] makes the two token views the loader delivers.
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

pub use config::{LanguageModelConfig, MaskedTokenConfig, NextTokenConfig, KINDS};
pub use masking::{MlmMaskConfig, MlmMasker, SelectMode, IGNORE_INDEX};
#[cfg(feature = "torch")]
pub use methods::{lm_scalars, LmEval, MaskedToken, NextToken};

use selfsup_core::{Result, SampleKey, Tokens};

/// The two token views of a masked-token sample: view 0 the corrupted ids, view 1 the targets
/// (`-100` where not predicted), drawn with the sample key's generator (`key.rng()`).
pub fn mlm_views(masker: &MlmMasker, ids: &[i64], key: SampleKey) -> Result<[Tokens; 2]> {
    let mut g = key.rng();
    let (x, y) = masker.apply(ids, &mut g)?;
    Ok([Tokens { ids: x }, Tokens { ids: y }])
}
