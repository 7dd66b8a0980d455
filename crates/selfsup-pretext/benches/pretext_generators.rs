//! Pretext generators' throughput, one thread, against the NumPy / PyTorch implementation of the same
//! generators in `scripts/bench/pretext.py` (same ids, same settings, same synthetic inputs).
//!
//! Inputs: 64 RGB images of 96×96 float pixels in `[0, 1]` (a smooth pattern varied per image), and 64
//! standardised-looking spectrograms of 40 mel bins × 51 frames (the FSDD preset's 0.5 s clip). Each
//! iteration builds every sample's `(views, target)` with the sample's key, sequentially; throughput is
//! in samples. Defaults of each task's config unless the id says otherwise.
//!
//! Ids (`pretext/...`): `rotation_96px`, `jigsaw_3x3_96px` (100 permutations, gap 0.15, jitter,
//! per-tile standardisation), `relative_position_96px` (gap 0.3, jitter, channel dropping),
//! `colorization_96px` (sRGB → Lab, `L/100` and `ab/110` planes), `colorization_classes_32px` (the
//! images' top-left 32×32 corner, plus the 5-nearest-bin soft encoding over the 313 bins), `masked_spectrogram_40x51` (8×4 patches,
//! ratio 0.5), `temporal_order_40x51` (3 segments of 17 frames, 6 orders).

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use selfsup_core::{ImageF32, Sample, SampleKey, Spectrogram};
use selfsup_pretext::colorization::{ColorizationConfig, ColorizationMode};
use selfsup_pretext::{pretext_generator, PretextConfig, PretextGenerator};

const N: usize = 64;

/// The same pattern as `scripts/bench/pretext.py`'s `images()`.
fn images() -> Vec<Sample> {
    let s = 96;
    (0..N)
        .map(|i| {
            let mut d = vec![0.0f32; 3 * s * s];
            for c in 0..3 {
                for y in 0..s {
                    for x in 0..s {
                        let v = (x * 255 / s + y * (c + 1) * 7 + i * 13 + ((x * y) % 17) * 3) % 256;
                        d[(c * s + y) * s + x] = v as f32 / 255.0;
                    }
                }
            }
            Sample::Image(ImageF32::new(3, s, s, d).unwrap())
        })
        .collect()
}

/// The same values as `scripts/bench/pretext.py`'s `spectrograms()`.
fn spectrograms() -> Vec<Sample> {
    let (f, t) = (40, 51);
    (0..N)
        .map(|i| {
            let d = (0..f * t)
                .map(|j| (((j * 7 + i * 13) % 41) as f32 - 20.0) / 12.0)
                .collect();
            Sample::Spectrogram(Spectrogram::new(1, f, t, d).unwrap())
        })
        .collect()
}

fn run(g: &dyn PretextGenerator, xs: &[Sample]) -> usize {
    xs.iter()
        .enumerate()
        .map(|(i, s)| {
            g.generate_keyed(s, SampleKey::new(0, 0, i as u64))
                .unwrap()
                .0
                .len()
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let imgs = images();
    let specs = spectrograms();
    let imgs32: Vec<Sample> = imgs
        .iter()
        .map(|s| {
            let Sample::Image(img) = s else {
                unreachable!("images() makes images")
            };
            let d: Vec<f32> = (0..3)
                .flat_map(|c| (0..32).flat_map(move |y| (0..32).map(move |x| (c, y, x))))
                .map(|(c, y, x)| img.plane(c)[y * 96 + x])
                .collect();
            Sample::Image(ImageF32::new(3, 32, 32, d).unwrap())
        })
        .collect();
    let mut g = c.benchmark_group("pretext");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    let kind = |k: &str| pretext_generator(&PretextConfig::from_kind(k).unwrap()).unwrap();
    for (id, gen, xs) in [
        ("rotation_96px", kind("rotation"), &imgs),
        ("jigsaw_3x3_96px", kind("jigsaw"), &imgs),
        ("relative_position_96px", kind("relative_position"), &imgs),
        ("colorization_96px", kind("colorization"), &imgs),
        (
            "colorization_classes_32px",
            pretext_generator(&PretextConfig::Colorization(ColorizationConfig {
                mode: ColorizationMode::Classification,
                ..Default::default()
            }))
            .unwrap(),
            &imgs32,
        ),
        (
            "masked_spectrogram_40x51",
            kind("masked_spectrogram"),
            &specs,
        ),
        ("temporal_order_40x51", kind("temporal_order"), &specs),
    ] {
        g.bench_function(id, |b| b.iter(|| run(gen.as_ref(), xs)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
