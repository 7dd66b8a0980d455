//! Model-level checks: MAE masking counts and no leak of visible patches into the loss, the VAE's KL
//! against a Monte-Carlo estimate and its reproducible sampling, sparse penalties' gradients against
//! finite differences of independent float64 formulas, config errors before anything is built, and
//! the reconstruction loss of every kind falling on the vendored MNIST subset in a few dozen steps.

use selfsup_autoencoder::mae::{patchify, Mae};
use selfsup_autoencoder::sparse::{kl_sparsity_of_codes, l1_penalty};
use selfsup_autoencoder::vae::{gaussian_kl, Vae};
use selfsup_autoencoder::*;
use selfsup_core::{Sample, SampleKey};
use selfsup_data::{Dataset, MnistCsv};
use selfsup_nn::backbones::{ConvNetConfig, VitConfig};
use selfsup_nn::{BackboneConfig, Batch, Method, MlpConfig, StepInfo};
use tch::nn::{OptimizerConfig, VarStore};
use tch::{nn, Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

fn info(step: u64) -> StepInfo {
    StepInfo {
        step,
        total_steps: 100,
        epoch: 0,
        total_epochs: 1,
    }
}

fn batch(views: Vec<Tensor>) -> Batch {
    Batch {
        views,
        labels: None,
        targets: None,
        indices: None,
    }
}

fn mnist() -> MnistCsv {
    MnistCsv::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/mnist5k/mnist_5k.csv.gz"
    ))
    .expect("vendored MNIST subset")
}

fn image_tensor(s: &Sample) -> Tensor {
    let img = match s {
        Sample::Image(f) => f.clone(),
        Sample::ImageU8(u) => u.to_f32(),
        _ => panic!("not an image"),
    };
    let (c, h, w) = img.dims();
    Tensor::from_slice(img.data()).reshape([c as i64, h as i64, w as i64])
}

/// Dataset index of the `i`-th sample the tests use: a stride through the CSV, which is sorted by
/// digit, so that every class appears.
fn spread(i: usize) -> usize {
    (i * 9 + 4) % 5000
}

/// `n` MNIST images (`n×1×28×28` in `[0, 1]`).
fn mnist_images(n: usize) -> Tensor {
    let ds = mnist();
    let xs: Vec<Tensor> = (0..n)
        .map(|i| image_tensor(&ds.get(spread(i)).unwrap().sample))
        .collect();
    Tensor::stack(&xs, 0)
}

fn mlp(input: i64, hidden: Vec<i64>, out: i64) -> BackboneConfig {
    BackboneConfig::Mlp(MlpConfig {
        input_dim: input,
        hidden,
        output_dim: out,
        batch_norm: false,
    })
}

fn tiny_mae() -> MaeConfig {
    MaeConfig {
        embed_dim: 32,
        depth: 2,
        num_heads: 2,
        decoder_embed_dim: 32,
        decoder_depth: 1,
        decoder_num_heads: 2,
        ..Default::default()
    }
}

fn field_of(e: &selfsup_nn::Error) -> String {
    match e {
        selfsup_nn::Error::Core(selfsup_core::Error::InvalidConfig { field, .. }) => field.clone(),
        other => panic!("expected a config error, got {other}"),
    }
}

// ------------------------------------------------------------------------------------------- MAE

