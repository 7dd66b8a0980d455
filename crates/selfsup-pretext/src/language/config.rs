//! The language-model family's configuration: [`LanguageModelConfig`] (`kind = "gpt" | "bert"`).

use super::masking::MlmMaskConfig;
use selfsup_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// The kinds of [`LanguageModelConfig`], as written in configs (`kind = "gpt"`).
pub const KINDS: &[&str] = &["gpt", "bert"];

/// A language-model pretraining method (serde `tag = "kind"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LanguageModelConfig {
    /// Next-token prediction with a causal decoder (GPT).
    Gpt(NextTokenConfig),
    /// Masked-token prediction with a bidirectional encoder (BERT).
    Bert(MaskedTokenConfig),
}

impl Default for LanguageModelConfig {
    fn default() -> Self {
        LanguageModelConfig::Gpt(NextTokenConfig::default())
    }
}

impl LanguageModelConfig {
    /// The kinds, as written in configs.
    pub const KINDS: &'static [&'static str] = KINDS;

    /// The method's name (`"gpt"` or `"bert"`).
    pub fn name(&self) -> &'static str {
        match self {
            LanguageModelConfig::Gpt(_) => "gpt",
            LanguageModelConfig::Bert(_) => "bert",
        }
    }

    /// Checks every field (messages name `method.<field>`).
    pub fn validate(&self) -> Result<()> {
        match self {
            LanguageModelConfig::Gpt(c) => c.validate(),
            LanguageModelConfig::Bert(c) => c.validate(),
        }
    }
}

fn check_dropout(v: f64) -> Result<()> {
    if !(0.0..1.0).contains(&v) {
        return Err(Error::config(
            "method.dropout",
            format!("must be in [0, 1), got {v}"),
        ));
    }
    Ok(())
}

/// Next-token (GPT) settings; the model's sizes come from the backbone (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NextTokenConfig {
    /// Dropout in training (embeddings, attention, residual branches), in `[0, 1)`.
    pub dropout: f64,
    /// Biases in the Linear and LayerNorm layers.
    pub bias: bool,
}

impl Default for NextTokenConfig {
    fn default() -> Self {
        NextTokenConfig {
            dropout: 0.0,
            bias: false,
        }
    }
}

impl NextTokenConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        check_dropout(self.dropout)
    }
}

/// Masked-token (BERT) settings; the model's sizes come from the backbone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaskedTokenConfig {
    /// Dropout in training, in `[0, 1)`.
    pub dropout: f64,
    /// Biases in the Linear and LayerNorm layers.
    pub bias: bool,
    /// The masking (`[method.mask]`).
    pub mask: MlmMaskConfig,
}

impl Default for MaskedTokenConfig {
    fn default() -> Self {
        MaskedTokenConfig {
            dropout: 0.0,
            bias: false,
            mask: MlmMaskConfig::default(),
        }
    }
}

impl MaskedTokenConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        check_dropout(self.dropout)?;
        self.mask.validate_at("method.mask")
    }
}
