//! The `digit` recipe (`selfsup_augment::image::digit::DigitConfig`) against the hand-made `DigitCrop`
//! transform it replaces (the main job's recipe until commit f64dbc1, copied below as the reference):
//!
//! - **Parameters**: the recipe turns the same six uniforms into the same crop box, contrast and
//!   brightness — only the order of the draws differs (photometric first) — so the per-view parameter
//!   distributions are identical; checked bit for bit on 2 000 keys.
//! - **Output**: with the same parameters and no noise, the composition computes what `DigitCrop` did
//!   (to float rounding).
//! - **Noise and range**: the noise has standard deviation `noise`, outputs lie in `[0, 1]`, views differ.
//!
//! Parity of the two new transforms with PyTorch (`grid_sample`, tensor arithmetic) is in
//! `image_parity.rs`.
#![cfg(feature = "image")]

use selfsup_augment::image::digit::DigitConfig;
use selfsup_augment::image::{
    adjust_contrast_brightness, resized_crop_subpixel, RandomContrastBrightness,
    RandomSubpixelCrop, SubpixelBox,
};
use selfsup_core::{Generator, ImageF32, RandomTransform, SampleKey, Transform};

/// The old `DigitCrop::sample_params`, over a source of uniforms in `[0, 1)` (the generator's
/// `uniform(lo, hi)` is `lo + (hi − lo)·u`), returning `(top, left, h, w, contrast, brightness)`.
fn reference_params(
    hh: f64,
    ww: f64,
    u: &mut impl FnMut() -> f64,
) -> (f64, f64, f64, f64, f32, f32) {
    let mut uniform = |lo: f64, hi: f64| lo + (hi - lo) * u();
    let area = uniform(0.35, 1.0) * hh * ww;
    let log_r = uniform((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln());
    let r = log_r.exp();
    let w = (area * r).sqrt().min(ww);
    let h = (area / r).sqrt().min(hh);
    let top = uniform(0.0, hh - h);
    let left = uniform(0.0, ww - w);
    let contrast = uniform(0.6, 1.4) as f32;
    let brightness = uniform(-0.2, 0.2) as f32;
    (top, left, h, w, contrast, brightness)
}

/// The old `DigitCrop::apply_with` without the noise term.
fn reference_apply(img: &ImageF32, p: (f64, f64, f64, f64, f32, f32)) -> ImageF32 {
    let (top, left, h, w, contrast, brightness) = p;
    let (c, hh, ww) = img.dims();
    let mut out = ImageF32::zeros(c, hh, ww);
    for ch in 0..c {
        let src = img.plane(ch);
        let mean: f32 = src.iter().sum::<f32>() / src.len().max(1) as f32;
        for y in 0..hh {
            let sy = (top + (y as f64 + 0.5) * h / hh as f64 - 0.5).clamp(0.0, hh as f64 - 1.0);
            let (y0, fy) = (sy.floor() as usize, (sy - sy.floor()) as f32);
            let y1 = (y0 + 1).min(hh - 1);
            for x in 0..ww {
                let sx =
                    (left + (x as f64 + 0.5) * w / ww as f64 - 0.5).clamp(0.0, ww as f64 - 1.0);
                let (x0, fx) = (sx.floor() as usize, (sx - sx.floor()) as f32);
                let x1 = (x0 + 1).min(ww - 1);
                let v = (1.0 - fy) * ((1.0 - fx) * src[y0 * ww + x0] + fx * src[y0 * ww + x1])
                    + fy * ((1.0 - fx) * src[y1 * ww + x0] + fx * src[y1 * ww + x1]);
                let v = (v - mean) * contrast + mean + brightness;
                out.set(ch, y, x, v.clamp(0.0, 1.0));
            }
        }
    }
    out
}

/// A 28×28 "digit": a bright ring on black, like MNIST's strokes.
fn digit() -> ImageF32 {
    let data = (0..28 * 28)
        .map(|i| {
            let (y, x) = ((i / 28) as f32 - 13.5, (i % 28) as f32 - 13.5);
            let r = (y * y + x * x).sqrt();
            if (5.0..8.0).contains(&r) {
                0.9
            } else {
                0.0
            }
        })
        .collect();
    ImageF32::new(1, 28, 28, data).unwrap()
}

#[test]
fn the_recipe_draws_the_parameters_digit_crop_drew() {
    let img = digit();
    let photometric = RandomContrastBrightness::new((0.6, 1.4), (-0.2, 0.2), false).unwrap();
    let crop = RandomSubpixelCrop::new((0.35, 1.0), (3.0 / 4.0, 4.0 / 3.0)).unwrap();
    for index in 0..2000 {
        let key = SampleKey::new(7, 0, index).with_view(index % 2);
        // The recipe's draws, in its order.
        let mut g = key.rng();
        let (c, b) = photometric.sample_params(&img, &mut g).unwrap();
        let bx = crop.sample_params(&img, &mut g).unwrap();
        // The same six uniforms, in DigitCrop's order (geometry first).
        let mut g = key.rng();
        let u: Vec<f64> = (0..6).map(|_| g.next_f64()).collect();
        let order = [2, 3, 4, 5, 0, 1];
        let mut it = order.iter().map(|&i| u[i]);
        let r = reference_params(28.0, 28.0, &mut || it.next().unwrap());
        assert_eq!(
            (bx.top, bx.left, bx.height, bx.width, c, b),
            r,
            "key {key:?}"
        );
    }
}

#[test]
fn the_composition_computes_digit_crop_without_noise() {
    let img = digit();
    let mut g = Generator::seed_from_u64(3);
    let mut worst = 0.0f32;
    for _ in 0..300 {
        let p = reference_params(28.0, 28.0, &mut || g.next_f64());
        let expected = reference_apply(&img, p);
        let (top, left, height, width, c, b) = p;
        let y = adjust_contrast_brightness(img.clone(), c, b, false);
        let y = resized_crop_subpixel(
            &y,
            &SubpixelBox {
                top,
                left,
                height,
                width,
            },
            (28, 28),
        )
        .unwrap();
        for (a, e) in y.data().iter().zip(expected.data()) {
            worst = worst.max((a.clamp(0.0, 1.0) - e).abs());
        }
    }
    assert!(worst < 1e-5, "largest difference {worst}");
}

#[test]
fn views_are_keyed_in_range_and_noisy_by_sigma() {
    let img = digit();
    let cfg = DigitConfig::default();
    let views = cfg.build().unwrap();
    let key = SampleKey::new(1, 2, 3);
    let a = views.generate(&img, key).unwrap();
    let b = views.generate(&img, key).unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a, b, "same key, same views");
    assert_ne!(a[0], a[1], "two views differ");
    for v in &a {
        assert_eq!(v.dims(), (1, 28, 28));
        assert!(v.data().iter().all(|&x| (0.0..=1.0).contains(&x)));
    }
    // On a mid-grey image nothing clips: contrast leaves a constant alone, so every value is
    // 0.5 + brightness + noise, and the spread within a view is the noise's.
    let flat = ImageF32::new(1, 64, 64, vec![0.5; 64 * 64]).unwrap();
    let single = DigitConfig {
        brightness: (0.0, 0.0),
        noise: 0.1,
        ..DigitConfig::default()
    };
    let mut sd = Vec::new();
    for index in 0..20 {
        let v = single
            .view()
            .unwrap()
            .apply(flat.clone(), &mut SampleKey::new(0, 0, index).rng())
            .unwrap();
        let n = v.data().len() as f64;
        let m = v.data().iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let var = v
            .data()
            .iter()
            .map(|&x| (f64::from(x) - m).powi(2))
            .sum::<f64>()
            / n;
        sd.push(var.sqrt());
        assert!((m - 0.5).abs() < 0.01, "mean {m}");
    }
    let sd = sd.iter().sum::<f64>() / sd.len() as f64;
    assert!((sd - 0.1).abs() < 0.005, "noise sd {sd}");
}

