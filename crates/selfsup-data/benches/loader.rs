//! Loader throughput, SimCLR two views at 32×32 (augmentation recipe from `selfsup-augment`). Every case
//! runs on an explicit 2-thread pool (the loader's `num_threads = 2`, or `install` on a 2-thread rayon
//! pool) unless its id says `_1thread`:
//!
//! - `loader/bare_simclr32_inmemory`: the augmentation alone — u8→f32, two views of 1,024 in-memory
//!   images in batches of 256, each view copied into per-view batch buffers that are allocated once and
//!   reused (as the loader reuses recycled batches); no dataset, no shuffle, no queue. The ceiling the
//!   loader is measured against.
//! - `loader/loader_simclr32_inmemory`: one epoch of the [`Loader`] over the same images (InMemory
//!   dataset, batch 256, prefetch 2, collation into `N×3×32×32` arrays), each consumed batch handed
//!   back with [`Loader::recycle`] as the trainer does.
//! - `loader/loader_simclr32_inmemory_1thread`: the same on a 1-thread loader pool (PyTorch: 0 workers),
//!   also in process CPU time (`.../cpu`).
//! - `loader/loader_simclr32_inmemory_no_recycle`: the same, batches dropped instead (fresh buffers).
//! - `loader/imagefolder_jpeg_simclr32`: one epoch of the loader over an ImageFolder of 1,024
//!   generated 32×32 JPEGs (10 class folders): read + decode + two views + collation.
//! - `loader/imagefolder_jpeg_simclr32_1thread`: the same on a 1-thread loader pool, the like-for-like
//!   pair of PyTorch's DataLoader with 0 workers; also measured in process CPU time
//!   (`loader/imagefolder_jpeg_simclr32_1thread/cpu`, the per-CPU-second column).
//!
//! Counterpart: `scripts/bench/loader.py` (DataLoader with 2 and 0 workers over torchvision's ImageFolder of
//! the same 1,024 files, or over the same images in memory as uint8 tensors; same ids). Run: `cargo bench -p selfsup-data --bench loader`.

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;
use selfsup_augment::image::SimClrConfig;
use selfsup_bench::{cpu_criterion, synthetic_rgb};
use selfsup_core::{ImageF32, ImageU8, MultiView, SampleKey};
use selfsup_data::{Dataset, ImageFolder, InMemory, Loader, LoaderConfig, ViewPipeline};
use std::hint::black_box;
use std::sync::Arc;

const N: usize = 1024;
const SIZE: usize = 32;

/// The images of every case (the formula `scripts/bench/loader.py` uses).
fn images(n: usize) -> Vec<ImageU8> {
    synthetic_rgb(n, SIZE)
}

fn simclr() -> MultiView<ImageF32> {
    SimClrConfig {
        input_size: SIZE,
        ..SimClrConfig::default()
    }
    .build()
    .unwrap()
}

const BATCH: usize = 256;

/// Batch 256 on a dedicated pool of `threads`.
fn cfg(threads: usize) -> LoaderConfig {
    LoaderConfig {
        batch_size: BATCH,
        num_threads: threads,
        ..LoaderConfig::default()
    }
}

/// One epoch of the bare augmentation: batches of [`BATCH`], each sample's two views copied into the
/// per-view buffers `bufs` (allocated once by the caller and reused every batch, as recycled loader
/// batches are).
fn bare_epoch(mv: &MultiView<ImageF32>, imgs: &[ImageU8], epoch: u64, bufs: &mut [Vec<f32>]) {
    let len = 3 * SIZE * SIZE;
    for (k, chunk) in imgs.chunks(BATCH).enumerate() {
        let (first, rest) = bufs.split_at_mut(1);
        first[0]
            .par_chunks_mut(len)
            .zip(rest[0].par_chunks_mut(len))
            .zip(chunk.par_iter())
            .enumerate()
            .for_each(|(i, ((o0, o1), img))| {
                let key = SampleKey::new(0, epoch, (k * BATCH + i) as u64);
                let views = mv.generate(&img.to_f32(), key).unwrap();
                o0.copy_from_slice(views[0].data());
                o1.copy_from_slice(views[1].data());
            });
        black_box(&*bufs);
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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut bufs = vec![vec![0f32; BATCH * 3 * SIZE * SIZE]; 2];
    let mut epoch = 0u64;
    g.bench_function("bare_simclr32_inmemory", |b| {
        b.iter(|| {
            epoch += 1;
            pool.install(|| bare_epoch(&mv, &imgs, epoch, &mut bufs))
        })
    });

    let ds: Arc<dyn Dataset> = Arc::new(InMemory::from_images_u8(imgs.clone(), None).unwrap());
    let loader = Loader::new(ds, ViewPipeline::Image(simclr()), cfg(2)).unwrap();
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
    bench_inmemory_1thread(c, &imgs, false);
}

/// The in-memory loader on a 1-thread pool; with `cpu`, measured in CPU time (`.../cpu`).
fn bench_inmemory_1thread<M: Measurement>(c: &mut Criterion<M>, imgs: &[ImageU8], cpu: bool) {
    let mut g = c.benchmark_group("loader");
    g.sample_size(20);
    g.throughput(Throughput::Elements(N as u64));
    let ds: Arc<dyn Dataset> = Arc::new(InMemory::from_images_u8(imgs.to_vec(), None).unwrap());
    let loader = Loader::new(ds, ViewPipeline::Image(simclr()), cfg(1)).unwrap();
    let id = if cpu {
        "loader_simclr32_inmemory_1thread/cpu"
    } else {
        "loader_simclr32_inmemory_1thread"
    };
    let mut epoch = 0u64;
    g.bench_function(BenchmarkId::from_parameter(id), |b| {
        b.iter(|| {
            epoch += 1;
            assert_eq!(run_epoch(&loader, epoch, true), N);
        })
    });
    g.finish();
}

/// The ImageFolder of 1,024 generated JPEGs (quality 90, 10 class folders), in a temporary directory.
fn jpeg_folder() -> tempfile::TempDir {
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
    dir
}

/// The ImageFolder rows: on 2 threads and on 1 (`_1thread`); with `cpu`, only the 1-thread one, measured
/// in CPU time (`_1thread/cpu`).
fn bench_imagefolder<M: Measurement>(c: &mut Criterion<M>, dir: &std::path::Path, cpu: bool) {
    let mut g = c.benchmark_group("loader");
    g.sample_size(20);
    g.throughput(Throughput::Elements(N as u64));
    let variants: &[(usize, &str)] = if cpu {
        &[(1, "imagefolder_jpeg_simclr32_1thread/cpu")]
    } else {
        &[
            (2, "imagefolder_jpeg_simclr32"),
            (1, "imagefolder_jpeg_simclr32_1thread"),
        ]
    };
    for &(threads, id) in variants {
        let ds: Arc<dyn Dataset> = Arc::new(ImageFolder::new(dir).unwrap());
        let loader = Loader::new(ds, ViewPipeline::Image(simclr()), cfg(threads)).unwrap();
        let mut epoch = 0u64;
        g.bench_function(BenchmarkId::from_parameter(id), |b| {
            b.iter(|| {
                epoch += 1;
                assert_eq!(run_epoch(&loader, epoch, true), N);
            })
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_inmemory(&mut c);
    let dir = jpeg_folder();
    bench_imagefolder(&mut c, dir.path(), false);
    let mut cpu = cpu_criterion();
    bench_inmemory_1thread(&mut cpu, &images(N), true);
    bench_imagefolder(&mut cpu, dir.path(), true);
    c.final_summary();
}
