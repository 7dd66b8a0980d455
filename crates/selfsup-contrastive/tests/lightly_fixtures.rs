//! Losses against fixtures computed by lightly (and torch's `TripletMarginLoss`) with
//! `scripts/fixtures/contrastive_fixtures.py`: float64 inputs evaluated in float64 and float32 on
//! both sides, matched to ≤ 1e-5 (relative to 1 + |value|).

mod common;
use common::close;
use selfsup_contrastive::losses::*;
use serde_json::Value;
use tch::{Kind, Tensor};

fn matrix(v: &Value) -> Tensor {
    let rows = v.as_array().unwrap();
    let r = rows.len() as i64;
    let flat: Vec<f64> = rows
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect();
    let c = flat.len() as i64 / r;
    Tensor::from_slice(&flat).reshape([r, c])
}

fn fixtures() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lightly_losses.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn eval(case: &Value, kind: Kind) -> Option<f64> {
    let p = &case["params"];
    let inp = |k: &str| matrix(&case["inputs"][k]).to_kind(kind);
    let f = |k: &str| p[k].as_f64().unwrap();
    let t = match case["loss"].as_str().unwrap() {
        "ntxent" => NtXentLoss::new(f("temperature"))
            .unwrap()
            .forward(&inp("out0"), &inp("out1"))
            .unwrap(),
        "ntxent_bank" => NtXentLoss::new(f("temperature"))
            .unwrap()
            .forward_with_negatives(&inp("out0"), &inp("out1"), &inp("bank"))
            .unwrap(),
        "dcl" => DclLoss::dcl(f("temperature"))
            .unwrap()
            .forward(&inp("out0"), &inp("out1"))
            .unwrap(),
        "dclw" => DclLoss::dclw(f("temperature"), f("sigma"))
            .unwrap()
            .forward(&inp("out0"), &inp("out1"))
            .unwrap(),
        "barlow_twins" => BarlowTwinsLoss::new(f("lambda"))
            .unwrap()
            .forward(&inp("out0"), &inp("out1"))
            .unwrap(),
        "vicreg" => VicRegLoss::default()
            .forward(&inp("out0"), &inp("out1"))
            .unwrap(),
        "negative_cosine" => NegativeCosineSimilarity
            .forward(&inp("out0"), &inp("out1"))
            .unwrap(),
        "triplet" => TripletLoss::new(f("margin"))
            .unwrap()
            .forward(&inp("anchor"), &inp("positive"), &inp("negative"))
            .unwrap(),
        "dino" => {
            let l = DinoLoss {
                warmup_teacher_temp: f("warmup_teacher_temp"),
                teacher_temp: f("teacher_temp"),
                warmup_epochs: p["warmup_epochs"].as_u64().unwrap(),
                ..DinoLoss::default()
            };
            let teacher = [inp("t0"), inp("t1")];
            let student = [inp("s0"), inp("s1"), inp("s2"), inp("s3")];
            let center = inp("center");
            let loss = l
                .forward(&teacher, &student, &center, p["epoch"].as_u64().unwrap())
                .unwrap();
            let c2 = l.updated_center(&teacher, &center).reshape([-1]);
            for (j, want) in case["expected_center"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
            {
                let got = c2.double_value(&[j as i64]);
                assert!(
                    close(got, want.as_f64().unwrap(), 1e-5),
                    "dino centre {j}: {got} vs {want}"
                );
            }
            loss
        }
        "swav" => SwavLoss {
            temperature: f("temperature"),
            ..SwavLoss::default()
        }
        .forward(&[inp("h0"), inp("h1")], &[inp("l0"), inp("l1")], None)
        .unwrap(),
        "sinkhorn" => {
            let q = sinkhorn(
                &inp("scores"),
                p["iterations"].as_u64().unwrap() as usize,
                f("epsilon"),
            );
            let want = matrix(&case["expected_codes"]);
            let diff = (q.to_kind(Kind::Double) - want)
                .abs()
                .max()
                .double_value(&[]);
            assert!(diff <= 1e-5, "sinkhorn codes differ by {diff}");
            return None;
        }
        other => panic!("fixture has an unknown loss {other}"),
    };
    Some(t.to_kind(Kind::Double).double_value(&[]))
}

#[test]
fn losses_match_lightly_fixtures() {
    let cases = fixtures();
    assert!(cases.len() >= 40, "fixture file looks truncated");
    let mut checked = 0;
    for case in &cases {
        let name = format!("{} {}", case["loss"], case["params"]);
        if let Some(got) = eval(case, Kind::Double) {
            let want = case["expected_f64"].as_f64().unwrap();
            assert!(
                close(got, want, 1e-5),
                "{name} f64: {got} vs lightly {want}"
            );
            let got32 = eval(case, Kind::Float).unwrap();
            let want32 = case["expected_f32"].as_f64().unwrap();
            assert!(
                close(got32, want32, 1e-5),
                "{name} f32: {got32} vs lightly {want32}"
            );
        } else {
            eval(case, Kind::Float);
        }
        checked += 1;
    }
    assert_eq!(checked, cases.len());
}
