//! Waveform augmentations as [`RandomTransform<Audio>`]s, with audiomentations' names and default ranges.
//!
//! Every transform validates its ranges in `new` (errors name the field and the allowed range), draws
//! its parameters in `sample_params` and applies them deterministically in `apply_with`. Transforms that
//! need many random numbers (noise) draw a 64-bit seed as their parameter and expand it with a keyed
//! [`Generator`], so a recorded trace replays them exactly. Unlike audiomentations, the transforms carry
//! no probability `p` of their own: wrap them in [`selfsup_core::RandomApply`].
//!
//! | transform | audiomentations / torchaudio counterpart | defaults |
//! | --- | --- | --- |
//! | [`Gain`] | `Gain` | −12 … 12 dB |
//! | [`AddGaussianNoise`] | `AddGaussianNoise` | amplitude 0.001 … 0.015 |
//! | [`AddGaussianSNR`] | `AddGaussianSNR` | 5 … 40 dB |
//! | [`AddBackgroundNoise`] | `AddBackgroundNoise` | 3 … 30 dB, clips from a folder |
//! | [`Shift`] | `Shift` (fraction) | −0.5 … 0.5, rollover |
//! | [`TimeStretch`] | `TimeStretch` | rate 0.8 … 1.25 |
//! | [`PitchShift`] | `PitchShift` | −4 … 4 semitones |
//! | [`Resample`] | `Resample` | 8 … 44.1 kHz |
//! | [`SpeedPerturb`] | torchaudio `SpeedPerturbation` | factors 0.9, 1.0, 1.1 |
//! | [`LowPassFilter`], [`HighPassFilter`], [`BandPassFilter`], [`LowShelfFilter`], [`HighShelfFilter`] | same names (RBJ biquads) | see each |
//! | [`ApplyImpulseResponse`] | `ApplyImpulseResponse` | IRs from a folder, FFT convolution |
//! | [`ClippingDistortion`] | `ClippingDistortion` | 0 … 40 percentile |
//! | [`PolarityInversion`] | `PolarityInversion` | — |
//! | [`RandomCrop`], [`PadOrCrop`] | `RandomCrop`-like, fixed length | — |
//! | [`TimeMask`] | `TimeMask` | 0 … 0.5 of the clip |
//! | [`mixup_batch`] | batch MixUp | Beta(α, α) |

use crate::audio::io::read_wav;
use crate::audio::resample::{process_channels, ResampleQuality, Resampler};
use crate::audio::vocoder::{self, PlanCache};
use realfft::num_complex::Complex;
use realfft::RealFftPlanner;
use selfsup_core::rand::RngCore;
use selfsup_core::{check, impl_transform, Audio, Error, Generator, RandomTransform, Result};
use std::path::Path;

fn check_range(field: &str, lo: f64, hi: f64, min: f64, max: f64) -> Result<()> {
    check::interval(field, (lo, hi), min, max)
}

fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Visits `out` in order with standard normal samples expanded from the recorded `seed`
/// ([`Generator::map_normal`] of the generator keyed by `("audio_noise", seed)`).
#[inline(always)]
fn gaussian_apply(seed: u64, out: &mut [f32], f: impl FnMut(&mut f32, f32)) {
    Generator::from_domain("audio_noise", &[seed]).map_normal(out, f);
}

/// Fills `out` with standard normal samples expanded from `seed`.
fn gaussian_fill(seed: u64, out: &mut [f32]) {
    gaussian_apply(seed, out, |v, n| *v = n);
}

/// Loads every `.wav` file of `folder` (sorted by name) as mono audio.
pub fn load_folder(folder: &Path) -> Result<Vec<Audio>> {
    let rd = std::fs::read_dir(folder).map_err(|e| Error::io(folder, e))?;
    let mut paths = Vec::new();
    for entry in rd {
        let p = entry.map_err(|e| Error::io(folder, e))?.path();
        if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")) {
            paths.push(p);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(Error::config(
            "sounds_path",
            format!("{} holds no .wav files", folder.display()),
        ));
    }
    paths
        .iter()
        .map(|p| read_wav(p).map(|a| a.downmix()))
        .collect()
}

// ---------------------------------------------------------------------------------------------------

/// Multiplies the clip by a gain drawn uniformly in dB.
#[derive(Clone, Debug)]
pub struct Gain {
    min_gain_db: f64,
    max_gain_db: f64,
}
impl Gain {
    /// Gain in `[min_gain_db, max_gain_db]`, both in `[-120, 120]`.
    pub fn new(min_gain_db: f64, max_gain_db: f64) -> Result<Self> {
        check_range("gain.gain_db", min_gain_db, max_gain_db, -120.0, 120.0)?;
        Ok(Gain {
            min_gain_db,
            max_gain_db,
        })
    }
}
impl Default for Gain {
    fn default() -> Self {
        Gain {
            min_gain_db: -12.0,
            max_gain_db: 12.0,
        }
    }
}
impl RandomTransform<Audio> for Gain {
    type Params = f64;
    fn transform_name(&self) -> &str {
        "Gain"
    }
    fn sample_params(&self, _: &Audio, rng: &mut Generator) -> Result<f64> {
        Ok(rng.uniform(self.min_gain_db, self.max_gain_db))
    }
    fn apply_with(&self, mut a: Audio, db: &f64) -> Result<Audio> {
        let g = 10f64.powf(db / 20.0) as f32;
        a.data_mut().iter_mut().for_each(|v| *v *= g);
        Ok(a)
    }
}

/// Adds white Gaussian noise with a standard deviation drawn uniformly.
#[derive(Clone, Debug)]
pub struct AddGaussianNoise {
    min_amplitude: f64,
    max_amplitude: f64,
}
impl AddGaussianNoise {
    /// Noise standard deviation in `[min_amplitude, max_amplitude] ⊂ [0, 10]`.
    pub fn new(min_amplitude: f64, max_amplitude: f64) -> Result<Self> {
        check_range(
            "add_gaussian_noise.amplitude",
            min_amplitude,
            max_amplitude,
            0.0,
            10.0,
        )?;
        Ok(AddGaussianNoise {
            min_amplitude,
            max_amplitude,
        })
    }
}
impl Default for AddGaussianNoise {
    fn default() -> Self {
        AddGaussianNoise {
            min_amplitude: 0.001,
            max_amplitude: 0.015,
        }
    }
}
impl RandomTransform<Audio> for AddGaussianNoise {
    type Params = (f64, u64);
    fn transform_name(&self) -> &str {
        "AddGaussianNoise"
    }
    fn sample_params(&self, _: &Audio, rng: &mut Generator) -> Result<(f64, u64)> {
        Ok((
            rng.uniform(self.min_amplitude, self.max_amplitude),
            rng.next_u64(),
        ))
    }
    fn apply_with(&self, mut a: Audio, &(amp, seed): &(f64, u64)) -> Result<Audio> {
        let amp = amp as f32;
        gaussian_apply(seed, a.data_mut(), |v, n| *v += amp * n);
        Ok(a)
    }
}

