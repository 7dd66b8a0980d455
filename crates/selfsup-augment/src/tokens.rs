//! Token-sequence augmentations: the views of a [`Tokens`] sample for contrastive learning on text.
//!
//! - [`SpanCrop`]: a random contiguous span of the sequence (its length a uniform fraction
//!   `scale = (lo, hi)` of the input length, at least 1 token, its start uniform), brought back to
//!   `out_len` tokens (default: the input length) either by padding with `pad_id` after the span
//!   ([`SpanFit::Pad`]) or by nearest-neighbour stretching ([`SpanFit::Stretch`]; a span longer than
//!   `out_len` is shrunk the same way) — the token analogue of a random resized crop.
//! - [`TokenMask`]: BERT's corruption (Devlin et al., 2019): every non-special position is selected with
//!   probability `prob` (default 0.15); a selected token becomes `mask_id` with probability
//!   `mask_frac` (0.8), a uniformly drawn regular token with probability `random_frac` (0.1), and stays
//!   as it is otherwise (0.1). Special ids (`< first_regular`, e.g. `<pad>`, `<unk>`, `<mask>`) are never
//!   selected, so padding stays padding.
//! - [`TokenAugConfig`]: the two together as one validated config, built into one view's pipeline by
//!   [`TokenAugConfig::build`]; two such views give SimCLR-style positive pairs.
//!
//! Both transforms split into `sample_params` (every random draw, from the given generator) and the
//! pure `apply_with` of [`RandomTransform`], so their draws can be recorded and replayed like every
//! other transform of the workspace.

use selfsup_core::{
    check, BoxTransform, Compose, Error, Generator, RandomTransform, Result, Tokens,
};
use serde::{Deserialize, Serialize};

/// How [`SpanCrop`] brings the span back to `out_len` tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanFit {
    /// The span, then `pad_id` up to `out_len` (a longer span is cut to its first `out_len` tokens).
    #[default]
    Pad,
    /// Nearest-neighbour resampling of the span to exactly `out_len` tokens: output `i` takes span
    /// token `floor(i · len / out_len)`, as `torch.nn.functional.interpolate(mode="nearest")`.
    Stretch,
}

/// A random contiguous span, padded or stretched to a fixed length; see the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanCrop {
    scale: (f64, f64),
    out_len: Option<usize>,
    fit: SpanFit,
    pad_id: i64,
}

/// The drawn parameters of one [`SpanCrop`]: the span `[start, start + len)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanParams {
    /// First token of the span.
    pub start: usize,
    /// Tokens in the span (>= 1 for a non-empty input).
    pub len: usize,
}

impl SpanCrop {
    /// A crop of a fraction in `scale` (`0 < lo <= hi <= 1`) of the input, fitted to `out_len` tokens
    /// (`None` = the input length; `Some(0)` is an error) with `fit`, padding with `pad_id`.
    pub fn new(
        scale: (f64, f64),
        out_len: Option<usize>,
        fit: SpanFit,
        pad_id: i64,
    ) -> Result<Self> {
        check::interval("span_crop.scale", scale, 0.0, 1.0)?;
        if scale.0 <= 0.0 {
            return Err(Error::config(
                "span_crop.scale",
                format!("the lower end must be > 0, got {}", scale.0),
            ));
        }
        if let Some(n) = out_len {
            check::at_least("span_crop.out_len", n, 1)?;
        }
        Ok(SpanCrop {
            scale,
            out_len,
            fit,
            pad_id,
        })
    }
}

impl RandomTransform<Tokens> for SpanCrop {
    type Params = SpanParams;

    fn transform_name(&self) -> &str {
        "SpanCrop"
    }

    fn sample_params(&self, t: &Tokens, rng: &mut Generator) -> Result<SpanParams> {
        let n = t.ids.len();
        if n == 0 {
            return Err(Error::shape("SpanCrop needs a non-empty token sequence"));
        }
        let frac = rng.uniform(self.scale.0, self.scale.1);
        let len = ((frac * n as f64).round() as usize).clamp(1, n);
        let start = rng.below((n - len + 1) as u64) as usize;
        Ok(SpanParams { start, len })
    }

