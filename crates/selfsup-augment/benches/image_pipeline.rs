//! Image augmentation speed: the SimCLR two-view pipeline over a batch of decoded RGB images on a
//! 2-thread rayon pool (32×32 and 96×96), and single transforms single-threaded at 224×224.
//!
//! Counterpart: `scripts/bench/image_pipeline.py` (torchvision v2, same ids).
//! Run: `cargo bench -p selfsup-augment --bench image_pipeline`

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{criterion_group, BatchSize, BenchmarkId, Criterion, Throughput};
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

/// This process's user + system CPU time in seconds (from `/proc/self/stat`, 10 ms resolution).
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// `SELFSUP_CPU_REPORT=1 cargo bench ... --bench image_pipeline`: instead of criterion, runs each case
/// for a fixed amount of work and prints wall-clock and CPU-time throughput. On a shared, overloaded
/// machine wall-clock figures mostly measure the other load; items per CPU-second (× threads used)
/// estimate the throughput on an idle machine. Positional arguments (as for criterion) keep only the
/// cases whose id contains one of them.
fn cpu_report() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |id: &str| filters.is_empty() || filters.iter().any(|f| id.contains(f.as_str()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let report = |id: &str, items: usize, threads: f64, f: &mut dyn FnMut()| {
        if !wanted(id) {
            return;
        }
        f();
        let (t0, c0) = (std::time::Instant::now(), process_cpu_secs().unwrap_or(0.0));
        let mut n = 0usize;
        while t0.elapsed().as_secs_f64() < 5.0 {
            f();
            n += items;
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu = process_cpu_secs().unwrap_or(0.0) - c0;
        let line = format!(
            "{{\"id\": \"{id}\", \"wall_per_sec\": {:.0}, \"per_cpu_sec\": {:.0}, \"idle_estimate_per_sec\": {:.0}, \"threads\": {threads}}}",
            n as f64 / wall,
            n as f64 / cpu,
            n as f64 / cpu * threads
        );
        std::io::Write::write_all(&mut std::io::stdout(), format!("{line}\n").as_bytes()).unwrap();
    };
    for size in [32usize, 96] {
        let imgs = decoded_images(256, size);
        let mv = ImageRecipe::SimClr(SimClrConfig {
            input_size: size,
            ..Default::default()
        })
        .build()
        .unwrap();
        let mut epoch = 0;
        report(
            &format!("image_simclr/two_view_2threads/{size}px"),
            256,
            2.0,
            &mut || {
                epoch += 1;
                pool.install(|| black_box(simclr_batch(&mv, &imgs, epoch)));
            },
        );
    }
    let img = decoded_images(1, 224).remove(0).to_f32();
    let single: Vec<(&str, Box<dyn Transform<ImageF32>>)> = vec![
        (
            "random_resized_crop",
            Box::new(RandomResizedCrop::new(224).unwrap()),
        ),
        (
            "horizontal_flip",
            Box::new(Always(RandomHorizontalFlip::new(1.0).unwrap())),
        ),
        (
            "color_jitter",
            Box::new(ColorJitter::new(0.4, 0.4, 0.4, 0.1).unwrap()),
        ),
        (
            "gaussian_blur_k5",
            Box::new(GaussianBlur::new(5, (0.1, 2.0)).unwrap()),
        ),
        (
            "grayscale",
            Box::new(Always(RandomGrayscale::new(1.0).unwrap())),
        ),
        ("normalize", Box::new(Normalize::imagenet())),
    ];
    report(
        "image_transform_224/clone_only_baseline",
        1,
        1.0,
        &mut || {
            black_box(img.clone());
        },
    );
    for (name, t) in &single {
        let mut i = 0u64;
        report(&format!("image_transform_224/{name}"), 1, 1.0, &mut || {
            i += 1;
            black_box(
                t.apply(img.clone(), &mut SampleKey::new(0, 0, i).rng())
                    .unwrap(),
            );
        });
    }
}

fn main() {
    if std::env::var_os("SELFSUP_CPU_REPORT").is_some() {
        cpu_report();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
