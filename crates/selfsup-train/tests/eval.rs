//! kNN and the linear probe on tiny feature sets whose answers are worked out by hand, and fine-tuning
//! on a problem where the frozen encoder provably cannot do well.

use selfsup_train::eval::{
    finetune, knn_accuracy, knn_predict, knn_scores, linear_probe, select_weight_decay,
    FinetuneConfig, KnnConfig, LinearProbeConfig, ProbeOptimizer,
};
use selfsup_train::{OptimizerConfig, OptimizerKind};
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

fn t2(rows: &[[f32; 2]]) -> Tensor {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, 2])
}

fn labels(l: &[i64]) -> Tensor {
    Tensor::from_slice(l)
}

/// Bank: (1,0) class 0; (0.8,0.6) and (0.6,0.8) class 1 — unit vectors, so cosine similarities with
/// the query (2,0) (norm 2, normalised to (1,0)) are 1.0, 0.8 and 0.6.
fn bank() -> (Tensor, Tensor) {
    (
        t2(&[[1.0, 0.0], [0.8, 0.6], [0.6, 0.8]]),
        labels(&[0, 1, 1]),
    )
}

#[test]
fn knn_vote_weights_are_exp_of_similarity_over_temperature() {
    let (b, bl) = bank();
    let q = t2(&[[2.0, 0.0]]);
    // T = 1, k = 3: class 0 gets e^1, class 1 gets e^0.8 + e^0.6.
    let cfg = KnnConfig {
        k: 3,
        temperature: 1.0,
    };
    let s = Vec::<f32>::try_from(knn_scores(&b, &bl, &q, 2, &cfg).unwrap().flatten(0, -1)).unwrap();
    let e = [1f64.exp(), 0.8f64.exp() + 0.6f64.exp()];
    assert!(
        (s[0] as f64 - e[0]).abs() < 1e-5 && (s[1] as f64 - e[1]).abs() < 1e-5,
        "{s:?} vs {e:?}"
    );
    // So with T = 1 the two class-1 neighbours win (4.048 > 2.718) ...
    assert_eq!(
        knn_predict(&b, &bl, &q, 2, &cfg).unwrap().int64_value(&[0]),
        1
    );
    // ... with T = 0.1 the nearest one does: e^10 = 22026 > e^8 + e^6 = 3384.
    let cfg = KnnConfig {
        k: 3,
        temperature: 0.1,
    };
    assert_eq!(
        knn_predict(&b, &bl, &q, 2, &cfg).unwrap().int64_value(&[0]),
        0
    );
    // With k = 2 at T = 1: e^1 = 2.718 > e^0.8 = 2.226, class 0.
    let cfg = KnnConfig {
        k: 2,
        temperature: 1.0,
    };
    assert_eq!(
        knn_predict(&b, &bl, &q, 2, &cfg).unwrap().int64_value(&[0]),
        0
    );
}

#[test]
fn knn_uses_cosine_not_euclidean_distance_and_caps_k() {
    // Query (5, 0.1) is Euclidean-nearest to (0.8, 0.6) (distance 4.23 < 5.00) but points almost
    // exactly along (10, 0): cosine kNN says class 0. Query (0.1, 0.12) is at 50.2°, nearest in angle
    // to (0.6, 0.8) at 53.1° (vs 36.9° for (0.8, 0.6)): class 1.
    let b = t2(&[[10.0, 0.0], [0.6, 0.8], [0.8, 0.6]]);
    let bl = labels(&[0, 1, 2]);
    let q = t2(&[[0.1, 0.12], [5.0, 0.1]]);
    // k = 200 > bank size 3 is capped; T = 0.05 makes it close to a nearest-neighbour rule.
    let cfg = KnnConfig {
        k: 200,
        temperature: 0.05,
    };
    let p = Vec::<i64>::try_from(knn_predict(&b, &bl, &q, 3, &cfg).unwrap()).unwrap();
    assert_eq!(p, vec![1, 0]);
    let acc = knn_accuracy(&b, &bl, &q, &labels(&[1, 2]), 3, &cfg).unwrap();
    assert_eq!(acc, 0.5);
}

