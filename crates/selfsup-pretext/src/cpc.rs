//! Contrastive predictive coding (van den Oord et al., 2018) for audio: the torch-free half.
//!
//! CPC needs no invented label: a frame encoder maps the (log-mel) spectrogram to latents `z_t`, an
//! autoregressive context network (a GRU) summarises `z_1..z_t` into `c_t`, and a linear predictor per
//! offset `k = 1..=prediction_steps` predicts `z_{t+k}` from `c_t`; the loss is the InfoNCE of
//! `selfsup_contrastive::losses::CpcLoss` (the other sequences of the batch at the same future time are
//! the negatives). The model is [`crate::cpc_method::CpcMethod`] (feature `torch`).
//!
//! Here: [`CpcConfig`] (the encoder's and context network's sizes, with [`CpcConfig::encoded_frames`],
//! the number of latents a clip of `T` frames gives) and the generator [`Cpc`]: the view is the
//! spectrogram itself; the target is the constant class 0 — the positive's slot in CPC's scores
//! (each sequence's own future), since the positives are implicit. The generator checks that the clip is
//! long enough for `prediction_steps`, so a too-short clip is an error naming the limit before any
//! training step.
//!
//! Encoder (`encoder = "own"`, the default): `widths.len()` blocks of `Conv1d(kernel, padding
//! kernel/2) → ReLU` over time, with the mel bins (times channels) as input channels; the first block
//! has stride `stride`, the others stride 1. With `encoder = "backbone"` the run's `[backbone]` (a
//! backbone with a feature map, e.g. `audio_cnn`) is the encoder instead: its feature map before the
//! global pool, averaged over frequency, gives one latent per time column (`widths`, `kernel` and
//! `stride` are then unused), so CPC trains the same encoder the other audio tasks train and is
//! compared with the same random initialisation.

use crate::{as_spectrogram, PretextGenerator, Target};
use selfsup_core::{check, Error, Generator, Result, Sample};
use serde::{Deserialize, Serialize};

/// Where CPC's negatives come from (`method.negatives`): the InfoNCE's candidates for `z_{t+k}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpcNegatives {
    /// The other sequences of the batch at the same future time (the first implementation's).
    #[default]
    Batch,
    /// The same sequence at its other future times (what identifies a recording cannot solve it).
    Sequence,
    /// Every latent of the batch at every future time.
    All,
}

/// What CPC's encoder hands to kNN and the probes (`method.embedding`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpcEmbedding {
    /// The GRU contexts `c_t` averaged over time (`context_dim` wide).
    #[default]
    Context,
    /// The encoder's latents `z_t` averaged over time (`widths.last()` wide).
    Latent,
    /// Both, concatenated (`widths.last() + context_dim`).
    Both,
}

/// CPC's frame encoder (`method.encoder`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpcEncoder {
    /// Its own `Conv1d` blocks (`widths`, `kernel`, `stride`).
    #[default]
    Own,
    /// The run's backbone: its feature map averaged over frequency, one latent per time column.
    Backbone,
}

/// Settings of CPC (the `[method]` table with `kind = "cpc"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CpcConfig {
    /// Future latents predicted from each context, `K` (default 4).
    pub prediction_steps: usize,
    /// Output channels of the encoder's convolution blocks (default `[128, 128, 128]`).
    pub widths: Vec<usize>,
    /// Kernel size (frames) of every convolution (default 3).
    pub kernel: usize,
    /// Stride of the first convolution (default 2: one latent per two log-mel frames).
    pub stride: usize,
    /// Hidden size of the GRU context network, the embedding width (default 128).
    pub context_dim: usize,
    /// Where the negatives come from (default `batch`).
    pub negatives: CpcNegatives,
    /// The evaluation embedding (default `context`).
    pub embedding: CpcEmbedding,
    /// The frame encoder (default `own`; `backbone`: the run's `[backbone]`).
    pub encoder: CpcEncoder,
}

impl Default for CpcConfig {
    fn default() -> Self {
        CpcConfig {
            prediction_steps: 4,
            widths: vec![128, 128, 128],
            kernel: 3,
            stride: 2,
            context_dim: 128,
            negatives: CpcNegatives::Batch,
            embedding: CpcEmbedding::Context,
            encoder: CpcEncoder::Own,
        }
    }
}

