//! Audio pretext tasks over (log-mel) spectrograms `C × F × T` (frequency rows, time columns).
//!
//! - [`MaskedSpectrogram`]: masked spectrogram modelling. The spectrogram is divided into units —
//!   time spans of `frame_span` frames (`frame`), frequency bands of `band_span` bins (`band`), or
//!   `patch_freq × patch_time` patches (`patch`); the last unit along an axis may be shorter — and
//!   `mask_ratio · units` units, rounded up or down at random so that every unit is masked with
//!   probability exactly `mask_ratio`, are chosen uniformly without replacement. The view has
//!   the masked values set to `fill` (0, the mean of standardised features); the target is the
//!   spectrogram plus a weight plane of 1 on masked values.
//! - [`TemporalOrder`]: `segments` consecutive segments of `segment_frames` frames (default
//!   `T / segments`; the block starts at a random frame when the clip is longer), shuffled by one
//!   permutation of a maximal-Hamming set (all `segments!` permutations by default); the views are the
//!   segments in shuffled order (`views[i]` = segment `perm[i]`), the target the permutation's index.
//!   With `assemble_views`, one view instead: those segments end to end ([`TemporalOrder::assemble`]);
//!   with `voiced_only` as well, the segments of the clip's voiced span shuffled in place
//!   ([`TemporalOrder::voiced_span`], [`TemporalOrder::shuffle_in_place`]), the silence around kept.
//!   `boundary_gap` blanks the frames around every boundary between segments (to the clip's minimum,
//!   its silence) at the same places for every order, so that continuity across a cut (the jump of
//!   a shuffled boundary) cannot tell the order — jigsaw's gap in time ([`TemporalOrder::blank_boundaries`]).
//!   `frame_norm` ([`FrameNorm`]) makes the method normalise every frame of its input over the
//!   frequency bins, in training and in the embedding the evaluation reads, so that the loudness
//!   envelope cannot tell the order.

use crate::jigsaw::{hamming_permutation_set, PermutationSet};
use crate::{as_spectrogram, PretextGenerator, Target};
use selfsup_core::{check, Error, Generator, Result, Sample, Spectrogram};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Which units a masked spectrogram masks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecMask {
    /// Time spans (all frequencies of `frame_span` frames).
    Frame,
    /// Frequency bands (all frames of `band_span` bins).
    Band,
    /// `patch_freq × patch_time` patches.
    #[default]
    Patch,
}

/// The decoder of masked spectrogram modelling (`method.decoder`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecDecoder {
    /// `conv` when the backbone has a feature map before its global pool (`audio_cnn`,
    /// `conv_net`), else `mlp`.
    #[default]
    Auto,
    /// From the backbone's feature map: one stage per width of `decoder_widths` (nearest
    /// upsampling to the size of the matching encoder stage, 3×3 convolution, batch norm, ReLU),
    /// then a 3×3 convolution to the spectrogram's channels — the encoder mirrored, as in the
    /// masked-spectrogram and SimMIM-style convolutional decoders.
    Conv,
    /// From the global-pooled feature: `Linear(D, 512) → ReLU → Linear(512, C·F·T)`.
    Mlp,
}

/// Settings of masked spectrogram modelling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaskedSpectrogramConfig {
    /// Masked units (default `patch`).
    pub mask: SpecMask,
    /// Fraction of units masked (default 0.5).
    pub mask_ratio: f64,
    /// Frames per unit of the `frame` mask (default 4).
    pub frame_span: usize,
    /// Bins per unit of the `band` mask (default 4).
    pub band_span: usize,
    /// Bins per patch (default 8).
    pub patch_freq: usize,
    /// Frames per patch (default 4).
    pub patch_time: usize,
    /// Value of masked entries (default 0).
    pub fill: f64,
    /// The decoder (default `auto`: `conv` from the feature map where the backbone has one).
    pub decoder: SpecDecoder,
    /// Output channels of the `conv` decoder's stages, deepest first (default `[64, 32, 16]`: three
    /// ×2 stages, the inverse of `audio_cnn`'s three max-pools).
    pub decoder_widths: Vec<usize>,
}

