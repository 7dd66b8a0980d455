//! Spectral features with torchaudio's names, defaults and arithmetic: [`Stft`] framing,
//! [`SpectrogramConfig`] (torchaudio `Spectrogram`), [`MelSpectrogramConfig`] (`MelSpectrogram`, HTK or
//! Slaney mel scale, optional Slaney area normalisation — librosa's default filterbank), [`AmplitudeToDB`],
//! [`LogMelConfig`] (mel power in dB, the usual input of a 2-D CNN) and [`MfccConfig`] (`MFCC`, DCT-II with
//! `ortho` normalisation).
//!
//! ## Design
//! A config (serde, `Default` = torchaudio's defaults, `deny_unknown_fields`) is validated once by
//! `build()`, which plans the real FFT (realfft), the window and the sparse mel filterbank; the built
//! extractor is immutable and `Sync`, so one instance serves every rayon worker. Each `compute` call
//! allocates only its output and one frame of scratch.
//!
//! Framing follows `torch.stft(center=True, pad_mode="reflect")`: the signal is padded by `n_fft / 2`
//! on both sides, frame `t` starts at `t · hop`, there are `1 + len / hop` frames, and a window shorter
//! than `n_fft` sits in the middle of the frame. Windows are *periodic* (torch's `hann_window` /
//! `hamming_window` defaults). One deliberate difference: torch refuses reflect padding when the clip is
//! not longer than `n_fft / 2`; here reflection is repeated (numpy's rule) so short clips still work.
//!
//! Outputs are [`selfsup_core::Spectrogram`]s shaped `channels × rows × frames`, rows being
//! frequency bins, mel bands or coefficients.

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use selfsup_core::{
    check, impl_transform, Audio, Error, Generator, RandomTransform, Result, Spectrogram,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The analysis window (periodic, as torch's window functions by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// `0.5 − 0.5·cos(2πn/N)`.
    #[default]
    Hann,
    /// `0.54 − 0.46·cos(2πn/N)`.
    Hamming,
    /// All ones.
    Rectangular,
}

impl WindowKind {
    /// The periodic window of length `n`.
    pub fn periodic(self, n: usize) -> Vec<f32> {
        let tau = std::f64::consts::TAU;
        (0..n)
            .map(|i| {
                let c = (tau * i as f64 / n as f64).cos();
                (match self {
                    WindowKind::Hann => 0.5 - 0.5 * c,
                    WindowKind::Hamming => 0.54 - 0.46 * c,
                    WindowKind::Rectangular => 1.0,
                }) as f32
            })
            .collect()
    }
}

/// How `center = true` pads the signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PadMode {
    /// Mirror without repeating the edge sample (torch's default).
    #[default]
    Reflect,
    /// Zeros (librosa ≥ 0.10's default).
    Constant,
}

/// The mel scale.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MelScale {
    /// `2595·log10(1 + f/700)` (torchaudio's default).
    #[default]
    Htk,
    /// Linear below 1 kHz, logarithmic above (Slaney's Auditory Toolbox; librosa's default).
    Slaney,
}

impl MelScale {
    /// Hertz → mel.
    pub fn hz_to_mel(self, f: f64) -> f64 {
        match self {
            MelScale::Htk => 2595.0 * (1.0 + f / 700.0).log10(),
            MelScale::Slaney => {
                let f_sp = 200.0 / 3.0;
                if f >= 1000.0 {
                    15.0 + (f / 1000.0).ln() / (6.4f64.ln() / 27.0)
                } else {
                    f / f_sp
                }
            }
        }
    }
    /// Mel → hertz.
    pub fn mel_to_hz(self, m: f64) -> f64 {
        match self {
            MelScale::Htk => 700.0 * (10f64.powf(m / 2595.0) - 1.0),
            MelScale::Slaney => {
                let f_sp = 200.0 / 3.0;
                if m >= 15.0 {
                    1000.0 * ((6.4f64.ln() / 27.0) * (m - 15.0)).exp()
                } else {
                    f_sp * m
                }
            }
        }
    }
}

/// Mel filter normalisation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MelNorm {
    /// Triangles of peak 1 (torchaudio's default).
    #[default]
    None,
    /// Triangles of equal area: divided by half their width in Hz (librosa's default).
    Slaney,
}