/// Adds white Gaussian noise at a signal-to-noise ratio drawn uniformly in dB.
///
/// The noise is scaled so that its *measured* RMS is exactly `rms(signal) / 10^(snr/20)` (over all
/// channels), so the SNR of the result is the drawn one, not only in expectation. Silent clips are
/// returned unchanged.
#[derive(Clone, Debug)]
pub struct AddGaussianSNR {
    min_snr_db: f64,
    max_snr_db: f64,
}
impl AddGaussianSNR {
    /// SNR in `[min_snr_db, max_snr_db] ⊂ [-40, 120]`.
    pub fn new(min_snr_db: f64, max_snr_db: f64) -> Result<Self> {
        check_range(
            "add_gaussian_snr.snr_db",
            min_snr_db,
            max_snr_db,
            -40.0,
            120.0,
        )?;
        Ok(AddGaussianSNR {
            min_snr_db,
            max_snr_db,
        })
    }
}
impl Default for AddGaussianSNR {
    fn default() -> Self {
        AddGaussianSNR {
            min_snr_db: 5.0,
            max_snr_db: 40.0,
        }
    }
}
impl RandomTransform<Audio> for AddGaussianSNR {
    type Params = (f64, u64);
    fn transform_name(&self) -> &str {
        "AddGaussianSNR"
    }
    fn sample_params(&self, _: &Audio, rng: &mut Generator) -> Result<(f64, u64)> {
        Ok((
            rng.uniform(self.min_snr_db, self.max_snr_db),
            rng.next_u64(),
        ))
    }
    fn apply_with(&self, mut a: Audio, &(snr, seed): &(f64, u64)) -> Result<Audio> {
        let s = rms(a.data());
        if s == 0.0 || a.is_empty() {
            return Ok(a);
        }
        let mut noise = vec![0.0f32; a.data().len()];
        gaussian_fill(seed, &mut noise);
        let scale = (s / 10f64.powf(snr / 20.0) / rms(&noise)) as f32;
        for (v, n) in a.data_mut().iter_mut().zip(&noise) {
            *v += scale * n;
        }
        Ok(a)
    }
}

/// Mixes in a random excerpt of a background clip at an SNR drawn uniformly in dB.
///
/// Background clips are loaded once ([`AddBackgroundNoise::from_folder`]) and must have the rate of
/// the clips they are mixed into; a background shorter than the clip is looped. The excerpt is scaled
/// so that `rms(signal) / rms(excerpt) = 10^(snr/20)` exactly.
#[derive(Clone, Debug)]
pub struct AddBackgroundNoise {
    sounds: Vec<Audio>,
    min_snr_db: f64,
    max_snr_db: f64,
}
impl AddBackgroundNoise {
    /// Background clips given in memory; SNR in `[min_snr_db, max_snr_db] ⊂ [-40, 120]`.
    pub fn new(sounds: Vec<Audio>, min_snr_db: f64, max_snr_db: f64) -> Result<Self> {
        check_range(
            "add_background_noise.snr_db",
            min_snr_db,
            max_snr_db,
            -40.0,
            120.0,
        )?;
        check::at_least("add_background_noise.sounds", sounds.len(), 1)?;
        let sounds = sounds.into_iter().map(|s| s.downmix()).collect();
        Ok(AddBackgroundNoise {
            sounds,
            min_snr_db,
            max_snr_db,
        })
    }
    /// All `.wav` files of a folder, with audiomentations' default SNR range 3 … 30 dB.
    pub fn from_folder(folder: &Path) -> Result<Self> {
        Self::new(load_folder(folder)?, 3.0, 30.0)
    }
    /// The same background clips with another SNR range.
    pub fn with_snr(self, min_snr_db: f64, max_snr_db: f64) -> Result<Self> {
        Self::new(self.sounds, min_snr_db, max_snr_db)
    }
}
impl RandomTransform<Audio> for AddBackgroundNoise {
    /// `(snr_db, clip index, start offset)`.
    type Params = (f64, usize, usize);
    fn transform_name(&self) -> &str {
        "AddBackgroundNoise"
    }
    fn sample_params(&self, a: &Audio, rng: &mut Generator) -> Result<Self::Params> {
        let snr = rng.uniform(self.min_snr_db, self.max_snr_db);
        let i = rng.below(self.sounds.len() as u64) as usize;
        let len = self.sounds[i].frames();
        let free = len.saturating_sub(a.frames());
        let off = if free > 0 {
            rng.below(free as u64 + 1) as usize
        } else {
            0
        };
        Ok((snr, i, off))
    }
    fn apply_with(&self, mut a: Audio, &(snr, i, off): &Self::Params) -> Result<Audio> {
        let bg = self
            .sounds
            .get(i)
            .ok_or_else(|| Error::Replay(format!("no background clip {i}")))?;
        if bg.sample_rate() != a.sample_rate() {
            return Err(Error::config(
                "add_background_noise.sounds",
                format!(
                    "background clip {i} is {} Hz but the clip is {} Hz",
                    bg.sample_rate(),
                    a.sample_rate()
                ),
            ));
        }
        let src = bg.channel(0);
        if src.is_empty() || a.is_empty() {
            return Ok(a);
        }
        let n = a.frames();
        let excerpt: Vec<f32> = (0..n).map(|j| src[(off + j) % src.len()]).collect();
        let (s, b) = (rms(a.data()), rms(&excerpt));
        if s == 0.0 || b == 0.0 {
            return Ok(a);
        }
        let scale = (s / 10f64.powf(snr / 20.0) / b) as f32;
        for c in 0..a.channels() {
            for (v, e) in a.channel_mut(c).iter_mut().zip(&excerpt) {
                *v += scale * e;
            }
        }
        Ok(a)
    }
}

/// Shifts the clip in time by a fraction of its length drawn uniformly; samples that leave one end
/// re-enter at the other (`rollover`) or are replaced by zeros.
#[derive(Clone, Debug)]
pub struct Shift {
    min_shift: f64,
    max_shift: f64,
    rollover: bool,
}
impl Shift {
    /// Shift fraction in `[min_shift, max_shift] ⊂ [-1, 1]` (positive: later).
    pub fn new(min_shift: f64, max_shift: f64, rollover: bool) -> Result<Self> {
        check_range("shift.shift", min_shift, max_shift, -1.0, 1.0)?;
        Ok(Shift {
            min_shift,
            max_shift,
            rollover,
        })
    }
}
impl Default for Shift {
    fn default() -> Self {
        Shift {
            min_shift: -0.5,
            max_shift: 0.5,
            rollover: true,
        }
    }
}
impl RandomTransform<Audio> for Shift {
    /// Shift in samples.
    type Params = i64;
    fn transform_name(&self) -> &str {
        "Shift"
    }
    fn sample_params(&self, a: &Audio, rng: &mut Generator) -> Result<i64> {
        Ok((rng.uniform(self.min_shift, self.max_shift) * a.frames() as f64).round() as i64)
    }
    fn apply_with(&self, mut a: Audio, &k: &i64) -> Result<Audio> {
        let n = a.frames();
        if n == 0 || k == 0 {
            return Ok(a);
        }
        for c in 0..a.channels() {
            let ch = a.channel_mut(c);
            if self.rollover {
                let r = k.rem_euclid(n as i64) as usize;
                ch.rotate_right(r);
            } else if k.unsigned_abs() as usize >= n {
                ch.fill(0.0);
            } else if k > 0 {
                let k = k as usize;
                ch.copy_within(0..n - k, k);
                ch[..k].fill(0.0);
            } else {
                let k = (-k) as usize;
                ch.copy_within(k..n, 0);
                ch[n - k..].fill(0.0);
            }
        }
        Ok(a)
    }
}