impl Default for MaskedSpectrogramConfig {
    fn default() -> Self {
        MaskedSpectrogramConfig {
            mask: SpecMask::Patch,
            mask_ratio: 0.5,
            frame_span: 4,
            band_span: 4,
            patch_freq: 8,
            patch_time: 4,
            fill: 0.0,
            decoder: SpecDecoder::Auto,
            decoder_widths: vec![64, 32, 16],
        }
    }
}

impl MaskedSpectrogramConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        check::in_range("masked_spectrogram.mask_ratio", self.mask_ratio, 0.0, 1.0)?;
        check::at_least("masked_spectrogram.frame_span", self.frame_span, 1)?;
        check::at_least("masked_spectrogram.band_span", self.band_span, 1)?;
        check::at_least("masked_spectrogram.patch_freq", self.patch_freq, 1)?;
        check::at_least("masked_spectrogram.patch_time", self.patch_time, 1)?;
        check::in_range("masked_spectrogram.fill", self.fill, -1e6, 1e6)?;
        if self.decoder != SpecDecoder::Mlp {
            check::at_least(
                "method.decoder_widths (number of stages)",
                self.decoder_widths.len(),
                1,
            )?;
        }
        for (i, &w) in self.decoder_widths.iter().enumerate() {
            check::at_least(&format!("method.decoder_widths[{i}]"), w, 1)?;
        }
        Ok(())
    }
    /// Validates and builds.
    pub fn build(&self) -> Result<MaskedSpectrogram> {
        self.validate()?;
        Ok(MaskedSpectrogram { cfg: self.clone() })
    }
}

/// The masked-spectrogram generator; see the module docs.
#[derive(Clone, Debug)]
pub struct MaskedSpectrogram {
    cfg: MaskedSpectrogramConfig,
}

impl MaskedSpectrogram {
    /// Unit sizes `(bins, frames)` for an `f × t` spectrogram.
    fn unit(&self, f: usize, t: usize) -> (usize, usize) {
        match self.cfg.mask {
            SpecMask::Frame => (f, self.cfg.frame_span),
            SpecMask::Band => (self.cfg.band_span, t),
            SpecMask::Patch => (self.cfg.patch_freq, self.cfg.patch_time),
        }
    }

    /// Draws the mask (row-major `f × t`, true = masked).
    pub fn sample_mask(&self, f: usize, t: usize, rng: &mut Generator) -> Result<Vec<bool>> {
        if f == 0 || t == 0 {
            return Err(Error::shape(
                "masked_spectrogram needs a non-empty spectrogram",
            ));
        }
        let (uf, ut) = self.unit(f, t);
        let (gf, gt) = (f.div_ceil(uf), t.div_ceil(ut));
        // Randomised rounding of ratio·n: every unit is masked with probability exactly `mask_ratio`,
        // so the expected masked fraction of values is `mask_ratio` even with partial edge units.
        let n = gf * gt;
        let exact = self.cfg.mask_ratio * n as f64;
        let k = (exact.floor() as usize + usize::from(rng.bernoulli(exact - exact.floor()))).min(n);
        let mut units = vec![false; n];
        for &i in &rng.permutation(n)[..k] {
            units[i] = true;
        }
        Ok((0..f * t)
            .map(|i| units[(i / t / uf) * gt + (i % t) / ut])
            .collect())
    }

    /// The view and target for a given mask.
    pub fn apply(&self, s: &Spectrogram, mask: &[bool]) -> Result<(Spectrogram, Spectrogram)> {
        let (c, f, t) = s.values.dims();
        if mask.len() != f * t {
            return Err(Error::shape(
                "spectrogram mask does not match the spectrogram",
            ));
        }
        let mut view = s.clone();
        for ch in 0..c {
            for (v, &m) in view.values.plane_mut(ch).iter_mut().zip(mask) {
                if m {
                    *v = self.cfg.fill as f32;
                }
            }
        }
        let mut data = s.values.data().to_vec();
        data.extend(mask.iter().map(|&m| f32::from(u8::from(m))));
        Ok((view, Spectrogram::new(c + 1, f, t, data)?))
    }
}

