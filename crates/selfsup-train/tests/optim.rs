//! The optimizers against float64 plain-loop references written from the update rules of
//! `torch.optim.SGD/Adam/AdamW` and of LARS (lightly / solo-learn form): four steps with changing
//! learning rates on a quadratic with a 2-D weight (decayed, adapted) and a 1-D bias (excluded from
//! weight decay and adaptation), then a save/restore of the state mid-way.

use selfsup_train::{Optimizer, OptimizerConfig, OptimizerKind};
use std::collections::HashMap;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const W0: [f64; 4] = [0.5, -1.0, 2.0, 0.25];
const B0: [f64; 2] = [1.5, -0.5];
const A: [f64; 4] = [1.0, 2.0, 0.5, 3.0];
const C: [f64; 2] = [0.7, 1.3];
const LRS: [f64; 4] = [0.1, 0.05, 0.2, 0.1];

/// Gradients of L = Σ a w²/2 + Σ w + Σ c b²/2.
fn grads(w: &[f64; 4], b: &[f64; 2]) -> ([f64; 4], [f64; 2]) {
    (
        std::array::from_fn(|i| A[i] * w[i] + 1.0),
        std::array::from_fn(|i| C[i] * b[i]),
    )
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// The float64 reference: returns (w, b) after each step.
fn reference(cfg: &OptimizerConfig) -> Vec<([f64; 4], [f64; 2])> {
    let (mut w, mut b) = (W0, B0);
    let (mut mw, mut mb) = ([0.0; 4], [0.0; 2]); // momentum buffer or exp_avg
    let (mut vw, mut vb) = ([0.0; 4], [0.0; 2]); // exp_avg_sq
    let lam = cfg.weight_decay;
    let mu = cfg.momentum;
    let [b1, b2] = cfg.betas;
    let mut out = Vec::new();
    for (t, &lr) in LRS.iter().enumerate() {
        let (gw, gb) = grads(&w, &b);
        match cfg.kind {
            OptimizerKind::Sgd | OptimizerKind::Lars => {
                let mut dw: Vec<f64> = (0..4).map(|i| gw[i] + lam * w[i]).collect();
                let db: Vec<f64> = gb.to_vec();
                if cfg.kind == OptimizerKind::Lars {
                    let (pn, gn) = (norm(&w), norm(&gw));
                    let q = cfg.trust_coefficient * pn / (gn + lam * pn + 1e-8);
                    dw.iter_mut().for_each(|d| *d *= q);
                }
                for i in 0..4 {
                    mw[i] = if t == 0 { dw[i] } else { mu * mw[i] + dw[i] };
                    let d = if cfg.nesterov {
                        dw[i] + mu * mw[i]
                    } else {
                        mw[i]
                    };
                    w[i] -= lr * d;
                }
                for i in 0..2 {
                    mb[i] = if t == 0 { db[i] } else { mu * mb[i] + db[i] };
                    let d = if cfg.nesterov {
                        db[i] + mu * mb[i]
                    } else {
                        mb[i]
                    };
                    b[i] -= lr * d;
                }
            }
            OptimizerKind::Adam | OptimizerKind::Adamw => {
                let step = (t + 1) as f64;
                let (bc1, bc2) = (1.0 - b1.powf(step), 1.0 - b2.powf(step));
                let adamw = cfg.kind == OptimizerKind::Adamw;
                for i in 0..4 {
                    let g = if adamw { gw[i] } else { gw[i] + lam * w[i] };
                    if adamw {
                        w[i] *= 1.0 - lr * lam;
                    }
                    mw[i] = b1 * mw[i] + (1.0 - b1) * g;
                    vw[i] = b2 * vw[i] + (1.0 - b2) * g * g;
                    w[i] -= lr / bc1 * mw[i] / (vw[i].sqrt() / bc2.sqrt() + cfg.eps);
                }
                for i in 0..2 {
                    let g = gb[i];
                    mb[i] = b1 * mb[i] + (1.0 - b1) * g;
                    vb[i] = b2 * vb[i] + (1.0 - b2) * g * g;
                    b[i] -= lr / bc1 * mb[i] / (vb[i].sqrt() / bc2.sqrt() + cfg.eps);
                }
            }
        }
        out.push((w, b));
    }
    out
}

fn model() -> (VarStore, Tensor, Tensor) {
    let mut vs = VarStore::new(Device::Cpu);
    let _ = vs
        .root()
        .var_copy("w", &Tensor::from_slice(&W0).view([2, 2]));
    let _ = vs.root().var_copy("b", &Tensor::from_slice(&B0));
    vs.double();
    let vars = vs.variables();
    (vs, vars["w"].shallow_clone(), vars["b"].shallow_clone())
}

fn loss(w: &Tensor, b: &Tensor) -> Tensor {
    let a = Tensor::from_slice(&A).view([2, 2]);
    let c = Tensor::from_slice(&C);
    (a * w.square()).sum(Kind::Double) / 2.0
        + w.sum(Kind::Double)
        + (c * b.square()).sum(Kind::Double) / 2.0
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.flatten(0, -1)).unwrap()
}