/// Phase-vocoder time stretch by a rate drawn uniformly (> 1 faster); see [`super::vocoder`].
#[derive(Debug)]
pub struct TimeStretch {
    min_rate: f64,
    max_rate: f64,
    leave_length_unchanged: bool,
    n_fft: Option<usize>,
    plans: PlanCache,
}
impl TimeStretch {
    /// Rate in `[min_rate, max_rate] ⊂ [0.1, 10]`; with `leave_length_unchanged` the result is cut or
    /// zero-padded back to the input length (audiomentations' default), otherwise it has
    /// `round(len / rate)` samples.
    pub fn new(min_rate: f64, max_rate: f64, leave_length_unchanged: bool) -> Result<Self> {
        check_range("time_stretch.rate", min_rate, max_rate, 0.1, 10.0)?;
        Ok(TimeStretch {
            min_rate,
            max_rate,
            leave_length_unchanged,
            n_fft: None,
            plans: PlanCache::default(),
        })
    }
    /// Fixes the vocoder FFT size (a power of two in `[64, 16384]`) instead of the rate-based default.
    pub fn with_n_fft(mut self, n_fft: usize) -> Result<Self> {
        if !(64..=16384).contains(&n_fft) || !n_fft.is_power_of_two() {
            return Err(Error::config(
                "time_stretch.n_fft",
                format!("must be a power of two in [64, 16384], got {n_fft}"),
            ));
        }
        self.n_fft = Some(n_fft);
        Ok(self)
    }
}
impl Default for TimeStretch {
    fn default() -> Self {
        Self::new(0.8, 1.25, true).expect("valid defaults")
    }
}
impl RandomTransform<Audio> for TimeStretch {
    /// The rate.
    type Params = f64;
    fn transform_name(&self) -> &str {
        "TimeStretch"
    }
    fn sample_params(&self, _: &Audio, rng: &mut Generator) -> Result<f64> {
        Ok(rng.uniform(self.min_rate, self.max_rate))
    }
    fn apply_with(&self, a: Audio, &rate: &f64) -> Result<Audio> {
        check::positive("time_stretch.rate", rate)?;
        let plan = self.plans.get(
            self.n_fft
                .unwrap_or_else(|| vocoder::default_n_fft(a.sample_rate())),
        );
        let n = a.frames();
        let stretched = (n as f64 / rate).round() as usize;
        let out_len = if self.leave_length_unchanged {
            n
        } else {
            stretched
        };
        let mut out = vec![0.0f32; out_len * a.channels()];
        for (c, o) in out.chunks_exact_mut(out_len.max(1)).enumerate() {
            vocoder::time_stretch_into(&plan, a.channel(c), rate, stretched, o);
        }
        Audio::new(a.sample_rate(), a.channels(), out)
    }
}

/// Pitch shift by a number of semitones drawn uniformly, keeping the duration; see [`super::vocoder`].
#[derive(Debug)]
pub struct PitchShift {
    min_semitones: f64,
    max_semitones: f64,
    quality: ResampleQuality,
    n_fft: Option<usize>,
    plans: PlanCache,
}
impl PitchShift {
    /// Semitones in `[min_semitones, max_semitones] ⊂ [-24, 24]`.
    pub fn new(min_semitones: f64, max_semitones: f64) -> Result<Self> {
        check_range(
            "pitch_shift.semitones",
            min_semitones,
            max_semitones,
            -24.0,
            24.0,
        )?;
        Ok(PitchShift {
            min_semitones,
            max_semitones,
            quality: ResampleQuality::FAST,
            n_fft: None,
            plans: PlanCache::default(),
        })
    }
    /// Uses another resampling quality for the final resampling step (default [`ResampleQuality::FAST`]).
    pub fn with_quality(mut self, quality: ResampleQuality) -> Self {
        self.quality = quality;
        self
    }
    /// Fixes the vocoder FFT size (a power of two in `[64, 16384]`).
    pub fn with_n_fft(mut self, n_fft: usize) -> Result<Self> {
        if !(64..=16384).contains(&n_fft) || !n_fft.is_power_of_two() {
            return Err(Error::config(
                "pitch_shift.n_fft",
                format!("must be a power of two in [64, 16384], got {n_fft}"),
            ));
        }
        self.n_fft = Some(n_fft);
        Ok(self)
    }
}
impl Default for PitchShift {
    fn default() -> Self {
        Self::new(-4.0, 4.0).expect("valid defaults")
    }
}
impl RandomTransform<Audio> for PitchShift {
    /// Semitones.
    type Params = f64;
    fn transform_name(&self) -> &str {
        "PitchShift"
    }
    fn sample_params(&self, _: &Audio, rng: &mut Generator) -> Result<f64> {
        Ok(rng.uniform(self.min_semitones, self.max_semitones))
    }
    fn apply_with(&self, a: Audio, &st: &f64) -> Result<Audio> {
        check::in_range("pitch_shift.semitones", st, -48.0, 48.0)?;
        let plan = self.plans.get(
            self.n_fft
                .unwrap_or_else(|| vocoder::default_n_fft(a.sample_rate())),
        );
        let n = a.frames();
        let mut out = vec![0.0f32; a.data().len()];
        for (c, o) in out.chunks_exact_mut(n.max(1)).enumerate() {
            vocoder::pitch_shift_into(&plan, a.channel(c), st, self.quality, o);
        }
        Audio::new(a.sample_rate(), a.channels(), out)
    }
}

