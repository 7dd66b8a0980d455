//! Parity of the spectral features with torchaudio (and librosa for the Slaney options), and of the
//! SpecAugment masks with torchaudio's rule. The fixtures under `tests/fixtures/audio/` were written by
//! `scripts/fixtures/audio_fixtures.py`, which ran the real libraries; each case's settings are read
//! through our own serde configs, so the config names are checked too.
//!
//! Tolerance: every value must satisfy `|ours − ref| ≤ 1e-4 · |ref| + 1e-4 · floor`, where `floor` is
//! a small fraction of the case's largest magnitude: 1e-3 × max for power-like outputs (their tiny
//! bins are float32 round-off of the FFT in both libraries), 1e-2 × max for dB and MFCC values (signed,
//! O(10–100), so values crossing zero are held to about 1e-4 dB absolute). The worst relative error
//! per case is printed on failure.
#![cfg(feature = "audio")]

use selfsup_augment::audio::features::{mel_filterbank, MelNorm, MelScale};
use selfsup_augment::audio::specaugment::mask_range;
use selfsup_augment::audio::{LogMelConfig, MelSpectrogramConfig, MfccConfig, SpectrogramConfig};
use selfsup_core::Audio;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio")
}

fn load_f32(file: &str) -> Vec<f32> {
    let bytes = std::fs::read(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(dir().join("manifest.json")).expect("fixture manifest");
    serde_json::from_str(&text).unwrap()
}

fn input(m: &Value, name: &str) -> Audio {
    let inp = &m["inputs"][name];
    let shape: Vec<usize> = inp["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let sr = inp["sample_rate"].as_u64().unwrap() as u32;
    Audio::new(sr, shape[0], load_f32(inp["file"].as_str().unwrap())).unwrap()
}

/// Returns the worst `|a − b| / (|b| + floor)`.
fn compare(name: &str, ours: &[f32], reference: &[f32], floor: f64) -> f64 {
    assert_eq!(ours.len(), reference.len(), "{name}: length");
    let mut worst: f64 = 0.0;
    let mut at = 0;
    for (i, (&a, &b)) in ours.iter().zip(reference).enumerate() {
        let e = (f64::from(a) - f64::from(b)).abs() / (f64::from(b).abs() + floor);
        if e > worst {
            worst = e;
            at = i;
        }
    }
    assert!(
        worst <= 1e-4,
        "{name}: worst relative error {worst:.3e} at {at}: ours {} ref {}",
        ours[at],
        reference[at]
    );
    worst
}

fn max_abs(x: &[f32]) -> f64 {
    x.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs()))
}

