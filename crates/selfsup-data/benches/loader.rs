//! Loader throughput, SimCLR two views at 32×32 (augmentation recipe from `selfsup-augment`):
//!
//! - `loader/bare_simclr32_inmemory`: the augmentation alone — u8→f32 and two views of 1,024 in-memory
//!   images over rayon, no dataset, no batching, no queue. The ceiling the loader is measured against.
//! - `loader/loader_simclr32_inmemory`: one epoch of the [`Loader`] over the same images (InMemory
//!   dataset, batch 256, prefetch 2, collation into `N×3×32×32` arrays), each consumed batch handed
//!   back with [`Loader::recycle`] as the trainer does.
//! - `loader/loader_simclr32_inmemory_no_recycle`: the same, batches dropped instead (fresh buffers).
//! - `loader/imagefolder_jpeg_simclr32`: one epoch of the loader over an ImageFolder of 1,024
//!   generated 32×32 JPEGs (10 class folders): read + decode + two views + collation.
//!
//! Counterpart: `scripts/bench/loader.py` (torchvision ImageFolder + DataLoader, 2 workers, same id).
//! Run: `cargo bench -p selfsup-data --bench loader`. Uses rayon's global pool (all cores).

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;
use selfsup_augment::image::SimClrConfig;
use selfsup_core::{ImageF32, ImageU8, MultiView, SampleKey};
use selfsup_data::{Dataset, ImageFolder, InMemory, Loader, LoaderConfig, ViewPipeline};
use std::hint::black_box;
use std::sync::Arc;

const N: usize = 1024;
const SIZE: usize = 32;

/// Deterministic textured RGB images (the same formula as `scripts/bench/loader.py`).
fn images(n: usize) -> Vec<ImageU8> {
    (0..n)
        .map(|i| {
            let mut data = Vec::with_capacity(3 * SIZE * SIZE);
            for c in 0..3 {
                for y in 0..SIZE {
                    for x in 0..SIZE {
                        let v =
                            (x * 255 / SIZE + y * (c + 1) * 7 + i * 13 + ((x * y) % 17) * 3) % 256;
                        data.push(v as u8);
                    }
                }
            }
            ImageU8::new(3, SIZE, SIZE, data).unwrap()
        })
        .collect()
}

fn simclr() -> MultiView<ImageF32> {
    SimClrConfig {
        input_size: SIZE,
        ..SimClrConfig::default()
    }
    .build()
    .unwrap()
}

fn cfg() -> LoaderConfig {
    LoaderConfig {
        batch_size: 256,
        ..LoaderConfig::default()
    }
}

fn run_epoch(loader: &Loader, epoch: u64, recycle: bool) -> usize {
    let mut n = 0;
    for b in loader.epoch(epoch) {
        let b = b.unwrap();
        n += b.len();
        black_box(&b.views);
        if recycle {
            loader.recycle(b);
        }
    }
    n
}

fn bench_inmemory(c: &mut Criterion) {
    let imgs = images(N);
    let mut g = c.benchmark_group("loader");
    g.sample_size(20);
    g.throughput(Throughput::Elements(N as u64));

    let mv = simclr();
    let mut epoch = 0u64;
    g.bench_function("bare_simclr32_inmemory", |b| {
        b.iter(|| {
            epoch += 1;
            let views: Vec<Vec<ImageF32>> = imgs
                .par_iter()
                .enumerate()
                .map(|(i, img)| {
                    mv.generate(&img.to_f32(), SampleKey::new(0, epoch, i as u64))
                        .unwrap()
                })
                .collect();
            black_box(views)
        })
    });

    let ds: Arc<dyn Dataset> = Arc::new(InMemory::from_images_u8(imgs.clone(), None).unwrap());
    let loader = Loader::new(ds, ViewPipeline::Image(simclr()), cfg()).unwrap();
    let mut epoch = 0u64;
    g.bench_function("loader_simclr32_inmemory", |b| {
        b.iter(|| {
            epoch += 1;
            assert_eq!(run_epoch(&loader, epoch, true), N);
        })
    });
    g.bench_function("loader_simclr32_inmemory_no_recycle", |b| {
        b.iter(|| {
            epoch += 1;
            assert_eq!(run_epoch(&loader, epoch, false), N);
        })
    });
    g.finish();
}

fn bench_imagefolder(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    for (i, img) in images(N).into_iter().enumerate() {
        let class = dir.path().join(format!("class{}", i % 10));
        std::fs::create_dir_all(&class).unwrap();
        let mut rgb = image::RgbImage::new(SIZE as u32, SIZE as u32);
        for y in 0..SIZE {
            for x in 0..SIZE {
                rgb.put_pixel(
                    x as u32,
                    y as u32,
                    image::Rgb([img.get(0, y, x), img.get(1, y, x), img.get(2, y, x)]),
                );
            }
        }
        let path = class.join(format!("{i:05}.jpg"));
        let file = std::fs::File::create(&path).unwrap();
        image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 90)
            .encode_image(&rgb)
            .unwrap();
    }
    let ds: Arc<dyn Dataset> = Arc::new(ImageFolder::new(dir.path()).unwrap());
    let loader = Loader::new(ds, ViewPipeline::Image(simclr()), cfg()).unwrap();
    let mut g = c.benchmark_group("loader");
    g.sample_size(20);
    g.throughput(Throughput::Elements(N as u64));
    let mut epoch = 0u64;
    g.bench_function("imagefolder_jpeg_simclr32", |b| {
        b.iter(|| {
            epoch += 1;
            assert_eq!(run_epoch(&loader, epoch, true), N);
        })
    });
    g.finish();
}

criterion_group!(benches, bench_inmemory, bench_imagefolder);
criterion_main!(benches);