/// Resamples to a sample rate drawn uniformly (band-limited, [`ResampleQuality::BEST`]).
#[derive(Clone, Debug)]
pub struct Resample {
    min_sample_rate: u32,
    max_sample_rate: u32,
}
impl Resample {
    /// Target rate in `[min_sample_rate, max_sample_rate] ⊂ [1000, 384000]` Hz.
    pub fn new(min_sample_rate: u32, max_sample_rate: u32) -> Result<Self> {
        check_range(
            "resample.sample_rate",
            f64::from(min_sample_rate),
            f64::from(max_sample_rate),
            1000.0,
            384_000.0,
        )?;
        Ok(Resample {
            min_sample_rate,
            max_sample_rate,
        })
    }
    /// Always resample to `rate`.
    pub fn to(rate: u32) -> Result<Self> {
        Self::new(rate, rate)
    }
}
impl Default for Resample {
    fn default() -> Self {
        Resample {
            min_sample_rate: 8000,
            max_sample_rate: 44100,
        }
    }
}
impl RandomTransform<Audio> for Resample {
    /// The new rate.
    type Params = u32;
    fn transform_name(&self) -> &str {
        "Resample"
    }
    fn sample_params(&self, _: &Audio, rng: &mut Generator) -> Result<u32> {
        Ok(rng.int_inclusive(
            i64::from(self.min_sample_rate),
            i64::from(self.max_sample_rate),
        ) as u32)
    }
    fn apply_with(&self, a: Audio, &rate: &u32) -> Result<Audio> {
        crate::audio::resample::resample(&a, rate)
    }
}

/// Speed perturbation (torchaudio `SpeedPerturbation`): plays the clip `factor` times faster — tempo
/// and pitch both change — by resampling from `rate · factor` to `rate`; the rate tag is unchanged.
#[derive(Clone, Debug)]
pub struct SpeedPerturb {
    factors: Vec<f64>,
}
impl SpeedPerturb {
    /// One factor is chosen uniformly from `factors` (each in `[0.1, 10]`).
    pub fn new(factors: Vec<f64>) -> Result<Self> {
        check::at_least("speed_perturb.factors", factors.len(), 1)?;
        for (i, &f) in factors.iter().enumerate() {
            check::in_range(&format!("speed_perturb.factors[{i}]"), f, 0.1, 10.0)?;
        }
        Ok(SpeedPerturb { factors })
    }
}
impl Default for SpeedPerturb {
    fn default() -> Self {
        SpeedPerturb {
            factors: vec![0.9, 1.0, 1.1],
        }
    }
}
impl RandomTransform<Audio> for SpeedPerturb {
    /// The speed factor.
    type Params = f64;
    fn transform_name(&self) -> &str {
        "SpeedPerturb"
    }
    fn sample_params(&self, _: &Audio, rng: &mut Generator) -> Result<f64> {
        Ok(self.factors[rng.below(self.factors.len() as u64) as usize])
    }
    fn apply_with(&self, a: Audio, &factor: &f64) -> Result<Audio> {
        check::in_range("speed_perturb.factor", factor, 0.01, 100.0)?;
        if factor == 1.0 {
            return Ok(a);
        }
        let sr = f64::from(a.sample_rate());
        let r = Resampler::new(sr * factor, sr, ResampleQuality::BEST)?;
        let out = process_channels(&r, &a);
        Audio::new(a.sample_rate(), a.channels(), out)
    }
}

// ---------------------------------------------------------------------------------------------------
// Biquads

/// Second-order IIR coefficients `(b0, b1, b2, a1, a2)` normalised by `a0` (RBJ Audio EQ Cookbook).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Biquad {
    /// Feed-forward coefficients.
    pub b: [f64; 3],
    /// Feedback coefficients `a1, a2` (`a0 = 1`).
    pub a: [f64; 2],
}

/// The biquad shapes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BiquadKind {
    /// Low-pass.
    LowPass,
    /// High-pass.
    HighPass,
    /// Band-pass with 0 dB peak gain.
    BandPass,
    /// Low shelf with a gain in dB.
    LowShelf(f64),
    /// High shelf with a gain in dB.
    HighShelf(f64),
}

impl Biquad {
    /// Cookbook design at frequency `f0` (Hz) and quality `q` for a sample rate `sr`.
    pub fn design(kind: BiquadKind, f0: f64, q: f64, sr: f64) -> Biquad {
        let w0 = std::f64::consts::TAU * f0 / sr;
        let (sw, cw) = w0.sin_cos();
        let alpha = sw / (2.0 * q);
        let (b, a0, a1, a2) = match kind {
            BiquadKind::LowPass => (
                [(1.0 - cw) / 2.0, 1.0 - cw, (1.0 - cw) / 2.0],
                1.0 + alpha,
                -2.0 * cw,
                1.0 - alpha,
            ),
            BiquadKind::HighPass => (
                [(1.0 + cw) / 2.0, -(1.0 + cw), (1.0 + cw) / 2.0],
                1.0 + alpha,
                -2.0 * cw,
                1.0 - alpha,
            ),
            BiquadKind::BandPass => ([alpha, 0.0, -alpha], 1.0 + alpha, -2.0 * cw, 1.0 - alpha),
            BiquadKind::LowShelf(db) => {
                let a = 10f64.powf(db / 40.0);
                let s = 2.0 * a.sqrt() * alpha;
                (
                    [
                        a * ((a + 1.0) - (a - 1.0) * cw + s),
                        2.0 * a * ((a - 1.0) - (a + 1.0) * cw),
                        a * ((a + 1.0) - (a - 1.0) * cw - s),
                    ],
                    (a + 1.0) + (a - 1.0) * cw + s,
                    -2.0 * ((a - 1.0) + (a + 1.0) * cw),
                    (a + 1.0) + (a - 1.0) * cw - s,
                )
            }
            BiquadKind::HighShelf(db) => {
                let a = 10f64.powf(db / 40.0);
                let s = 2.0 * a.sqrt() * alpha;
                (
                    [
                        a * ((a + 1.0) + (a - 1.0) * cw + s),
                        -2.0 * a * ((a - 1.0) + (a + 1.0) * cw),
                        a * ((a + 1.0) + (a - 1.0) * cw - s),
                    ],
                    (a + 1.0) - (a - 1.0) * cw + s,
                    2.0 * ((a - 1.0) - (a + 1.0) * cw),
                    (a + 1.0) - (a - 1.0) * cw - s,
                )
            }
        };
        Biquad {
            b: [b[0] / a0, b[1] / a0, b[2] / a0],
            a: [a1 / a0, a2 / a0],
        }
    }

    /// Filters `x` in place (transposed direct form II, f64 state, zero initial state).
    pub fn filter(&self, x: &mut [f32]) {
        let [b0, b1, b2] = self.b;
        let [a1, a2] = self.a;
        let (mut z1, mut z2) = (0.0f64, 0.0f64);
        for v in x.iter_mut() {
            let xi = f64::from(*v);
            let y = b0 * xi + z1;
            z1 = b1 * xi - a1 * y + z2;
            z2 = b2 * xi - a2 * y;
            *v = y as f32;
        }
    }
}

#[derive(Clone, Debug)]
struct FilterSpec {
    name: &'static str,
    min_freq: f64,
    max_freq: f64,
    /// Quality factor range (band-pass: derived from the bandwidth fraction instead).
    min_q: f64,
    max_q: f64,
    min_gain_db: f64,
    max_gain_db: f64,
}

