//! Image augmentation speed: the SimCLR two-view pipeline over 512 decoded RGB images (two batches of
//! 256) at 32×32 and 96×96, on a 2-thread rayon pool (`two_view_2threads`) and on one thread
//! (`two_view_1thread`, the like-for-like pair of PyTorch with 0 workers), and single transforms
//! single-threaded at 224×224. The one-thread cases also run measured in process CPU time (ids ending in
//! `/cpu`: the per-CPU-second column of `cargo xtask bench`).
//!
//! Counterparts: `scripts/bench/image_pipeline.py` (torchvision v2, same ids, same 512 images) and the tch
//! column in `crates/selfsup-bench/benches/tch_baselines.rs` (ids ending in `/tch`).
//! Run: `cargo bench -p selfsup-augment --bench image_pipeline`

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::measurement::Measurement;
use criterion::{BatchSize, Bencher, BenchmarkId, Criterion, Throughput};
use selfsup_augment::image::{
    ColorJitter, GaussianBlur, ImageRecipe, Normalize, RandomGrayscale, RandomHorizontalFlip,
    RandomResizedCrop, SimClrConfig,
};
use selfsup_bench::{cpu_criterion, synthetic_rgb};
use selfsup_core::{ImageF32, ImageU8, MultiView, RandomTransform, SampleKey, Transform};
use std::hint::black_box;

/// Distinct images the pipeline rows cycle through (both sides), in batches of [`BATCH`].
const N_IMAGES: usize = 512;
const BATCH: usize = 256;

/// One batch: decode-side u8 → f32, two views per image (keyed by the image's index in the epoch),
/// collated into one contiguous buffer per view.
fn simclr_batch(
    mv: &MultiView<ImageF32>,
    imgs: &[ImageU8],
    first: usize,
    epoch: u64,
) -> Vec<Vec<f32>> {
    use rayon::prelude::*;
    let views: Vec<Vec<ImageF32>> = imgs
        .par_iter()
        .enumerate()
        .map(|(i, img)| {
            mv.generate(&img.to_f32(), SampleKey::new(0, epoch, (first + i) as u64))
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

/// One epoch over `imgs` in batches of [`BATCH`].
fn simclr_epoch(mv: &MultiView<ImageF32>, imgs: &[ImageU8], epoch: u64) -> Vec<Vec<Vec<f32>>> {
    imgs.chunks(BATCH)
        .enumerate()
        .map(|(k, chunk)| simclr_batch(mv, chunk, k * BATCH, epoch))
        .collect()
}

/// `name` or, measured in CPU time, `name/cpu`.
fn bench_id(name: &str, param: Option<&str>, cpu: bool) -> BenchmarkId {
    let param = match (param, cpu) {
        (Some(p), true) => format!("{p}/cpu"),
        (Some(p), false) => p.to_string(),
        (None, true) => "cpu".to_string(),
        (None, false) => return BenchmarkId::from_parameter(name),
    };
    BenchmarkId::new(name, param)
}

/// The pipeline rows; with `cpu`, only the one-thread ones (ids `.../cpu`).
fn bench_simclr<M: Measurement>(c: &mut Criterion<M>, cpu: bool) {
    let mut group = c.benchmark_group("image_simclr");
    let pools = [(2, "two_view_2threads"), (1, "two_view_1thread")];
    for size in [32usize, 96] {
        let imgs = synthetic_rgb(N_IMAGES, size);
        let mv = ImageRecipe::SimClr(SimClrConfig {
            input_size: size,
            ..Default::default()
        })
        .build()
        .unwrap();
        group.throughput(Throughput::Elements(N_IMAGES as u64));
        for (threads, name) in pools {
            if cpu && threads != 1 {
                continue;
            }
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut epoch = 0;
            group.bench_function(
                bench_id(name, Some(&format!("{size}px")), cpu),
                |b: &mut Bencher<'_, M>| {
                    b.iter(|| {
                        epoch += 1;
                        pool.install(|| black_box(simclr_epoch(&mv, &imgs, epoch)))
                    })
                },
            );
        }
    }
    group.finish();
}

fn bench_single<M: Measurement, T: Transform<ImageF32>>(
    c: &mut Criterion<M>,
    name: &str,
    t: T,
    cpu: bool,
) {
    let img = synthetic_rgb(1, 224).remove(0).to_f32();
    let mut group = c.benchmark_group("image_transform_224");
    group.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    group.bench_function(bench_id(name, None, cpu), |b: &mut Bencher<'_, M>| {
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

/// The single transforms (one thread); with `cpu`, measured in CPU time (ids `.../cpu`).
fn bench_transforms<M: Measurement>(c: &mut Criterion<M>, cpu: bool) {
    bench_single(
        c,
        "random_resized_crop",
        RandomResizedCrop::new(224).unwrap(),
        cpu,
    );
    bench_single(
        c,
        "horizontal_flip",
        Always(RandomHorizontalFlip::new(1.0).unwrap()),
        cpu,
    );
    bench_single(
        c,
        "color_jitter",
        ColorJitter::new(0.4, 0.4, 0.4, 0.1).unwrap(),
        cpu,
    );
    bench_single(
        c,
        "gaussian_blur_k5",
        GaussianBlur::new(5, (0.1, 2.0)).unwrap(),
        cpu,
    );
    bench_single(
        c,
        "grayscale",
        Always(RandomGrayscale::new(1.0).unwrap()),
        cpu,
    );
    bench_single(c, "normalize", Normalize::imagenet(), cpu);
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_simclr(&mut c, false);
    bench_transforms(&mut c, false);
    let mut cpu = cpu_criterion();
    bench_simclr(&mut cpu, true);
    bench_transforms(&mut cpu, true);
    c.final_summary();
}