    fn apply_with(&self, t: Tokens, p: &SpanParams) -> Result<Tokens> {
        let n = t.ids.len();
        if p.len == 0 || p.start + p.len > n {
            return Err(Error::shape(format!(
                "SpanCrop: span [{}, {}) does not fit a sequence of {n} tokens",
                p.start,
                p.start + p.len
            )));
        }
        let span = &t.ids[p.start..p.start + p.len];
        let out_len = self.out_len.unwrap_or(n);
        let ids = match self.fit {
            SpanFit::Pad => {
                let mut v: Vec<i64> = span.iter().copied().take(out_len).collect();
                v.resize(out_len, self.pad_id);
                v
            }
            SpanFit::Stretch => (0..out_len).map(|i| span[i * p.len / out_len]).collect(),
        };
        Ok(Tokens { ids })
    }
}
selfsup_core::impl_transform!(SpanCrop => Tokens);

/// BERT-style random masking and replacement; see the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenMask {
    prob: f64,
    mask_frac: f64,
    random_frac: f64,
    mask_id: i64,
    first_regular: i64,
    vocab_size: i64,
}

/// The drawn parameters of one [`TokenMask`]: `(position, new id)` of every changed token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaskParams {
    /// Positions and their new ids, in increasing position order.
    pub changes: Vec<(usize, i64)>,
}

impl TokenMask {
    /// Selects positions with probability `prob`; of those, `mask_frac` become `mask_id` and
    /// `random_frac` a uniform id in `[first_regular, vocab_size)`, the rest stay
    /// (`mask_frac + random_frac <= 1`). Ids below `first_regular` are never selected.
    pub fn new(
        prob: f64,
        mask_frac: f64,
        random_frac: f64,
        mask_id: i64,
        first_regular: i64,
        vocab_size: i64,
    ) -> Result<Self> {
        check::probability("token_mask.prob", prob)?;
        check::probability("token_mask.mask_frac", mask_frac)?;
        check::probability("token_mask.random_frac", random_frac)?;
        if mask_frac + random_frac > 1.0 + 1e-12 {
            return Err(Error::config(
                "token_mask.random_frac",
                format!("mask_frac + random_frac must be <= 1, got {mask_frac} + {random_frac}"),
            ));
        }
        if first_regular < 0 || vocab_size <= first_regular {
            return Err(Error::config(
                "token_mask.vocab_size",
                format!(
                    "must exceed first_regular {first_regular} (>= 0) so that random replacements exist, got {vocab_size}"
                ),
            ));
        }
        Ok(TokenMask {
            prob,
            mask_frac,
            random_frac,
            mask_id,
            first_regular,
            vocab_size,
        })
    }
}

impl RandomTransform<Tokens> for TokenMask {
    type Params = MaskParams;

    fn transform_name(&self) -> &str {
        "TokenMask"
    }

    fn sample_params(&self, t: &Tokens, rng: &mut Generator) -> Result<MaskParams> {
        let mut changes = Vec::new();
        let span = (self.vocab_size - self.first_regular) as u64;
        for (i, &id) in t.ids.iter().enumerate() {
            // One selection draw per position, whatever the token, so that the draws of a position do
            // not depend on its neighbours' ids.
            let selected = rng.bernoulli(self.prob);
            let u = rng.next_f64();
            let r = self.first_regular + rng.below(span) as i64;
            if !selected || id < self.first_regular {
                continue;
            }
            if u < self.mask_frac {
                changes.push((i, self.mask_id));
            } else if u < self.mask_frac + self.random_frac {
                changes.push((i, r));
            }
        }
        Ok(MaskParams { changes })
    }

    fn apply_with(&self, mut t: Tokens, p: &MaskParams) -> Result<Tokens> {
        for &(i, id) in &p.changes {
            let n = t.ids.len();
            let slot = t.ids.get_mut(i).ok_or_else(|| {
                Error::shape(format!(
                    "TokenMask: position {i} is outside a sequence of {n} tokens"
                ))
            })?;
            *slot = id;
        }
        Ok(t)
    }
}
selfsup_core::impl_transform!(TokenMask => Tokens);

/// One token view: [`SpanCrop`] then [`TokenMask`] (`[augment.tokens]` in a run config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenAugConfig {
    /// Span length as a fraction of the sequence, `(lo, hi)` with `0 < lo <= hi <= 1`.
    pub crop_scale: (f64, f64),
    /// `pad` or `stretch`.
    pub crop_fit: SpanFit,
    /// Probability that a (non-special) position is selected.
    pub mask_prob: f64,
    /// Fraction of the selected positions replaced by the mask id.
    pub mask_frac: f64,
    /// Fraction of the selected positions replaced by a random regular token.
    pub random_frac: f64,
    /// The stretch of text a sample's views are cut from, in windows of the run's `seq_len` (>= 1;
    /// 1 = the window itself). With `context = k` each sample is `k · seq_len` consecutive tokens and
    /// `crop_scale` is a fraction of that stretch, so `context = 4` with `crop_scale = [0.25, 0.25]`
    /// makes two `seq_len`-token windows of the same passage a positive pair (neighbouring crops, as
    /// DeCLUTR's spans of one document: Giorgi et al., 2021). The views still have `seq_len` tokens.
    pub context: usize,
}

