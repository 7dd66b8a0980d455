//! Image augmentation speed: the SimCLR two-view pipeline over a batch of decoded RGB images on a
//! 2-thread rayon pool (32×32 and 96×96), and single transforms single-threaded at 224×224.
//!
//! Counterpart: `scripts/bench/image_pipeline.py` (torchvision v2, same ids).
//! Run: `cargo bench -p selfsup-augment --bench image_pipeline`

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use selfsup_augment::image::{
    ColorJitter, GaussianBlur, ImageRecipe, Normalize, RandomGrayscale, RandomHorizontalFlip,
    RandomResizedCrop, SimClrConfig,
};
use selfsup_core::{ImageF32, ImageU8, MultiView, RandomTransform, SampleKey, Transform};
use std::hint::black_box;

/// Deterministic "natural-ish" 8-bit RGB images (smooth gradients plus texture).
fn decoded_images(n: usize, size: usize) -> Vec<ImageU8> {
    (0..n)
        .map(|i| {
            let mut data = Vec::with_capacity(3 * size * size);
            for c in 0..3 {
                for y in 0..size {
                    for x in 0..size {
                        let v =
                            (x * 255 / size + y * (c + 1) * 7 + i * 13 + ((x * y) % 17) * 3) % 256;
                        data.push(v as u8);
                    }
                }
            }
            ImageU8::new(3, size, size, data).unwrap()
        })
        .collect()
}

/// One batch: decode-side u8 → f32, two views per image, collated into one contiguous buffer per view.
fn simclr_batch(mv: &MultiView<ImageF32>, imgs: &[ImageU8], epoch: u64) -> Vec<Vec<f32>> {
    use rayon::prelude::*;
    let views: Vec<Vec<ImageF32>> = imgs
        .par_iter()
        .enumerate()
        .map(|(i, img)| {
            mv.generate(&img.to_f32(), SampleKey::new(0, epoch, i as u64))
                .unwrap()
        })
        .collect();
    (0..mv.n_views())
        .map(|v| {
            let mut out = Vec::with_capacity(views.len() * views[0][v].data().len());
            for s in &views {
                out.extend_from_slice(s[v].data());
            }
            out
        })
        .collect()
}

fn bench_simclr(c: &mut Criterion) {
    let mut group = c.benchmark_group("image_simclr");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for size in [32usize, 96] {
        let batch = 256;
        let imgs = decoded_images(batch, size);
        let mv = ImageRecipe::SimClr(SimClrConfig {
            input_size: size,
            ..Default::default()
        })
        .build()
        .unwrap();
        group.throughput(Throughput::Elements(batch as u64));
        let mut epoch = 0;
        group.bench_function(
            BenchmarkId::new("two_view_2threads", format!("{size}px")),
            |b| {
                b.iter(|| {
                    epoch += 1;
                    pool.install(|| black_box(simclr_batch(&mv, &imgs, epoch)))
                })
            },
        );
    }
    group.finish();
}

fn bench_single<T: Transform<ImageF32>>(c: &mut Criterion, name: &str, t: T) {
    let img = decoded_images(1, 224).remove(0).to_f32();
    let mut group = c.benchmark_group("image_transform_224");
    group.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    group.bench_function(name, |b| {
        b.iter_batched(
            || img.clone(),
            |x| {
                i += 1;
                black_box(t.apply(x, &mut SampleKey::new(0, 0, i).rng()).unwrap())
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// Applies the transform with its parameters forced "on", so every iteration does the work.
struct Always<T>(T);
impl<T: RandomTransform<ImageF32, Params = bool>> Transform<ImageF32> for Always<T> {
    fn name(&self) -> &str {
        self.0.transform_name()
    }
    fn apply_ctx(
        &self,
        s: ImageF32,
        _: &mut selfsup_core::Ctx<'_>,
    ) -> selfsup_core::Result<ImageF32> {
        self.0.apply_with(s, &true)
    }
}

fn bench_transforms(c: &mut Criterion) {
    bench_single(
        c,
        "random_resized_crop",
        RandomResizedCrop::new(224).unwrap(),
    );
    bench_single(
        c,
        "horizontal_flip",
        Always(RandomHorizontalFlip::new(1.0).unwrap()),
    );
    bench_single(
        c,
        "color_jitter",
        ColorJitter::new(0.4, 0.4, 0.4, 0.1).unwrap(),
    );
    bench_single(
        c,
        "gaussian_blur_k5",
        GaussianBlur::new(5, (0.1, 2.0)).unwrap(),
    );
    bench_single(c, "grayscale", Always(RandomGrayscale::new(1.0).unwrap()));
    bench_single(c, "normalize", Normalize::imagenet());
}

criterion_group!(benches, bench_simclr, bench_transforms);
criterion_main!(benches);