/// Short-time Fourier framing with a planned real FFT.
pub struct Stft {
    n_fft: usize,
    hop: usize,
    center: bool,
    pad_mode: PadMode,
    /// `n_fft` values, the window centred and zero-padded, times the normalisation factor.
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft")
            .field("n_fft", &self.n_fft)
            .field("hop", &self.hop)
            .field("center", &self.center)
            .field("pad_mode", &self.pad_mode)
            .finish()
    }
}

impl Stft {
    /// Plans an STFT. `win_length` must be in `[1, n_fft]`; `hop >= 1`; `normalized` divides the
    /// window by `sqrt(Σ w²)` (torch's `normalized=True`).
    pub fn new(
        n_fft: usize,
        win_length: usize,
        hop: usize,
        window: WindowKind,
        center: bool,
        pad_mode: PadMode,
        normalized: bool,
    ) -> Result<Self> {
        check::at_least("n_fft", n_fft, 2)?;
        check::at_least("hop_length", hop, 1)?;
        if win_length == 0 || win_length > n_fft {
            return Err(Error::config(
                "win_length",
                format!("must be in [1, n_fft = {n_fft}], got {win_length}"),
            ));
        }
        let w = window.periodic(win_length);
        let mut full = vec![0.0f32; n_fft];
        let left = (n_fft - win_length) / 2;
        full[left..left + win_length].copy_from_slice(&w);
        if normalized {
            let norm = full
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt();
            full.iter_mut()
                .for_each(|v| *v = (f64::from(*v) / norm) as f32);
        }
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        Ok(Stft {
            n_fft,
            hop,
            center,
            pad_mode,
            window: full,
            fft,
        })
    }

    /// FFT size.
    pub fn n_fft(&self) -> usize {
        self.n_fft
    }
    /// Hop in samples.
    pub fn hop(&self) -> usize {
        self.hop
    }
    /// Number of one-sided frequency bins, `n_fft / 2 + 1`.
    pub fn n_freq(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of frames for a clip of `len` samples (0 when an uncentred clip is shorter than `n_fft`).
    pub fn n_frames(&self, len: usize) -> usize {
        if self.center {
            1 + len / self.hop
        } else if len < self.n_fft {
            0
        } else {
            1 + (len - self.n_fft) / self.hop
        }
    }

    /// Fills `frame` (length `n_fft`) with windowed frame `t` of `x`.
    fn load_frame(&self, x: &[f32], t: usize, frame: &mut [f32]) {
        let n = x.len() as i64;
        let start = (t * self.hop) as i64
            - if self.center {
                (self.n_fft / 2) as i64
            } else {
                0
            };
        if start >= 0 && start + self.n_fft as i64 <= n {
            let s = start as usize;
            for ((f, &xv), &w) in frame
                .iter_mut()
                .zip(&x[s..s + self.n_fft])
                .zip(&self.window)
            {
                *f = xv * w;
            }
            return;
        }
        for (j, (f, &w)) in frame.iter_mut().zip(&self.window).enumerate() {
            let i = start + j as i64;
            let v = if (0..n).contains(&i) {
                x[i as usize]
            } else {
                match self.pad_mode {
                    PadMode::Constant => 0.0,
                    PadMode::Reflect => x[reflect_index(i, n)],
                }
            };
            *f = v * w;
        }
    }

    /// Calls `sink(t, spectrum)` for every frame `t` of `x`, with the one-sided complex spectrum.
    pub fn for_each_frame(&self, x: &[f32], mut sink: impl FnMut(usize, &[Complex<f32>])) {
        let mut frame = vec![0.0f32; self.n_fft];
        let mut spec = vec![Complex::new(0.0f32, 0.0); self.n_freq()];
        let mut scratch = vec![Complex::new(0.0f32, 0.0); self.fft.get_scratch_len()];
        if x.is_empty() {
            return;
        }
        for t in 0..self.n_frames(x.len()) {
            self.load_frame(x, t, &mut frame);
            self.fft
                .process_with_scratch(&mut frame, &mut spec, &mut scratch)
                .expect("buffer lengths come from the plan");
            sink(t, &spec);
        }
    }

    /// The complex STFT of one channel, frequency-major: `out[f * n_frames + t]`.
    pub fn complex(&self, x: &[f32]) -> Vec<Complex<f32>> {
        let frames = self.n_frames(x.len());
        let nf = self.n_freq();
        let mut out = vec![Complex::new(0.0, 0.0); nf * frames];
        self.for_each_frame(x, |t, s| {
            for (f, &v) in s.iter().enumerate() {
                out[f * frames + t] = v;
            }
        });
        out
    }
}

/// Index of `i` reflected into `[0, n)` (no edge repetition), repeating the reflection as needed.
fn reflect_index(i: i64, n: i64) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let mut k = i.rem_euclid(period);
    if k >= n {
        k = period - k;
    }
    k as usize
}