impl Default for TokenAugConfig {
    /// Spans of 50–100 % of the window padded back, BERT's 15 % / 80-10-10 corruption.
    fn default() -> Self {
        TokenAugConfig {
            crop_scale: (0.5, 1.0),
            crop_fit: SpanFit::Pad,
            mask_prob: 0.15,
            mask_frac: 0.8,
            random_frac: 0.1,
            context: 1,
        }
    }
}

impl TokenAugConfig {
    /// Checks every field (named as `augment.tokens.<field>`).
    pub fn validate(&self) -> Result<()> {
        check::interval("augment.tokens.crop_scale", self.crop_scale, 0.0, 1.0)?;
        if self.crop_scale.0 <= 0.0 {
            return Err(Error::config(
                "augment.tokens.crop_scale",
                format!("the lower end must be > 0, got {}", self.crop_scale.0),
            ));
        }
        check::probability("augment.tokens.mask_prob", self.mask_prob)?;
        check::probability("augment.tokens.mask_frac", self.mask_frac)?;
        check::probability("augment.tokens.random_frac", self.random_frac)?;
        check::at_least("augment.tokens.context", self.context, 1)?;
        if self.mask_frac + self.random_frac > 1.0 + 1e-12 {
            return Err(Error::config(
                "augment.tokens.random_frac",
                format!(
                    "mask_frac + random_frac must be <= 1, got {} + {}",
                    self.mask_frac, self.random_frac
                ),
            ));
        }
        Ok(())
    }

    /// The tokens of one sample for views of `seq_len` tokens: `context · seq_len`.
    pub fn sample_len(&self, seq_len: usize) -> usize {
        seq_len * self.context.max(1)
    }

