//! Multi-view audio recipes for contrastive and non-contrastive pretraining.
//!
//! - [`ColaConfig`] (COLA, Saeed et al. 2021): two random fixed-length segments of one clip, each with
//!   random gain and Gaussian noise at a random SNR; the encoder learns that segments of the same clip
//!   belong together.
//! - [`ByolAConfig`] (in the spirit of BYOL-A, Niizumi et al. 2021): two random segments, each mixed
//!   with another random segment of the same clip ("mixup with self", a stand-in for BYOL-A's mixup
//!   with past clips that needs no cross-sample state), background noise at a random SNR, random gain
//!   and an optional random time stretch (the waveform counterpart of BYOL-A's random resize crop).
//! - [`AudioRecipe`]: the serde enum a config file names (`kind = "cola"` or `kind = "byol_a"`), with
//!   [`AudioRecipe::build`] (the waveform views) and [`AudioRecipe::features`] (the log-mel front end
//!   the loader applies after the views, e.g. 40 mels at the clip's rate for a 2-D CNN).
//!
//! All configs have `Default`, reject unknown fields, and `build` validates every field with an error
//! naming it. Views are independent draws from `key.with_view(v)`.

use crate::audio::features::{LogMelConfig, LogMelFrontEnd};
use crate::audio::transforms::{AddGaussianSNR, Gain, RandomCrop, TimeStretch};
use selfsup_core::{
    check, impl_transform, Audio, BoxTransform, Compose, Error, Generator, MultiView, RandomApply,
    RandomTransform, Result,
};
use serde::{Deserialize, Serialize};

/// COLA-style two-segment recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColaConfig {
    /// Sample rate of the clips (the features are computed at this rate; default 16000).
    pub sample_rate: u32,
    /// Segment length in seconds (default 1.0; shorter clips are zero-padded at a random offset).
    pub segment_seconds: f64,
    /// Gain range in dB (default −6 … 6).
    pub gain_db: (f64, f64),
    /// Probability of applying the gain (default 1.0).
    pub gain_p: f64,
    /// Noise SNR range in dB (default 10 … 40).
    pub noise_snr_db: (f64, f64),
    /// Probability of adding noise (default 0.8).
    pub noise_p: f64,
    /// Mel bands of the log-mel features (default 64, as COLA).
    pub n_mels: usize,
    /// Standardise each view's log-mels per clip ([`Standardize`](crate::audio::features::Standardize); default true).
    pub standardize: bool,
}

impl Default for ColaConfig {
    fn default() -> Self {
        ColaConfig {
            sample_rate: 16000,
            segment_seconds: 1.0,
            gain_db: (-6.0, 6.0),
            gain_p: 1.0,
            noise_snr_db: (10.0, 40.0),
            noise_p: 0.8,
            n_mels: 64,
            standardize: true,
        }
    }
}

impl ColaConfig {
    /// The FSDD preset — the recipe the main job's FSDD figures were measured with: 8 kHz, 0.5 s
    /// segments (FSDD clips average 0.44 s), gain −12 … 12 dB and noise at 5 … 30 dB SNR, each with
    /// probability 0.8, 40 standardised mels.
    pub fn fsdd() -> Self {
        ColaConfig {
            sample_rate: 8000,
            segment_seconds: 0.5,
            gain_db: (-12.0, 12.0),
            gain_p: 0.8,
            noise_snr_db: (5.0, 30.0),
            noise_p: 0.8,
            n_mels: 40,
            standardize: true,
        }
    }

    /// Number of samples in a segment.
    pub fn segment_len(&self) -> usize {
        (self.segment_seconds * f64::from(self.sample_rate)).round() as usize
    }

    /// Validates every field.
    pub fn validate(&self) -> Result<()> {
        check::in_range(
            "cola.sample_rate",
            f64::from(self.sample_rate),
            1000.0,
            384_000.0,
        )?;
        check::in_range("cola.segment_seconds", self.segment_seconds, 0.01, 60.0)?;
        check::interval("cola.gain_db", self.gain_db, -60.0, 60.0)?;
        check::probability("cola.gain_p", self.gain_p)?;
        check::interval("cola.noise_snr_db", self.noise_snr_db, -20.0, 120.0)?;
        check::probability("cola.noise_p", self.noise_p)?;
        check::in_range("cola.n_mels", self.n_mels as f64, 1.0, 512.0)?;
        Ok(())
    }

