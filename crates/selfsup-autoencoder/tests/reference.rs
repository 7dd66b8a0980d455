//! The MAE and VAE building blocks against `scripts/fixtures/autoencoder_fixtures.py` (the reference
//! formulas of facebookresearch/mae and pytorch/examples' VAE), within 1e-5.

use selfsup_autoencoder::mae::{
    len_keep, masked_mse, patchify, random_masking, sincos_pos_embed_2d, unpatchify,
};
use selfsup_autoencoder::vae::gaussian_kl;
use selfsup_autoencoder::ReconLoss;
use serde_json::Value;
use tch::{Kind, Tensor};

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/autoencoder.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture file")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn tensor(v: &Value, shape: &[i64]) -> Tensor {
    Tensor::from_slice(&floats(v)).reshape(shape)
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

#[test]
fn patchify_matches_mae_and_unpatchify_inverts_it() {
    let f = fixture();
    for key in ["patchify", "patchify_rect"] {
        let c = &f[key];
        let shape = ints(&c["shape"]);
        let patch = ints(&c["patch"]);
        let imgs = tensor(&c["imgs"], &shape);
        let x = patchify(&imgs, (patch[0], patch[1])).unwrap();
        assert_eq!(x.size(), ints(&c["patches_shape"]), "{key} shape");
        assert_close(&values(&x), &floats(&c["patches"]), 0.0, key);
        let grid = (shape[2] / patch[0], shape[3] / patch[1]);
        let back = unpatchify(&x, (patch[0], patch[1]), grid, shape[1]).unwrap();
        assert_close(&values(&back), &floats(&c["imgs"]), 0.0, "unpatchify");
    }
}

#[test]
fn random_masking_matches_mae_given_the_noise() {
    let f = fixture();
    for c in f["random_masking"].as_array().unwrap() {
        let (n, l, d) = (
            c["n"].as_i64().unwrap(),
            c["l"].as_i64().unwrap(),
            c["d"].as_i64().unwrap(),
        );
        let ratio = c["mask_ratio"].as_f64().unwrap();
        assert_eq!(len_keep(l, ratio), c["len_keep"].as_i64().unwrap());
        for kind in [Kind::Double, Kind::Float] {
            let tokens = tensor(&c["tokens"], &[n, l, d]).to_kind(kind);
            let noise = tensor(&c["noise"], &[n, l]).to_kind(kind);
            let (xm, mask, ids) = random_masking(&tokens, ratio, &noise);
            assert_close(&values(&xm), &floats(&c["x_masked"]), 1e-6, "x_masked");
            assert_close(&values(&mask), &floats(&c["mask"]), 0.0, "mask");
            let ids: Vec<i64> = Vec::try_from(ids.flatten(0, -1)).unwrap();
            assert_eq!(ids, ints(&c["ids_restore"]), "ids_restore");
        }
    }
}

#[test]
fn sincos_table_matches_mae_pos_embed() {
    let f = fixture();
    for c in f["sincos"].as_array().unwrap() {
        let t = sincos_pos_embed_2d(
            c["dim"].as_u64().unwrap() as usize,
            c["rows"].as_u64().unwrap() as usize,
            c["cols"].as_u64().unwrap() as usize,
            c["cls_token"].as_bool().unwrap(),
        );
        assert_close(&t, &floats(&c["table"]), 1e-12, "sincos");
    }
}

#[test]
fn masked_loss_matches_mae_forward_loss() {
    let f = fixture();
    for c in f["masked_loss"].as_array().unwrap() {
        let shape = ints(&c["shape"]);
        let norm = c["norm_pix_loss"].as_bool().unwrap();
        for (kind, key, tol) in [
            (Kind::Double, "loss_f64", 1e-12),
            (Kind::Float, "loss_f32", 1e-5),
        ] {
            let target = tensor(&c["target"], &shape).to_kind(kind);
            let pred = tensor(&c["pred"], &shape).to_kind(kind);
            let mask = tensor(&c["mask"], &shape[..2]).to_kind(kind);
            let got = masked_mse(&target, &pred, &mask, norm).double_value(&[]);
            let want = c[key].as_f64().unwrap();
            assert!(
                (got - want).abs() <= tol * (1.0 + want.abs()),
                "norm_pix_loss={norm} {key}: got {got}, want {want}"
            );
        }
    }
}

#[test]
fn vae_loss_matches_pytorch_examples() {
    let f = fixture();
    let c = &f["vae"];
    let (n, d, k) = (
        c["n"].as_i64().unwrap(),
        c["dim"].as_i64().unwrap(),
        c["latent"].as_i64().unwrap(),
    );
    for (kind, tol) in [(Kind::Double, 1e-12), (Kind::Float, 1e-5)] {
        let logits = tensor(&c["logits"], &[n, d]).to_kind(kind);
        let target = tensor(&c["target"], &[n, d]).to_kind(kind);
        let mu = tensor(&c["mu"], &[n, k]).to_kind(kind);
        let logvar = tensor(&c["logvar"], &[n, k]).to_kind(kind);
        let check = |got: f64, key: &str| {
            let want = c[key].as_f64().unwrap();
            assert!(
                (got - want).abs() <= tol * (1.0 + want.abs()),
                "{key} ({kind:?}): got {got}, want {want}"
            );
        };
        check(
            ReconLoss::Bce
                .sum_per_sample(&logits, &target)
                .double_value(&[]),
            "bce_per_sample",
        );
        check(
            ReconLoss::Bce
                .sum_per_sample(&logits, &target)
                .double_value(&[]),
            "bce_logits_per_sample",
        );
        check(
            ReconLoss::Mse
                .sum_per_sample(&logits, &target)
                .double_value(&[]),
            "mse_per_sample",
        );
        check(gaussian_kl(&mu, &logvar).double_value(&[]), "kl_per_sample");
    }
}