impl FilterSpec {
    fn validate(&self, field: &str) -> Result<()> {
        check_range(
            &format!("{field}.freq"),
            self.min_freq,
            self.max_freq,
            1.0,
            192_000.0,
        )?;
        check_range(&format!("{field}.q"), self.min_q, self.max_q, 0.01, 100.0)?;
        check_range(
            &format!("{field}.gain_db"),
            self.min_gain_db,
            self.max_gain_db,
            -60.0,
            60.0,
        )
    }
    /// Frequencies are drawn uniformly on a log scale (as audiomentations draws cutoffs in mels-like fashion).
    fn sample(&self, rng: &mut Generator) -> (f64, f64, f64) {
        let f = rng.uniform(self.min_freq.ln(), self.max_freq.ln()).exp();
        let q = rng.uniform(self.min_q, self.max_q);
        let g = rng.uniform(self.min_gain_db, self.max_gain_db);
        (f, q, g)
    }
}

fn apply_biquad(mut a: Audio, kind: BiquadKind, f0: f64, q: f64, name: &str) -> Result<Audio> {
    let sr = f64::from(a.sample_rate());
    check::positive(&format!("{name}.q"), q)?;
    // Keep the design frequency strictly below Nyquist (a cutoff at or above it leaves the clip as is).
    if f0 >= 0.499 * sr {
        return Ok(a);
    }
    let bq = Biquad::design(kind, f0, q, sr);
    for c in 0..a.channels() {
        bq.filter(a.channel_mut(c));
    }
    Ok(a)
}

macro_rules! biquad_transform {
    ($name:ident, $field:literal, $doc:literal, |$q:ident, $g:ident| $kind:expr) => {
        #[doc = $doc]
        #[derive(Clone, Debug)]
        pub struct $name(FilterSpec);

        impl RandomTransform<Audio> for $name {
            /// `(frequency Hz, q, gain dB)`.
            type Params = (f64, f64, f64);
            fn transform_name(&self) -> &str {
                self.0.name
            }
            fn sample_params(&self, _: &Audio, rng: &mut Generator) -> Result<Self::Params> {
                Ok(self.0.sample(rng))
            }
            #[allow(unused_variables)]
            fn apply_with(&self, a: Audio, &(f0, $q, $g): &Self::Params) -> Result<Audio> {
                let kind = $kind;
                apply_biquad(a, kind, f0, $q, $field)
            }
        }
        impl_transform!($name => Audio);
    };
}

biquad_transform!(
    LowPassFilter,
    "low_pass_filter",
    "Low-pass biquad with a cutoff drawn log-uniformly (default 150 … 7500 Hz, Q 0.707).",
    |q, g| BiquadKind::LowPass
);
biquad_transform!(
    HighPassFilter,
    "high_pass_filter",
    "High-pass biquad with a cutoff drawn log-uniformly (default 20 … 2400 Hz, Q 0.707).",
    |q, g| BiquadKind::HighPass
);
biquad_transform!(BandPassFilter, "band_pass_filter", "Band-pass biquad (0 dB peak): centre drawn log-uniformly (default 200 … 4000 Hz), bandwidth a fraction of the centre (default 0.5 … 1.99), `Q = 1 / fraction`.", |q, g| BiquadKind::BandPass);
biquad_transform!(LowShelfFilter, "low_shelf_filter", "Low-shelf biquad: centre drawn log-uniformly (default 50 … 4000 Hz), gain −18 … 18 dB, Q 0.707.", |q, g| BiquadKind::LowShelf(g));
biquad_transform!(HighShelfFilter, "high_shelf_filter", "High-shelf biquad: centre drawn log-uniformly (default 300 … 7500 Hz), gain −18 … 18 dB, Q 0.707.", |q, g| BiquadKind::HighShelf(g));

const Q_BUTTERWORTH: f64 = std::f64::consts::FRAC_1_SQRT_2;

impl LowPassFilter {
    /// Cutoff in `[min_cutoff_freq, max_cutoff_freq]` Hz, quality `q`.
    pub fn new(min_cutoff_freq: f64, max_cutoff_freq: f64, q: f64) -> Result<Self> {
        let s = FilterSpec {
            name: "LowPassFilter",
            min_freq: min_cutoff_freq,
            max_freq: max_cutoff_freq,
            min_q: q,
            max_q: q,
            min_gain_db: 0.0,
            max_gain_db: 0.0,
        };
        s.validate("low_pass_filter")?;
        Ok(LowPassFilter(s))
    }
}
impl Default for LowPassFilter {
    fn default() -> Self {
        Self::new(150.0, 7500.0, Q_BUTTERWORTH).expect("valid defaults")
    }
}
impl HighPassFilter {
    /// Cutoff in `[min_cutoff_freq, max_cutoff_freq]` Hz, quality `q`.
    pub fn new(min_cutoff_freq: f64, max_cutoff_freq: f64, q: f64) -> Result<Self> {
        let s = FilterSpec {
            name: "HighPassFilter",
            min_freq: min_cutoff_freq,
            max_freq: max_cutoff_freq,
            min_q: q,
            max_q: q,
            min_gain_db: 0.0,
            max_gain_db: 0.0,
        };
        s.validate("high_pass_filter")?;
        Ok(HighPassFilter(s))
    }
}
impl Default for HighPassFilter {
    fn default() -> Self {
        Self::new(20.0, 2400.0, Q_BUTTERWORTH).expect("valid defaults")
    }
}
impl BandPassFilter {
    /// Centre in `[min_center_freq, max_center_freq]` Hz, bandwidth fraction in
    /// `[min_bandwidth_fraction, max_bandwidth_fraction] ⊂ [0.01, 10]`.
    pub fn new(
        min_center_freq: f64,
        max_center_freq: f64,
        min_bandwidth_fraction: f64,
        max_bandwidth_fraction: f64,
    ) -> Result<Self> {
        check_range(
            "band_pass_filter.bandwidth_fraction",
            min_bandwidth_fraction,
            max_bandwidth_fraction,
            0.01,
            10.0,
        )?;
        let s = FilterSpec {
            name: "BandPassFilter",
            min_freq: min_center_freq,
            max_freq: max_center_freq,
            min_q: 1.0 / max_bandwidth_fraction,
            max_q: 1.0 / min_bandwidth_fraction,
            min_gain_db: 0.0,
            max_gain_db: 0.0,
        };
        s.validate("band_pass_filter")?;
        Ok(BandPassFilter(s))
    }
}
impl Default for BandPassFilter {
    fn default() -> Self {
        Self::new(200.0, 4000.0, 0.5, 1.99).expect("valid defaults")
    }
}
impl LowShelfFilter {
    /// Centre in `[min_center_freq, max_center_freq]` Hz, gain in `[min_gain_db, max_gain_db] ⊂ [-60, 60]`.
    pub fn new(
        min_center_freq: f64,
        max_center_freq: f64,
        min_gain_db: f64,
        max_gain_db: f64,
    ) -> Result<Self> {
        let s = FilterSpec {
            name: "LowShelfFilter",
            min_freq: min_center_freq,
            max_freq: max_center_freq,
            min_q: Q_BUTTERWORTH,
            max_q: Q_BUTTERWORTH,
            min_gain_db,
            max_gain_db,
        };
        s.validate("low_shelf_filter")?;
        Ok(LowShelfFilter(s))
    }
}
impl Default for LowShelfFilter {
    fn default() -> Self {
        Self::new(50.0, 4000.0, -18.0, 18.0).expect("valid defaults")
    }
}
impl HighShelfFilter {
    /// Centre in `[min_center_freq, max_center_freq]` Hz, gain in `[min_gain_db, max_gain_db] ⊂ [-60, 60]`.
    pub fn new(
        min_center_freq: f64,
        max_center_freq: f64,
        min_gain_db: f64,
        max_gain_db: f64,
    ) -> Result<Self> {
        let s = FilterSpec {
            name: "HighShelfFilter",
            min_freq: min_center_freq,
            max_freq: max_center_freq,
            min_q: Q_BUTTERWORTH,
            max_q: Q_BUTTERWORTH,
            min_gain_db,
            max_gain_db,
        };
        s.validate("high_shelf_filter")?;
        Ok(HighShelfFilter(s))
    }
}
impl Default for HighShelfFilter {
    fn default() -> Self {
        Self::new(300.0, 7500.0, -18.0, 18.0).expect("valid defaults")
    }
}