fn configs() -> Vec<OptimizerConfig> {
    let base = OptimizerConfig {
        weight_decay: 0.05,
        momentum: 0.9,
        ..Default::default()
    };
    vec![
        OptimizerConfig {
            kind: OptimizerKind::Sgd,
            ..base.clone()
        },
        OptimizerConfig {
            kind: OptimizerKind::Sgd,
            nesterov: true,
            ..base.clone()
        },
        OptimizerConfig {
            kind: OptimizerKind::Adam,
            ..base.clone()
        },
        OptimizerConfig {
            kind: OptimizerKind::Adamw,
            ..base.clone()
        },
        OptimizerConfig {
            kind: OptimizerKind::Lars,
            trust_coefficient: 0.02,
            ..base.clone()
        },
        OptimizerConfig {
            kind: OptimizerKind::Lars,
            nesterov: true,
            trust_coefficient: 0.02,
            ..base
        },
    ]
}

#[test]
fn every_optimizer_matches_its_float64_reference() {
    for cfg in configs() {
        let expected = reference(&cfg);
        let (vs, w, b) = model();
        assert_eq!(w.kind(), Kind::Double);
        let mut opt = Optimizer::new(&vs, &cfg).unwrap();
        for (t, &lr) in LRS.iter().enumerate() {
            opt.zero_grad();
            loss(&w, &b).backward();
            opt.step(lr).unwrap();
            let (ew, eb) = &expected[t];
            for (g, e) in values(&w).iter().zip(ew).chain(values(&b).iter().zip(eb)) {
                assert!((g - e).abs() < 1e-12, "{:?} step {t}: {g} vs {e}", cfg.kind);
            }
        }
        assert_eq!(opt.steps(), 4);
    }
}

#[test]
fn saving_and_restoring_the_state_continues_identically() {
    for cfg in configs() {
        let expected = reference(&cfg);
        let (vs, w, b) = model();
        let mut opt = Optimizer::new(&vs, &cfg).unwrap();
        for &lr in &LRS[..2] {
            opt.zero_grad();
            loss(&w, &b).backward();
            opt.step(lr).unwrap();
        }
        let state: HashMap<String, Tensor> = opt
            .state_tensors()
            .into_iter()
            .map(|(n, t)| (n, t.copy()))
            .collect();
        let buffers: Vec<String> = {
            let mut v: Vec<String> = state.keys().cloned().collect();
            v.sort();
            v
        };
        match cfg.kind {
            OptimizerKind::Adam | OptimizerKind::Adamw => assert_eq!(
                buffers,
                [
                    "b/exp_avg",
                    "b/exp_avg_sq",
                    "b/step",
                    "w/exp_avg",
                    "w/exp_avg_sq",
                    "w/step"
                ]
            ),
            _ => assert_eq!(buffers, ["b/momentum_buffer", "w/momentum_buffer"]),
        }
        // A new model and optimizer, weights and state copied in.
        let (vs2, w2, b2) = model();
        tch::no_grad(|| {
            w2.shallow_clone().copy_(&w);
            b2.shallow_clone().copy_(&b);
        });
        let mut opt2 = Optimizer::new(&vs2, &cfg).unwrap();
        opt2.load_state(state, 2).unwrap();
        for (t, &lr) in LRS.iter().enumerate().skip(2) {
            opt2.zero_grad();
            loss(&w2, &b2).backward();
            opt2.step(lr).unwrap();
            let (ew, eb) = &expected[t];
            for (g, e) in values(&w2).iter().zip(ew).chain(values(&b2).iter().zip(eb)) {
                assert!((g - e).abs() < 1e-12, "{:?} step {t}: {g} vs {e}", cfg.kind);
            }
        }
    }
}

#[test]
fn state_for_an_unknown_parameter_is_an_error() {
    let (vs, _w, _b) = model();
    let mut opt = Optimizer::new(&vs, &OptimizerConfig::default()).unwrap();
    let st = HashMap::from([(
        "other/exp_avg".to_string(),
        Tensor::zeros([2], (Kind::Double, Device::Cpu)),
    )]);
    let e = opt.load_state(st, 1).unwrap_err();
    assert!(e.to_string().contains("other"), "{e}");
}

