//! Shared pieces of selfsup's criterion benches (not published; a dev-dependency of the bench crates).
//!
//! - [`CpuTime`]: a criterion measurement of process CPU time. A bench measured with it reports items per
//!   CPU-second; `cargo xtask bench` reads such a bench, by the id suffix `/cpu`, as the per-CPU-second
//!   column of the row without the suffix (the PyTorch side's counterpart is `time.process_time` around
//!   the same repeats, `scripts/bench/_bench.py`).
//! - [`synthetic_rgb`] and [`fsdd_clip_paths`]: the inputs that the Rust benches and their PyTorch
//!   counterparts in `scripts/bench/` both generate, so both sides cycle through the same distinct inputs.
//!
//! The crate's bench `tch_baselines` holds the third column of the augmentation and audio-feature rows:
//! the same work written with libtorch tensor ops through tch (ids `<row id>/tch`).

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::Criterion;
use selfsup_core::ImageU8;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// CPU time consumed by this process so far, all threads together (`CLOCK_PROCESS_CPUTIME_ID`).
pub fn process_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Criterion measurement of process CPU time (user + system, every thread of the process), in
/// nanoseconds like [`WallTime`], whose formatter it shares. On a loaded machine wall-clock time also
/// counts the time the process waited for a core; CPU time counts only the work.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime;

/// The formatter [`CpuTime`] borrows (durations print as durations).
static WALL: WallTime = WallTime;

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        process_cpu_time()
    }
    fn end(&self, start: Duration) -> Duration {
        process_cpu_time().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

/// A criterion that measures process CPU time, configured from the command line like the default one
/// (sample size, filter, measurement time).
pub fn cpu_criterion() -> Criterion<CpuTime> {
    Criterion::default()
        .with_measurement(CpuTime)
        .configure_from_args()
}

/// `n` deterministic textured RGB images of `size`×`size` (smooth gradients plus texture): channel `c`,
/// row `y`, column `x` of image `i` is `(x·255/size + y·(c+1)·7 + i·13 + ((x·y) mod 17)·3) mod 256`, the
/// formula `scripts/bench/image_pipeline.py` and `scripts/bench/loader.py` use.
pub fn synthetic_rgb(n: usize, size: usize) -> Vec<ImageU8> {
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
            ImageU8::new(3, size, size, data).expect("3×size×size bytes")
        })
        .collect()
}

/// The repository's `data/` directory.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// Every 5th FSDD recording (`data/fsdd/recordings/*.wav` sorted by name: 600 of the 3,000 clips), the
/// clips of the audio rows on both sides (`scripts/bench/audio_pipeline.py` takes the same ones).
pub fn fsdd_clip_paths() -> std::io::Result<Vec<PathBuf>> {
    let dir = data_dir().join("fsdd/recordings");
    let mut paths = Vec::new();
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "wav") {
            paths.push(p);
        }
    }
    paths.sort();
    Ok(paths.into_iter().step_by(5).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_counts_work_not_sleep() {
        let m = CpuTime;
        let t = m.start();
        std::thread::sleep(Duration::from_millis(50));
        let slept = m.end(t);
        let t = m.start();
        let mut x = 0u64;
        let t0 = std::time::Instant::now();
        while t0.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let busy = m.end(t);
        // Sleeping costs (almost) no CPU; spinning for 50 ms of wall time costs CPU time (less than 50 ms
        // only when the machine preempted this thread).
        assert!(slept < Duration::from_millis(20), "{slept:?}");
        assert!(busy > slept, "{busy:?} vs {slept:?}");
        assert!(busy <= Duration::from_millis(60), "{busy:?}");
        assert_eq!(m.to_f64(&Duration::from_micros(3)), 3000.0);
    }

    #[test]
    fn synthetic_images_follow_the_formula() {
        let imgs = synthetic_rgb(2, 4);
        assert_eq!(imgs.len(), 2);
        let img = &imgs[1];
        assert_eq!((img.channels(), img.height(), img.width()), (3, 4, 4));
        // c = 2, y = 3, x = 1, i = 1: (63 + 63 + 13 + 9) mod 256 = 148.
        assert_eq!(img.get(2, 3, 1), 148);
    }
}