// ---------------------------------------------------------------------------------------------------

/// Linear convolution of `x` with `h` by FFT, truncated to `x.len()` samples.
pub fn fft_convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    if x.is_empty() || h.is_empty() {
        return vec![0.0; x.len()];
    }
    let n = (x.len() + h.len() - 1).next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let mut xa = vec![0.0f32; n];
    xa[..x.len()].copy_from_slice(x);
    let mut ha = vec![0.0f32; n];
    ha[..h.len()].copy_from_slice(h);
    let mut xs = fwd.make_output_vec();
    let mut hs = fwd.make_output_vec();
    fwd.process(&mut xa, &mut xs).expect("plan lengths");
    fwd.process(&mut ha, &mut hs).expect("plan lengths");
    for (a, b) in xs.iter_mut().zip(&hs) {
        *a *= b;
    }
    xs[0].im = 0.0;
    let last = xs.len() - 1;
    xs[last] = Complex::new(xs[last].re, 0.0);
    let mut y = vec![0.0f32; n];
    inv.process(&mut xs, &mut y).expect("plan lengths");
    let s = 1.0 / n as f32;
    y.truncate(x.len());
    y.iter_mut().for_each(|v| *v *= s);
    y
}

/// Convolves the clip with an impulse response chosen uniformly (FFT convolution, output cut to the
/// input length, as audiomentations' `leave_length_unchanged`).
#[derive(Clone, Debug)]
pub struct ApplyImpulseResponse {
    irs: Vec<Audio>,
}
impl ApplyImpulseResponse {
    /// Impulse responses given in memory (mono; at least one).
    pub fn new(irs: Vec<Audio>) -> Result<Self> {
        check::at_least("apply_impulse_response.irs", irs.len(), 1)?;
        Ok(ApplyImpulseResponse {
            irs: irs.into_iter().map(|a| a.downmix()).collect(),
        })
    }
    /// All `.wav` files of a folder.
    pub fn from_folder(folder: &Path) -> Result<Self> {
        Self::new(load_folder(folder)?)
    }
}
impl RandomTransform<Audio> for ApplyImpulseResponse {
    /// The IR index.
    type Params = usize;
    fn transform_name(&self) -> &str {
        "ApplyImpulseResponse"
    }
    fn sample_params(&self, _: &Audio, rng: &mut Generator) -> Result<usize> {
        Ok(rng.below(self.irs.len() as u64) as usize)
    }
    fn apply_with(&self, mut a: Audio, &i: &usize) -> Result<Audio> {
        let ir = self
            .irs
            .get(i)
            .ok_or_else(|| Error::Replay(format!("no impulse response {i}")))?;
        if ir.sample_rate() != a.sample_rate() {
            return Err(Error::config(
                "apply_impulse_response.irs",
                format!(
                    "impulse response {i} is {} Hz but the clip is {} Hz",
                    ir.sample_rate(),
                    a.sample_rate()
                ),
            ));
        }
        for c in 0..a.channels() {
            let y = fft_convolve(a.channel(c), ir.channel(0));
            a.channel_mut(c).copy_from_slice(&y);
        }
        Ok(a)
    }
}

/// Clips the waveform at the `p/2` and `100 − p/2` percentiles, `p` drawn uniformly (audiomentations'
/// `ClippingDistortion`; percentiles by linear interpolation, numpy's default).
#[derive(Clone, Debug)]
pub struct ClippingDistortion {
    min_percentile_threshold: f64,
    max_percentile_threshold: f64,
}
impl ClippingDistortion {
    /// Percentile threshold in `[min, max] ⊂ [0, 100]`.
    pub fn new(min_percentile_threshold: f64, max_percentile_threshold: f64) -> Result<Self> {
        check_range(
            "clipping_distortion.percentile_threshold",
            min_percentile_threshold,
            max_percentile_threshold,
            0.0,
            100.0,
        )?;
        Ok(ClippingDistortion {
            min_percentile_threshold,
            max_percentile_threshold,
        })
    }
}
impl Default for ClippingDistortion {
    fn default() -> Self {
        ClippingDistortion {
            min_percentile_threshold: 0.0,
            max_percentile_threshold: 40.0,
        }
    }
}
fn percentile(sorted: &[f32], q: f64) -> f32 {
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let f = pos - i as f64;
    let a = f64::from(sorted[i]);
    let b = f64::from(sorted[(i + 1).min(sorted.len() - 1)]);
    (a + (b - a) * f) as f32
}
impl RandomTransform<Audio> for ClippingDistortion {
    /// The percentile threshold.
    type Params = f64;
    fn transform_name(&self) -> &str {
        "ClippingDistortion"
    }
    fn sample_params(&self, _: &Audio, rng: &mut Generator) -> Result<f64> {
        Ok(rng.uniform(self.min_percentile_threshold, self.max_percentile_threshold))
    }
    fn apply_with(&self, mut a: Audio, &p: &f64) -> Result<Audio> {
        check::in_range("clipping_distortion.percentile_threshold", p, 0.0, 100.0)?;
        if a.is_empty() {
            return Ok(a);
        }
        let mut sorted = a.data().to_vec();
        sorted.sort_unstable_by(|x, y| x.total_cmp(y));
        let lo = percentile(&sorted, p / 2.0);
        let hi = percentile(&sorted, 100.0 - p / 2.0);
        a.data_mut().iter_mut().for_each(|v| *v = v.clamp(lo, hi));
        Ok(a)
    }
}