#[test]
fn bad_fields_are_named() {
    for (cfg, field) in [
        (
            DigitConfig {
                scale: (0.0, 1.0),
                ..Default::default()
            },
            "digit.scale[0]",
        ),
        (
            DigitConfig {
                scale: (0.5, 1.5),
                ..Default::default()
            },
            "digit.scale",
        ),
        (
            DigitConfig {
                contrast: (1.4, 0.6),
                ..Default::default()
            },
            "digit.contrast",
        ),
        (
            DigitConfig {
                noise: -0.1,
                ..Default::default()
            },
            "digit.noise",
        ),
        (
            DigitConfig {
                n_views: 0,
                ..Default::default()
            },
            "digit.n_views",
        ),
        (
            DigitConfig {
                degrees: -5.0,
                ..Default::default()
            },
            "digit.degrees",
        ),
        (
            DigitConfig {
                shear: 75.0,
                ..Default::default()
            },
            "digit.shear",
        ),
    ] {
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains(&format!("`{field}`")), "{e}");
        assert!(cfg.build().is_err());
    }
    let toml_cfg: DigitConfig = toml::from_str("noise = 0.2\nscale = [0.5, 1.0]").unwrap();
    assert_eq!(toml_cfg.noise, 0.2);
    assert_eq!(toml_cfg.n_views, 2);
    assert!(toml::from_str::<DigitConfig>("nosie = 0.2").is_err());
}