    /// One view's pipeline, `seq_len` tokens out (from samples of [`TokenAugConfig::sample_len`]), over ids `[0, vocab_size)`, where ids
    /// below `first_regular` are specials (`pad_id` pads, `mask_id` masks).
    pub fn build(
        &self,
        seq_len: usize,
        vocab_size: i64,
        first_regular: i64,
        pad_id: i64,
        mask_id: i64,
    ) -> Result<BoxTransform<Tokens>> {
        self.validate()?;
        Ok(Box::new(
            Compose::new(vec![])
                .then(SpanCrop::new(
                    self.crop_scale,
                    Some(seq_len),
                    self.crop_fit,
                    pad_id,
                )?)
                .then(TokenMask::new(
                    self.mask_prob,
                    self.mask_frac,
                    self.random_frac,
                    mask_id,
                    first_regular,
                    vocab_size,
                )?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use selfsup_core::{Ctx, Trace, Transform};

    fn seq(n: usize) -> Tokens {
        Tokens {
            ids: (0..n as i64).map(|i| 10 + i).collect(),
        }
    }

    #[test]
    fn neighbouring_crops_cut_two_full_windows_from_a_context_of_windows() {
        // context 4, crop a quarter: each view is 16 consecutive tokens of a 64-token passage, never
        // padded, and the two views of a sample start at different places for most draws
        let c = TokenAugConfig {
            crop_scale: (0.25, 0.25),
            mask_prob: 0.0,
            context: 4,
            ..Default::default()
        };
        assert_eq!(c.sample_len(16), 64);
        let v = c.build(16, 100, 3, 0, 2).unwrap();
        let mut rng = Generator::seed_from_u64(7);
        let mut differ = 0;
        for _ in 0..50 {
            let a = v.apply(seq(64), &mut rng).unwrap();
            let b = v.apply(seq(64), &mut rng).unwrap();
            for w in [&a, &b] {
                assert_eq!(w.ids.len(), 16);
                assert!(w.ids.windows(2).all(|p| p[1] == p[0] + 1), "{:?}", w.ids);
                assert!(w.ids[0] >= 10 && w.ids[15] < 10 + 64);
            }
            differ += usize::from(a.ids[0] != b.ids[0]);
        }
        assert!(differ > 40, "{differ} of 50 pairs start apart");
    }

    #[test]
    fn span_crop_keeps_a_contiguous_span_and_pads_it() {
        let c = SpanCrop::new((0.25, 0.75), None, SpanFit::Pad, 0).unwrap();
        let mut rng = Generator::seed_from_u64(1);
        let mut lens = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let out = c.apply(seq(40), &mut rng).unwrap();
            assert_eq!(out.ids.len(), 40);
            let kept: Vec<i64> = out.ids.iter().copied().take_while(|&i| i != 0).collect();
            assert!((10..=30).contains(&kept.len()), "{}", kept.len());
            assert!(out.ids[kept.len()..].iter().all(|&i| i == 0));
            // Contiguous: consecutive ids of the original.
            assert!(kept.windows(2).all(|w| w[1] == w[0] + 1), "{kept:?}");
            assert!(kept[0] >= 10 && *kept.last().unwrap() < 50);
            lens.insert(kept.len());
        }
        assert!(lens.len() > 10, "span lengths do not vary: {lens:?}");
    }

    #[test]
    fn span_crop_stretch_fills_the_length_with_span_tokens_in_order() {
        let c = SpanCrop::new((0.5, 0.5), Some(8), SpanFit::Stretch, 0).unwrap();
        let p = SpanParams { start: 2, len: 4 };
        let out = c.apply_with(seq(8), &p).unwrap();
        assert_eq!(out.ids, vec![12, 12, 13, 13, 14, 14, 15, 15]);
        // Shrinking: a 4-token span into 2 takes every other token.
        let c = SpanCrop::new((0.5, 0.5), Some(2), SpanFit::Stretch, 0).unwrap();
        assert_eq!(c.apply_with(seq(8), &p).unwrap().ids, vec![12, 14]);
        let bad = SpanParams { start: 6, len: 4 };
        assert!(c.apply_with(seq(8), &bad).is_err());
    }

    #[test]
    fn token_mask_follows_the_bert_rates_and_spares_specials() {
        let m = TokenMask::new(0.15, 0.8, 0.1, 2, 3, 100).unwrap();
        let mut rng = Generator::seed_from_u64(7);
        let n = 200_000usize;
        // Every fourth token is a special (pad) and must never change.
        let ids: Vec<i64> = (0..n)
            .map(|i| if i % 4 == 0 { 0 } else { 3 + (i % 97) as i64 })
            .collect();
        let t = Tokens { ids: ids.clone() };
        let p = m.sample_params(&t, &mut rng).unwrap();
        let out = m.apply_with(t, &p).unwrap();
        let regular = (n - n / 4) as f64;
        let (mut masked, mut changed_other) = (0usize, 0usize);
        for (i, (&a, &b)) in ids.iter().zip(&out.ids).enumerate() {
            if i % 4 == 0 {
                assert_eq!(b, 0, "a special token changed at {i}");
                continue;
            }
            if b == 2 {
                masked += 1;
            } else if a != b {
                assert!((3..100).contains(&b));
                changed_other += 1;
            }
        }
        // Expected: 0.15·0.8 = 12 % masked; 0.15·0.1·(96/97) ≈ 1.48 % replaced by another id.
        let fm = masked as f64 / regular;
        let fr = changed_other as f64 / regular;
        assert!((fm - 0.12).abs() < 0.005, "masked fraction {fm}");
        assert!(
            (fr - 0.015 * 96.0 / 97.0).abs() < 0.002,
            "replaced fraction {fr}"
        );
    }

    #[test]
    fn draws_replay_exactly_and_configs_name_the_bad_field() {
        let v = TokenAugConfig::default().build(32, 259, 3, 0, 2).unwrap();
        let mut trace = Trace::default();
        let mut rng = Generator::seed_from_u64(3);
        let a = v
            .apply_ctx(seq(32), &mut Ctx::recording(&mut rng, &mut trace))
            .unwrap();
        assert_eq!(trace.entries.len(), 2);
        let mut other = Generator::seed_from_u64(999);
        let b = v
            .apply_ctx(seq(32), &mut Ctx::replaying(&mut other, &trace))
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.ids.len(), 32);

        let mut c = TokenAugConfig {
            mask_frac: 0.95,
            ..Default::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("augment.tokens.random_frac"), "{e}");
        c = TokenAugConfig {
            crop_scale: (0.0, 1.0),
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("crop_scale"));
        c = TokenAugConfig {
            context: 0,
            ..Default::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("augment.tokens.context"));
        assert!(TokenMask::new(0.15, 0.8, 0.1, 2, 3, 3)
            .unwrap_err()
            .to_string()
            .contains("vocab_size"));
        assert!(SpanCrop::new((0.5, 1.0), Some(0), SpanFit::Pad, 0)
            .unwrap_err()
            .to_string()
            .contains("out_len"));
    }
}
