//! Audio augmentation and feature throughput on the FSDD clips (`data/fsdd`, 8 kHz mono).
//!
//! Every 5th clip (600 clips, sorted by file name) is decoded once; each iteration then runs the
//! pipeline over all of them with rayon on a 2-thread pool (each clip keyed by its index, as the loader
//! does) and, for the like-for-like pair of PyTorch in one process, on a 1-thread pool (`<id>/1thread`,
//! also measured in process CPU time as `<id>/1thread/cpu`). Throughput is in clips. Every transform is
//! applied with probability 1, the same settings as `scripts/bench/audio_pipeline.py` (audiomentations
//! pinned to the phase vocoder and to a Shift without fade, torchaudio), whose 600 clips are the same;
//! the tch column is `crates/selfsup-bench/benches/tch_baselines.rs`.
//!
//! Ids (each also with `/1thread` and `/1thread/cpu`):
//! - `audio_pipeline/noise_stretch_pitch_shift_gain`: AddGaussianNoise → TimeStretch → PitchShift → Shift → Gain
//! - `audio_pipeline/noise_shift_gain`: AddGaussianNoise → Shift → Gain
//! - `audio_pipeline/mel_spectrogram_n256_h80_m40`: MelSpectrogram(8 kHz, n_fft 256, hop 80, 40 mels)

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;
use selfsup_augment::audio::{
    read_wav, AddGaussianNoise, Gain, MelSpectrogramConfig, PitchShift, Shift, TimeStretch,
};
use selfsup_bench::{cpu_criterion, fsdd_clip_paths};
use selfsup_core::{Audio, Compose, SampleKey, Transform};

fn clips() -> Vec<Audio> {
    fsdd_clip_paths()
        .expect("data/fsdd/recordings")
        .iter()
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

/// Every row on a 2-thread pool (plain ids) and on a 1-thread pool (`/1thread`); with `cpu`, only the
/// 1-thread ones, measured in CPU time (`/1thread/cpu`).
fn bench<M: Measurement>(c: &mut Criterion<M>, cpu: bool) {
    let clips = clips();
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
    let light = Compose::new(vec![
        Box::new(AddGaussianNoise::default()),
        Box::new(Shift::default()),
        Box::new(Gain::default()),
    ]);
    let mel = MelSpectrogramConfig {
        sample_rate: 8000,
        n_fft: 256,
        hop_length: Some(80),
        n_mels: 40,
        ..Default::default()
    }
    .build()
    .unwrap();
    let variants: &[(usize, Option<&str>)] = if cpu {
        &[(1, Some("1thread/cpu"))]
    } else {
        &[(2, None), (1, Some("1thread"))]
    };
    for &(threads, param) in variants {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let id = |name: &str| match param {
            Some(p) => BenchmarkId::new(name, p),
            None => BenchmarkId::from_parameter(name),
        };
        g.bench_function(id("noise_stretch_pitch_shift_gain"), |b| {
            b.iter(|| pool.install(|| run_pipeline(&full, &clips)))
        });
        g.bench_function(id("noise_shift_gain"), |b| {
            b.iter(|| pool.install(|| run_pipeline(&light, &clips)))
        });
        g.bench_function(id("mel_spectrogram_n256_h80_m40"), |b| {
            b.iter(|| {
                pool.install(|| {
                    clips
                        .par_iter()
                        .map(|c| mel.compute(c).unwrap().n_frames())
                        .sum::<usize>()
                })
            })
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, false);
    bench(&mut cpu_criterion(), true);
    c.final_summary();
}