impl PretextGenerator for MaskedSpectrogram {
    fn kind(&self) -> &'static str {
        "masked_spectrogram"
    }
    fn n_views(&self) -> usize {
        1
    }
    fn num_classes(&self) -> Option<usize> {
        None
    }
    fn generate(&self, sample: &Sample, rng: &mut Generator) -> Result<(Vec<Sample>, Target)> {
        let s = as_spectrogram(sample, "masked_spectrogram")?;
        let m = self.sample_mask(s.n_freq(), s.n_frames(), rng)?;
        let (v, t) = self.apply(&s, &m)?;
        Ok((
            vec![Sample::Spectrogram(v)],
            Target::Dense(Sample::Spectrogram(t)),
        ))
    }
}

/// Per-frame normalisation of a spectrogram over its frequency bins (`method.frame_norm` of the
/// temporal-order task): what the method applies to its input before the backbone, in training and
/// in `embed` (so the evaluation before and after training reads the same encoder). In log-mel
/// terms a frame's mean is its loudness; removing it leaves the spectral shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameNorm {
    /// The input as it is.
    #[default]
    None,
    /// Each frame (time column) minus its mean over the bins (and channels).
    Mean,
    /// Each frame standardised over the bins (and channels): `(x − mean) / (std + 1e-5)`.
    Standardize,
}

/// Settings of the temporal-order task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemporalOrderConfig {
    /// Segments per clip (2 to 6; default 3).
    pub segments: usize,
    /// Frames per segment (default: all frames split evenly, `T / segments`).
    pub segment_frames: Option<usize>,
    /// Permutations (classes), a maximal-Hamming set (default 6 = all orders of 3 segments).
    pub n_permutations: usize,
    /// One view: the shuffled segments put back end to end, a clip of `segments · segment_frames`
    /// frames (the evaluation's length with the defaults), instead of one view per segment. The
    /// method then pools the backbone's feature map over each segment's span and classifies their
    /// concatenation, so the encoder is trained on what it embeds at evaluation (default false).
    pub assemble_views: bool,
    /// With `assemble_views`: shuffle the segments of the voiced span only, in place — the frames
    /// whose energy (mean over channels and bins) is at least `voiced_threshold` of the way from the
    /// clip's quietest to its loudest frame, from the first such frame to the last, split into
    /// `segments` equal parts — and leave the silence around it where it is. Without it, 73% of the
    /// FSDD clips (shorter than 0.5 s, padded with zeros) carry the order in where the silence is
    /// (default false).
    pub voiced_only: bool,
    /// The energy level that starts the voiced span, as a fraction of the clip's energy range
    /// (in `[0, 1)`; default 0.25).
    pub voiced_threshold: f64,
    /// Per-frame normalisation of the method's input, in training and in the embedding
    /// (default `none`; see [`FrameNorm`]).
    pub frame_norm: FrameNorm,
    /// With `assemble_views`: frames blanked around every internal segment boundary (`gap / 2`
    /// before it, the rest after it), set to the clip's minimum value; cut to one frame less than
    /// a segment where a segment is shorter (default 0).
    pub boundary_gap: usize,
}

impl Default for TemporalOrderConfig {
    fn default() -> Self {
        TemporalOrderConfig {
            segments: 3,
            segment_frames: None,
            n_permutations: 6,
            assemble_views: false,
            voiced_only: false,
            voiced_threshold: 0.25,
            frame_norm: FrameNorm::None,
            boundary_gap: 0,
        }
    }
}

impl TemporalOrderConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if !(2..=6).contains(&self.segments) {
            return Err(Error::config(
                "temporal_order.segments",
                format!("must be in [2, 6], got {}", self.segments),
            ));
        }
        if let Some(n) = self.segment_frames {
            check::at_least("temporal_order.segment_frames", n, 1)?;
        }
        if self.voiced_only && !self.assemble_views {
            return Err(Error::config(
                "temporal_order.voiced_only",
                "needs assemble_views = true (the voiced span's segments vary in length)",
            ));
        }
        if self.voiced_only && self.segment_frames.is_some() {
            return Err(Error::config(
                "temporal_order.segment_frames",
                "is set by the voiced span with voiced_only = true; leave it unset",
            ));
        }
        if self.boundary_gap > 0 && !self.assemble_views {
            return Err(Error::config(
                "temporal_order.boundary_gap",
                "needs assemble_views = true (separate segment views have no boundaries)",
            ));
        }
        if !(0.0..1.0).contains(&self.voiced_threshold) {
            return Err(Error::config(
                "temporal_order.voiced_threshold",
                format!("must be in [0, 1), got {}", self.voiced_threshold),
            ));
        }
        let total: usize = (1..=self.segments).product();
        if self.n_permutations < 2 || self.n_permutations > total {
            return Err(Error::config(
                "temporal_order.n_permutations",
                format!(
                    "must be in [2, {total}] for {} segments, got {}",
                    self.segments, self.n_permutations
                ),
            ));
        }
        Ok(())
    }
    /// Validates and builds (the permutation set starts from the identity).
    pub fn build(&self) -> Result<TemporalOrder> {
        self.validate()?;
        let identity: Vec<usize> = (0..self.segments).collect();
        let set = hamming_permutation_set(self.segments, self.n_permutations, &identity)?;
        Ok(TemporalOrder {
            cfg: self.clone(),
            set: Arc::new(set),
        })
    }
}

