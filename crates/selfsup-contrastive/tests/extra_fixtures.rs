//! Losses checked against fixtures written by `scripts/fixtures/contrastive_fixtures_extra.py` (its
//! docstring states each package's conventions): SupCon (pytorch-metric-learning's `SupConLoss`), CLIP
//! (open_clip's `ClipLoss`), NNCLR (lightly's `NNMemoryBankModule` + `NTXentLoss`, step by step: support
//! set, neighbours, loss), CPC (the paper's Eq. 4 as `F.cross_entropy`, and `info_nce` on unit-norm
//! inputs) and SwAV with a queue (lightly's `SwaVLoss` with `queue_outputs`; `lightly_fixtures.rs`
//! covers SwAV without one). Inputs are evaluated in float64 and float32 on both sides and matched to
//! ≤ 1e-5 (relative to 1 + |value|).

mod common;
use common::close;
use selfsup_contrastive::losses::*;
use selfsup_contrastive::MemoryBank;
use serde_json::Value;
use tch::{nn, Device, Kind, Tensor};

const TOL: f64 = 1e-5;

/// A nested JSON array of numbers as a float64 tensor of the same shape.
fn tensor(v: &Value) -> Tensor {
    fn walk(v: &Value, depth: usize, shape: &mut Vec<i64>, flat: &mut Vec<f64>) {
        match v {
            Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len() as i64);
                }
                assert_eq!(shape[depth], items.len() as i64, "ragged fixture array");
                for x in items {
                    walk(x, depth + 1, shape, flat);
                }
            }
            x => flat.push(x.as_f64().expect("fixture arrays hold numbers")),
        }
    }
    let (mut shape, mut flat) = (Vec::new(), Vec::new());
    walk(v, 0, &mut shape, &mut flat);
    Tensor::from_slice(&flat).reshape(shape)
}

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/extra_losses.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cases(loss: &str) -> Vec<Value> {
    let all = fixture()["cases"].as_array().unwrap().clone();
    all.into_iter().filter(|c| c["loss"] == loss).collect()
}

fn scalar(t: &Tensor) -> f64 {
    t.to_kind(Kind::Double).double_value(&[])
}

/// The largest difference of two tensors of float32-representable values, compared as float32:
/// serde_json (without its `float_roundtrip` feature) may parse a number one float64 ulp off, which
/// rounding to float32 undoes.
fn max_abs_diff_f32(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    if a.numel() == 0 {
        return 0.0;
    }
    scalar(
        &(a.to_kind(Kind::Float) - b.to_kind(Kind::Float))
            .abs()
            .max(),
    )
}

/// Evaluates `f` in float64 and float32 and checks both against the case's expected values.
fn check_both(case: &Value, f: impl Fn(Kind) -> Tensor) {
    let name = format!("{} {}", case["loss"], case["params"]);
    for (kind, key) in [
        (Kind::Double, "expected_f64"),
        (Kind::Float, "expected_f32"),
    ] {
        let got = f(kind);
        assert_eq!(
            got.kind(),
            kind,
            "{name}: loss computed in the wrong precision"
        );
        let got = scalar(&got);
        let want = case[key].as_f64().unwrap();
        assert!(close(got, want, TOL), "{name} {key}: {got} vs {want}");
    }
}

#[test]
fn fixture_file_records_its_generator_and_versions() {
    let v = fixture();
    assert_eq!(
        v["generator"],
        "scripts/fixtures/contrastive_fixtures_extra.py"
    );
    for p in [
        "torch",
        "lightly",
        "pytorch-metric-learning",
        "open_clip_torch",
        "info-nce-pytorch",
    ] {
        assert!(
            v["versions"][p].is_string(),
            "fixture lacks the version of {p}"
        );
    }
}