#[test]
fn mae_masks_exactly_l_minus_len_keep_per_sample() {
    tch::manual_seed(0);
    for (ratio, shape, patch) in [
        (0.75, vec![1i64, 28, 28], 4i64),
        (0.8, vec![40, 48], 8),
        (0.6, vec![3, 16, 16], 4),
    ] {
        let cfg = MaeConfig {
            mask_ratio: ratio,
            patch_size: patch,
            ..tiny_mae()
        };
        let m = Mae::new(VarStore::new(CPU), &cfg, &BackboneConfig::default(), &shape).unwrap();
        let l = m.geometry().num_patches();
        let keep = (l as f64 * (1.0 - ratio)) as i64;
        let mut s = vec![5i64];
        s.extend(&shape);
        let out = m
            .forward(&Tensor::rand(s, (Kind::Float, CPU)), true)
            .unwrap();
        let per_sample: Vec<f64> =
            Vec::try_from(out.mask.sum_dim_intlist(1, false, Kind::Double)).unwrap();
        assert!(
            per_sample.iter().all(|&c| c == (l - keep) as f64),
            "ratio {ratio}, L {l}: masked counts {per_sample:?}, want {}",
            l - keep
        );
        // different samples get different masks
        assert!(
            out.mask
                .get(0)
                .not_equal_tensor(&out.mask.get(1))
                .any()
                .to_kind(Kind::Int64)
                .int64_value(&[])
                == 1
        );
    }
}

#[test]
fn unpatchify_of_patchify_is_the_identity() {
    let x = Tensor::rand([3, 2, 12, 20], (Kind::Float, CPU));
    for patch in [(4, 4), (3, 5), (12, 2), (1, 1)] {
        let p = patchify(&x, patch).unwrap();
        let back = selfsup_autoencoder::mae::unpatchify(&p, patch, (12 / patch.0, 20 / patch.1), 2)
            .unwrap();
        assert!(back.equal(&x), "patch {patch:?}");
    }
    assert!(patchify(&x, (5, 4)).is_err());
}

/// The loss the model reports equals the mean squared error over the *removed* patches computed here
/// in float64 from the model's own prediction; the mean over all patches (which would include the
/// visible ones) is different, so a leak would be caught.
#[test]
fn mae_loss_counts_removed_patches_only() {
    tch::manual_seed(1);
    for norm in [false, true] {
        let cfg = MaeConfig {
            norm_pix_loss: norm,
            ..tiny_mae()
        };
        let m = Mae::new(
            VarStore::new(CPU),
            &cfg,
            &BackboneConfig::default(),
            &[1, 28, 28],
        )
        .unwrap();
        let x = mnist_images(4);
        let noise = Tensor::rand([4, 49], (Kind::Float, CPU));
        let out = m.forward_with_noise(&x, &noise, true).unwrap();
        let target = patchify(&x, (4, 4)).unwrap().to_kind(Kind::Double);
        let pred = out.pred.detach().to_kind(Kind::Double);
        let mask: Vec<f64> = Vec::try_from(out.mask.flatten(0, -1).to_kind(Kind::Double)).unwrap();
        let t: Vec<f64> = Vec::try_from(target.flatten(0, -1)).unwrap();
        let p: Vec<f64> = Vec::try_from(pred.flatten(0, -1)).unwrap();
        let (mut removed, mut n_removed, mut all) = (0.0, 0.0, 0.0);
        for patch in 0..(4 * 49) {
            let tv = &t[patch * 16..(patch + 1) * 16];
            let tv: Vec<f64> = if norm {
                let mean = tv.iter().sum::<f64>() / 16.0;
                let var = tv.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 15.0;
                tv.iter()
                    .map(|v| (v - mean) / (var + 1e-6).sqrt())
                    .collect()
            } else {
                tv.to_vec()
            };
            let e = (0..16)
                .map(|j| (p[patch * 16 + j] - tv[j]).powi(2))
                .sum::<f64>()
                / 16.0;
            all += e;
            if mask[patch] == 1.0 {
                removed += e;
                n_removed += 1.0;
            }
        }
        // the noise decides the mask: the 12 lowest-noise patches of each sample are visible
        let nz: Vec<f64> = Vec::try_from(noise.flatten(0, -1).to_kind(Kind::Double)).unwrap();
        for s in 0..4 {
            let row = &nz[s * 49..(s + 1) * 49];
            let mut order: Vec<usize> = (0..49).collect();
            order.sort_by(|&a, &b| row[a].partial_cmp(&row[b]).unwrap());
            for (rank, &i) in order.iter().enumerate() {
                assert_eq!(mask[s * 49 + i], if rank < 12 { 0.0 } else { 1.0 });
            }
        }
        let want = removed / n_removed;
        let got = out.loss.double_value(&[]);
        assert!(
            (got - want).abs() < 1e-5 * (1.0 + want),
            "norm {norm}: {got} vs {want}"
        );
        let mean_all = all / (4.0 * 49.0);
        assert!((mean_all - want).abs() > 1e-4, "test would not see a leak");
        // pixels of visible patches do reach the loss through the encoder, but the loss's gradient
        // w.r.t. the predictions of visible patches is exactly zero
        let pred_leaf = out.pred.detach().set_requires_grad(true);
        let tgt = patchify(&x, (4, 4)).unwrap();
        let l = selfsup_autoencoder::mae::masked_mse(&tgt, &pred_leaf, &out.mask, norm);
        l.backward();
        let g = pred_leaf
            .grad()
            .abs()
            .sum_dim_intlist(-1, false, Kind::Float);
        let visible_grad = (&g * (-&out.mask + 1.0)).sum(Kind::Float).double_value(&[]);
        let removed_grad = (&g * &out.mask).sum(Kind::Float).double_value(&[]);
        assert_eq!(visible_grad, 0.0);
        assert!(removed_grad > 0.0);
    }
}