/// Multiplies the clip by −1.
#[derive(Clone, Copy, Debug, Default)]
pub struct PolarityInversion;
impl RandomTransform<Audio> for PolarityInversion {
    type Params = ();
    fn transform_name(&self) -> &str {
        "PolarityInversion"
    }
    fn sample_params(&self, _: &Audio, _: &mut Generator) -> Result<()> {
        Ok(())
    }
    fn apply_with(&self, mut a: Audio, _: &()) -> Result<Audio> {
        a.data_mut().iter_mut().for_each(|v| *v = -*v);
        Ok(a)
    }
}

/// Copies `len` frames starting at `start` (which may be negative or run past the end: zeros there).
fn window_frames(a: &Audio, start: i64, len: usize) -> Result<Audio> {
    let n = a.frames() as i64;
    let mut out = vec![0.0f32; len * a.channels()];
    for c in 0..a.channels() {
        let src = a.channel(c);
        let dst = &mut out[c * len..(c + 1) * len];
        let lo = start.max(0);
        let hi = (start + len as i64).min(n);
        if lo < hi {
            dst[(lo - start) as usize..(hi - start) as usize]
                .copy_from_slice(&src[lo as usize..hi as usize]);
        }
    }
    Audio::new(a.sample_rate(), a.channels(), out)
}

/// A random fixed-length window: a longer clip is cropped at a uniform offset; a shorter one is placed
/// at a uniform offset inside zeros. Every output has exactly `length` frames.
#[derive(Clone, Debug)]
pub struct RandomCrop {
    length: usize,
}
impl RandomCrop {
    /// Output length in frames (>= 1).
    pub fn new(length: usize) -> Result<Self> {
        check::at_least("random_crop.length", length, 1)?;
        Ok(RandomCrop { length })
    }
    /// Output length in seconds at `sample_rate`.
    pub fn seconds(seconds: f64, sample_rate: u32) -> Result<Self> {
        check::positive("random_crop.seconds", seconds)?;
        Self::new((seconds * f64::from(sample_rate)).round() as usize)
    }
}
impl RandomTransform<Audio> for RandomCrop {
    /// Start frame (negative: zeros first).
    type Params = i64;
    fn transform_name(&self) -> &str {
        "RandomCrop"
    }
    fn sample_params(&self, a: &Audio, rng: &mut Generator) -> Result<i64> {
        let n = a.frames() as i64;
        let l = self.length as i64;
        Ok(if n >= l {
            rng.int_inclusive(0, n - l)
        } else {
            -rng.int_inclusive(0, l - n)
        })
    }
    fn apply_with(&self, a: Audio, &start: &i64) -> Result<Audio> {
        window_frames(&a, start, self.length)
    }
}

/// Deterministic fixed length: keeps the first `length` frames, zero-padding at the end when shorter
/// (for evaluation, where a random crop is not wanted).
#[derive(Clone, Debug)]
pub struct PadOrCrop {
    length: usize,
}
impl PadOrCrop {
    /// Output length in frames (>= 1).
    pub fn new(length: usize) -> Result<Self> {
        check::at_least("pad_or_crop.length", length, 1)?;
        Ok(PadOrCrop { length })
    }
}
impl RandomTransform<Audio> for PadOrCrop {
    type Params = ();
    fn transform_name(&self) -> &str {
        "PadOrCrop"
    }
    fn sample_params(&self, _: &Audio, _: &mut Generator) -> Result<()> {
        Ok(())
    }
    fn apply_with(&self, a: Audio, _: &()) -> Result<Audio> {
        window_frames(&a, 0, self.length)
    }
}

/// Zeros a random run of samples whose length is a fraction of the clip drawn uniformly
/// (audiomentations' `TimeMask`, without fade).
#[derive(Clone, Debug)]
pub struct TimeMask {
    min_band_part: f64,
    max_band_part: f64,
}
impl TimeMask {
    /// Masked fraction in `[min_band_part, max_band_part] ⊂ [0, 1]`.
    pub fn new(min_band_part: f64, max_band_part: f64) -> Result<Self> {
        check_range(
            "time_mask.band_part",
            min_band_part,
            max_band_part,
            0.0,
            1.0,
        )?;
        Ok(TimeMask {
            min_band_part,
            max_band_part,
        })
    }
}
impl Default for TimeMask {
    fn default() -> Self {
        TimeMask {
            min_band_part: 0.0,
            max_band_part: 0.5,
        }
    }
}
impl RandomTransform<Audio> for TimeMask {
    /// `(start, length)` in frames.
    type Params = (usize, usize);
    fn transform_name(&self) -> &str {
        "TimeMask"
    }
    fn sample_params(&self, a: &Audio, rng: &mut Generator) -> Result<(usize, usize)> {
        let n = a.frames();
        let t = (rng.uniform(self.min_band_part, self.max_band_part) * n as f64) as usize;
        let t = t.min(n);
        let start = rng.below((n - t) as u64 + 1) as usize;
        Ok((start, t))
    }
    fn apply_with(&self, mut a: Audio, &(s, t): &(usize, usize)) -> Result<Audio> {
        let n = a.frames();
        for c in 0..a.channels() {
            let ch = a.channel_mut(c);
            ch[s.min(n)..(s + t).min(n)].fill(0.0);
        }
        Ok(a)
    }
}

impl_transform!(Gain => Audio);
impl_transform!(AddGaussianNoise => Audio);
impl_transform!(AddGaussianSNR => Audio);
impl_transform!(AddBackgroundNoise => Audio);
impl_transform!(Shift => Audio);
impl_transform!(TimeStretch => Audio);
impl_transform!(PitchShift => Audio);
impl_transform!(Resample => Audio);
impl_transform!(SpeedPerturb => Audio);
impl_transform!(ApplyImpulseResponse => Audio);
impl_transform!(ClippingDistortion => Audio);
impl_transform!(PolarityInversion => Audio);
impl_transform!(RandomCrop => Audio);
impl_transform!(PadOrCrop => Audio);
impl_transform!(TimeMask => Audio);

// ---------------------------------------------------------------------------------------------------

