//! BERT's masked-token corruption as a keyed, torch-free generator: ids → (masked ids, targets).
//!
//! Selection (Devlin et al., 2019, §3.1): only regular positions (ids `>= first_regular`; the specials
//! `<pad>`, `<unk>`, `<mask>` are never selected) can be chosen, at rate `prob` (0.15):
//! - [`SelectMode::Bernoulli`]: every regular position independently with probability `prob`;
//! - [`SelectMode::Exact`]: exactly `round(prob · R)` of the `R` regular positions (at least one when
//!   `R > 0`), uniformly without replacement — the per-sequence count never varies.
//!
//! With `span_mean > 1` (SpanBERT-style span masking, Joshi et al., 2020) whole spans are selected
//! instead: the budget is the count above (a binomial draw in Bernoulli mode, `round(prob · R)` in exact
//! mode); spans of length `min(Geometric(1/span_mean), span_max)` start at uniform positions until the
//! budget is used (the last span is cut to fit); the replacement below is decided once per span.
//!
//! Replacement of a selected position (or span): `<mask>` with probability `mask_frac` (0.8), a
//! uniformly drawn regular id (`[first_regular, vocab_size)`, which may equal the original) with
//! probability `random_frac` (0.1), unchanged otherwise (0.1).
//!
//! Targets: the original id at selected positions and [`IGNORE_INDEX`] (−100, PyTorch's
//! `cross_entropy` default `ignore_index`) elsewhere, so the loss counts selected positions only.

use selfsup_core::{check, Error, Generator, Result};
use serde::{Deserialize, Serialize};

/// The target of a position that is not predicted (PyTorch's `ignore_index` default).
pub const IGNORE_INDEX: i64 = -100;

/// How positions are selected; see the module docs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectMode {
    /// Each regular position independently with probability `prob`.
    #[default]
    Bernoulli,
    /// Exactly `round(prob · R)` positions per sequence (at least one).
    Exact,
}

/// Configuration of [`MlmMasker`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlmMaskConfig {
    /// Selection rate in `(0, 1]` (0.15).
    pub prob: f64,
    /// `bernoulli` or `exact`.
    pub select: SelectMode,
    /// Share of selected positions replaced by `<mask>` (0.8).
    pub mask_frac: f64,
    /// Share replaced by a random regular id (0.1); `mask_frac + random_frac <= 1`.
    pub random_frac: f64,
    /// Mean span length (>= 1; 1 = single positions, no spans).
    pub span_mean: f64,
    /// Longest span (>= 1).
    pub span_max: usize,
}

impl Default for MlmMaskConfig {
    fn default() -> Self {
        MlmMaskConfig {
            prob: 0.15,
            select: SelectMode::Bernoulli,
            mask_frac: 0.8,
            random_frac: 0.1,
            span_mean: 1.0,
            span_max: 10,
        }
    }
}

impl MlmMaskConfig {
    /// Checks every field; `prefix` names the table (e.g. `"method.mask"`).
    pub fn validate_at(&self, prefix: &str) -> Result<()> {
        let f = |n: &str| format!("{prefix}.{n}");
        if !(self.prob > 0.0 && self.prob <= 1.0) {
            return Err(Error::config(
                f("prob"),
                format!("must be in (0, 1], got {}", self.prob),
            ));
        }
        check::probability(&f("mask_frac"), self.mask_frac)?;
        check::probability(&f("random_frac"), self.random_frac)?;
        if self.mask_frac + self.random_frac > 1.0 + 1e-12 {
            return Err(Error::config(
                f("random_frac"),
                format!(
                    "mask_frac + random_frac must be <= 1, got {} + {}",
                    self.mask_frac, self.random_frac
                ),
            ));
        }
        if !(self.span_mean >= 1.0 && self.span_mean.is_finite()) {
            return Err(Error::config(
                f("span_mean"),
                format!("must be a finite number >= 1, got {}", self.span_mean),
            ));
        }
        check::at_least(&f("span_max"), self.span_max, 1)
    }

    /// [`MlmMaskConfig::validate_at`] with the prefix `mask`.
    pub fn validate(&self) -> Result<()> {
        self.validate_at("mask")
    }
}

/// The masked-token generator; see the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct MlmMasker {
    cfg: MlmMaskConfig,
    vocab_size: i64,
    mask_id: i64,
    first_regular: i64,
}