#[test]
fn mae_geometry_errors_name_the_field() {
    let bb = BackboneConfig::default();
    let e = |cfg: MaeConfig, b: &BackboneConfig, shape: &[i64]| {
        let r = AutoencoderConfig::Mae(cfg).build_in(VarStore::new(CPU), b, shape);
        field_of(&r.err().expect("must fail"))
    };
    assert_eq!(
        e(
            MaeConfig {
                patch_size: 5,
                ..tiny_mae()
            },
            &bb,
            &[1, 28, 28]
        ),
        "method.patch_size"
    );
    assert_eq!(
        e(
            MaeConfig {
                patch_width: Some(7),
                ..MaeConfig::audio(8, 8)
            },
            &bb,
            &[40, 48]
        ),
        "method.patch_width"
    );
    assert_eq!(
        e(
            MaeConfig {
                mask_ratio: 1.0,
                ..tiny_mae()
            },
            &bb,
            &[1, 28, 28]
        ),
        "method.mask_ratio"
    );
    assert_eq!(
        e(
            MaeConfig {
                embed_dim: 30,
                num_heads: 3,
                ..tiny_mae()
            },
            &bb,
            &[1, 28, 28]
        ),
        "method.embed_dim"
    );
    let vit = BackboneConfig::Vit(VitConfig {
        dim: 32,
        depth: 1,
        heads: 2,
        ..VitConfig::tiny(32, 4)
    });
    assert_eq!(e(tiny_mae(), &vit, &[1, 28, 28]), "backbone.image_size");
    assert_eq!(e(tiny_mae(), &bb, &[784]), "method.kind");
    // a vit backbone of the right size is used as the encoder
    let vit28 = BackboneConfig::Vit(VitConfig {
        dim: 32,
        depth: 1,
        heads: 2,
        ..VitConfig::tiny(28, 7)
    });
    let m = AutoencoderConfig::Mae(tiny_mae())
        .build_in(VarStore::new(CPU), &vit28, &[1, 28, 28])
        .unwrap();
    assert_eq!(m.embed_dim(), 32);
    assert_eq!(
        m.embed(&Tensor::rand([2, 1, 28, 28], (Kind::Float, CPU)))
            .unwrap()
            .size(),
        [2, 32]
    );
}

