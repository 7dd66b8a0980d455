//! Colorization as classification against `tests/fixtures/colorization_bins.json`
//! (`scripts/fixtures/colorization_bins_fixtures.py`: scikit-image's `rgb2lab` + numpy): the 313 bins,
//! the soft encoding (5 nearest bins, σ = 5) of random colours, the smoothed prior and the
//! rebalancing weights (λ = 0.5); and the generator's classification target.

use selfsup_core::{Generator, ImageF32, Sample};
use selfsup_pretext::ab_bins::{
    ab_bins, rebalance_weights, smoothed_prior, soft_encode, N_AB_BINS,
};
use selfsup_pretext::colorization::{rgb_to_lab, ColorizationConfig, ColorizationMode};
use selfsup_pretext::{PretextGenerator, Target};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/colorization_bins.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn the_313_bins_match_the_reference_and_cover_the_srgb_gamut() {
    let f = fixture();
    let want: Vec<[f64; 2]> = f["bins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = floats(p);
            [p[0], p[1]]
        })
        .collect();
    assert_eq!(ab_bins(), want.as_slice());
    assert_eq!(N_AB_BINS, 313);
    // The reference asserted every occupied sRGB cell is a bin; it found fewer cells than bins.
    let cells = f["gamut_cells"].as_u64().unwrap();
    assert!(cells > 200 && cells <= 313, "{cells}");
}

#[test]
fn soft_encoding_matches_the_reference() {
    let f = fixture();
    let s = &f["soft"];
    let rgb = s["rgb"].as_array().unwrap();
    for (i, c) in rgb.iter().enumerate() {
        let c = floats(c);
        let lab = rgb_to_lab([c[0], c[1], c[2]]);
        let ab_ref = floats(&s["ab"][i]);
        assert!((lab[1] - ab_ref[0]).abs() < 1e-9 && (lab[2] - ab_ref[1]).abs() < 1e-9);
        let got = soft_encode([lab[1], lab[2]], 5, 5.0);
        let idx: Vec<usize> = s["index"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let w = floats(&s["weight"][i]);
        for (j, (bin, wt)) in got.iter().enumerate() {
            assert_eq!(*bin, idx[j], "colour {i}: neighbour {j}");
            assert!(
                (wt - w[j]).abs() < 1e-9,
                "colour {i}: weight {j}: {wt} vs {}",
                w[j]
            );
        }
    }
}

#[test]
fn rebalancing_matches_the_reference() {
    let f = fixture();
    let r = &f["rebalance"];
    let counts = floats(&r["counts"]);
    let prior = smoothed_prior(&counts, 5.0).unwrap();
    for (a, b) in prior.iter().zip(floats(&r["prior"])) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    let w = rebalance_weights(&prior, 0.5);
    for (a, b) in w.iter().zip(floats(&r["weights"])) {
        assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} vs {b}");
    }
    // Rare colours weigh more than common ones.
    let (lo, hi) = prior.iter().enumerate().fold((0, 0), |(lo, hi), (i, &p)| {
        (
            if p < prior[lo] { i } else { lo },
            if p > prior[hi] { i } else { hi },
        )
    });
    assert!(w[lo] > w[hi]);
    assert!(smoothed_prior(&[0.0; 313], 5.0).is_err());
    assert!(smoothed_prior(&[1.0; 3], 5.0).is_err());
}

#[test]
fn classification_target_holds_the_soft_encoding_of_every_pixel() {
    let cfg = ColorizationConfig {
        mode: ColorizationMode::Classification,
        ..Default::default()
    };
    let g = cfg.build().unwrap();
    assert_eq!(g.num_classes(), None);
    // Two pixels: pure red, mid grey.
    let img = ImageF32::new(3, 1, 2, vec![1.0, 0.5, 0.0, 0.5, 0.0, 0.5]).unwrap();
    let (views, t) = g
        .generate(&Sample::Image(img), &mut Generator::seed_from_u64(0))
        .unwrap();
    assert_eq!(views.len(), 1);
    let Target::Dense(Sample::Image(t)) = t else {
        panic!("dense target expected")
    };
    assert_eq!(t.dims(), (11, 1, 2));
    for (px, rgb) in [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5]].iter().enumerate() {
        let lab = rgb_to_lab(*rgb);
        let want = soft_encode([lab[1], lab[2]], 5, 5.0);
        for (j, (bin, w)) in want.iter().enumerate() {
            assert_eq!(t.plane(j)[px], *bin as f32);
            assert!((f64::from(t.plane(5 + j)[px]) - w).abs() < 1e-6);
        }
        assert_eq!(t.plane(10)[px], 1.0);
    }
    // Grey sits on the (0, 0) bin.
    assert_eq!(ab_bins()[t.plane(0)[1] as usize], [0.0, 0.0]);
    let bad = ColorizationConfig {
        neighbours: 0,
        ..Default::default()
    };
    let e = bad.validate().unwrap_err().to_string();
    assert!(
        e.contains("colorization.neighbours") && e.contains("[1, 32]"),
        "{e}"
    );
}