/// Batch MixUp: clip `i` becomes `λ_i · x_i + (1 − λ_i) · x_{π(i)}` for a random permutation `π` and
/// `λ_i ~ Beta(alpha, alpha)`, computed from the *original* clips. Returns `(λ_i, π(i))` per clip so
/// that labels can be mixed the same way. All clips must share rate, channels and length (crop first).
pub fn mixup_batch(
    clips: &mut [Audio],
    alpha: f64,
    rng: &mut Generator,
) -> Result<Vec<(f32, usize)>> {
    check::positive("mixup.alpha", alpha)?;
    if clips.is_empty() {
        return Ok(Vec::new());
    }
    let (sr, ch, n) = (
        clips[0].sample_rate(),
        clips[0].channels(),
        clips[0].frames(),
    );
    for (i, c) in clips.iter().enumerate() {
        if (c.sample_rate(), c.channels(), c.frames()) != (sr, ch, n) {
            return Err(Error::shape(format!(
                "mixup needs equal clips: clip {i} is {} Hz × {} ch × {} frames, clip 0 is {sr} Hz × {ch} ch × {n} frames",
                c.sample_rate(),
                c.channels(),
                c.frames()
            )));
        }
    }
    let perm = rng.permutation(clips.len());
    let lambdas: Vec<f32> = (0..clips.len())
        .map(|_| rng.beta(alpha, alpha) as f32)
        .collect();
    let originals: Vec<Vec<f32>> = clips.iter().map(|c| c.data().to_vec()).collect();
    for (i, clip) in clips.iter_mut().enumerate() {
        let l = lambdas[i];
        let other = &originals[perm[i]];
        for (v, &o) in clip.data_mut().iter_mut().zip(other) {
            *v = l * *v + (1.0 - l) * o;
        }
    }
    Ok(lambdas.into_iter().zip(perm).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Audio {
        Audio::mono(8000, (0..n).map(|i| i as f32).collect()).unwrap()
    }

    #[test]
    fn gaussian_noise_has_normal_moments_and_tails() {
        let mut x = vec![0.0f32; 400_000];
        gaussian_fill(7, &mut x);
        let n = x.len() as f64;
        let m = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = x.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / n;
        let kurt = x.iter().map(|&v| (f64::from(v) - m).powi(4)).sum::<f64>() / n / (var * var);
        assert!(
            m.abs() < 0.01 && (var - 1.0).abs() < 0.01 && (kurt - 3.0).abs() < 0.05,
            "{m} {var} {kurt}"
        );
        // P(|z| > 1.96) = 0.05 and P(|z| > 3.5) = 4.65e-4 for a standard normal.
        let p196 = x.iter().filter(|v| v.abs() > 1.96).count() as f64 / n;
        let p35 = x.iter().filter(|v| v.abs() > 3.5).count() as f64 / n;
        assert!(
            (p196 - 0.05).abs() < 0.002 && (p35 - 4.65e-4).abs() < 1.2e-4,
            "{p196} {p35}"
        );
        let mut y = vec![0.0f32; 11];
        gaussian_fill(7, &mut y);
        assert_eq!(&x[..10], &y[..10], "same seed, same noise");
    }

    #[test]
    fn shift_rolls_or_zero_fills() {
        let s = Shift::new(-1.0, 1.0, true).unwrap();
        assert_eq!(
            s.apply_with(ramp(5), &2).unwrap().data(),
            &[3.0, 4.0, 0.0, 1.0, 2.0]
        );
        let z = Shift::new(-1.0, 1.0, false).unwrap();
        assert_eq!(
            z.apply_with(ramp(5), &2).unwrap().data(),
            &[0.0, 0.0, 0.0, 1.0, 2.0]
        );
        assert_eq!(
            z.apply_with(ramp(5), &-2).unwrap().data(),
            &[2.0, 3.0, 4.0, 0.0, 0.0]
        );
    }

    #[test]
    fn crops_and_pads_to_the_exact_length() {
        let c = RandomCrop::new(4).unwrap();
        assert_eq!(
            c.apply_with(ramp(6), &1).unwrap().data(),
            &[1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(
            c.apply_with(ramp(2), &-1).unwrap().data(),
            &[0.0, 0.0, 1.0, 0.0]
        );
        let mut rng = Generator::seed_from_u64(1);
        for n in [1, 3, 4, 9] {
            let p = c.sample_params(&ramp(n), &mut rng).unwrap();
            assert_eq!(c.apply_with(ramp(n), &p).unwrap().frames(), 4);
        }
        assert_eq!(
            PadOrCrop::new(3)
                .unwrap()
                .apply_with(ramp(2), &())
                .unwrap()
                .data(),
            &[0.0, 1.0, 0.0]
        );
    }

    #[test]
    fn clipping_uses_numpy_linear_percentiles() {
        // np.percentile([0..=10], [10, 90]) = [1, 9]
        let a = Audio::mono(8000, (0..=10).map(|v| v as f32).collect()).unwrap();
        let out = ClippingDistortion::default().apply_with(a, &20.0).unwrap();
        assert_eq!(out.data()[0], 1.0);
        assert_eq!(out.data()[10], 9.0);
    }

    #[test]
    fn fft_convolution_matches_direct_sum() {
        let x: Vec<f32> = (0..37).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
        let h = [0.5f32, -0.25, 0.125, 1.0];
        let y = fft_convolve(&x, &h);
        for n in 0..x.len() {
            let want: f64 = (0..h.len())
                .filter(|&k| k <= n)
                .map(|k| f64::from(h[k]) * f64::from(x[n - k]))
                .sum();
            assert!((f64::from(y[n]) - want).abs() < 1e-4, "{n}");
        }
    }

    #[test]
    fn validation_names_fields() {
        let e = Gain::new(5.0, -5.0).unwrap_err().to_string();
        assert!(e.contains("gain.gain_db"), "{e}");
        let e = SpeedPerturb::new(vec![1.0, 0.0]).unwrap_err().to_string();
        assert!(e.contains("speed_perturb.factors[1]"), "{e}");
        assert!(TimeStretch::new(0.8, 1.2, true)
            .unwrap()
            .with_n_fft(500)
            .is_err());
    }

    #[test]
    fn mixup_mixes_with_the_permuted_originals() {
        let mut clips = vec![
            Audio::mono(8000, vec![1.0; 4]).unwrap(),
            Audio::mono(8000, vec![-1.0; 4]).unwrap(),
        ];
        let mut rng = Generator::seed_from_u64(2);
        let info = mixup_batch(&mut clips, 0.4, &mut rng).unwrap();
        for (i, &(l, j)) in info.iter().enumerate() {
            let xi = if i == 0 { 1.0 } else { -1.0 };
            let xj = if j == 0 { 1.0 } else { -1.0 };
            assert!((clips[i].data()[0] - (l * xi + (1.0 - l) * xj)).abs() < 1e-6);
        }
        let mut bad = vec![
            Audio::mono(8000, vec![1.0; 4]).unwrap(),
            Audio::mono(8000, vec![1.0; 5]).unwrap(),
        ];
        assert!(mixup_batch(&mut bad, 0.4, &mut rng).is_err());
        // Beta(a, a) has mean 1/2 and variance 1 / (4 (2a + 1)).
        let xs: Vec<f64> = (0..20000).map(|_| rng.beta(0.4, 0.4)).collect();
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(
            (m - 0.5).abs() < 0.01 && (v - 1.0 / (4.0 * 1.8)).abs() < 0.01,
            "{m} {v}"
        );
    }
}