#[test]
fn linear_probe_separates_separable_points_and_generalises() {
    // 1-D features: negatives are class 0, positives class 1; test points -0.5 → 0 and 3 → 1.
    let x = Tensor::from_slice(&[-2.0f32, -1.0, 1.0, 2.0]).view([4, 1]);
    let y = labels(&[0, 0, 1, 1]);
    let xt = Tensor::from_slice(&[-0.5f32, 3.0]).view([2, 1]);
    let yt = labels(&[0, 1]);
    for opt in [ProbeOptimizer::Adam, ProbeOptimizer::Lbfgs] {
        let cfg = LinearProbeConfig {
            optimizer: opt,
            epochs: 200,
            lr: 0.05,
            weight_decay: 0.0,
            ..Default::default()
        };
        let r = linear_probe(&x, &y, &xt, &yt, 2, &cfg).unwrap();
        assert_eq!((r.train_acc, r.test_acc), (1.0, 1.0), "{opt:?}");
        assert!(r.final_loss < 0.2, "{opt:?}: loss {}", r.final_loss);
    }
}

#[test]
fn a_probe_on_uninformative_features_learns_only_the_class_prior() {
    // Every sample has the same feature: only the bias can be learnt, so the probe predicts the
    // majority class (1, three of four) — train accuracy exactly 0.75 — and the optimal cross-entropy
    // is the entropy of (1/4, 3/4) = 0.5623 nats.
    let x = Tensor::ones([4, 3], (Kind::Float, tch::Device::Cpu));
    let y = labels(&[1, 0, 1, 1]);
    let cfg = LinearProbeConfig {
        optimizer: ProbeOptimizer::Lbfgs,
        epochs: 100,
        weight_decay: 0.0,
        standardize: false,
        ..Default::default()
    };
    let r = linear_probe(&x, &y, &x, &y, 2, &cfg).unwrap();
    assert_eq!(r.train_acc, 0.75);
    let h = -(0.25f64 * 0.25f64.ln() + 0.75 * 0.75f64.ln());
    assert!((r.final_loss - h).abs() < 1e-3, "{} vs {h}", r.final_loss);
}

/// 40 rows, 1-D, separable at 0, three quarters of them class 1: a probe whose weight is crushed by
/// its penalty predicts the majority class everywhere (0.75), one with a small penalty gets every row.
fn imbalanced_line() -> (Tensor, Tensor) {
    let xs: Vec<f32> = (0..40)
        .map(|i| {
            if i % 4 == 0 {
                -1.0 - (i as f32) / 40.0
            } else {
                1.0 + (i as f32) / 40.0
            }
        })
        .collect();
    let ys: Vec<i64> = (0..40).map(|i| i64::from(i % 4 != 0)).collect();
    (Tensor::from_slice(&xs).view([40, 1]), labels(&ys))
}

#[test]
fn the_penalty_is_chosen_on_held_out_training_rows_whatever_the_grid_order() {
    let (x, y) = imbalanced_line();
    for grid in [vec![1e-4, 1e4], vec![1e4, 1e-4]] {
        let cfg = LinearProbeConfig {
            weight_decay: 1e4,
            weight_decay_grid: grid.clone(),
            ..Default::default()
        };
        assert_eq!(
            select_weight_decay(&x, &y, 2, &cfg).unwrap(),
            1e-4,
            "{grid:?}"
        );
        let r = linear_probe(&x, &y, &x, &y, 2, &cfg).unwrap();
        assert_eq!(r.test_acc, 1.0, "{grid:?}");
    }
    // The crushed probe really is the majority vote, so the choice above was not a tie.
    let crushed = LinearProbeConfig {
        weight_decay: 1e4,
        weight_decay_grid: vec![],
        ..Default::default()
    };
    assert_eq!(select_weight_decay(&x, &y, 2, &crushed).unwrap(), 1e4);
    assert_eq!(
        linear_probe(&x, &y, &x, &y, 2, &crushed).unwrap().test_acc,
        0.75
    );
}