#[inline]
fn spectral_power(c: Complex<f32>, power: f32) -> f32 {
    let p2 = c.re * c.re + c.im * c.im;
    if power == 2.0 {
        p2
    } else if power == 1.0 {
        p2.sqrt()
    } else {
        p2.powf(power * 0.5)
    }
}

fn default_n_fft() -> usize {
    400
}
fn default_power() -> f32 {
    2.0
}
fn default_true() -> bool {
    true
}

/// torchaudio `Spectrogram`: `|STFT|^power`, shape `channels × (n_fft/2 + 1) × frames`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpectrogramConfig {
    /// FFT size (default 400).
    pub n_fft: usize,
    /// Window length (default `n_fft`).
    pub win_length: Option<usize>,
    /// Hop (default `win_length / 2`).
    pub hop_length: Option<usize>,
    /// Window function (default Hann).
    pub window: WindowKind,
    /// Exponent of the magnitude: 2 power, 1 magnitude (default 2).
    pub power: f32,
    /// Divide the window by its L2 norm (default false).
    pub normalized: bool,
    /// Pad by `n_fft / 2` on both sides (default true).
    pub center: bool,
    /// Padding used when centring (default reflect).
    pub pad_mode: PadMode,
}

impl Default for SpectrogramConfig {
    fn default() -> Self {
        SpectrogramConfig {
            n_fft: default_n_fft(),
            win_length: None,
            hop_length: None,
            window: WindowKind::Hann,
            power: default_power(),
            normalized: false,
            center: default_true(),
            pad_mode: PadMode::Reflect,
        }
    }
}

impl SpectrogramConfig {
    fn plan(&self, prefix: &str) -> Result<Stft> {
        let win = self.win_length.unwrap_or(self.n_fft);
        let hop = self.hop_length.unwrap_or(win / 2);
        check::at_least(&format!("{prefix}n_fft"), self.n_fft, 2)?;
        if win == 0 || win > self.n_fft {
            return Err(Error::config(
                format!("{prefix}win_length"),
                format!("must be in [1, n_fft = {}], got {win}", self.n_fft),
            ));
        }
        check::at_least(&format!("{prefix}hop_length"), hop, 1)?;
        check::positive(&format!("{prefix}power"), f64::from(self.power))?;
        Stft::new(
            self.n_fft,
            win,
            hop,
            self.window,
            self.center,
            self.pad_mode,
            self.normalized,
        )
    }

    /// Validates and plans.
    pub fn build(&self) -> Result<SpectrogramExtractor> {
        Ok(SpectrogramExtractor {
            stft: self.plan("spectrogram.")?,
            power: self.power,
        })
    }
}

/// A built [`SpectrogramConfig`].
#[derive(Debug)]
pub struct SpectrogramExtractor {
    stft: Stft,
    power: f32,
}

impl SpectrogramExtractor {
    /// The framing.
    pub fn stft(&self) -> &Stft {
        &self.stft
    }
    /// `|STFT(x)|^power` of every channel.
    pub fn compute(&self, audio: &Audio) -> Result<Spectrogram> {
        let frames = self.stft.n_frames(audio.frames());
        let nf = self.stft.n_freq();
        let mut out = vec![0.0f32; audio.channels() * nf * frames];
        for c in 0..audio.channels() {
            let plane = &mut out[c * nf * frames..(c + 1) * nf * frames];
            self.stft.for_each_frame(audio.channel(c), |t, s| {
                for (f, &v) in s.iter().enumerate() {
                    plane[f * frames + t] = spectral_power(v, self.power);
                }
            });
        }
        Spectrogram::new(audio.channels(), nf, frames, out)
    }
}

