//! The tch column of `cargo xtask bench`: the work of the augmentation and audio-feature rows written with
//! libtorch tensor ops through tch, the way a tch user would write it without selfsup (torchvision's and
//! torchaudio's functional formulas on `Tensor`s, parameters drawn with `rand`), on one libtorch thread.
//! Each id is `<row id>/tch`; xtask shows it next to selfsup and PyTorch in the row `<row id>`. Every case
//! also runs measured in process CPU time (`<row id>/tch/cpu`, the tch per-CPU-second column).
//!
//! - `image_transform_224/<op>/tch`: one transform of one 3×224×224 float image (the image of the selfsup
//!   bench), as torchvision v2 computes it on a float tensor (`_upsample_bilinear2d_aa` for the resized
//!   crop, reflect pad + grouped conv2d for the blur, torchvision's RGB↔HSV formulas for the hue jitter).
//! - `image_simclr/two_view_1thread/{32,96}px/tch`: the SimCLR two-view recipe (crop 0.08–1, flip 0.5, jitter
//!   (0.8, 0.8, 0.8, 0.2) p 0.8, greyscale 0.2, blur p 0.5 above 32 px, ImageNet normalise) over the same
//!   512 synthetic images as the selfsup bench, u8 → float per image, two stacked batches of 256 per view.
//! - `audio_pipeline/noise_shift_gain/1thread/tch`: Gaussian noise (amplitude 0.001–0.015), roll by
//!   −50 %…50 % of the clip, gain −12…12 dB over the 600 FSDD clips of the audio rows.
//! - `audio_pipeline/mel_spectrogram_n256_h80_m40/1thread/tch`: reflect-padded STFT (n_fft 256, hop 80,
//!   periodic Hann), power, HTK mel filterbank (40 bands, torchaudio's `melscale_fbanks`) as a matmul.
//!
//! Not written here: the time stretch and pitch shift (a phase vocoder and a resampler are not tensor
//! one-liners), so `audio_pipeline/noise_stretch_pitch_shift_gain` has no tch column.
//! Run: `cargo bench -p selfsup-bench --bench tch_baselines`.

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use selfsup_augment::audio::read_wav;
use selfsup_bench::{cpu_criterion, fsdd_clip_paths, synthetic_rgb};
use selfsup_core::ImageU8;
use std::hint::black_box;
use tch::{Device, Kind, Tensor};

const F: (Kind, Device) = (Kind::Float, Device::Cpu);

fn u8_tensor(img: &ImageU8) -> Tensor {
    Tensor::from_slice(img.data()).view([3, img.height() as i64, img.width() as i64])
}

/// torchvision's `rgb_to_grayscale` (one channel).
fn gray(x: &Tensor) -> Tensor {
    (x.get(0) * 0.299 + x.get(1) * 0.587 + x.get(2) * 0.114).unsqueeze(0)
}

fn blend(a: &Tensor, b: &Tensor, ratio: f64) -> Tensor {
    (a * ratio + b * (1.0 - ratio)).clamp(0.0, 1.0)
}

/// torchvision's `_rgb2hsv`.
fn rgb_to_hsv(x: &Tensor) -> Tensor {
    let (r, g, b) = (x.get(0), x.get(1), x.get(2));
    let maxc = x.amax([0], false);
    let minc = x.amin([0], false);
    let eqc = maxc.eq_tensor(&minc);
    let cr = &maxc - &minc;
    let ones = maxc.ones_like();
    let s = &cr / ones.where_self(&eqc, &maxc);
    let crd = ones.where_self(&eqc, &cr);
    let rc = (&maxc - &r) / &crd;
    let gc = (&maxc - &g) / &crd;
    let bc = (&maxc - &b) / &crd;
    let hr = maxc.eq_tensor(&r).to_kind(Kind::Float) * (&bc - &gc);
    let hg = maxc
        .eq_tensor(&g)
        .logical_and(&maxc.ne_tensor(&r))
        .to_kind(Kind::Float)
        * (&rc - &bc + 2.0);
    let hb = maxc
        .ne_tensor(&g)
        .logical_and(&maxc.ne_tensor(&r))
        .to_kind(Kind::Float)
        * (&gc - &rc + 4.0);
    let h = ((hr + hg + hb) / 6.0 + 1.0).fmod(1.0);
    Tensor::stack(&[h, s, maxc], 0)
}