    fn view(&self) -> Result<BoxTransform<Audio>> {
        Ok(Box::new(Compose::new(vec![
            Box::new(RandomCrop::new(self.segment_len())?),
            Box::new(RandomApply::new(
                self.gain_p,
                Gain::new(self.gain_db.0, self.gain_db.1)?,
            )?),
            Box::new(RandomApply::new(
                self.noise_p,
                AddGaussianSNR::new(self.noise_snr_db.0, self.noise_snr_db.1)?,
            )?),
        ])))
    }

    /// Two views.
    pub fn build(&self) -> Result<MultiView<Audio>> {
        self.validate()?;
        MultiView::new(vec![self.view()?, self.view()?])
    }

    /// Log-mel at the recipe's rate with `n_mels` bands.
    pub fn features(&self) -> LogMelConfig {
        LogMelConfig::for_rate(self.sample_rate, self.n_mels)
    }

    /// The built front end: log-mel, then per-clip standardisation when `standardize`.
    pub fn front_end(&self) -> Result<LogMelFrontEnd> {
        LogMelFrontEnd::new(&self.features(), self.standardize)
    }
}

/// Mixes the clip with a rolled copy of itself: `(1 − λ)·x + λ·roll(x, k)`, `λ ~ U(0, max_ratio)`,
/// `k` uniform over the clip (BYOL-A's mixup, with the clip itself as the "past" sample).
#[derive(Clone, Debug)]
pub struct MixWithSelf {
    max_ratio: f64,
}

impl MixWithSelf {
    /// `max_ratio ∈ [0, 1]`.
    pub fn new(max_ratio: f64) -> Result<Self> {
        check::probability("mix_with_self.max_ratio", max_ratio)?;
        Ok(MixWithSelf { max_ratio })
    }
}

impl RandomTransform<Audio> for MixWithSelf {
    /// `(λ, roll in frames)`.
    type Params = (f32, usize);
    fn transform_name(&self) -> &str {
        "MixWithSelf"
    }
    fn sample_params(&self, a: &Audio, rng: &mut Generator) -> Result<(f32, usize)> {
        let lambda = rng.uniform(0.0, self.max_ratio) as f32;
        let k = if a.frames() > 0 {
            rng.below(a.frames() as u64) as usize
        } else {
            0
        };
        Ok((lambda, k))
    }
    fn apply_with(&self, mut a: Audio, &(lambda, k): &(f32, usize)) -> Result<Audio> {
        let n = a.frames();
        if n == 0 {
            return Ok(a);
        }
        for c in 0..a.channels() {
            let orig = a.channel(c).to_vec();
            for (i, v) in a.channel_mut(c).iter_mut().enumerate() {
                *v = (1.0 - lambda) * *v + lambda * orig[(i + k) % n];
            }
        }
        Ok(a)
    }
}
impl_transform!(MixWithSelf => Audio);

/// BYOL-A-style recipe (two views of one clip).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ByolAConfig {
    /// Sample rate of the clips (default 16000).
    pub sample_rate: u32,
    /// Segment length in seconds (default 0.95, as BYOL-A).
    pub segment_seconds: f64,
    /// Largest mixing ratio of the clip with a rolled copy of itself (default 0.4, BYOL-A's ratio).
    pub mix_ratio: f64,
    /// Noise SNR range in dB (default 5 … 30).
    pub noise_snr_db: (f64, f64),
    /// Probability of adding noise (default 0.5).
    pub noise_p: f64,
    /// Gain range in dB (default −6 … 6).
    pub gain_db: (f64, f64),
    /// Time-stretch rate range (default 0.8 … 1.25, applied with `stretch_p`).
    pub stretch_rate: (f64, f64),
    /// Probability of time stretching (default 0.0: off, as it is the costly step).
    pub stretch_p: f64,
    /// Mel bands of the log-mel features (default 64).
    pub n_mels: usize,
    /// Standardise each view's log-mels per clip (default true; BYOL-A normalises with dataset
    /// statistics, for which per-clip standardisation is the stateless stand-in).
    pub standardize: bool,
}