/// torchaudio `MelSpectrogram` (defaults: 16 kHz, n_fft 400, hop 200, 128 HTK mels, power 2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MelSpectrogramConfig {
    /// Sample rate the clips must have (default 16000).
    pub sample_rate: u32,
    /// FFT size (default 400).
    pub n_fft: usize,
    /// Window length (default `n_fft`).
    pub win_length: Option<usize>,
    /// Hop (default `win_length / 2`).
    pub hop_length: Option<usize>,
    /// Lowest filter edge in Hz (default 0).
    pub f_min: f32,
    /// Highest filter edge in Hz (default `sample_rate / 2`).
    pub f_max: Option<f32>,
    /// Number of mel bands (default 128).
    pub n_mels: usize,
    /// Window function (default Hann).
    pub window: WindowKind,
    /// Exponent of the magnitude before the filterbank (default 2).
    pub power: f32,
    /// Divide the window by its L2 norm (default false).
    pub normalized: bool,
    /// Pad by `n_fft / 2` on both sides (default true).
    pub center: bool,
    /// Padding used when centring (default reflect).
    pub pad_mode: PadMode,
    /// Filter normalisation (default none).
    pub norm: MelNorm,
    /// Mel scale (default HTK).
    pub mel_scale: MelScale,
}

impl Default for MelSpectrogramConfig {
    fn default() -> Self {
        MelSpectrogramConfig {
            sample_rate: 16000,
            n_fft: default_n_fft(),
            win_length: None,
            hop_length: None,
            f_min: 0.0,
            f_max: None,
            n_mels: 128,
            window: WindowKind::Hann,
            power: default_power(),
            normalized: false,
            center: true,
            pad_mode: PadMode::Reflect,
            norm: MelNorm::None,
            mel_scale: MelScale::Htk,
        }
    }
}

/// One mel filter: weights for bins `start .. start + weights.len()`.
#[derive(Clone, Debug)]
struct MelFilter {
    start: usize,
    weights: Vec<f32>,
}