/// torchvision's `_hsv2rgb`.
fn hsv_to_rgb(x: &Tensor) -> Tensor {
    let (h, s, v) = (x.get(0), x.get(1), x.get(2));
    let h6 = &h * 6.0;
    let i = h6.floor();
    let f = &h6 - &i;
    let i = i.to_kind(Kind::Int).remainder(6i64);
    let p = (&v * (s.neg() + 1.0)).clamp(0.0, 1.0);
    let q = (&v * ((&s * &f).neg() + 1.0)).clamp(0.0, 1.0);
    let t = (&v * ((&s * (f.neg() + 1.0)).neg() + 1.0)).clamp(0.0, 1.0);
    let mask = i
        .unsqueeze(0)
        .eq_tensor(&Tensor::arange(6i64, (Kind::Int, Device::Cpu)).view([-1, 1, 1]))
        .to_kind(Kind::Float);
    let a1 = Tensor::stack(&[&v, &q, &p, &p, &t, &v], 0);
    let a2 = Tensor::stack(&[&t, &v, &v, &q, &p, &p], 0);
    let a3 = Tensor::stack(&[&p, &p, &t, &v, &v, &q], 0);
    let a4 = Tensor::stack(&[a1, a2, a3], 0);
    (a4 * mask.unsqueeze(0)).sum_dim_intlist(1, false, Kind::Float)
}

fn adjust_hue(x: &Tensor, hue: f64) -> Tensor {
    let hsv = rgb_to_hsv(x);
    let h = (hsv.get(0) + hue).remainder(1.0);
    hsv_to_rgb(&Tensor::stack(&[h, hsv.get(1), hsv.get(2)], 0))
}

/// torchvision v2 `ColorJitter(b, c, s, h)`: the four adjustments in a random order, factors uniform.
fn color_jitter(x: &Tensor, (b, c, s, h): (f64, f64, f64, f64), rng: &mut StdRng) -> Tensor {
    let mut order = [0usize, 1, 2, 3];
    for k in (1..4).rev() {
        order.swap(k, rng.random_range(0..=k));
    }
    let mut x = x.shallow_clone();
    for op in order {
        x = match op {
            0 => (&x * rng.random_range(1.0 - b..1.0 + b)).clamp(0.0, 1.0),
            1 => {
                let m = gray(&x).mean(Kind::Float);
                blend(&x, &m, rng.random_range(1.0 - c..1.0 + c))
            }
            2 => blend(&x, &gray(&x), rng.random_range(1.0 - s..1.0 + s)),
            _ => adjust_hue(&x, rng.random_range(-h..h)),
        };
    }
    x
}

/// torchvision's Gaussian blur of a `[3,H,W]` image: separable kernel as a 2-D outer product, reflect
/// padding, depthwise conv2d.
fn gaussian_blur(x: &Tensor, k: i64, sigma: f64) -> Tensor {
    let half = (k - 1) as f64 * 0.5;
    let xs = Tensor::linspace(-half, half, k, F);
    let pdf = ((&xs / sigma).square() * -0.5).exp();
    let k1 = &pdf / pdf.sum(Kind::Float);
    let k2 = k1.unsqueeze(1).matmul(&k1.unsqueeze(0));
    let w = k2.expand([3, 1, k, k], true).contiguous();
    let p = k / 2;
    x.unsqueeze(0)
        .reflection_pad2d([p, p, p, p])
        .conv2d(&w, None::<Tensor>, [1, 1], [0, 0], [1, 1], 3)
        .squeeze_dim(0)
}

/// torchvision's `RandomResizedCrop.get_params` (scale, ratio 3/4–4/3): `(top, left, height, width)`.
fn rrc_params(rng: &mut StdRng, h: i64, w: i64, scale: (f64, f64)) -> (i64, i64, i64, i64) {
    let area = (h * w) as f64;
    let (lo, hi) = ((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln());
    for _ in 0..10 {
        let target = area * rng.random_range(scale.0..scale.1);
        let ratio = rng.random_range(lo..hi).exp();
        let cw = (target * ratio).sqrt().round() as i64;
        let ch = (target / ratio).sqrt().round() as i64;
        if 0 < cw && cw <= w && 0 < ch && ch <= h {
            return (
                rng.random_range(0..=h - ch),
                rng.random_range(0..=w - cw),
                ch,
                cw,
            );
        }
    }
    (0, 0, h, w)
}

fn resized_crop(x: &Tensor, (i, j, h, w): (i64, i64, i64, i64), size: i64) -> Tensor {
    x.narrow(1, i, h)
        .narrow(2, j, w)
        .unsqueeze(0)
        .internal_upsample_bilinear2d_aa([size, size], false, None::<f64>, None::<f64>)
        .squeeze_dim(0)
}

struct Normalize {
    mean: Tensor,
    std: Tensor,
}

impl Normalize {
    fn imagenet() -> Self {
        Normalize {
            mean: Tensor::from_slice(&[0.485f32, 0.456, 0.406]).view([3, 1, 1]),
            std: Tensor::from_slice(&[0.229f32, 0.224, 0.225]).view([3, 1, 1]),
        }
    }
    fn apply(&self, x: &Tensor) -> Tensor {
        (x - &self.mean) / &self.std
    }
}

/// One SimCLR view of a float `[3,s,s]` image (lightly's order, as `scripts/bench/image_pipeline.py`).
fn simclr_view(x: &Tensor, size: i64, norm: &Normalize, rng: &mut StdRng) -> Tensor {
    let (h, w) = (x.size()[1], x.size()[2]);
    let mut v = resized_crop(x, rrc_params(rng, h, w, (0.08, 1.0)), size);
    if rng.random::<f64>() < 0.5 {
        v = v.flip([2]);
    }
    if rng.random::<f64>() < 0.8 {
        v = color_jitter(&v, (0.8, 0.8, 0.8, 0.2), rng);
    }
    if rng.random::<f64>() < 0.2 {
        v = gray(&v).expand([3, size, size], false);
    }
    if size > 32 && rng.random::<f64>() < 0.5 {
        let k = (size as f64 * 0.1) as i64;
        let k = if k % 2 == 0 { k + 1 } else { k };
        v = gaussian_blur(&v, k.max(3), rng.random_range(0.1..2.0));
    }
    norm.apply(&v)
}

/// `tch`, or `tch/cpu` when measured in CPU time.
fn tch_param(cpu: bool) -> &'static str {
    if cpu {
        "tch/cpu"
    } else {
        "tch"
    }
}

