//! Distribution tests: the parameters our image transforms draw follow the documented ranges and
//! laws (torchvision's), checked over many draws against closed-form moments.
#![cfg(feature = "image")]

use selfsup_augment::image::{
    ColorJitter, GaussianBlur, RandomGrayscale, RandomHorizontalFlip, RandomResizedCrop,
};
use selfsup_core::{Generator, ImageF32, RandomTransform};

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    (m, xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n)
}

#[test]
fn random_resized_crop_area_aspect_and_position_follow_the_law() {
    // On a large image with scale ≤ 0.5 no attempt is ever rejected, so the area fraction is
    // U(0.08, 0.5), the log aspect U(ln 3/4, ln 4/3), and the offsets uniform.
    let (h, w) = (1000, 1000);
    let img = ImageF32::zeros(1, h, w);
    let t = RandomResizedCrop::with_params((8, 8), (0.08, 0.5), (0.75, 4.0 / 3.0)).unwrap();
    let mut g = Generator::seed_from_u64(11);
    let n = 20_000;
    let (mut areas, mut logr, mut tops) = (vec![], vec![], vec![]);
    for _ in 0..n {
        let b = t.sample_params(&img, &mut g).unwrap();
        assert!(b.top + b.height <= h && b.left + b.width <= w && b.height > 0 && b.width > 0);
        let a = (b.height * b.width) as f64 / (h * w) as f64;
        assert!((0.08 * 0.99..=0.5 * 1.01).contains(&a), "area fraction {a}");
        let r = b.width as f64 / b.height as f64;
        assert!((0.75 * 0.99..=4.0 / 3.0 * 1.01).contains(&r), "ratio {r}");
        areas.push(a);
        logr.push(r.ln());
        if b.height < h {
            tops.push(b.top as f64 / (h - b.height) as f64);
        }
    }
    let (m, v) = mean_var(&areas);
    assert!((m - 0.29).abs() < 0.005, "area mean {m}");
    assert!((v - 0.42f64.powi(2) / 12.0).abs() < 0.001, "area var {v}");
    let span = (4.0f64 / 3.0).ln() - 0.75f64.ln();
    let (m, v) = mean_var(&logr);
    assert!(m.abs() < 0.005, "log-ratio mean {m}");
    assert!((v - span * span / 12.0).abs() < 0.002, "log-ratio var {v}");
    let (m, v) = mean_var(&tops);
    assert!(
        (m - 0.5).abs() < 0.01 && (v - 1.0 / 12.0).abs() < 0.005,
        "top {m} {v}"
    );
}

#[test]
fn random_resized_crop_falls_back_to_a_centred_clamped_box() {
    // A 1×100 strip can never fit a 3/4..4/3 box of ≥ 8% area: fallback clamps the ratio to 4/3
    // → h = 1, w = round(1 · 4/3) = 1, centred.
    let img = ImageF32::zeros(1, 1, 100);
    let t = RandomResizedCrop::new(4).unwrap();
    let b = t
        .sample_params(&img, &mut Generator::seed_from_u64(3))
        .unwrap();
    assert_eq!((b.top, b.left, b.height, b.width), (0, 49, 1, 1));
}

#[test]
fn color_jitter_factors_are_uniform_and_orders_are_all_permutations() {
    let t = ColorJitter::new(0.8, 0.8, 0.8, 0.2).unwrap();
    let img = ImageF32::zeros(3, 2, 2);
    let mut g = Generator::seed_from_u64(5);
    let n = 24_000;
    let mut counts = std::collections::HashMap::new();
    let (mut b, mut hue) = (vec![], vec![]);
    for _ in 0..n {
        let p = t.sample_params(&img, &mut g).unwrap();
        *counts.entry(p.order).or_insert(0usize) += 1;
        let bf = f64::from(p.brightness.unwrap());
        assert!((0.2..1.8).contains(&bf));
        for f in [p.contrast.unwrap(), p.saturation.unwrap()] {
            assert!((0.2..1.8).contains(&f));
        }
        let h = f64::from(p.hue.unwrap());
        assert!((-0.2..0.2).contains(&h));
        b.push(bf);
        hue.push(h);
    }
    assert_eq!(counts.len(), 24, "all 24 orders appear");
    assert!(
        counts.values().all(|&c| (800..1200).contains(&c)),
        "{counts:?}"
    );
    let (m, v) = mean_var(&b);
    assert!(
        (m - 1.0).abs() < 0.01 && (v - 1.6f64.powi(2) / 12.0).abs() < 0.01,
        "brightness {m} {v}"
    );
    let (m, v) = mean_var(&hue);
    assert!(
        m.abs() < 0.003 && (v - 0.4f64.powi(2) / 12.0).abs() < 0.001,
        "hue {m} {v}"
    );
}

#[test]
fn coin_flips_and_blur_sigma_follow_their_parameters() {
    let img = ImageF32::zeros(3, 2, 2);
    let mut g = Generator::seed_from_u64(9);
    let n = 20_000;
    let flip = RandomHorizontalFlip::new(0.3).unwrap();
    let k = (0..n)
        .filter(|_| flip.sample_params(&img, &mut g).unwrap())
        .count();
    assert!((k as f64 / n as f64 - 0.3).abs() < 0.015, "{k}");
    let grey = RandomGrayscale::new(0.2).unwrap();
    let k = (0..n)
        .filter(|_| grey.sample_params(&img, &mut g).unwrap())
        .count();
    assert!((k as f64 / n as f64 - 0.2).abs() < 0.015, "{k}");
    let blur = GaussianBlur::new(5, (0.1, 2.0)).unwrap();
    let s: Vec<f64> = (0..n)
        .map(|_| f64::from(blur.sample_params(&img, &mut g).unwrap()))
        .collect();
    assert!(s.iter().all(|v| (0.1..=2.0).contains(v)));
    let (m, v) = mean_var(&s);
    assert!(
        (m - 1.05).abs() < 0.02 && (v - 1.9f64.powi(2) / 12.0).abs() < 0.01,
        "sigma {m} {v}"
    );
}
