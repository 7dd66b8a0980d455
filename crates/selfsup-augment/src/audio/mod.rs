//! Audio for self-supervised learning: WAV I/O, band-limited resampling, waveform augmentations,
//! spectral features with torchaudio semantics, SpecAugment, multi-view recipes and previews.
//!
//! ## Map
//! - [`io`]: [`read_wav`], [`read_wav_with`] (downmix / resample on load), [`write_wav`]; errors name the file.
//! - [`resample`](mod@resample): windowed-sinc (Kaiser) resampling for any rate ratio ([`Resampler`]).
//! - [`transforms`]: waveform [`selfsup_core::RandomTransform`]s with audiomentations' names and
//!   default ranges (gain, noise at an SNR, background noise, shift, time stretch, pitch shift,
//!   resample, speed perturbation, biquad filters, impulse responses, clipping, polarity, crop/pad,
//!   time mask) and batch [`transforms::mixup_batch`].
//! - [`vocoder`]: the phase vocoder behind time stretching and pitch shifting.
//! - [`features`]: STFT, spectrogram, mel spectrogram (HTK / Slaney), dB, log-mel, MFCC, per-clip
//!   [`Standardize`] and [`LogMelFrontEnd`] (log-mel then standardisation: the recipes' feature step).
//! - [`specaugment`]: [`TimeMasking`] / [`FrequencyMasking`] on [`selfsup_core::Spectrogram`]s.
//! - [`recipes`]: multi-view recipes ([`ColaConfig`], [`ByolAConfig`], the serde enum [`AudioRecipe`]).
//! - [`preview`]: [`save_spectrograms`] writes a PNG of stacked spectrograms.
//!
//! ## Design
//! Waveforms are planar [`selfsup_core::Audio`] (`channels × frames`, f32). Transforms sample their
//! parameters from the keyed generator and apply them as pure functions, so a view is a function of
//! its `SampleKey` only, whatever thread computes it. Anything costly to set up (FFT plans, windows,
//! mel filterbanks, resampling kernels) is built once per transform or extractor and shared read-only
//! between threads.

pub mod features;
pub mod io;
pub mod preview;
pub mod recipes;
pub mod resample;
pub mod specaugment;
pub mod transforms;
pub mod vocoder;

pub use features::{
    standardize, AmplitudeToDB, LogMel, LogMelConfig, LogMelFrontEnd, MelNorm, MelScale,
    MelSpectrogram, MelSpectrogramConfig, Mfcc, MfccConfig, PadMode, SType, SpectrogramConfig,
    SpectrogramExtractor, Standardize, Stft, WindowKind,
};
pub use io::{
    decode_wav, read_wav, read_wav_with, write_wav, write_wav_format, WavOptions, WavSampleFormat,
};
pub use preview::save_spectrograms;
pub use recipes::{AudioRecipe, ByolAConfig, ColaConfig, MixWithSelf};
pub use resample::{resample, resample_with, ResampleQuality, Resampler};
pub use specaugment::{FrequencyMasking, TimeMasking};
pub use transforms::{
    mixup_batch, AddBackgroundNoise, AddGaussianNoise, AddGaussianSNR, ApplyImpulseResponse,
    BandPassFilter, Biquad, BiquadKind, ClippingDistortion, Gain, HighPassFilter, HighShelfFilter,
    LowPassFilter, LowShelfFilter, PadOrCrop, PitchShift, PolarityInversion, RandomCrop, Resample,
    Shift, SpeedPerturb, TimeMask, TimeStretch,
};