#[test]
fn supcon_matches_pytorch_metric_learning() {
    let cs = cases("supcon");
    assert!(
        cs.len() >= 15,
        "fixture looks truncated: {} SupCon cases",
        cs.len()
    );
    let mut kinds = std::collections::BTreeSet::new();
    for c in &cs {
        kinds.insert(c["params"]["kind"].as_str().unwrap().to_string());
        let loss = SupConLoss::new(c["params"]["temperature"].as_f64().unwrap()).unwrap();
        let labels = match &c["inputs"]["labels"] {
            Value::Null => None,
            l => Some(Tensor::from_slice(
                &l.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_i64().unwrap())
                    .collect::<Vec<_>>(),
            )),
        };
        check_both(c, |kind| {
            let a = tensor(&c["inputs"]["out0"]).to_kind(kind);
            let b = tensor(&c["inputs"]["out1"]).to_kind(kind);
            loss.forward(&a, &b, labels.as_ref()).unwrap()
        });
    }
    for k in ["dominant", "singleton", "mixed", "unlabelled", "random"] {
        assert!(kinds.contains(k), "no SupCon fixture of kind {k}");
    }
}

#[test]
fn clip_matches_open_clip() {
    let cs = cases("clip");
    assert!(
        cs.len() >= 15,
        "fixture looks truncated: {} CLIP cases",
        cs.len()
    );
    for c in &cs {
        let loss = ClipLoss::new(c["params"]["temperature"].as_f64().unwrap()).unwrap();
        check_both(c, |kind| {
            let a = tensor(&c["inputs"]["a"]).to_kind(kind);
            let b = tensor(&c["inputs"]["b"]).to_kind(kind);
            loss.forward(&a, &b).unwrap()
        });
    }
}

#[test]
fn cpc_matches_eq4_cross_entropy_and_info_nce() {
    let cs = cases("cpc");
    assert!(
        cs.len() >= 6,
        "fixture looks truncated: {} CPC cases",
        cs.len()
    );
    let refs: Vec<&str> = cs
        .iter()
        .map(|c| c["params"]["reference"].as_str().unwrap())
        .collect();
    assert!(refs.contains(&"info_nce") && refs.contains(&"cross_entropy_eq4"));
    for c in &cs {
        let k = c["params"]["k"].as_i64().unwrap();
        check_both(c, |kind| {
            let z = tensor(&c["inputs"]["z"]).to_kind(kind);
            let preds: Vec<Tensor> = (1..=k)
                .map(|i| tensor(&c["inputs"][format!("p{i}")]).to_kind(kind))
                .collect();
            CpcLoss.forward(&z, &preds).unwrap()
        });
    }
}

/// Replays lightly's NNCLR example loop with selfsup's `MemoryBank` (filled with the recorded
/// initial support set), `nearest_neighbours` and `NtXentLoss`, enqueueing `z1` after each step as
/// lightly's `NNMemoryBankModule(update=True)` on view 1 does.
fn replay_nnclr(c: &Value, kind: Kind) {
    let p = &c["params"];
    let name = format!("nnclr {p} {kind:?}");
    let t = p["temperature"].as_f64().unwrap();
    assert_eq!(p["enqueue"], "z1");
    let init = tensor(&c["inputs"]["support_init"]);
    let (m, d) = (init.size()[0], init.size()[1]);
    assert_eq!(m, p["support_size"].as_i64().unwrap());
    let vs = nn::VarStore::new(Device::Cpu);
    let mut bank = MemoryBank::new(&(vs.root() / "support_set"), m, d, false).unwrap();
    bank.enqueue(&init).unwrap();
    let ntxent = NtXentLoss::new(t).unwrap();
    let steps = c["steps"].as_array().unwrap();
    assert!(!steps.is_empty());
    for (i, s) in steps.iter().enumerate() {
        let x = |k: &str| tensor(&s[k]).to_kind(kind);
        let support = bank.contents();
        let diff = max_abs_diff_f32(&support, &tensor(&s["support_before"]));
        assert!(
            diff == 0.0,
            "{name} step {i}: support set differs by {diff}"
        );
        let nn0 = nearest_neighbours(&x("z0"), &support).unwrap();
        let nn1 = nearest_neighbours(&x("z1"), &support).unwrap();
        for (got, key) in [(&nn0, "nn0"), (&nn1, "nn1")] {
            let diff = max_abs_diff_f32(got, &tensor(&s[key]));
            assert!(diff == 0.0, "{name} step {i}: {key} differs by {diff}");
        }
        let loss = (ntxent.forward(&nn0, &x("p1")).unwrap()
            + ntxent.forward(&nn1, &x("p0")).unwrap())
            * 0.5;
        assert_eq!(loss.kind(), kind);
        let key = if kind == Kind::Double {
            "expected_f64"
        } else {
            "expected_f32"
        };
        let (got, want) = (scalar(&loss), s[key].as_f64().unwrap());
        assert!(
            close(got, want, TOL),
            "{name} step {i} loss: {got} vs lightly {want}"
        );
        bank.enqueue(&x("z1")).unwrap();
        let diff = max_abs_diff_f32(&bank.contents(), &tensor(&s["support_after"]));
        assert!(
            diff == 0.0,
            "{name} step {i}: support set after the step differs by {diff}"
        );
    }
}