impl MlmMasker {
    /// A masker for ids in `[0, vocab_size)` whose regular ids start at `first_regular` (3 for the
    /// vocabularies of `selfsup-data`) and whose mask id is `mask_id` (2 there).
    pub fn new(
        cfg: MlmMaskConfig,
        vocab_size: i64,
        mask_id: i64,
        first_regular: i64,
    ) -> Result<Self> {
        cfg.validate()?;
        if !(0..vocab_size).contains(&mask_id) {
            return Err(Error::config(
                "mask_id",
                format!("must lie in [0, {vocab_size}), got {mask_id}"),
            ));
        }
        if first_regular < 0 || first_regular >= vocab_size {
            return Err(Error::config(
                "vocab_size",
                format!(
                    "must exceed first_regular = {first_regular} (at least one regular token), got {vocab_size}"
                ),
            ));
        }
        Ok(MlmMasker {
            cfg,
            vocab_size,
            mask_id,
            first_regular,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MlmMaskConfig {
        &self.cfg
    }

    fn replace(&self, original: i64, rng: &mut Generator) -> i64 {
        let u = rng.next_f64();
        if u < self.cfg.mask_frac {
            self.mask_id
        } else if u < self.cfg.mask_frac + self.cfg.random_frac {
            rng.int_inclusive(self.first_regular, self.vocab_size - 1)
        } else {
            original
        }
    }

    /// Corrupts `ids`: returns `(masked ids, targets)` of the same length (targets `-100` where not
    /// selected). Errors when an id lies outside `[0, vocab_size)`.
    pub fn apply(&self, ids: &[i64], rng: &mut Generator) -> Result<(Vec<i64>, Vec<i64>)> {
        if let Some((i, &id)) = ids
            .iter()
            .enumerate()
            .find(|(_, &id)| !(0..self.vocab_size).contains(&id))
        {
            return Err(Error::config(
                "tokens",
                format!(
                    "token id {id} at position {i} is outside the vocabulary [0, {})",
                    self.vocab_size
                ),
            ));
        }
        let regular: Vec<usize> = (0..ids.len())
            .filter(|&i| ids[i] >= self.first_regular)
            .collect();
        let mut masked = ids.to_vec();
        let mut targets = vec![IGNORE_INDEX; ids.len()];
        let r = regular.len();
        if r == 0 {
            return Ok((masked, targets));
        }
        let p = self.cfg.prob;
        if self.cfg.span_mean <= 1.0 {
            let chosen: Vec<usize> = match self.cfg.select {
                SelectMode::Bernoulli => regular
                    .iter()
                    .copied()
                    .filter(|_| rng.bernoulli(p))
                    .collect(),
                SelectMode::Exact => {
                    let k = ((p * r as f64).round() as usize).clamp(1, r);
                    let mut pool = regular.clone();
                    for j in 0..k {
                        let s = j + rng.below((r - j) as u64) as usize;
                        pool.swap(j, s);
                    }
                    pool.truncate(k);
                    pool
                }
            };
            for i in chosen {
                targets[i] = ids[i];
                masked[i] = self.replace(ids[i], rng);
            }
            return Ok((masked, targets));
        }
        // span masking over the positions of the regular ids
        let budget = match self.cfg.select {
            SelectMode::Bernoulli => (0..r).filter(|_| rng.bernoulli(p)).count(),
            SelectMode::Exact => ((p * r as f64).round() as usize).clamp(1, r),
        };
        let mut selected = vec![false; r];
        let mut used = 0usize;
        let q = 1.0 / self.cfg.span_mean;
        let mut attempts = 0usize;
        while used < budget && attempts < 100 * r {
            attempts += 1;
            // Geometric(q) on {1, 2, ...}: number of trials to the first success.
            let mut len = 1usize;
            while len < self.cfg.span_max && !rng.bernoulli(q) {
                len += 1;
            }
            let len = len.min(budget - used);
            let start = rng.below(r as u64) as usize;
            let end = (start + len).min(r);
            let fresh: Vec<usize> = (start..end).filter(|&j| !selected[j]).collect();
            if fresh.is_empty() {
                continue;
            }
            let choice = rng.next_f64();
            for j in fresh {
                selected[j] = true;
                used += 1;
                let i = regular[j];
                targets[i] = ids[i];
                masked[i] = if choice < self.cfg.mask_frac {
                    self.mask_id
                } else if choice < self.cfg.mask_frac + self.cfg.random_frac {
                    rng.int_inclusive(self.first_regular, self.vocab_size - 1)
                } else {
                    ids[i]
                };
            }
        }
        Ok((masked, targets))
    }
}