/// torchaudio's `melscale_fbanks` as an `n_freqs × n_mels` dense matrix (row-major), computed in f64.
pub fn mel_filterbank(
    n_freqs: usize,
    f_min: f64,
    f_max: f64,
    n_mels: usize,
    sample_rate: u32,
    norm: MelNorm,
    scale: MelScale,
) -> Vec<f64> {
    let half = f64::from(sample_rate / 2);
    let all_freqs: Vec<f64> = (0..n_freqs)
        .map(|i| {
            if n_freqs == 1 {
                0.0
            } else {
                half * i as f64 / (n_freqs - 1) as f64
            }
        })
        .collect();
    let (m_min, m_max) = (scale.hz_to_mel(f_min), scale.hz_to_mel(f_max));
    let f_pts: Vec<f64> = (0..n_mels + 2)
        .map(|i| scale.mel_to_hz(m_min + (m_max - m_min) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut fb = vec![0.0f64; n_freqs * n_mels];
    for (k, &f) in all_freqs.iter().enumerate() {
        for m in 0..n_mels {
            let down = (f - f_pts[m]) / (f_pts[m + 1] - f_pts[m]);
            let up = (f_pts[m + 2] - f) / (f_pts[m + 2] - f_pts[m + 1]);
            let mut w = down.min(up).max(0.0);
            if norm == MelNorm::Slaney {
                w *= 2.0 / (f_pts[m + 2] - f_pts[m]);
            }
            fb[k * n_mels + m] = w;
        }
    }
    fb
}

impl MelSpectrogramConfig {
    /// Torchaudio defaults at another sample rate.
    pub fn for_rate(sample_rate: u32) -> Self {
        MelSpectrogramConfig {
            sample_rate,
            ..Default::default()
        }
    }

    /// Validates, plans the FFT and computes the filterbank.
    pub fn build(&self) -> Result<MelSpectrogram> {
        check::at_least("mel.sample_rate", self.sample_rate as usize, 1)?;
        check::at_least("mel.n_mels", self.n_mels, 1)?;
        let nyq = self.sample_rate as f32 / 2.0;
        let f_max = self.f_max.unwrap_or(nyq);
        check::in_range("mel.f_min", f64::from(self.f_min), 0.0, f64::from(nyq))?;
        if !(f_max > self.f_min && f_max <= nyq) {
            return Err(Error::config(
                "mel.f_max",
                format!(
                    "must be in (f_min = {}, sample_rate / 2 = {nyq}], got {f_max}",
                    self.f_min
                ),
            ));
        }
        let spec = SpectrogramConfig {
            n_fft: self.n_fft,
            win_length: self.win_length,
            hop_length: self.hop_length,
            window: self.window,
            power: self.power,
            normalized: self.normalized,
            center: self.center,
            pad_mode: self.pad_mode,
        };
        let stft = spec.plan("mel.")?;
        let n_freqs = stft.n_freq();
        let fb = mel_filterbank(
            n_freqs,
            f64::from(self.f_min),
            f64::from(f_max),
            self.n_mels,
            self.sample_rate,
            self.norm,
            self.mel_scale,
        );
        let filters = (0..self.n_mels)
            .map(|m| {
                let col: Vec<f64> = (0..n_freqs).map(|k| fb[k * self.n_mels + m]).collect();
                match col.iter().position(|&w| w != 0.0) {
                    None => MelFilter {
                        start: 0,
                        weights: Vec::new(),
                    },
                    Some(first) => {
                        let last = col.iter().rposition(|&w| w != 0.0).unwrap_or(first);
                        MelFilter {
                            start: first,
                            weights: col[first..=last].iter().map(|&w| w as f32).collect(),
                        }
                    }
                }
            })
            .collect::<Vec<_>>();
        if filters.iter().any(|f| f.weights.is_empty()) {
            tracing::warn!(
                n_mels = self.n_mels,
                n_fft = self.n_fft,
                "some mel filters cover no FFT bin and stay all zero (too many mels for n_fft)"
            );
        }
        Ok(MelSpectrogram {
            stft,
            power: self.power,
            sample_rate: self.sample_rate,
            filters,
        })
    }
}

/// A built [`MelSpectrogramConfig`].
#[derive(Debug)]
pub struct MelSpectrogram {
    stft: Stft,
    power: f32,
    sample_rate: u32,
    filters: Vec<MelFilter>,
}

impl MelSpectrogram {
    /// Number of mel bands.
    pub fn n_mels(&self) -> usize {
        self.filters.len()
    }
    /// The framing.
    pub fn stft(&self) -> &Stft {
        &self.stft
    }
    /// The sample rate clips must have.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Mel power of every channel: `channels × n_mels × frames`. Errors when the clip's sample rate
    /// differs from the configured one.
    pub fn compute(&self, audio: &Audio) -> Result<Spectrogram> {
        if audio.sample_rate() != self.sample_rate {
            return Err(Error::config(
                "mel.sample_rate",
                format!(
                    "the filterbank was built for {} Hz but the clip is {} Hz (resample it or set sample_rate)",
                    self.sample_rate,
                    audio.sample_rate()
                ),
            ));
        }
        let frames = self.stft.n_frames(audio.frames());
        let nm = self.filters.len();
        let mut out = vec![0.0f32; audio.channels() * nm * frames];
        let mut pw = vec![0.0f32; self.stft.n_freq()];
        for c in 0..audio.channels() {
            let plane = &mut out[c * nm * frames..(c + 1) * nm * frames];
            self.stft.for_each_frame(audio.channel(c), |t, s| {
                for (p, &v) in pw.iter_mut().zip(s) {
                    *p = spectral_power(v, self.power);
                }
                for (m, f) in self.filters.iter().enumerate() {
                    let bins = &pw[f.start..f.start + f.weights.len()];
                    let mut acc = 0.0f32;
                    for (&a, &w) in bins.iter().zip(&f.weights) {
                        acc += a * w;
                    }
                    plane[m * frames + t] = acc;
                }
            });
        }
        Spectrogram::new(audio.channels(), nm, frames, out)
    }
}

/// What an input to [`AmplitudeToDB`] holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SType {
    /// Power (`10·log10`).
    #[default]
    Power,
    /// Magnitude (`20·log10`).
    Magnitude,
}

/// torchaudio `AmplitudeToDB`: `mult · log10(max(x, amin))` (reference 1), then, with `top_db`,
/// everything below `max − top_db` (the maximum over the whole spectrogram, all channels) is raised to it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmplitudeToDB {
    /// Power or magnitude input (default power).
    pub stype: SType,
    /// Dynamic range kept below the maximum, in dB (default none).
    pub top_db: Option<f32>,
    /// Floor applied before the logarithm (default 1e-10).
    pub amin: f32,
}