impl CpcConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if !(1..=32).contains(&self.prediction_steps) {
            return Err(Error::config(
                "method.prediction_steps",
                format!("must be in [1, 32], got {}", self.prediction_steps),
            ));
        }
        check::at_least("method.widths (number of blocks)", self.widths.len(), 1)?;
        for (i, &w) in self.widths.iter().enumerate() {
            check::at_least(&format!("method.widths[{i}]"), w, 1)?;
        }
        if !(1..=15).contains(&self.kernel) {
            return Err(Error::config(
                "method.kernel",
                format!("must be in [1, 15], got {}", self.kernel),
            ));
        }
        if !(1..=8).contains(&self.stride) {
            return Err(Error::config(
                "method.stride",
                format!("must be in [1, 8], got {}", self.stride),
            ));
        }
        check::at_least("method.context_dim", self.context_dim, 1)
    }

    /// Latent steps the encoder makes from `frames` input frames (PyTorch's `Conv1d` output length
    /// with padding `kernel / 2`).
    pub fn encoded_frames(&self, frames: usize) -> usize {
        let pad = self.kernel / 2;
        let mut t = frames;
        for i in 0..self.widths.len() {
            let s = if i == 0 { self.stride } else { 1 };
            let span = t + 2 * pad;
            if span < self.kernel {
                return 0;
            }
            t = (span - self.kernel) / s + 1;
        }
        t
    }

    /// Input frames needed for `prediction_steps + 1` latents (one context step and `K` futures).
    pub fn min_frames(&self) -> usize {
        (1..=4096)
            .find(|&t| self.encoded_frames(t) > self.prediction_steps)
            .unwrap_or(usize::MAX)
    }

    /// An error naming `method.prediction_steps` and the limit when `frames` is too short.
    pub fn check_frames(&self, frames: usize) -> Result<()> {
        let need = self.min_frames();
        if frames < need {
            return Err(Error::config(
                "method.prediction_steps",
                format!(
                    "cpc: a clip of {frames} frames gives {} latents, and predicting {} steps ahead needs at least {} latents, i.e. clips of at least {need} frames (lengthen the clip or lower method.prediction_steps)",
                    self.encoded_frames(frames),
                    self.prediction_steps,
                    self.prediction_steps + 1
                ),
            ));
        }
        Ok(())
    }

    /// Validates and builds the generator.
    pub fn build(&self) -> Result<Cpc> {
        self.validate()?;
        Ok(Cpc { cfg: self.clone() })
    }
}

/// The CPC generator; see the module docs.
#[derive(Clone, Debug)]
pub struct Cpc {
    cfg: CpcConfig,
}

impl PretextGenerator for Cpc {
    fn kind(&self) -> &'static str {
        "cpc"
    }
    fn n_views(&self) -> usize {
        1
    }
    fn num_classes(&self) -> Option<usize> {
        None
    }
    fn generate(&self, sample: &Sample, _rng: &mut Generator) -> Result<(Vec<Sample>, Target)> {
        let s = as_spectrogram(sample, "cpc")?;
        // The backbone's latent count is the model's to check (it knows the feature map).
        if self.cfg.encoder == CpcEncoder::Own {
            self.cfg.check_frames(s.n_frames())?;
        }
        Ok((vec![Sample::Spectrogram(s)], Target::Class(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_frames_follow_conv1d_arithmetic() {
        // torch.nn.Conv1d(k=3, s=2, p=1) on 51 frames -> 26; then k=3, s=1, p=1 keeps 26.
        let c = CpcConfig::default();
        assert_eq!(c.encoded_frames(51), 26);
        assert_eq!(c.encoded_frames(9), 5);
        assert_eq!(c.min_frames(), 9);
        assert!(c.check_frames(9).is_ok());
        let e = c.check_frames(8).unwrap_err().to_string();
        assert!(
            e.contains("method.prediction_steps") && e.contains("at least 9 frames"),
            "{e}"
        );
    }
}