impl Default for ByolAConfig {
    fn default() -> Self {
        ByolAConfig {
            sample_rate: 16000,
            segment_seconds: 0.95,
            mix_ratio: 0.4,
            noise_snr_db: (5.0, 30.0),
            noise_p: 0.5,
            gain_db: (-6.0, 6.0),
            stretch_rate: (0.8, 1.25),
            stretch_p: 0.0,
            n_mels: 64,
            standardize: true,
        }
    }
}

impl ByolAConfig {
    /// The FSDD preset: 8 kHz, 0.5 s segments, 40 mels.
    pub fn fsdd() -> Self {
        ByolAConfig {
            sample_rate: 8000,
            segment_seconds: 0.5,
            n_mels: 40,
            ..Default::default()
        }
    }

    /// Validates every field.
    pub fn validate(&self) -> Result<()> {
        check::in_range(
            "byol_a.sample_rate",
            f64::from(self.sample_rate),
            1000.0,
            384_000.0,
        )?;
        check::in_range("byol_a.segment_seconds", self.segment_seconds, 0.01, 60.0)?;
        check::probability("byol_a.mix_ratio", self.mix_ratio)?;
        check::interval("byol_a.noise_snr_db", self.noise_snr_db, -20.0, 120.0)?;
        check::probability("byol_a.noise_p", self.noise_p)?;
        check::interval("byol_a.gain_db", self.gain_db, -60.0, 60.0)?;
        check::interval("byol_a.stretch_rate", self.stretch_rate, 0.1, 10.0)?;
        check::probability("byol_a.stretch_p", self.stretch_p)?;
        check::in_range("byol_a.n_mels", self.n_mels as f64, 1.0, 512.0)?;
        Ok(())
    }

    fn view(&self) -> Result<BoxTransform<Audio>> {
        let len = (self.segment_seconds * f64::from(self.sample_rate)).round() as usize;
        let mut stages: Vec<BoxTransform<Audio>> = vec![
            Box::new(RandomCrop::new(len)?),
            Box::new(MixWithSelf::new(self.mix_ratio)?),
            Box::new(RandomApply::new(
                self.noise_p,
                AddGaussianSNR::new(self.noise_snr_db.0, self.noise_snr_db.1)?,
            )?),
        ];
        if self.stretch_p > 0.0 {
            stages.push(Box::new(RandomApply::new(
                self.stretch_p,
                TimeStretch::new(self.stretch_rate.0, self.stretch_rate.1, true)?,
            )?));
        }
        stages.push(Box::new(Gain::new(self.gain_db.0, self.gain_db.1)?));
        Ok(Box::new(Compose::new(stages)))
    }

    /// Two views.
    pub fn build(&self) -> Result<MultiView<Audio>> {
        self.validate()?;
        MultiView::new(vec![self.view()?, self.view()?])
    }

    /// Log-mel at the recipe's rate with `n_mels` bands.
    pub fn features(&self) -> LogMelConfig {
        LogMelConfig::for_rate(self.sample_rate, self.n_mels)
    }

    /// The built front end: log-mel, then per-clip standardisation when `standardize`.
    pub fn front_end(&self) -> Result<LogMelFrontEnd> {
        LogMelFrontEnd::new(&self.features(), self.standardize)
    }
}

/// A named audio recipe, as config files spell it: `{"kind": "cola", ...}` or `{"kind": "byol_a", ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AudioRecipe {
    /// [`ColaConfig`].
    Cola(ColaConfig),
    /// [`ByolAConfig`].
    ByolA(ByolAConfig),
}

impl Default for AudioRecipe {
    fn default() -> Self {
        AudioRecipe::Cola(ColaConfig::default())
    }
}