impl Default for AmplitudeToDB {
    fn default() -> Self {
        AmplitudeToDB {
            stype: SType::Power,
            top_db: None,
            amin: 1e-10,
        }
    }
}

impl AmplitudeToDB {
    /// Validates the settings.
    pub fn validate(&self) -> Result<()> {
        check::positive("amplitude_to_db.amin", f64::from(self.amin))?;
        if let Some(t) = self.top_db {
            check::non_negative("amplitude_to_db.top_db", f64::from(t))?;
        }
        Ok(())
    }

    /// Converts in place.
    pub fn apply(&self, spec: &mut Spectrogram) {
        let mult = match self.stype {
            SType::Power => 10.0f32,
            SType::Magnitude => 20.0,
        };
        let data = spec.values.data_mut();
        let mut max = f32::NEG_INFINITY;
        for v in data.iter_mut() {
            *v = mult * v.max(self.amin).log10();
            max = max.max(*v);
        }
        if let Some(top) = self.top_db {
            let floor = max - top;
            data.iter_mut().for_each(|v| *v = v.max(floor));
        }
    }
}

/// Log-mel features: [`MelSpectrogramConfig`] followed by [`AmplitudeToDB`] on power.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogMelConfig {
    /// The mel spectrogram.
    pub mel: MelSpectrogramConfig,
    /// Dynamic range kept below the maximum, in dB (default 80, as MFCC uses).
    pub top_db: Option<f32>,
}

impl Default for LogMelConfig {
    fn default() -> Self {
        LogMelConfig {
            mel: MelSpectrogramConfig::default(),
            top_db: Some(80.0),
        }
    }
}

impl LogMelConfig {
    /// A small log-mel front end for a clip rate: `n_mels` bands, 32 ms windows (power-of-two FFT)
    /// and 10 ms hops, e.g. n_fft 256, hop 80 at 8 kHz.
    pub fn for_rate(sample_rate: u32, n_mels: usize) -> Self {
        let n_fft = ((f64::from(sample_rate) * 0.032).round() as usize).next_power_of_two();
        LogMelConfig {
            mel: MelSpectrogramConfig {
                sample_rate,
                n_fft,
                hop_length: Some((sample_rate as usize / 100).max(1)),
                n_mels,
                ..Default::default()
            },
            top_db: Some(80.0),
        }
    }

    /// Validates and builds.
    pub fn build(&self) -> Result<LogMel> {
        let db = AmplitudeToDB {
            stype: SType::Power,
            top_db: self.top_db,
            amin: 1e-10,
        };
        db.validate()?;
        Ok(LogMel {
            mel: self.mel.build()?,
            db,
        })
    }
}

/// A built [`LogMelConfig`].
#[derive(Debug)]
pub struct LogMel {
    mel: MelSpectrogram,
    db: AmplitudeToDB,
}

impl LogMel {
    /// The mel stage.
    pub fn mel(&self) -> &MelSpectrogram {
        &self.mel
    }
    /// Log-mel power in dB: `channels × n_mels × frames`.
    pub fn compute(&self, audio: &Audio) -> Result<Spectrogram> {
        let mut s = self.mel.compute(audio)?;
        self.db.apply(&mut s);
        Ok(s)
    }
}

