//! Parity with torchvision.transforms.v2 (float path): every case in
//! `tests/fixtures/image/cases.json` was produced by `scripts/fixtures/image_fixtures.py` running the
//! real torchvision functional op on a fixed image with fixed parameters; here the same parameters go
//! through our implementation and the outputs must agree to 1e-5.
#![cfg(feature = "image")]

use selfsup_augment::image::{
    self, color, geometry::PaddingMode, policies, warp, ColorJitter, ColorJitterParams,
    Interpolation, Normalize,
};
use selfsup_core::ImageF32;
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> (Value, Vec<f32>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/image");
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join("data.f32")).unwrap();
    let data = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (meta, data)
}

fn image_at(data: &[f32], shape: &Value, offset: &Value) -> ImageF32 {
    let s: Vec<usize> = shape
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let o = offset.as_u64().unwrap() as usize;
    let n = s.iter().product::<usize>();
    ImageF32::new(s[0], s[1], s[2], data[o..o + n].to_vec()).unwrap()
}

fn f(v: &Value) -> f32 {
    v.as_f64().unwrap() as f32
}
fn u(v: &Value) -> usize {
    v.as_u64().unwrap() as usize
}
fn pair(v: &Value) -> (usize, usize) {
    (u(&v[0]), u(&v[1]))
}

