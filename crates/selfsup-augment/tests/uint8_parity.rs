//! Parity with torchvision.transforms.v2 on `uint8` images: every case in
//! `tests/fixtures/uint8/cases.json` was produced by `scripts/fixtures/uint8_fixtures.py` running the
//! real torchvision functional op on a fixed `uint8` image; our `uint8` kernels must give the same
//! values exactly. The random wrappers on `ImageU8` use these kernels with the float path's draws.
#![cfg(feature = "image")]

use selfsup_augment::image::{
    autocontrast_u8, equalize_u8, invert_u8, posterize_u8, solarize_u8, RandomEqualize,
    RandomPosterize, RandomSolarize,
};
use selfsup_core::{ImageF32, ImageU8, SampleKey, Transform};
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/uint8/cases.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn image(shape: &Value, data: &Value) -> ImageU8 {
    let s: Vec<usize> = shape
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let d: Vec<u8> = data
        .as_array()
        .unwrap()
        .iter()
        .map(|v| u8::try_from(v.as_u64().unwrap()).unwrap())
        .collect();
    ImageU8::new(s[0], s[1], s[2], d).unwrap()
}

#[test]
fn uint8_kernels_match_torchvision_exactly() {
    let meta = fixtures();
    let cases = meta["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 60);
    let mut differing_from_float = 0;
    for c in cases {
        let inp = &meta["inputs"][c["input"].as_str().unwrap()];
        let x = image(&inp["shape"], &inp["data"]);
        let want = image(&c["shape"], &c["output"]);
        let arg = |k: &str| c["args"][k].as_u64().unwrap() as u8;
        let got = match c["op"].as_str().unwrap() {
            "posterize" => posterize_u8(x.clone(), arg("bits")),
            "solarize" => solarize_u8(x.clone(), arg("threshold")),
            "invert" => invert_u8(x.clone()),
            "autocontrast" => autocontrast_u8(x.clone()),
            "equalize" => equalize_u8(x.clone()),
            op => panic!("unknown op {op}"),
        };
        assert_eq!(got, want, "{}", c["name"]);
        if c["op"] == "posterize" {
            let bits = arg("bits");
            let float = selfsup_augment::image::posterize(x.to_f32(), bits);
            differing_from_float += usize::from(float != want.to_f32());
        }
    }
    // The reason for the uint8 path: torchvision's uint8 posterize is not the float formula.
    assert!(differing_from_float >= 4, "{differing_from_float}");
}

#[test]
fn random_wrappers_on_uint8_draw_as_on_float_and_apply_the_uint8_kernel() {
    let x = image(
        &serde_json::json!([3, 2, 4]),
        &serde_json::json!((0..24).map(|i| i * 11).collect::<Vec<u32>>()),
    );
    let post = RandomPosterize::new(2, 1.0).unwrap();
    let sol = RandomSolarize::new(0.5, 1.0).unwrap();
    let eq = RandomEqualize::new(1.0).unwrap();
    let key = SampleKey::new(3, 1, 4);
    assert_eq!(
        post.apply(x.clone(), &mut key.rng()).unwrap(),
        posterize_u8(x.clone(), 2)
    );
    // 0.5 on the float scale is 127.5: 128 and above are inverted, 127 is not.
    assert_eq!(
        sol.apply(x.clone(), &mut key.rng()).unwrap(),
        solarize_u8(x.clone(), 128)
    );
    assert_eq!(
        eq.apply(x.clone(), &mut key.rng()).unwrap(),
        equalize_u8(x.clone())
    );
    // p = 0.5: the same keys decide on uint8 and on float images.
    let half = RandomPosterize::new(2, 0.5).unwrap();
    let xf: ImageF32 = x.to_f32();
    let mut applied = 0;
    for i in 0..64 {
        let k = SampleKey::new(0, 0, i);
        let on_u8 = half.apply(x.clone(), &mut k.rng()).unwrap() != x;
        let on_f32 = half.apply(xf.clone(), &mut k.rng()).unwrap() != xf;
        assert_eq!(on_u8, on_f32, "key {i}");
        applied += usize::from(on_u8);
    }
    assert!((16..=48).contains(&applied), "{applied} of 64");
}