fn bench_images<M: Measurement>(c: &mut Criterion<M>, cpu: bool) {
    let norm = Normalize::imagenet();
    let img = u8_tensor(&synthetic_rgb(1, 224)[0]).to_kind(Kind::Float) / 255.0;
    let mut g = c.benchmark_group("image_transform_224");
    g.throughput(Throughput::Elements(1));
    type Op<'a> = Box<dyn FnMut(&Tensor) -> Tensor + 'a>;
    let mut rng_crop = StdRng::seed_from_u64(0);
    let mut rng_jitter = StdRng::seed_from_u64(1);
    let mut rng_blur = StdRng::seed_from_u64(2);
    let ops: Vec<(&str, Op<'_>)> = vec![
        (
            "random_resized_crop",
            Box::new(move |x: &Tensor| {
                let p = rrc_params(&mut rng_crop, 224, 224, (0.08, 1.0));
                resized_crop(x, p, 224)
            }),
        ),
        ("horizontal_flip", Box::new(|x: &Tensor| x.flip([2]))),
        (
            "color_jitter",
            Box::new(move |x: &Tensor| color_jitter(x, (0.4, 0.4, 0.4, 0.1), &mut rng_jitter)),
        ),
        (
            "gaussian_blur_k5",
            Box::new(move |x: &Tensor| gaussian_blur(x, 5, rng_blur.random_range(0.1..2.0))),
        ),
        (
            "grayscale",
            Box::new(|x: &Tensor| gray(x).expand([3, 224, 224], false).contiguous()),
        ),
        ("normalize", Box::new(|x: &Tensor| norm.apply(x))),
    ];
    for (name, mut op) in ops {
        g.bench_function(BenchmarkId::new(name, tch_param(cpu)), |b| {
            b.iter(|| black_box(op(&img)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("image_simclr");
    for size in [32i64, 96] {
        let imgs: Vec<Tensor> = synthetic_rgb(512, size as usize)
            .iter()
            .map(u8_tensor)
            .collect();
        g.throughput(Throughput::Elements(imgs.len() as u64));
        let mut rng = StdRng::seed_from_u64(0);
        g.bench_function(
            BenchmarkId::new("two_view_1thread", format!("{size}px/{}", tch_param(cpu))),
            |b| {
                b.iter(|| {
                    let mut out = Vec::new();
                    for chunk in imgs.chunks(256) {
                        let (mut v0, mut v1) = (Vec::new(), Vec::new());
                        for img in chunk {
                            let x = img.to_kind(Kind::Float) / 255.0;
                            v0.push(simclr_view(&x, size, &norm, &mut rng));
                            v1.push(simclr_view(&x, size, &norm, &mut rng));
                        }
                        out.push((Tensor::stack(&v0, 0), Tensor::stack(&v1, 0)));
                    }
                    black_box(out)
                })
            },
        );
    }
    g.finish();
}

/// torchaudio's `melscale_fbanks` (HTK scale, no norm) transposed: `[n_mels, n_fft/2 + 1]`.
fn mel_filterbank(sample_rate: f64, n_fft: i64, n_mels: i64) -> Tensor {
    let n_freqs = n_fft / 2 + 1;
    let hz_to_mel = |f: f64| 2595.0 * (1.0 + f / 700.0).log10();
    let all = Tensor::linspace(0.0, sample_rate / 2.0, n_freqs, F);
    let m = Tensor::linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0), n_mels + 2, F);
    let f_pts = ((m * (std::f64::consts::LN_10 / 2595.0)).exp() - 1.0) * 700.0;
    let f_diff = f_pts.slice(0, 1, None, 1) - f_pts.slice(0, 0, -1, 1);
    let slopes = f_pts.unsqueeze(0) - all.unsqueeze(1);
    let down = slopes.slice(1, 0, n_mels, 1).neg() / f_diff.slice(0, 0, n_mels, 1);
    let up = slopes.slice(1, 2, n_mels + 2, 1) / f_diff.slice(0, 1, n_mels + 1, 1);
    down.minimum(&up)
        .clamp_min(0.0)
        .transpose(0, 1)
        .contiguous()
}

fn bench_audio<M: Measurement>(c: &mut Criterion<M>, cpu: bool) {
    let param = format!("1thread/{}", tch_param(cpu));
    let clips: Vec<Tensor> = fsdd_clip_paths()
        .expect("data/fsdd/recordings")
        .iter()
        .map(|p| Tensor::from_slice(read_wav(p).expect("FSDD wav").data()))
        .collect();
    let mut g = c.benchmark_group("audio_pipeline");
    g.throughput(Throughput::Elements(clips.len() as u64));
    g.sample_size(10);
    let mut rng = StdRng::seed_from_u64(0);
    g.bench_function(BenchmarkId::new("noise_shift_gain", &param), |b| {
        b.iter(|| {
            let mut frames = 0;
            for x in &clips {
                let n = x.size()[0];
                let y = x + x.randn_like() * rng.random_range(0.001..0.015);
                let shift = (rng.random_range(-0.5..0.5) * n as f64).round() as i64;
                let gain = 10f64.powf(rng.random_range(-12.0..12.0) / 20.0);
                frames += black_box(y.roll([shift], [0]) * gain).size()[0];
            }
            frames
        })
    });
    let (n_fft, hop) = (256i64, 80i64);
    let window = Tensor::hann_window(n_fft, F);
    let fb = mel_filterbank(8000.0, n_fft, 40);
    g.bench_function(
        BenchmarkId::new("mel_spectrogram_n256_h80_m40", &param),
        |b| {
            b.iter(|| {
                let mut frames = 0;
                for x in &clips {
                    let padded = x
                        .view([1, 1, -1])
                        .reflection_pad1d([n_fft / 2, n_fft / 2])
                        .view([-1]);
                    let spec = padded
                        .stft(n_fft, hop, n_fft, Some(&window), false, true, true, false)
                        .abs()
                        .square();
                    frames += black_box(fb.matmul(&spec)).size()[1];
                }
                frames
            })
        },
    );
    g.finish();
}

/// Checks, before timing, that the tch code computes what the row measures: a hue shift of 0 gives the
/// input back, and the mel spectrogram agrees with selfsup's (itself tested against torchaudio).
fn check_baselines() {
    let img = u8_tensor(&synthetic_rgb(1, 32)[0]).to_kind(Kind::Float) / 255.0;
    let back = adjust_hue(&img, 0.0);
    let err = f64::try_from((&back - &img).abs().max()).unwrap();
    assert!(err < 1e-5, "tch HSV round trip off by {err}");
    let path = &fsdd_clip_paths().expect("data/fsdd/recordings")[0];
    let clip = read_wav(path).expect("FSDD wav");
    let ours = selfsup_augment::audio::MelSpectrogramConfig {
        sample_rate: 8000,
        n_fft: 256,
        hop_length: Some(80),
        n_mels: 40,
        ..Default::default()
    }
    .build()
    .unwrap()
    .compute(&clip)
    .unwrap();
    let x = Tensor::from_slice(clip.data());
    let spec = x
        .view([1, 1, -1])
        .reflection_pad1d([128, 128])
        .view([-1])
        .stft(
            256,
            80,
            256,
            Some(&Tensor::hann_window(256, F)),
            false,
            true,
            true,
            false,
        )
        .abs()
        .square();
    let mel = mel_filterbank(8000.0, 256, 40).matmul(&spec);
    let theirs: Vec<f32> = Vec::try_from(mel.flatten(0, -1)).unwrap();
    assert_eq!(theirs.len(), ours.values.data().len(), "mel sizes");
    let scale = ours.values.data().iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = ours
        .values
        .data()
        .iter()
        .zip(&theirs)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst <= 1e-3 * scale,
        "tch mel differs from selfsup's by {worst} (scale {scale})"
    );
}

fn main() {
    tch::set_num_threads(1);
    tch::manual_seed(0);
    check_baselines();
    let mut c = Criterion::default().configure_from_args();
    bench_images(&mut c, false);
    bench_audio(&mut c, false);
    let mut cpu = cpu_criterion();
    bench_images(&mut cpu, true);
    bench_audio(&mut cpu, true);
    c.final_summary();
}