/// Per-clip standardisation of a spectrogram: `(x − mean) / max(std, eps)` over all its values
/// (population standard deviation, sums in `f32` in value order), so that log-mel dB values become
/// zero-mean, unit-variance network inputs whatever the clip's loudness.
pub fn standardize(s: Spectrogram, eps: f32) -> Result<Spectrogram> {
    let (c, f, t) = (s.values.channels(), s.n_freq(), s.n_frames());
    let data = s.values.data();
    let n = data.len().max(1) as f32;
    let mean = data.iter().sum::<f32>() / n;
    let var = data.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let std = var.sqrt().max(eps);
    Spectrogram::new(c, f, t, data.iter().map(|v| (v - mean) / std).collect())
}

/// [`standardize`] as a (deterministic) transform of spectrograms; `eps` defaults to `1e-5`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Standardize {
    eps: f32,
}

impl Standardize {
    /// `eps > 0`: the smallest standard deviation divided by (silent clips stay finite).
    pub fn new(eps: f32) -> Result<Self> {
        check::positive("standardize.eps", f64::from(eps))?;
        Ok(Standardize { eps })
    }
}

impl Default for Standardize {
    fn default() -> Self {
        Standardize { eps: 1e-5 }
    }
}

impl RandomTransform<Spectrogram> for Standardize {
    type Params = ();
    fn transform_name(&self) -> &str {
        "Standardize"
    }
    fn sample_params(&self, _: &Spectrogram, _: &mut Generator) -> Result<()> {
        Ok(())
    }
    fn apply_with(&self, s: Spectrogram, _: &()) -> Result<Spectrogram> {
        standardize(s, self.eps)
    }
}
impl_transform!(Standardize => Spectrogram);

/// The audio recipes' front end: downmix to mono, [`LogMel`], then optionally [`Standardize`] per
/// clip — what the loader applies to every augmented waveform view (and to evaluation clips).
#[derive(Debug)]
pub struct LogMelFrontEnd {
    log_mel: LogMel,
    standardize: Option<Standardize>,
}

impl LogMelFrontEnd {
    /// Builds `cfg`, followed by per-clip standardisation when `standardize`.
    pub fn new(cfg: &LogMelConfig, standardize: bool) -> Result<Self> {
        Ok(LogMelFrontEnd {
            log_mel: cfg.build()?,
            standardize: standardize.then(Standardize::default),
        })
    }

    /// The features of one clip: `1 × n_mels × frames`.
    pub fn compute(&self, audio: &Audio) -> Result<Spectrogram> {
        let s = self.log_mel.compute(&audio.downmix())?;
        match &self.standardize {
            Some(st) => standardize(s, st.eps),
            None => Ok(s),
        }
    }
}

/// torchaudio `MFCC` (DCT type 2): mel power → dB (`top_db` 80) or `ln(x + 1e-6)` with `log_mels` →
/// DCT-II over the mel axis, keeping `n_mfcc` coefficients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfccConfig {
    /// Coefficients kept (default 40).
    pub n_mfcc: usize,
    /// `ortho` normalisation of the DCT (default true; false is torchaudio's `norm=None`, scale 2).
    pub ortho: bool,
    /// Natural log of `mel + 1e-6` instead of dB (default false).
    pub log_mels: bool,
    /// The mel spectrogram (torchaudio's `melkwargs`; default the torchaudio defaults).
    pub mel: MelSpectrogramConfig,
}

impl Default for MfccConfig {
    fn default() -> Self {
        MfccConfig {
            n_mfcc: 40,
            ortho: true,
            log_mels: false,
            mel: MelSpectrogramConfig::default(),
        }
    }
}

/// torchaudio's `create_dct(n_mfcc, n_mels, norm)` as an `n_mfcc × n_mels` row-major matrix (f64).
pub fn dct_matrix(n_mfcc: usize, n_mels: usize, ortho: bool) -> Vec<f64> {
    let mut d = vec![0.0f64; n_mfcc * n_mels];
    for k in 0..n_mfcc {
        for n in 0..n_mels {
            let mut v = (std::f64::consts::PI / n_mels as f64 * (n as f64 + 0.5) * k as f64).cos();
            if ortho {
                if k == 0 {
                    v /= 2f64.sqrt();
                }
                v *= (2.0 / n_mels as f64).sqrt();
            } else {
                v *= 2.0;
            }
            d[k * n_mels + n] = v;
        }
    }
    d
}