/// Bars through the centre, every other step of the recipe made an identity: with `degrees = 0`
/// and `shear = 0` (the defaults) a horizontal bar stays on its rows and a vertical one in its
/// columns; `degrees = 90` turns the horizontal bar off its rows, and `shear = 30` tilts the vertical
/// bar out of its columns.
#[test]
fn degrees_and_shear_turn_the_digit() {
    let bar = |horizontal: bool| {
        let mut px = vec![0.0f32; 28 * 28];
        for i in 4..24 {
            px[if horizontal { 14 * 28 + i } else { i * 28 + 14 }] = 1.0;
        }
        ImageF32::new(1, 28, 28, px).unwrap()
    };
    let plain = DigitConfig {
        scale: (1.0, 1.0),
        contrast: (1.0, 1.0),
        brightness: (0.0, 0.0),
        noise: 0.0,
        ..DigitConfig::default()
    };
    // Fraction of the view's mass outside the bar's band (rows or columns 13..=15), over 20 views.
    let off_band = |cfg: &DigitConfig, horizontal: bool| -> f64 {
        let view = cfg.view().unwrap();
        let mut f = 0.0;
        for index in 0..20 {
            let v = view
                .apply(bar(horizontal), &mut SampleKey::new(0, 0, index).rng())
                .unwrap();
            let d = v.data();
            let (mut total, mut on) = (0.0, 0.0);
            for (i, &x) in d.iter().enumerate() {
                let (r, c) = (i / 28, i % 28);
                total += f64::from(x);
                if (13..=15).contains(if horizontal { &r } else { &c }) {
                    on += f64::from(x);
                }
            }
            f += (total - on) / total.max(1e-9);
        }
        f / 20.0
    };
    for horizontal in [true, false] {
        let still = off_band(&plain, horizontal);
        assert!(still < 0.1, "no warp, yet {still} of the bar left its band");
    }
    let turned = off_band(
        &DigitConfig {
            degrees: 90.0,
            ..plain.clone()
        },
        true,
    );
    assert!(
        turned > 0.4,
        "rotation by up to 90°, yet only {turned} left the rows"
    );
    let sheared = off_band(
        &DigitConfig {
            shear: 30.0,
            ..plain.clone()
        },
        false,
    );
    assert!(
        sheared > 0.2,
        "x-shear up to 30°, yet only {sheared} left the columns"
    );
}
