//! The language-model family's configuration: [`LanguageModelConfig`] (`kind = "gpt" | "bert"`).

use super::masking::MlmMaskConfig;
use selfsup_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// The kinds of [`LanguageModelConfig`], as written in configs (`kind = "gpt"`).
pub const KINDS: &[&str] = LanguageModelConfig::KINDS;

/// What every language-model config offers: its validation, the model settings it sets and (feature
/// `torch`) its method. Implemented by each kind's config; [`LanguageModelConfig`] reaches it through
/// `family_spec()`.
pub trait LanguageModelSpec {
    /// Checks every field (messages name `method.<field>`).
    fn validate(&self) -> Result<()>;
    /// Dropout in training.
    fn dropout(&self) -> f64;
    /// Biases in the Linear and LayerNorm layers.
    fn bias(&self) -> bool;
    /// Causal attention (a decoder reading `L + 1`-token windows) or bidirectional.
    fn causal(&self) -> bool;
    /// Builds the method over a model of `cfg` in `vs`.
    #[cfg(feature = "torch")]
    fn build_model(
        &self,
        vs: tch::nn::VarStore,
        cfg: &selfsup_nn::backbones::GptConfig,
    ) -> selfsup_nn::Result<Box<dyn selfsup_nn::Method>>;
}

selfsup_core::config_family! {
    /// A language-model pretraining method (serde `tag = "kind"`).
    pub enum LanguageModelConfig: LanguageModelSpec {
        /// Next-token prediction with a causal decoder (GPT).
        "gpt" => Gpt(NextTokenConfig),
        /// Masked-token prediction with a bidirectional encoder (BERT).
        "bert" => Bert(MaskedTokenConfig),
    }
}

impl LanguageModelConfig {
    /// The method's name (`"gpt"` or `"bert"`), its `kind`.
    pub fn name(&self) -> &'static str {
        self.kind()
    }

    /// Checks every field (messages name `method.<field>`).
    pub fn validate(&self) -> Result<()> {
        self.family_spec().validate()
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

/// How a causal model's final hidden states become the one feature vector of a sequence (its
/// `embed`, what kNN and the linear probe see).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPool {
    /// The mean over positions, as iGPT's linear probes (Chen et al. 2020, average pooling): every
    /// prefix's summary. The default: on play attribution it transfers where the last token does not
    /// (`docs/benchmarks.md`).
    #[default]
    Mean,
    /// The last position's state, the one that predicts the next token.
    Last,
}

/// Next-token (GPT) settings; the model's sizes come from the backbone (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NextTokenConfig {
    /// Dropout in training (embeddings, attention, residual branches), in `[0, 1)`.
    pub dropout: f64,
    /// Biases in the Linear and LayerNorm layers.
    pub bias: bool,
    /// The features `embed` returns: `"mean"` over positions (default) or the `"last"` position.
    pub pool: TokenPool,
}

impl Default for NextTokenConfig {
    fn default() -> Self {
        NextTokenConfig {
            dropout: 0.0,
            bias: false,
            pool: TokenPool::Mean,
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

/// Implements [`LanguageModelSpec`] for one kind's config: its own `validate`, its `dropout` and
/// `bias` fields, whether it is causal, and its method's constructor.
macro_rules! language_model {
    ($ty:ty, causal = $causal:expr, method = |$c:ident, $vs:ident, $cfg:ident| $build:expr) => {
        impl LanguageModelSpec for $ty {
            fn validate(&self) -> Result<()> {
                <$ty>::validate(self)
            }

            fn dropout(&self) -> f64 {
                self.dropout
            }

            fn bias(&self) -> bool {
                self.bias
            }

            fn causal(&self) -> bool {
                $causal
            }

            #[cfg(feature = "torch")]
            fn build_model(
                &self,
                $vs: tch::nn::VarStore,
                $cfg: &selfsup_nn::backbones::GptConfig,
            ) -> selfsup_nn::Result<Box<dyn selfsup_nn::Method>> {
                let $c = self;
                Ok(Box::new($build?))
            }
        }
    };
}

language_model!(
    NextTokenConfig,
    causal = true,
    method = |c, vs, cfg| super::methods::NextToken::new(vs, cfg).map(|m| m.with_pool(c.pool))
);
language_model!(
    MaskedTokenConfig,
    causal = false,
    method = |c, vs, cfg| super::methods::MaskedToken::new(vs, cfg, c)
);