#[test]
fn nnclr_support_set_neighbours_and_loss_match_lightly() {
    let cs = cases("nnclr");
    assert!(
        cs.len() >= 3,
        "fixture looks truncated: {} NNCLR cases",
        cs.len()
    );
    for c in &cs {
        replay_nnclr(c, Kind::Double);
        replay_nnclr(c, Kind::Float);
    }
}

/// lightly's `SwaVLoss(high, low, queue_outputs=queue)`: each high-resolution view's queue scores join
/// its batch scores in Sinkhorn-Knopp and only the batch's codes enter the loss. Each case also records
/// the loss without the queue, which differs, so ignoring the queue cannot pass.
#[test]
fn swav_with_a_queue_matches_lightly() {
    let cs = cases("swav_queue");
    assert!(
        cs.len() >= 6,
        "fixture looks truncated: {} SwAV queue cases",
        cs.len()
    );
    for c in &cs {
        let p = &c["params"];
        let loss = SwavLoss {
            temperature: p["temperature"].as_f64().unwrap(),
            sinkhorn_iterations: p["sinkhorn_iterations"].as_u64().unwrap() as usize,
            sinkhorn_epsilon: p["sinkhorn_epsilon"].as_f64().unwrap(),
        };
        let (nh, nl) = (p["n_high"].as_u64().unwrap(), p["n_low"].as_u64().unwrap());
        let views = |prefix: &str, n: u64, kind: Kind| -> Vec<Tensor> {
            (0..n)
                .map(|i| tensor(&c["inputs"][format!("{prefix}{i}")]).to_kind(kind))
                .collect()
        };
        let rows = p["queue_rows"].as_i64().unwrap();
        for q in views("q", nh, Kind::Double) {
            assert_eq!(q.size()[0], rows, "queue rows of {p}");
        }
        check_both(c, |kind| {
            let queue = views("q", nh, kind);
            loss.forward(&views("h", nh, kind), &views("l", nl, kind), Some(&queue))
                .unwrap()
        });
        for (kind, key) in [
            (Kind::Double, "expected_no_queue_f64"),
            (Kind::Float, "expected_no_queue_f32"),
        ] {
            let got = scalar(
                &loss
                    .forward(&views("h", nh, kind), &views("l", nl, kind), None)
                    .unwrap(),
            );
            let want = c[key].as_f64().unwrap();
            assert!(close(got, want, TOL), "swav {p} {key}: {got} vs {want}");
            let with_queue = c["expected_f64"].as_f64().unwrap();
            assert!(
                !close(want, with_queue, 1e-3),
                "swav {p}: the queue should change the loss"
            );
        }
    }
}