/// The temporal-order generator; see the module docs.
#[derive(Clone, Debug)]
pub struct TemporalOrder {
    cfg: TemporalOrderConfig,
    set: Arc<PermutationSet>,
}

impl TemporalOrder {
    /// The permutation set.
    pub fn set(&self) -> &PermutationSet {
        &self.set
    }

    /// `(class, first frame, segment length)` for a clip of `t` frames.
    pub fn sample_params(&self, t: usize, rng: &mut Generator) -> Result<(usize, usize, usize)> {
        let n = self.cfg.segments;
        let len = self.cfg.segment_frames.unwrap_or(t / n);
        let need = n * len.max(1);
        if len == 0 || t < need {
            return Err(Error::config(
                "temporal_order.segments",
                format!(
                    "a clip of {t} frames is too short for {n} segments of {} frames: needs at least {need} frames",
                    len.max(1)
                ),
            ));
        }
        let class = rng.below(self.set.perms.len() as u64) as usize;
        let start = rng.below((t - need + 1) as u64) as usize;
        Ok((class, start, len))
    }

    /// The segments `segs[perm[0]], segs[perm[1]], …` end to end along time (one clip).
    pub fn assemble(segs: &[Spectrogram], perm: &[usize]) -> Result<Spectrogram> {
        let first = segs
            .first()
            .ok_or_else(|| Error::shape("temporal_order: no segments to assemble"))?;
        let (c, f, len) = first.values.dims();
        let t = len * perm.len();
        let mut data = vec![0f32; c * f * t];
        for (slot, &k) in perm.iter().enumerate() {
            let seg = segs
                .get(k)
                .ok_or_else(|| Error::shape(format!("temporal_order: no segment {k}")))?;
            if seg.values.dims() != (c, f, len) {
                return Err(Error::shape("temporal_order: segments of different sizes"));
            }
            for ch in 0..c {
                let p = seg.values.plane(ch);
                for row in 0..f {
                    let dst = (ch * f + row) * t + slot * len;
                    data[dst..dst + len].copy_from_slice(&p[row * len..(row + 1) * len]);
                }
            }
        }
        Spectrogram::new(c, f, t, data)
    }

    /// The voiced span `(first frame, segment length)` of `s` (see `voiced_only`): `segments`
    /// segments of at least one frame, inside the clip.
    pub fn voiced_span(&self, s: &Spectrogram) -> Result<(usize, usize)> {
        let (c, f, t) = s.values.dims();
        let n = self.cfg.segments;
        if t < n {
            return Err(Error::config(
                "temporal_order.segments",
                format!(
                    "a clip of {t} frames is too short for {n} segments: needs at least {n} frames"
                ),
            ));
        }
        let energy: Vec<f64> = (0..t)
            .map(|j| {
                let mut sum = 0.0;
                for ch in 0..c {
                    let p = s.values.plane(ch);
                    sum += (0..f).map(|row| f64::from(p[row * t + j])).sum::<f64>();
                }
                sum / (c * f) as f64
            })
            .collect();
        let lo = energy.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = energy.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let thr = lo + self.cfg.voiced_threshold * (hi - lo);
        let first = energy.iter().position(|&e| e >= thr).unwrap_or(0);
        let last = energy.iter().rposition(|&e| e >= thr).unwrap_or(t - 1);
        let len = ((last + 1 - first) / n).max(1);
        Ok((first.min(t - n * len), len))
    }