/// Trajectories written by `tests/fixtures/optim_torch.py` with torch.optim and lightly's LARS.
#[test]
fn every_optimizer_matches_torch_optim_and_lightly_lars() {
    let text = include_str!("fixtures/optim_torch.json");
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let base = OptimizerConfig {
        weight_decay: v["weight_decay"].as_f64().unwrap(),
        momentum: 0.9,
        trust_coefficient: 0.02,
        ..Default::default()
    };
    let lrs: Vec<f64> = v["lrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let cfg = match name {
            "sgd" => OptimizerConfig {
                kind: OptimizerKind::Sgd,
                ..base.clone()
            },
            "sgd_nesterov" => OptimizerConfig {
                kind: OptimizerKind::Sgd,
                nesterov: true,
                ..base.clone()
            },
            "adam" => OptimizerConfig {
                kind: OptimizerKind::Adam,
                ..base.clone()
            },
            "adamw" => OptimizerConfig {
                kind: OptimizerKind::Adamw,
                ..base.clone()
            },
            "lars" => OptimizerConfig {
                kind: OptimizerKind::Lars,
                ..base.clone()
            },
            "lars_nesterov" => OptimizerConfig {
                kind: OptimizerKind::Lars,
                nesterov: true,
                ..base.clone()
            },
            other => panic!("unknown case {other}"),
        };
        let (vs, w, b) = model();
        let mut opt = Optimizer::new(&vs, &cfg).unwrap();
        for (t, &lr) in lrs.iter().enumerate() {
            opt.zero_grad();
            loss(&w, &b).backward();
            opt.step(lr).unwrap();
            let step = &case["steps"][t];
            let ew: Vec<f64> = step["w"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            let eb: Vec<f64> = step["b"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            for (g, e) in values(&w).iter().zip(&ew).chain(values(&b).iter().zip(&eb)) {
                assert!((g - e).abs() < 1e-12, "{name} step {t}: {g} vs torch {e}");
            }
        }
    }
}

/// The single-pass kernels (`fused`, the default) and the tensor-op path give bit-identical parameters
/// and state, in f32 and f64, for every optimizer (with and without momentum and dampening), over
/// several steps of a non-quadratic loss with changing learning rates.
#[test]
fn fused_kernels_and_tensor_ops_agree_bit_for_bit() {
    let mut cfgs = configs();
    cfgs.push(OptimizerConfig {
        kind: OptimizerKind::Sgd,
        momentum: 0.0,
        weight_decay: 0.01,
        ..Default::default()
    });
    cfgs.push(OptimizerConfig {
        kind: OptimizerKind::Sgd,
        momentum: 0.8,
        dampening: 0.3,
        weight_decay: 0.0,
        ..Default::default()
    });
    for kind in [Kind::Float, Kind::Double] {
        for cfg in &cfgs {
            let run = |fused: bool| {
                tch::manual_seed(7);
                let vs = VarStore::new(Device::Cpu);
                let w = vs
                    .root()
                    .randn_standard("w", &[37, 19])
                    .set_requires_grad(false);
                let b = vs
                    .root()
                    .randn_standard("b", &[19])
                    .set_requires_grad(false);
                let (mut w, mut b) = (w.to_kind(kind), b.to_kind(kind));
                let (w, b) = (w.requires_grad_(true), b.requires_grad_(true));
                let params = vec![
                    ("w".to_string(), w.shallow_clone()),
                    ("b".to_string(), b.shallow_clone()),
                ];
                let mut opt = Optimizer::from_params(params, cfg).unwrap();
                opt.set_fused(fused);
                for (t, lr) in LRS.iter().enumerate() {
                    opt.zero_grad();
                    let l = (w.sin() * (t as f64 + 1.0)).sum(kind) + (&b * &b).exp().sum(kind);
                    l.backward();
                    opt.step(*lr).unwrap();
                }
                let mut out = vec![
                    values(&w.to_kind(Kind::Double)),
                    values(&b.to_kind(Kind::Double)),
                ];
                for (_, s) in opt.state_tensors() {
                    out.push(values(&s.to_kind(Kind::Double)));
                }
                out
            };
            let (a, b) = (run(true), run(false));
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                let same = x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
                assert!(
                    same,
                    "{:?} {kind:?}: fused and tensor-op paths differ",
                    cfg.kind
                );
            }
        }
    }
}
