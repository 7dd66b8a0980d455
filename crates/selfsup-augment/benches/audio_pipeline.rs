//! Audio augmentation and feature throughput on the FSDD clips (`data/fsdd`, 8 kHz mono).
//!
//! Every 5th clip (600 clips, sorted by file name) is decoded once; each iteration then runs the
//! pipeline over all of them with rayon on a 2-thread pool (each clip keyed by its index, as the loader
//! does). Throughput is in clips. Every transform is applied with probability 1, the same settings as
//! `scripts/bench/audio_pipeline.py` (audiomentations / torchaudio counterparts).
//!
//! Ids:
//! - `audio_pipeline/noise_stretch_pitch_shift_gain`: AddGaussianNoise → TimeStretch → PitchShift → Shift → Gain
//! - `audio_pipeline/noise_shift_gain`: AddGaussianNoise → Shift → Gain
//! - `audio_pipeline/mel_spectrogram_n256_h80_m40`: MelSpectrogram(8 kHz, n_fft 256, hop 80, 40 mels)

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;
use selfsup_augment::audio::{
    read_wav, AddGaussianNoise, Gain, MelSpectrogramConfig, PitchShift, Shift, TimeStretch,
};
use selfsup_core::{Audio, Compose, SampleKey, Transform};
use std::path::Path;

fn clips() -> Vec<Audio> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fsdd/recordings");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    paths.sort();
    paths
        .iter()
        .step_by(5)
        .map(|p| read_wav(p).unwrap())
        .collect()
}

fn run_pipeline(p: &Compose<Audio>, clips: &[Audio]) -> usize {
    clips
        .par_iter()
        .enumerate()
        .map(|(i, c)| {
            let mut rng = SampleKey::new(0, 0, i as u64).rng();
            p.apply(c.clone(), &mut rng).unwrap().frames()
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let clips = clips();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("audio_pipeline");
    g.throughput(Throughput::Elements(clips.len() as u64));
    g.sample_size(10);

    let full = Compose::new(vec![
        Box::new(AddGaussianNoise::default()),
        Box::new(TimeStretch::default()),
        Box::new(PitchShift::default()),
        Box::new(Shift::default()),
        Box::new(Gain::default()),
    ]);
    g.bench_function("noise_stretch_pitch_shift_gain", |b| {
        b.iter(|| pool.install(|| run_pipeline(&full, &clips)))
    });

    let light = Compose::new(vec![
        Box::new(AddGaussianNoise::default()),
        Box::new(Shift::default()),
        Box::new(Gain::default()),
    ]);
    g.bench_function("noise_shift_gain", |b| {
        b.iter(|| pool.install(|| run_pipeline(&light, &clips)))
    });

    let mel = MelSpectrogramConfig {
        sample_rate: 8000,
        n_fft: 256,
        hop_length: Some(80),
        n_mels: 40,
        ..Default::default()
    }
    .build()
    .unwrap();
    g.bench_function("mel_spectrogram_n256_h80_m40", |b| {
        b.iter(|| {
            pool.install(|| {
                clips
                    .par_iter()
                    .map(|c| mel.compute(c).unwrap().n_frames())
                    .sum::<usize>()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