    /// `s` with the `segments` segments of `len` frames from `start` put in the order `perm`
    /// (slot `i` holds segment `perm[i]`); the frames outside stay where they are.
    pub fn shuffle_in_place(
        &self,
        s: &Spectrogram,
        start: usize,
        len: usize,
        perm: &[usize],
    ) -> Result<Spectrogram> {
        let segs = self.segments(s, start, len)?;
        let block = Self::assemble(&segs, perm)?;
        let (c, f, t) = s.values.dims();
        let w = block.n_frames();
        let mut data = s.values.data().to_vec();
        for ch in 0..c {
            let b = block.values.plane(ch);
            for row in 0..f {
                let dst = (ch * f + row) * t + start;
                data[dst..dst + w].copy_from_slice(&b[row * w..(row + 1) * w]);
            }
        }
        Spectrogram::new(c, f, t, data)
    }

    /// `s` with `gap` frames around each of the `segments − 1` internal boundaries of the block of
    /// `segments` segments of `len` frames from `start` set to the clip's minimum value (`gap / 2`
    /// frames before each boundary, `gap − gap / 2` after). The gap is cut to `len − 1` frames where
    /// a segment is not longer than it (a short voiced span), so every segment keeps a frame.
    pub fn blank_boundaries(
        &self,
        s: &Spectrogram,
        start: usize,
        len: usize,
        gap: usize,
    ) -> Result<Spectrogram> {
        let gap = gap.min(len.saturating_sub(1));
        if gap == 0 {
            return Ok(s.clone());
        }
        let (c, f, t) = s.values.dims();
        let floor = s
            .values
            .data()
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min);
        let mut data = s.values.data().to_vec();
        for k in 1..self.cfg.segments {
            let b = start + k * len;
            for j in b - gap / 2..(b + gap - gap / 2).min(t) {
                for row in 0..c * f {
                    data[row * t + j] = floor;
                }
            }
        }
        Spectrogram::new(c, f, t, data)
    }

    /// The segments in time order.
    pub fn segments(&self, s: &Spectrogram, start: usize, len: usize) -> Result<Vec<Spectrogram>> {
        let (c, f, _) = s.values.dims();
        (0..self.cfg.segments)
            .map(|k| {
                let t0 = start + k * len;
                let mut data = Vec::with_capacity(c * f * len);
                for ch in 0..c {
                    let p = s.values.plane(ch);
                    for row in 0..f {
                        let r = row * s.n_frames();
                        data.extend_from_slice(&p[r + t0..r + t0 + len]);
                    }
                }
                Spectrogram::new(c, f, len, data)
            })
            .collect()
    }
}

impl PretextGenerator for TemporalOrder {
    fn kind(&self) -> &'static str {
        "temporal_order"
    }
    fn n_views(&self) -> usize {
        if self.cfg.assemble_views {
            1
        } else {
            self.cfg.segments
        }
    }
    fn num_classes(&self) -> Option<usize> {
        Some(self.set.perms.len())
    }
    fn generate(&self, sample: &Sample, rng: &mut Generator) -> Result<(Vec<Sample>, Target)> {
        let s = as_spectrogram(sample, "temporal_order")?;
        if self.cfg.voiced_only {
            let class = rng.below(self.set.perms.len() as u64) as usize;
            let (start, len) = self.voiced_span(&s)?;
            let view = self.shuffle_in_place(&s, start, len, &self.set.perms[class])?;
            let view = self.blank_boundaries(&view, start, len, self.cfg.boundary_gap)?;
            return Ok((vec![Sample::Spectrogram(view)], Target::Class(class as i64)));
        }
        let (class, start, len) = self.sample_params(s.n_frames(), rng)?;
        let segs = self.segments(&s, start, len)?;
        let perm = &self.set.perms[class];
        if self.cfg.assemble_views {
            let view = Self::assemble(&segs, perm)?;
            let view = self.blank_boundaries(&view, 0, len, self.cfg.boundary_gap)?;
            return Ok((vec![Sample::Spectrogram(view)], Target::Class(class as i64)));
        }
        let views = perm
            .iter()
            .map(|&k| Sample::Spectrogram(segs[k].clone()))
            .collect();
        Ok((views, Target::Class(class as i64)))
    }
}