impl AudioRecipe {
    /// Validates and builds the waveform views.
    pub fn build(&self) -> Result<MultiView<Audio>> {
        match self {
            AudioRecipe::Cola(c) => c.build(),
            AudioRecipe::ByolA(c) => c.build(),
        }
    }

    /// The feature step applied after the views (log-mel at the recipe's sample rate).
    pub fn features(&self) -> Option<LogMelConfig> {
        Some(match self {
            AudioRecipe::Cola(c) => c.features(),
            AudioRecipe::ByolA(c) => c.features(),
        })
    }

    /// The built feature step: log-mel, standardised per clip when the recipe says so.
    pub fn front_end(&self) -> Result<LogMelFrontEnd> {
        match self {
            AudioRecipe::Cola(c) => c.front_end(),
            AudioRecipe::ByolA(c) => c.front_end(),
        }
    }

    /// The sample rate the recipe expects its clips at.
    pub fn sample_rate(&self) -> u32 {
        match self {
            AudioRecipe::Cola(c) => c.sample_rate,
            AudioRecipe::ByolA(c) => c.sample_rate,
        }
    }
}

/// Errors when `audio` does not have the rate the recipe was configured for.
pub fn check_rate(recipe: &AudioRecipe, audio: &Audio) -> Result<()> {
    if audio.sample_rate() == recipe.sample_rate() {
        Ok(())
    } else {
        Err(Error::config(
            "sample_rate",
            format!(
                "the recipe is configured for {} Hz clips but got {} Hz (load with WavOptions::target_rate)",
                recipe.sample_rate(),
                audio.sample_rate()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use selfsup_core::SampleKey;

    #[test]
    fn recipes_round_trip_through_serde_and_reject_unknown_fields() {
        let r: AudioRecipe =
            serde_json::from_str(r#"{"kind": "cola", "sample_rate": 8000, "n_mels": 40}"#).unwrap();
        assert_eq!(r.sample_rate(), 8000);
        let f = r.features().unwrap();
        assert_eq!(
            (f.mel.n_mels, f.mel.n_fft, f.mel.hop_length),
            (40, 256, Some(80))
        );
        let back: AudioRecipe = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert!(
            serde_json::from_str::<AudioRecipe>(r#"{"kind": "cola", "segment": 1.0}"#).is_err()
        );
        let b: AudioRecipe = toml::from_str("kind = \"byol_a\"\nmix_ratio = 0.3\n").unwrap();
        assert!(matches!(b, AudioRecipe::ByolA(ref c) if c.mix_ratio == 0.3));
        let e = AudioRecipe::ByolA(ByolAConfig {
            mix_ratio: 1.5,
            ..Default::default()
        })
        .build()
        .err()
        .unwrap();
        assert!(e.to_string().contains("byol_a.mix_ratio"), "{e}");
        let e = ColaConfig {
            gain_db: (3.0, -3.0),
            ..Default::default()
        }
        .build()
        .err()
        .unwrap();
        assert!(e.to_string().contains("cola.gain_db"), "{e}");
    }

    #[test]
    fn two_views_have_the_segment_length_and_differ() {
        let clip = Audio::mono(
            8000,
            (0..3500).map(|i| ((i as f32) * 0.05).sin() * 0.3).collect(),
        )
        .unwrap();
        for recipe in [
            AudioRecipe::Cola(ColaConfig::fsdd()),
            AudioRecipe::ByolA(ByolAConfig {
                stretch_p: 1.0,
                ..ByolAConfig::fsdd()
            }),
        ] {
            let mv = recipe.build().unwrap();
            let views = mv.generate(&clip, SampleKey::new(1, 0, 3)).unwrap();
            assert_eq!(views.len(), 2);
            assert!(views.iter().all(|v| v.frames() == 4000));
            assert_ne!(views[0], views[1]);
            assert_eq!(views, mv.generate(&clip, SampleKey::new(1, 0, 3)).unwrap());
            check_rate(&recipe, &clip).unwrap();
        }
    }
}
