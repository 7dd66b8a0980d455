//! Signal-level tests of the waveform transforms that cannot pass by accident: measured frequencies,
//! durations, filter gains, alias levels and SNRs against closed forms, plus determinism across
//! thread counts. References are computed here in f64 from textbook formulas, never from the code
//! under test.
#![cfg(feature = "audio")]

use selfsup_augment::audio::{
    AddBackgroundNoise, AddGaussianSNR, Gain, LowPassFilter, PitchShift, Resample, Shift,
    SpeedPerturb, TimeStretch,
};
use selfsup_core::rand::RngCore;
use selfsup_core::{
    apply_batch, Audio, Compose, Generator, RandomApply, RandomTransform, SampleKey, Transform,
};
use std::f64::consts::TAU;

fn sine(freq: f64, sr: u32, n: usize, amp: f64) -> Audio {
    let data = (0..n)
        .map(|i| (amp * (TAU * freq * i as f64 / f64::from(sr)).sin()) as f32)
        .collect();
    Audio::mono(sr, data).unwrap()
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Frequency of a (near) sinusoid from its upward zero crossings in the middle half, with linear
/// interpolation of each crossing time.
fn measured_freq(x: &[f32], sr: u32) -> f64 {
    let (lo, hi) = (x.len() / 4, 3 * x.len() / 4);
    let mut crossings = Vec::new();
    for i in lo..hi {
        let (a, b) = (f64::from(x[i]), f64::from(x[i + 1]));
        if a < 0.0 && b >= 0.0 {
            crossings.push(i as f64 + a / (a - b));
        }
    }
    assert!(
        crossings.len() > 10,
        "too few crossings: {}",
        crossings.len()
    );
    let periods = (crossings.len() - 1) as f64;
    f64::from(sr) * periods / (crossings[crossings.len() - 1] - crossings[0])
}

#[test]
fn pitch_shift_by_k_semitones_scales_the_frequency_by_2_pow_k_over_12() {
    for (sr, f0) in [(16000u32, 440.0), (8000, 300.0)] {
        let clip = sine(f0, sr, sr as usize, 0.5);
        let t = PitchShift::new(-12.0, 12.0).unwrap();
        for k in [-5.0, -2.0, 1.0, 3.0, 7.0] {
            let out = t.apply_with(clip.clone(), &k).unwrap();
            assert_eq!(out.frames(), clip.frames(), "pitch shift keeps the length");
            let want = f0 * 2f64.powf(k / 12.0);
            let got = measured_freq(out.channel(0), sr);
            assert!(
                (got / want - 1.0).abs() < 0.01,
                "sr {sr} k {k}: {got} Hz, want {want} Hz"
            );
        }
    }
}

#[test]
fn time_stretch_changes_duration_by_1_over_r_and_keeps_the_pitch() {
    let sr = 16000;
    let clip = sine(500.0, sr, 16000, 0.5);
    let t = TimeStretch::new(0.5, 2.0, false).unwrap();
    for r in [0.8, 0.9, 1.1, 1.25, 1.5] {
        let out = t.apply_with(clip.clone(), &r).unwrap();
        assert_eq!(out.frames(), (16000.0f64 / r).round() as usize, "rate {r}");
        let got = measured_freq(out.channel(0), sr);
        assert!((got / 500.0 - 1.0).abs() < 0.01, "rate {r}: {got} Hz");
        // The amplitude is kept too (window-square normalised overlap-add).
        let mid = &out.channel(0)[out.frames() / 4..3 * out.frames() / 4];
        assert!(
            (rms(mid) / (0.5 / 2f64.sqrt()) - 1.0).abs() < 0.05,
            "rate {r}: rms {}",
            rms(mid)
        );
    }
    let same = TimeStretch::new(0.5, 2.0, true)
        .unwrap()
        .apply_with(clip.clone(), &1.3)
        .unwrap();
    assert_eq!(same.frames(), clip.frames());
}

#[test]
fn speed_perturbation_scales_duration_and_frequency_together() {
    let sr = 16000;
    let clip = sine(400.0, sr, 16000, 0.5);
    let out = SpeedPerturb::default().apply_with(clip, &1.1).unwrap();
    assert_eq!(out.frames(), (16000.0f64 / 1.1).ceil() as usize);
    let got = measured_freq(out.channel(0), sr);
    assert!((got / 440.0 - 1.0).abs() < 0.005, "{got}");
}

#[test]
fn low_pass_gain_at_twice_the_cutoff_matches_the_analytic_response() {
    // RBJ low-pass with Q = 1/sqrt(2) is the bilinear transform of the 2nd-order Butterworth with the
    // cutoff prewarped: |H(e^jw)|^2 = 1 / (1 + (tan(w/2) / tan(w0/2))^4).
    let sr = 16000u32;
    for fc in [500.0, 1000.0, 2000.0] {
        for f in [2.0 * fc, 0.5 * fc] {
            let clip = sine(f, sr, 32000, 0.5);
            let t = LowPassFilter::new(20.0, 7900.0, std::f64::consts::FRAC_1_SQRT_2).unwrap();
            let out = t
                .apply_with(clip.clone(), &(fc, std::f64::consts::FRAC_1_SQRT_2, 0.0))
                .unwrap();
            // Steady state: skip the first half (transient), compare RMS.
            let measured = rms(&out.channel(0)[16000..]) / rms(&clip.channel(0)[16000..]);
            let w = TAU * f / f64::from(sr);
            let w0 = TAU * fc / f64::from(sr);
            let analytic = 1.0 / (1.0 + ((w / 2.0).tan() / (w0 / 2.0).tan()).powi(4)).sqrt();
            assert!(
                (20.0 * (measured / analytic).log10()).abs() < 0.01,
                "fc {fc} f {f}: measured {measured}, analytic {analytic}"
            );
        }
    }
}

#[test]
fn resampling_a_sine_above_the_new_nyquist_leaves_less_than_minus_60_db() {
    let resample_to_8k = Resample::to(8000).unwrap();
    for f in [4600.0, 5000.0, 6500.0, 7900.0] {
        let clip = sine(f, 16000, 16000, 0.9);
        let out = resample_to_8k.apply_with(clip.clone(), &8000).unwrap();
        assert_eq!(out.sample_rate(), 8000);
        assert_eq!(out.frames(), 8000);
        // Steady state: the clip's abrupt start and end are broadband, so they are left out.
        let alias_db = 20.0 * (rms(&out.channel(0)[200..7800]) / rms(clip.channel(0))).log10();
        assert!(alias_db < -60.0, "{f} Hz leaves {alias_db:.1} dB");
    }
    // A sine below the new Nyquist passes at unit gain and the right frequency.
    let clip = sine(1000.0, 16000, 16000, 0.5);
    let out = resample_to_8k.apply_with(clip, &8000).unwrap();
    let mid = &out.channel(0)[1000..7000];
    assert!((rms(mid) / (0.5 / 2f64.sqrt()) - 1.0).abs() < 1e-3);
    assert!((measured_freq(out.channel(0), 8000) / 1000.0 - 1.0).abs() < 1e-4);
    // 44.1 kHz -> 16 kHz: a 9 kHz tone (above 8 kHz) is removed as well.
    let clip = sine(9000.0, 44100, 44100, 0.9);
    let out = Resample::to(16000)
        .unwrap()
        .apply_with(clip.clone(), &16000)
        .unwrap();
    let alias_db = 20.0 * (rms(&out.channel(0)[400..15600]) / rms(clip.channel(0))).log10();
    assert!(alias_db < -60.0, "44.1k->16k leaves {alias_db:.1} dB");
}

#[test]
fn noise_at_a_target_snr_measures_that_snr_within_a_tenth_of_a_db() {
    let clip = sine(440.0, 16000, 16000, 0.3);
    let mut rng = Generator::seed_from_u64(9);
    let t = AddGaussianSNR::new(-5.0, 40.0).unwrap();
    for snr in [-5.0, 0.0, 10.0, 25.0, 40.0] {
        let out = t.apply_with(clip.clone(), &(snr, rng.next_u64())).unwrap();
        let noise: Vec<f32> = out
            .data()
            .iter()
            .zip(clip.data())
            .map(|(a, b)| a - b)
            .collect();
        let measured = 20.0 * (rms(clip.data()) / rms(&noise)).log10();
        assert!(
            (measured - snr).abs() < 0.1,
            "target {snr} dB, measured {measured} dB"
        );
    }
    // Background noise: a different waveform mixed at the drawn SNR.
    let bg = sine(97.0, 16000, 5000, 1.0);
    let t = AddBackgroundNoise::new(vec![bg], 0.0, 30.0).unwrap();
    for snr in [3.0, 12.0, 30.0] {
        let out = t.apply_with(clip.clone(), &(snr, 0, 0)).unwrap();
        let noise: Vec<f32> = out
            .data()
            .iter()
            .zip(clip.data())
            .map(|(a, b)| a - b)
            .collect();
        let measured = 20.0 * (rms(clip.data()) / rms(&noise)).log10();
        assert!(
            (measured - snr).abs() < 0.1,
            "background target {snr} dB, measured {measured} dB"
        );
    }
}

#[test]
fn gain_in_db_is_exact() {
    let clip = sine(440.0, 8000, 800, 0.25);
    let out = Gain::default().apply_with(clip.clone(), &-6.0).unwrap();
    let ratio = rms(out.data()) / rms(clip.data());
    assert!((20.0 * ratio.log10() + 6.0).abs() < 1e-5);
}

fn pipeline() -> Compose<Audio> {
    Compose::new(vec![
        Box::new(RandomApply::new(0.8, AddGaussianSNR::default()).unwrap()),
        Box::new(RandomApply::new(0.5, TimeStretch::default()).unwrap()),
        Box::new(RandomApply::new(0.5, PitchShift::default()).unwrap()),
        Box::new(Shift::default()),
        Box::new(Gain::default()),
    ])
}

#[test]
fn views_depend_on_the_key_only_not_on_threads() {
    let clips: Vec<Audio> = (0..12)
        .map(|i| sine(200.0 + 50.0 * i as f64, 8000, 3000 + 100 * i, 0.4))
        .collect();
    let keys: Vec<SampleKey> = (0..12).map(|i| SampleKey::new(5, 1, i)).collect();
    let p = pipeline();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| apply_batch(&p, clips.clone(), &keys).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
    // Sequential application with the same keys gives the same bits.
    for (i, c) in clips.iter().enumerate() {
        assert_eq!(p.apply(c.clone(), &mut keys[i].rng()).unwrap(), one[i]);
    }
    // Another epoch gives other views.
    let other: Vec<SampleKey> = keys.iter().map(|k| SampleKey { epoch: 2, ..*k }).collect();
    let two = apply_batch(&p, clips.clone(), &other).unwrap();
    assert!(one.iter().zip(&two).filter(|(a, b)| a != b).count() >= 10);
}

#[test]
fn tiny_and_silent_clips_never_panic() {
    use selfsup_augment::audio::{
        AddGaussianNoise, BandPassFilter, ClippingDistortion, HighShelfFilter, LogMelConfig,
        MfccConfig, PadOrCrop, PolarityInversion, RandomCrop, TimeMask,
    };
    let p = Compose::new(vec![
        Box::new(AddGaussianNoise::default()),
        Box::new(AddGaussianSNR::default()),
        Box::new(TimeStretch::default()),
        Box::new(PitchShift::default()),
        Box::new(Shift::default()),
        Box::new(Gain::default()),
        Box::new(BandPassFilter::default()),
        Box::new(HighShelfFilter::default()),
        Box::new(ClippingDistortion::default()),
        Box::new(PolarityInversion),
        Box::new(TimeMask::default()),
        Box::new(SpeedPerturb::default()),
        Box::new(Resample::new(8000, 16000).unwrap()),
    ]);
    let logmel = LogMelConfig::for_rate(8000, 40).build().unwrap();
    let mfcc = MfccConfig {
        n_mfcc: 13,
        mel: LogMelConfig::for_rate(8000, 40).mel,
        ..Default::default()
    }
    .build()
    .unwrap();
    for n in [0usize, 1, 2, 3, 7, 64, 300] {
        for silent in [false, true] {
            let data = (0..n)
                .map(|i| {
                    if silent {
                        0.0
                    } else {
                        ((i * 37) % 11) as f32 / 11.0 - 0.5
                    }
                })
                .collect();
            let clip = Audio::mono(8000, data).unwrap();
            for k in 0..4 {
                let out = p
                    .apply(clip.clone(), &mut SampleKey::new(1, 0, k).rng())
                    .unwrap();
                assert!(
                    out.data().iter().all(|v| v.is_finite()),
                    "n {n} silent {silent}: non-finite output"
                );
            }
            let m = logmel.compute(&clip).unwrap();
            assert!(m.values.data().iter().all(|v| v.is_finite()));
            assert!(mfcc
                .compute(&clip)
                .unwrap()
                .values
                .data()
                .iter()
                .all(|v| v.is_finite()));
            let c = RandomCrop::new(100)
                .unwrap()
                .apply(clip.clone(), &mut Generator::seed_from_u64(n as u64))
                .unwrap();
            assert_eq!(c.frames(), 100);
            assert_eq!(
                PadOrCrop::new(5)
                    .unwrap()
                    .apply(clip, &mut Generator::seed_from_u64(0))
                    .unwrap()
                    .frames(),
                5
            );
        }
    }
}