impl MfccConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<Mfcc> {
        let mel = self.mel.build()?;
        let n_mels = mel.n_mels();
        if self.n_mfcc == 0 || self.n_mfcc > n_mels {
            return Err(Error::config(
                "mfcc.n_mfcc",
                format!("must be in [1, mel.n_mels = {n_mels}], got {}", self.n_mfcc),
            ));
        }
        let dct = dct_matrix(self.n_mfcc, n_mels, self.ortho)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        Ok(Mfcc {
            mel,
            n_mfcc: self.n_mfcc,
            log_mels: self.log_mels,
            dct,
        })
    }
}

/// A built [`MfccConfig`].
#[derive(Debug)]
pub struct Mfcc {
    mel: MelSpectrogram,
    n_mfcc: usize,
    log_mels: bool,
    dct: Vec<f32>,
}

impl Mfcc {
    /// MFCCs of every channel: `channels × n_mfcc × frames`.
    pub fn compute(&self, audio: &Audio) -> Result<Spectrogram> {
        let mut mel = self.mel.compute(audio)?;
        if self.log_mels {
            mel.values
                .data_mut()
                .iter_mut()
                .for_each(|v| *v = (*v + 1e-6).ln());
        } else {
            AmplitudeToDB {
                stype: SType::Power,
                top_db: Some(80.0),
                amin: 1e-10,
            }
            .apply(&mut mel);
        }
        let (ch, nm, frames) = mel.values.dims();
        let mut out = vec![0.0f32; ch * self.n_mfcc * frames];
        for c in 0..ch {
            let src = mel.values.plane(c);
            let dst = &mut out[c * self.n_mfcc * frames..(c + 1) * self.n_mfcc * frames];
            for k in 0..self.n_mfcc {
                let row = &self.dct[k * nm..(k + 1) * nm];
                let d = &mut dst[k * frames..(k + 1) * frames];
                for (m, &w) in row.iter().enumerate() {
                    let s = &src[m * frames..(m + 1) * frames];
                    for (o, &v) in d.iter_mut().zip(s) {
                        *o += w * v;
                    }
                }
            }
        }
        Spectrogram::new(ch, self.n_mfcc, frames, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_index_mirrors_without_repeating_the_edge() {
        let idx: Vec<usize> = (-4..8).map(|i| reflect_index(i, 4)).collect();
        assert_eq!(idx, vec![2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1]);
    }

    #[test]
    fn stft_of_a_bin_centred_cosine_against_a_plain_dft() {
        // Rectangular window, no centring: frame 0 of cos(2π·5n/32) has |X[5]| = 16 exactly.
        let x: Vec<f32> = (0..64)
            .map(|n| (std::f64::consts::TAU * 5.0 * n as f64 / 32.0).cos() as f32)
            .collect();
        let stft = Stft::new(
            32,
            32,
            16,
            WindowKind::Rectangular,
            false,
            PadMode::Reflect,
            false,
        )
        .unwrap();
        assert_eq!(stft.n_frames(64), 3);
        let c = stft.complex(&x);
        let frames = 3;
        assert!((c[5 * frames].norm() - 16.0).abs() < 1e-4);
        assert!(c[4 * frames].norm() < 1e-4);
    }

    #[test]
    fn configs_reject_bad_values_naming_the_field() {
        let e = MelSpectrogramConfig {
            n_mels: 0,
            ..Default::default()
        }
        .build()
        .unwrap_err();
        assert!(e.to_string().contains("mel.n_mels"), "{e}");
        let e = MelSpectrogramConfig {
            win_length: Some(500),
            ..Default::default()
        }
        .build()
        .unwrap_err();
        assert!(e.to_string().contains("mel.win_length"), "{e}");
        let e = MfccConfig {
            n_mfcc: 200,
            ..Default::default()
        }
        .build()
        .unwrap_err();
        assert!(e.to_string().contains("mfcc.n_mfcc"), "{e}");
        let e: std::result::Result<MelSpectrogramConfig, _> =
            serde_json::from_str(r#"{"n_mel": 40}"#);
        assert!(e.is_err());
        let mel = MelSpectrogramConfig::default().build().unwrap();
        let e = mel
            .compute(&Audio::mono(8000, vec![0.0; 100]).unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("8000"), "{e}");
    }
}