#[test]
fn probe_settings_out_of_range_name_the_field() {
    let (x, y) = imbalanced_line();
    for (cfg, field) in [
        (
            LinearProbeConfig {
                select_fraction: 0.7,
                ..Default::default()
            },
            "probe.select_fraction",
        ),
        (
            LinearProbeConfig {
                select_fraction: 0.0,
                ..Default::default()
            },
            "probe.select_fraction",
        ),
        (
            LinearProbeConfig {
                weight_decay_grid: vec![1e-3, -1.0],
                ..Default::default()
            },
            "probe.weight_decay_grid",
        ),
    ] {
        let e = linear_probe(&x, &y, &x, &y, 2, &cfg)
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{e}");
    }
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let (b, bl) = bank();
    let q = Tensor::zeros([2, 3], (Kind::Float, tch::Device::Cpu));
    let e = knn_predict(&b, &bl, &q, 2, &KnnConfig::default()).unwrap_err();
    assert!(e.to_string().contains("Q×2"), "{e}");
    let e = knn_predict(
        &b,
        &bl,
        &b,
        2,
        &KnnConfig {
            k: 0,
            temperature: 0.1,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("knn.k"), "{e}");
}

/// `n` points of an 8-D standard normal with labels `x₀ > 0` (the target direction is e₀).
fn halfspace(n: i64, seed: i64) -> (Tensor, Tensor) {
    tch::manual_seed(seed);
    let x = Tensor::randn([n, 8], (Kind::Float, Device::Cpu));
    let y = x.select(1, 0).gt(0.0).to_kind(Kind::Int64);
    (x, y)
}

fn cosine_to_e0(w: &Tensor) -> f64 {
    let w = w.flatten(0, -1).to_kind(Kind::Double);
    (w.double_value(&[0]) / w.norm().double_value(&[])).abs()
}

#[test]
fn finetuning_moves_the_encoder_and_beats_the_probe_on_its_frozen_features() {
    // The encoder is one linear unit (8 → 1 feature, no bias) started at u = e₁ + 0.1·e₀, almost
    // orthogonal to the label direction e₀. On frozen features f = u·x a linear probe can only
    // threshold f, and for Gaussian x the best threshold classifier of sign(x₀) from u·x is right with
    // probability 1 − θ/π, θ = angle(u, e₀) = arccos(0.1/√1.01) = 84.3°: about 0.532. Fine-tuning can
    // rotate u onto e₀ and reach ~1.
    let (xtr, ytr) = halfspace(1024, 1);
    let (xte, yte) = halfspace(2048, 2);
    let vs = VarStore::new(Device::Cpu);
    let enc = nn::linear(
        vs.root() / "fc",
        8,
        1,
        nn::LinearConfig {
            bias: false,
            ..Default::default()
        },
    );
    let mut u0 = vec![0f32; 8];
    u0[0] = 0.1;
    u0[1] = 1.0;
    tch::no_grad(|| {
        let mut w = enc.ws.shallow_clone();
        w.copy_(&Tensor::from_slice(&u0).view([1, 8]));
    });
    let before = enc.ws.copy();
    let closed_form = 1.0 - (0.1f64 / 1.01f64.sqrt()).acos() / std::f64::consts::PI;

    let frozen = |x: &Tensor| tch::no_grad(|| enc.forward(x));
    let probe = linear_probe(
        &frozen(&xtr),
        &ytr,
        &frozen(&xte),
        &yte,
        2,
        &LinearProbeConfig {
            optimizer: ProbeOptimizer::Lbfgs,
            epochs: 100,
            weight_decay: 0.0,
            ..Default::default()
        },
    )
    .unwrap();
    // 2048 test points: the standard error of an accuracy near 0.53 is 0.011.
    assert!(
        (probe.test_acc - closed_form).abs() < 0.05,
        "frozen probe {} vs closed form {closed_form}",
        probe.test_acc
    );

    let cfg = FinetuneConfig {
        epochs: 20,
        batch_size: 64,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Adam,
            lr: 0.02,
            ..Default::default()
        },
        seed: 0,
    };
    let encode = |x: &Tensor, _train: bool| enc.forward(x);
    let ft = finetune(&vs, &encode, 1, (&xtr, &ytr), (&xte, &yte), 2, &cfg).unwrap();
    let moved = (&enc.ws - &before).abs().max().double_value(&[]);
    assert!(moved > 0.1, "the encoder weights barely changed ({moved})");
    let cos = cosine_to_e0(&enc.ws);
    assert!(
        cos > 0.95,
        "the encoder did not turn towards the label direction: cos {cos}"
    );
    assert!(
        ft.test_acc > 0.9,
        "fine-tuned test accuracy {}",
        ft.test_acc
    );
    assert!(
        ft.test_acc > probe.test_acc + 0.3,
        "fine-tuning {} does not beat the frozen probe {}",
        ft.test_acc,
        probe.test_acc
    );
    assert!(ft.final_loss.is_finite());

    let bad = FinetuneConfig { epochs: 0, ..cfg };
    let e = finetune(&vs, &encode, 1, (&xtr, &ytr), (&xte, &yte), 2, &bad).unwrap_err();
    assert!(e.to_string().contains("finetune.epochs"), "{e}");
}