#[test]
fn features_match_torchaudio_and_librosa() {
    let m = manifest();
    let cases = m["cases"].as_array().unwrap();
    assert!(cases.len() >= 14, "fixture cases: {}", cases.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let kind = case["kind"].as_str().unwrap();
        let settings = case["settings"].clone();
        let reference = load_f32(case["file"].as_str().unwrap());
        let shape: Vec<usize> = case["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let audio = input(&m, case["input"].as_str().unwrap());
        let (ours, floor, dims) = match kind {
            "spectrogram" => {
                let cfg: SpectrogramConfig = serde_json::from_value(settings).unwrap();
                let s = cfg.build().unwrap().compute(&audio).unwrap();
                (
                    s.values.data().to_vec(),
                    1e-3 * max_abs(&reference),
                    s.values.dims(),
                )
            }
            "mel" | "librosa_mel" => {
                let cfg: MelSpectrogramConfig = serde_json::from_value(settings).unwrap();
                let s = cfg.build().unwrap().compute(&audio).unwrap();
                (
                    s.values.data().to_vec(),
                    1e-3 * max_abs(&reference),
                    s.values.dims(),
                )
            }
            "logmel" => {
                let cfg: LogMelConfig = serde_json::from_value(settings).unwrap();
                let s = cfg.build().unwrap().compute(&audio).unwrap();
                (
                    s.values.data().to_vec(),
                    1e-2 * max_abs(&reference),
                    s.values.dims(),
                )
            }
            "mfcc" => {
                let cfg: MfccConfig = serde_json::from_value(settings).unwrap();
                let s = cfg.build().unwrap().compute(&audio).unwrap();
                (
                    s.values.data().to_vec(),
                    1e-2 * max_abs(&reference),
                    s.values.dims(),
                )
            }
            "fbank" | "librosa_fbank" => {
                let sr = settings["sample_rate"].as_u64().unwrap() as u32;
                let n_fft = settings["n_fft"].as_u64().unwrap() as usize;
                let n_mels = settings["n_mels"].as_u64().unwrap() as usize;
                let (norm, scale) = if kind == "fbank" {
                    (MelNorm::None, MelScale::Htk)
                } else {
                    (MelNorm::Slaney, MelScale::Slaney)
                };
                let fb = mel_filterbank(
                    n_fft / 2 + 1,
                    0.0,
                    f64::from(sr) / 2.0,
                    n_mels,
                    sr,
                    norm,
                    scale,
                );
                let fb: Vec<f32> = fb.iter().map(|&v| v as f32).collect();
                (fb, 1e-3 * max_abs(&reference), (1, n_fft / 2 + 1, n_mels))
            }
            other => panic!("unknown fixture kind {other}"),
        };
        let want: usize = shape.iter().product();
        assert_eq!(
            dims.0 * dims.1 * dims.2,
            want,
            "{name}: ours {dims:?}, reference {shape:?}"
        );
        assert_eq!(
            (dims.1, dims.2),
            (shape[shape.len() - 2], shape[shape.len() - 1]),
            "{name}: shape"
        );
        compare(name, &ours, &reference, floor);
    }
}

#[test]
fn spec_augment_masks_follow_torchaudio() {
    let m = manifest();
    let masks = m["specaugment"].as_array().unwrap();
    assert!(masks.len() >= 10);
    let mut nonempty = 0;
    for (i, c) in masks.iter().enumerate() {
        let param = c["param"].as_u64().unwrap() as usize;
        let len = c["len"].as_u64().unwrap() as usize;
        let p = c["p"].as_f64().unwrap();
        let param = if p >= 1.0 {
            param
        } else {
            param.min((len as f64 * p) as usize)
        };
        let (s, e) = mask_range(
            c["u1"].as_f64().unwrap(),
            c["u2"].as_f64().unwrap(),
            param,
            len,
        );
        match (c["start"].as_u64(), c["end"].as_u64()) {
            (Some(rs), Some(re)) => {
                nonempty += 1;
                assert_eq!((s, e), (rs as usize, re as usize), "case {i}: {c}");
            }
            _ => assert_eq!(s, e, "case {i}: torchaudio masked nothing, ours [{s}, {e})"),
        }
    }
    assert!(nonempty >= 10);
}

#[test]
fn wav_files_written_by_libsndfile_decode_to_its_values() {
    let m = manifest();
    let wavs = m["wav"].as_array().expect("wav fixtures");
    assert_eq!(wavs.len(), 5);
    for w in wavs {
        let file = w["file"].as_str().unwrap();
        let audio = selfsup_augment::audio::read_wav(&dir().join(file)).unwrap();
        assert_eq!(
            audio.sample_rate() as u64,
            w["sample_rate"].as_u64().unwrap(),
            "{file}"
        );
        assert_eq!(
            audio.channels() as u64,
            w["channels"].as_u64().unwrap(),
            "{file}"
        );
        let expected = load_f32(w["expected_file"].as_str().unwrap());
        assert_eq!(audio.data().len(), expected.len(), "{file}");
        for (i, (&a, &b)) in audio.data().iter().zip(&expected).enumerate() {
            assert!(
                (a - b).abs() <= 1e-7,
                "{file}[{i}]: ours {a}, libsndfile {b}"
            );
        }
        // Downmix and resample on load keep the frame count arithmetic.
        let opts = selfsup_augment::audio::WavOptions {
            mono: true,
            target_rate: Some(16000),
        };
        let a = selfsup_augment::audio::read_wav_with(&dir().join(file), &opts).unwrap();
        assert_eq!((a.channels(), a.sample_rate()), (1, 16000), "{file}");
        let want = (audio.frames() as u64 * 16000).div_ceil(audio.sample_rate() as u64) as usize;
        assert_eq!(a.frames(), want, "{file}");
    }
}