fn run(op: &str, a: &Value, x: ImageF32) -> ImageF32 {
    match op {
        "resize" => {
            let mode = match a["mode"].as_str().unwrap() {
                "nearest" => Interpolation::Nearest,
                "bilinear" => Interpolation::Bilinear,
                _ => Interpolation::Bicubic,
            };
            image::resize(
                &x,
                pair(&a["size"]),
                mode,
                a["antialias"].as_bool().unwrap(),
            )
            .unwrap()
        }
        "resized_crop" => image::resize_region(
            &x,
            (u(&a["top"]), u(&a["left"]), u(&a["height"]), u(&a["width"])),
            pair(&a["size"]),
            Interpolation::Bilinear,
            true,
        )
        .unwrap(),
        "center_crop" => image::center_crop(&x, pair(&a["size"])).unwrap(),
        "pad_crop" => {
            let mode = match a["mode"].as_str().unwrap() {
                "constant" => PaddingMode::Constant,
                "edge" => PaddingMode::Edge,
                "reflect" => PaddingMode::Reflect,
                _ => PaddingMode::Symmetric,
            };
            image::crop_padded(
                &x,
                a["top"].as_i64().unwrap(),
                a["left"].as_i64().unwrap(),
                u(&a["height"]),
                u(&a["width"]),
                mode,
                f(&a["fill"]),
            )
            .unwrap()
        }
        "hflip" => image::hflip(x),
        "vflip" => image::vflip(x),
        "brightness" => image::adjust_brightness(x, f(&a["factor"])),
        "contrast" => image::adjust_contrast(x, f(&a["factor"])),
        "saturation" => image::adjust_saturation(x, f(&a["factor"])),
        "hue" => image::adjust_hue(x, f(&a["factor"])),
        "color_jitter" => {
            let order: Vec<u8> = a["order"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u8)
                .collect();
            let p = ColorJitterParams {
                order: [order[0], order[1], order[2], order[3]],
                brightness: Some(f(&a["brightness"])),
                contrast: Some(f(&a["contrast"])),
                saturation: Some(f(&a["saturation"])),
                hue: Some(f(&a["hue"])),
            };
            ColorJitter::apply_params(x, &p)
        }
        "grayscale" => color::to_grayscale_keep_channels(x),
        "gaussian_blur" => image::gaussian_blur(
            &x,
            pair(&a["kernel_size"]),
            (f(&a["sigma"][0]), f(&a["sigma"][1])),
        ),
        "solarize" => image::solarize(x, f(&a["threshold"])),
        "posterize" => image::posterize(x, u(&a["bits"]) as u8),
        "equalize" => image::equalize(x),
        "autocontrast" => image::autocontrast(x),
        "sharpness" => image::adjust_sharpness(x, f(&a["factor"])),
        "normalize" => {
            let v = |k: &str| a[k].as_array().unwrap().iter().map(f).collect::<Vec<f32>>();
            Normalize::new(v("mean"), v("std"))
                .unwrap()
                .normalize(x)
                .unwrap()
        }
        "rotate" | "affine" | "perspective" | "elastic" => {
            let mode = match a["mode"].as_str().unwrap() {
                "nearest" => Interpolation::Nearest,
                _ => Interpolation::Bilinear,
            };
            let fill: Vec<f32> = a["fill"].as_array().unwrap().iter().map(f).collect();
            let fl = |k: &str| a[k].as_f64().unwrap();
            match op {
                "rotate" => warp::rotate(&x, fl("angle"), mode, Some(&fill)).unwrap(),
                "elastic" => {
                    let d: Vec<f32> = a["displacement"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(f)
                        .collect();
                    warp::elastic(&x, &d, mode, Some(&fill)).unwrap()
                }
                "affine" => warp::affine(
                    &x,
                    fl("angle"),
                    (
                        a["translate"][0].as_f64().unwrap(),
                        a["translate"][1].as_f64().unwrap(),
                    ),
                    fl("scale"),
                    (
                        a["shear"][0].as_f64().unwrap(),
                        a["shear"][1].as_f64().unwrap(),
                    ),
                    mode,
                    Some(&fill),
                )
                .unwrap(),
                _ => {
                    let pt = |k: &str, i: usize| {
                        (a[k][i][0].as_f64().unwrap(), a[k][i][1].as_f64().unwrap())
                    };
                    let start = [
                        pt("start", 0),
                        pt("start", 1),
                        pt("start", 2),
                        pt("start", 3),
                    ];
                    let end = [pt("end", 0), pt("end", 1), pt("end", 2), pt("end", 3)];
                    let c = warp::perspective_coeffs(&start, &end).unwrap();
                    for (i, (ours, theirs)) in
                        c.iter().zip(a["coeffs"].as_array().unwrap()).enumerate()
                    {
                        let t = theirs.as_f64().unwrap() as f32;
                        assert!(
                            (ours - t).abs() <= 1e-6 * t.abs().max(1.0),
                            "coeff {i}: {ours} vs {t}"
                        );
                    }
                    warp::perspective(&x, &c, mode, Some(&fill)).unwrap()
                }
            }
        }
        "policy_op" => {
            let op = policies::op_from_name(a["op"].as_str().unwrap()).unwrap();
            let (h, w) = (x.height(), x.width());
            for (key, wide) in [("rand", false), ("wide", true)] {
                for bin in 0..31 {
                    let (ours, signed) = policies::magnitude_bin(op, 31, bin, h, w, wide);
                    let theirs = a[key].as_array().map(|t| t[bin].as_f64().unwrap());
                    match (ours, theirs) {
                        (None, None) => {}
                        (Some(o), Some(t)) => {
                            assert!((o - t).abs() < 1e-5, "{op:?} {key} bin {bin}: {o} vs {t}")
                        }
                        other => panic!("{op:?} {key}: {other:?}"),
                    }
                    if theirs.is_some() {
                        assert_eq!(
                            signed,
                            a[format!("{key}_signed")].as_bool().unwrap(),
                            "{op:?} {key}"
                        );
                    }
                }
            }
            policies::apply_op(x, op, a["magnitude"].as_f64().unwrap()).unwrap()
        }
        "rot90" => warp::rot90(&x, u(&a["k"]) as u8),
        "subpixel_crop" => image::resized_crop_subpixel(
            &x,
            &image::SubpixelBox {
                top: a["top"].as_f64().unwrap(),
                left: a["left"].as_f64().unwrap(),
                height: a["height"].as_f64().unwrap(),
                width: a["width"].as_f64().unwrap(),
            },
            pair(&a["size"]),
        )
        .unwrap(),
        "contrast_brightness" => image::adjust_contrast_brightness(
            x,
            f(&a["contrast"]),
            f(&a["brightness"]),
            a["clip"].as_bool().unwrap(),
        ),
        other => panic!("fixture op {other} has no replay"),
    }
}

#[test]
fn every_torchvision_case_matches_to_1e5() {
    let (meta, data) = fixtures();
    let inputs = &meta["inputs"];
    let mut failures = Vec::new();
    let cases = meta["cases"].as_array().unwrap();
    assert!(cases.len() > 150, "fixture file looks truncated");
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let inp = &inputs[c["input"].as_str().unwrap()];
        let x = image_at(&data, &inp["shape"], &inp["offset"]);
        let expect = image_at(&data, &c["shape"], &c["offset"]);
        let got = run(c["op"].as_str().unwrap(), &c["args"], x);
        if got.dims() != expect.dims() {
            failures.push(format!(
                "{name}: shape {:?} vs torchvision {:?}",
                got.dims(),
                expect.dims()
            ));
            continue;
        }
        let (worst, at) = got
            .data()
            .iter()
            .zip(expect.data())
            .enumerate()
            .map(|(i, (a, b))| ((a - b).abs(), i))
            .fold((0.0f32, 0), |m, v| if v.0 > m.0 { v } else { m });
        if worst > 1e-5 || got.data().iter().any(|v| !v.is_finite()) {
            failures.push(format!(
                "{name}: max |diff| {worst:e} at {at} (ours {}, torchvision {})",
                got.data()[at],
                expect.data()[at]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