#[test]
fn mae_cls_mean_pool_is_the_class_token_then_the_mean_patch_token() {
    let x = Tensor::rand([3, 1, 28, 28], (Kind::Float, CPU));
    let embed = |pool: Pool| {
        // the same weights for every pool: the initialisation draws from libtorch's generator
        tch::manual_seed(7);
        let m = AutoencoderConfig::Mae(MaeConfig { pool, ..tiny_mae() })
            .build_in(VarStore::new(CPU), &BackboneConfig::default(), &[1, 28, 28])
            .unwrap();
        (m.embed_dim(), m.embed(&x).unwrap())
    };
    let (dc, cls) = embed(Pool::Cls);
    let (dm, mean) = embed(Pool::Mean);
    let (d2, both) = embed(Pool::ClsMean);
    assert_eq!((dc, dm, d2), (32, 32, 64));
    assert_eq!(both.size(), [3, 64]);
    assert!(cls.allclose(&both.narrow(1, 0, 32), 0.0, 0.0, false));
    assert!(mean.allclose(&both.narrow(1, 32, 32), 0.0, 0.0, false));
    assert!(
        !cls.allclose(&mean, 1e-3, 1e-3, false),
        "cls and mean differ"
    );
    let cfg: MaeConfig = serde_json::from_str(r#"{"pool": "cls_mean"}"#).unwrap();
    assert_eq!(cfg.pool, Pool::ClsMean);
}

// ------------------------------------------------------------------------------------------- VAE

#[test]
fn vae_kl_equals_closed_form_and_monte_carlo() {
    let mu = Tensor::from_slice(&[0.3f64, -1.2, 0.0, 2.0]).reshape([2, 2]);
    let logvar = Tensor::from_slice(&[0.0f64, -0.7, 0.9, 0.2]).reshape([2, 2]);
    let got = gaussian_kl(&mu, &logvar).double_value(&[]);
    // closed form per dimension: ½(σ² + μ² − 1 − ln σ²), summed, averaged over the 2 samples
    let m = [0.3f64, -1.2, 0.0, 2.0];
    let lv = [0.0f64, -0.7, 0.9, 0.2];
    let closed: f64 = m
        .iter()
        .zip(&lv)
        .map(|(&m, &l)| 0.5 * (l.exp() + m * m - 1.0 - l))
        .sum::<f64>()
        / 2.0;
    assert!((got - closed).abs() < 1e-12, "{got} vs {closed}");
    // Monte Carlo: E_q[log q(z) − log p(z)] with 400k draws per dimension
    tch::manual_seed(3);
    let eps = Tensor::randn([400_000, 4], (Kind::Double, CPU));
    let mu_f = mu.reshape([1, 4]);
    let sd = (logvar.reshape([1, 4]) * 0.5).exp();
    let z = &mu_f + &eps * &sd;
    let log_q = -(&eps * &eps) * 0.5 - sd.log();
    let log_p = -(&z * &z) * 0.5;
    let mc = (log_q - log_p)
        .mean_dim(0, false, Kind::Double)
        .sum(Kind::Double)
        .double_value(&[])
        / 2.0;
    assert!((mc - closed).abs() < 0.02, "Monte Carlo {mc} vs {closed}");
}

#[test]
fn vae_sampling_is_reproducible_by_seed_and_interpolation_has_both_ends() {
    tch::manual_seed(0);
    let vae = Vae::new(
        VarStore::new(CPU),
        &VaeConfig {
            latent_dim: 4,
            ..Default::default()
        },
        &mlp(784, vec![], 32),
        &[1, 28, 28],
    )
    .unwrap();
    tch::manual_seed(11);
    let a = vae.sample(3).unwrap();
    tch::manual_seed(11);
    let b = vae.sample(3).unwrap();
    tch::manual_seed(12);
    let c = vae.sample(3).unwrap();
    assert_eq!(a.size(), [3, 1, 28, 28]);
    assert!(a.equal(&b));
    assert!(!a.equal(&c));
    let x = mnist_images(2);
    let strip = vae.interpolate(&x.get(0), &x.get(1), 5).unwrap();
    assert_eq!(strip.size(), [5, 1, 28, 28]);
    let r0 = vae.reconstruct(&x.narrow(0, 0, 1)).unwrap();
    let r1 = vae.reconstruct(&x.narrow(0, 1, 1)).unwrap();
    assert!(strip.get(0).allclose(&r0.get(0), 1e-5, 1e-6, false));
    assert!(strip.get(4).allclose(&r1.get(0), 1e-5, 1e-6, false));
}

/// The decoder weights of a model, `name → shape`, in name order.
fn decoder_shapes(vs: &VarStore) -> Vec<(String, Vec<i64>)> {
    let mut v: Vec<(String, Vec<i64>)> = vs
        .variables()
        .into_iter()
        .filter(|(k, _)| k.starts_with("decoder.") && k.ends_with(".weight"))
        .map(|(k, t)| (k, t.size()))
        .collect();
    v.sort();
    v
}

#[test]
fn vae_mlp_decoder_mirrors_the_encoder_up_to_the_latent_heads() {
    // The decoder's weight shapes of a VAE built from `cfg` over an MLP `784-hidden-out` backbone.
    let shapes = |cfg: &VaeConfig, hidden: Vec<i64>, out: i64| -> Vec<Vec<i64>> {
        let vae = Vae::new(
            VarStore::new(CPU),
            cfg,
            &mlp(784, hidden, out),
            &[1, 28, 28],
        )
        .unwrap();
        decoder_shapes(vae.var_store())
            .into_iter()
            .map(|(_, s)| s)
            .collect()
    };
    // pytorch/examples' VAE: fc1 784-400 (the backbone), fc21/fc22 400-20, fc3 20-400, fc4 400-784.
    assert_eq!(
        shapes(&VaeConfig::default(), vec![], 400),
        [vec![400, 20], vec![784, 400]]
    );
    // deeper encoders: 784-256-128 → 8 gives 8-128-256-784
    let deep = VaeConfig {
        latent_dim: 8,
        ..Default::default()
    };
    assert_eq!(
        shapes(&deep, vec![256], 128),
        [vec![128, 8], vec![256, 128], vec![784, 256]]
    );
    // given widths are kept as they are
    let given = VaeConfig {
        decoder: DecoderConfig {
            kind: DecoderKind::Mlp,
            widths: vec![64],
        },
        ..Default::default()
    };
    assert_eq!(shapes(&given, vec![], 400), [vec![64, 20], vec![784, 64]]);
}

#[test]
fn vae_on_another_shape_is_a_config_error() {
    let cfg = AutoencoderConfig::Vae(VaeConfig::default());
    let e = cfg
        .build_in(VarStore::new(CPU), &mlp(784, vec![], 64), &[3, 32, 32])
        .err()
        .unwrap();
    assert_eq!(field_of(&e), "backbone.input_dim");
    // and a batch of another shape is a shape error, never a libtorch panic
    let mut m = cfg
        .build_in(VarStore::new(CPU), &mlp(784, vec![], 64), &[1, 28, 28])
        .unwrap();
    let r = m.step(
        &batch(vec![Tensor::rand([2, 3, 32, 32], (Kind::Float, CPU))]),
        &info(0),
    );
    assert!(matches!(
        r,
        Err(selfsup_nn::Error::Core(selfsup_core::Error::Shape(_)))
    ));
}

// ------------------------------------------------------------------------------------ sparse AE

fn data(rows: usize, cols: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..rows * cols)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            lo + (hi - lo) * ((z >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// Σⱼ KL(ρ ‖ meanₙ zₙⱼ) in plain float64.
fn kl_ref(z: &[f64], n: usize, k: usize, rho: f64) -> f64 {
    (0..k)
        .map(|j| {
            let r = (0..n).map(|i| z[i * k + j]).sum::<f64>() / n as f64;
            rho * (rho / r).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - r)).ln()
        })
        .sum()
}

fn l1_ref(z: &[f64], n: usize) -> f64 {
    z.iter().map(|v| v.abs()).sum::<f64>() / n as f64
}

fn check_grad(
    f_t: impl Fn(&Tensor) -> Tensor,
    f_ref: impl Fn(&[f64]) -> f64,
    z: Vec<f64>,
    n: usize,
) {
    let k = z.len() / n;
    let zt = Tensor::from_slice(&z)
        .reshape([n as i64, k as i64])
        .set_requires_grad(true);
    let v = f_t(&zt);
    assert!((v.double_value(&[]) - f_ref(&z)).abs() < 1e-10, "value");
    v.backward();
    let g: Vec<f64> = Vec::try_from(zt.grad().flatten(0, -1)).unwrap();
    let h = 1e-6;
    for i in 0..z.len() {
        let (mut zp, mut zm) = (z.clone(), z.clone());
        zp[i] += h;
        zm[i] -= h;
        let fd = (f_ref(&zp) - f_ref(&zm)) / (2.0 * h);
        assert!(
            (g[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
            "grad[{i}]: {} vs {fd}",
            g[i]
        );
    }
}

#[test]
fn sparse_penalty_gradients_match_finite_differences() {
    let (n, k) = (5, 4);
    let rho = 0.05;
    check_grad(
        |z| kl_sparsity_of_codes(z, rho),
        |z| kl_ref(z, n, k, rho),
        data(n, k, 1, 0.02, 0.9),
        n,
    );
    let l1_data: Vec<f64> = data(n, k, 2, -1.0, 1.0)
        .into_iter()
        .map(|v| if v.abs() < 0.05 { v + 0.2 } else { v })
        .collect();
    check_grad(l1_penalty, |z| l1_ref(z, n), l1_data, n);
}

// --------------------------------------------------------------------------------------- config

#[test]
fn config_kinds_round_trip_and_validate_names_fields() {
    for &k in AutoencoderConfig::KINDS {
        let cfg = AutoencoderConfig::from_kind(k).unwrap();
        assert_eq!(cfg.name(), k);
        cfg.validate().unwrap();
        let json = serde_json::to_string(&cfg).unwrap();
        let back: AutoencoderConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cfg);
    }
    assert!(AutoencoderConfig::from_kind("simclr").is_none());
    let cfg: AutoencoderConfig =
        serde_json::from_str(r#"{"kind": "sparse_ae", "penalty": "l1", "l1_weight": 0.01}"#)
            .unwrap();
    assert!(matches!(
        cfg,
        AutoencoderConfig::SparseAe(SparseAeConfig {
            penalty: SparsityPenalty::L1,
            ..
        })
    ));
    let cfg: AutoencoderConfig = serde_json::from_str(
        r#"{"kind": "dae", "corruption": {"kind": "salt_and_pepper", "amount": 0.1, "salt_vs_pepper": 0.5}}"#,
    )
    .unwrap();
    assert_eq!(cfg.min_views(), 2);
    assert!(
        serde_json::from_str::<AutoencoderConfig>(r#"{"kind": "vae", "latnet_dim": 3}"#).is_err()
    );
    let bad = |json: &str| match AutoencoderConfig::validate(&serde_json::from_str(json).unwrap()) {
        Err(selfsup_core::Error::InvalidConfig { field, .. }) => field,
        other => panic!("{json}: {other:?}"),
    };
    assert_eq!(
        bad(r#"{"kind": "vae", "latent_dim": 0}"#),
        "method.latent_dim"
    );
    assert_eq!(bad(r#"{"kind": "sparse_ae", "rho": 1.5}"#), "method.rho");
    assert_eq!(
        bad(r#"{"kind": "mae", "mask_ratio": 0.0}"#),
        "method.mask_ratio"
    );
    assert_eq!(
        bad(r#"{"kind": "dae", "corruption": {"kind": "pixel_dropout", "p": 2.0}}"#),
        "method.corruption.p"
    );
    assert_eq!(
        bad(r#"{"kind": "ae", "decoder": {"widths": [8, 0]}}"#),
        "method.decoder.widths[1]"
    );
    // conv decoder on vectors
    let e = AutoencoderConfig::Ae(AeConfig {
        decoder: DecoderConfig {
            kind: DecoderKind::Conv,
            widths: vec![],
        },
        ..Default::default()
    })
    .check_input(&mlp(10, vec![], 4), &[10]);
    assert!(
        matches!(e, Err(selfsup_core::Error::InvalidConfig { field, .. }) if field == "method.decoder.kind")
    );
}

// ------------------------------------------------------------------------------ DAE pipeline

#[test]
fn dae_pipeline_yields_keyed_corrupted_clean_pairs() {
    let ds = mnist();
    let p = view_pipeline(&AutoencoderConfig::Dae(DaeConfig::default())).unwrap();
    assert_eq!(p.n_views(), 2);
    let item = ds.get(0).unwrap();
    let key = SampleKey::new(5, 0, 0);
    let v = p.views(item.sample.clone(), key).unwrap();
    let (noisy, clean) = (image_tensor(&v[0]), image_tensor(&v[1]));
    let orig = image_tensor(&item.sample);
    assert!(clean.equal(&orig), "the clean view is the sample");
    let diff = (&noisy - &orig)
        .square()
        .mean(Kind::Float)
        .double_value(&[]);
    assert!(diff > 1e-3, "corrupted view differs");
    let again = p.views(item.sample.clone(), key).unwrap();
    assert!(
        image_tensor(&again[0]).equal(&noisy),
        "same key, same corruption"
    );
    let other = p.views(item.sample, SampleKey::new(5, 1, 0)).unwrap();
    assert!(
        !image_tensor(&other[0]).equal(&noisy),
        "another epoch, another corruption"
    );
    assert_eq!(
        view_pipeline(&AutoencoderConfig::Vae(VaeConfig::default()))
            .unwrap()
            .n_views(),
        1
    );
}

// ------------------------------------------------------------------------------ training on MNIST

/// Trains `steps` Adam steps on 512 MNIST digits of every class (batches of 64) and returns the `recon` scalar of
/// each step.
fn train(cfg: AutoencoderConfig, backbone: BackboneConfig, steps: usize, lr: f64) -> Vec<f64> {
    tch::manual_seed(0);
    let ds = mnist();
    let pipeline = view_pipeline(&cfg).unwrap();
    let n = 512;
    let views: Vec<Vec<Tensor>> = (0..n)
        .map(|i| {
            pipeline
                .views(
                    ds.get(spread(i)).unwrap().sample,
                    SampleKey::new(0, 0, spread(i) as u64),
                )
                .unwrap()
                .iter()
                .map(image_tensor)
                .collect()
        })
        .collect();
    let n_views = views[0].len();
    let stacked: Vec<Tensor> = (0..n_views)
        .map(|v| {
            Tensor::stack(
                &views
                    .iter()
                    .map(|s| s[v].shallow_clone())
                    .collect::<Vec<_>>(),
                0,
            )
        })
        .collect();
    let mut m = cfg
        .build_in(VarStore::new(CPU), &backbone, &[1, 28, 28])
        .unwrap();
    let mut opt = nn::Adam::default().build(m.var_store(), lr).unwrap();
    let mut recon = Vec::new();
    for step in 0..steps {
        let start = (step as i64 * 64) % n as i64;
        let b = batch(stacked.iter().map(|t| t.narrow(0, start, 64)).collect());
        let out = m.step(&b, &info(step as u64)).unwrap();
        opt.zero_grad();
        out.loss.backward();
        opt.step();
        let r = out
            .scalars
            .iter()
            .find(|(k, _)| k == "recon")
            .expect("recon scalar")
            .1;
        recon.push(r);
    }
    recon
}

fn falls(name: &str, r: &[f64], factor: f64) {
    let first = r[..4].iter().sum::<f64>() / 4.0;
    let last = r[r.len() - 4..].iter().sum::<f64>() / 4.0;
    assert!(
        last < factor * first,
        "{name}: recon {first:.4} → {last:.4} (want < {factor} × first)"
    );
}

#[test]
fn ae_and_sparse_ae_recon_falls_on_mnist() {
    let bb = mlp(784, vec![128], 32);
    falls(
        "ae",
        &train(
            AutoencoderConfig::Ae(AeConfig::default()),
            bb.clone(),
            40,
            2e-3,
        ),
        0.6,
    );
    let sparse = SparseAeConfig::default();
    falls(
        "sparse_ae kl",
        &train(
            AutoencoderConfig::SparseAe(sparse.clone()),
            bb.clone(),
            40,
            2e-3,
        ),
        0.7,
    );
    falls(
        "sparse_ae l1",
        &train(
            AutoencoderConfig::SparseAe(SparseAeConfig {
                penalty: SparsityPenalty::L1,
                ..sparse
            }),
            bb,
            40,
            2e-3,
        ),
        0.6,
    );
}

#[test]
fn conv_dae_recon_falls_on_mnist() {
    let bb = BackboneConfig::ConvNet(ConvNetConfig {
        widths: vec![8, 16],
        ..Default::default()
    });
    falls(
        "dae",
        &train(AutoencoderConfig::Dae(DaeConfig::default()), bb, 40, 3e-3),
        0.6,
    );
}

#[test]
fn vae_recon_falls_on_mnist() {
    let cfg = AutoencoderConfig::Vae(VaeConfig {
        latent_dim: 8,
        ..Default::default()
    });
    falls("vae", &train(cfg, mlp(784, vec![], 128), 40, 3e-3), 0.6);
}

#[test]
fn mae_recon_falls_on_mnist() {
    falls(
        "mae",
        &train(
            AutoencoderConfig::Mae(tiny_mae()),
            BackboneConfig::default(),
            40,
            2e-3,
        ),
        0.7,
    );
}

// ------------------------------------------------------------------------------ MethodSpec

#[test]
fn method_spec_builds_every_kind_for_images_and_spectrograms() {
    use selfsup_nn::{InputSpec, MethodSpec};
    let x = mnist_images(4);
    for &k in AutoencoderConfig::KINDS {
        let cfg = AutoencoderConfig::from_kind(k).unwrap();
        assert_eq!(MethodSpec::name(&cfg), k);
        let mut m = cfg
            .instantiate(
                &BackboneConfig::default(),
                &InputSpec::image(1, 28, 28),
                CPU,
                0,
            )
            .unwrap();
        let r = m
            .reconstruct(&x)
            .unwrap()
            .expect("autoencoders reconstruct");
        assert_eq!(r.size(), x.size(), "{k}");
        let views: Vec<Tensor> = (0..cfg.min_views()).map(|_| x.shallow_clone()).collect();
        let ev = m.evaluate(&batch(views)).unwrap();
        assert!(
            ev.iter().any(|(n, v)| n == "val_recon" && v.is_finite()),
            "{k}: {ev:?}"
        );
        assert_eq!(m.embed(&x).unwrap().size(), [4, m.embed_dim()], "{k}");
    }
    // log-mel spectrograms (N×F×T): the audio_cnn autoencoder and Audio-MAE on a 5×6 grid of 8×8 patches
    let spec = Tensor::randn([3, 40, 48], (Kind::Float, CPU));
    let audio_cnn = BackboneConfig::AudioCnn(ConvNetConfig {
        widths: vec![8, 16],
        ..Default::default()
    });
    let input = InputSpec {
        shape: vec![40, 48],
        vocab_size: None,
    };
    for cfg in [
        AutoencoderConfig::Ae(AeConfig::default()),
        AutoencoderConfig::Mae(MaeConfig {
            embed_dim: 32,
            depth: 1,
            num_heads: 2,
            decoder_embed_dim: 16,
            decoder_depth: 1,
            decoder_num_heads: 2,
            ..MaeConfig::audio(8, 8)
        }),
    ] {
        let mut m = cfg.instantiate(&audio_cnn, &input, CPU, 0).unwrap();
        let out = m
            .step(&batch(vec![spec.shallow_clone()]), &info(0))
            .unwrap();
        assert!(out.loss.double_value(&[]).is_finite());
        assert_eq!(m.reconstruct(&spec).unwrap().unwrap().size(), [3, 40, 48]);
    }
}
