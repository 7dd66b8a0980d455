//! The masked-token generator (torch-free): selection rate and the 80/10/10 split over many draws
//! against their closed forms, exact counts, specials never selected, span masking, keyed draws, errors.

use selfsup_core::{Generator, SampleKey};
use selfsup_pretext::language::{
    mlm_views, LanguageModelConfig, MlmMaskConfig, MlmMasker, SelectMode, IGNORE_INDEX, KINDS,
};

const V: i64 = 71; // 3 specials + 68 characters, as the Shakespeare char vocabulary

fn seq(g: &mut Generator, n: usize) -> Vec<i64> {
    (0..n).map(|_| g.int_inclusive(3, V - 1)).collect()
}

#[test]
fn bernoulli_selection_and_the_80_10_10_split_hold_over_many_draws() {
    let m = MlmMasker::new(MlmMaskConfig::default(), V, 2, 3).unwrap();
    let mut data = Generator::seed_from_u64(1);
    let (mut positions, mut selected, mut masked, mut changed, mut same) = (0, 0, 0, 0, 0);
    for i in 0..2000u64 {
        let ids = seq(&mut data, 64);
        let (x, y) = m.apply(&ids, &mut SampleKey::new(7, 0, i).rng()).unwrap();
        positions += ids.len();
        for j in 0..ids.len() {
            if y[j] == IGNORE_INDEX {
                assert_eq!(x[j], ids[j], "unselected positions are untouched");
                continue;
            }
            assert_eq!(y[j], ids[j], "the target is the original id");
            selected += 1;
            if x[j] == 2 {
                masked += 1;
            } else if x[j] != ids[j] {
                assert!((3..V).contains(&x[j]), "random ids are regular ids");
                changed += 1;
            } else {
                same += 1;
            }
        }
    }
    let n = selected as f64;
    let rate = n / positions as f64;
    // 128,000 positions: sd of the rate ≈ 0.001; of the shares ≈ 0.003 (19,200 selections)
    assert!((rate - 0.15).abs() < 0.005, "selection rate {rate}");
    let regular = (V - 3) as f64;
    let expect_changed = 0.1 * (regular - 1.0) / regular;
    let expect_same = 0.1 + 0.1 / regular;
    assert!(
        (masked as f64 / n - 0.8).abs() < 0.012,
        "mask share {}",
        masked as f64 / n
    );
    assert!(
        (changed as f64 / n - expect_changed).abs() < 0.01,
        "random share {}",
        changed as f64 / n
    );
    assert!(
        (same as f64 / n - expect_same).abs() < 0.01,
        "unchanged share {}",
        same as f64 / n
    );
}

#[test]
fn exact_mode_selects_round_prob_times_regular_positions_and_never_specials() {
    let cfg = MlmMaskConfig {
        select: SelectMode::Exact,
        ..Default::default()
    };
    let m = MlmMasker::new(cfg, V, 2, 3).unwrap();
    let mut data = Generator::seed_from_u64(2);
    for i in 0..300u64 {
        let mut ids = seq(&mut data, 40);
        for j in 30..40 {
            ids[j] = 0; // padding
        }
        ids[5] = 1; // <unk>
        let (x, y) = m.apply(&ids, &mut SampleKey::new(1, 2, i).rng()).unwrap();
        let k = y.iter().filter(|&&t| t != IGNORE_INDEX).count();
        assert_eq!(k, (0.15f64 * 29.0).round() as usize); // 29 regular positions → 4
        for j in (30..40).chain([5]) {
            assert_eq!(y[j], IGNORE_INDEX);
            assert_eq!(x[j], ids[j]);
        }
    }
    // all specials: nothing selected
    let (x, y) = m
        .apply(&[0, 0, 1], &mut Generator::seed_from_u64(0))
        .unwrap();
    assert_eq!(x, vec![0, 0, 1]);
    assert!(y.iter().all(|&t| t == IGNORE_INDEX));
}

#[test]
fn span_masking_selects_runs_within_the_exact_budget() {
    let cfg = MlmMaskConfig {
        select: SelectMode::Exact,
        span_mean: 3.0,
        span_max: 10,
        mask_frac: 1.0,
        random_frac: 0.0,
        ..Default::default()
    };
    let m = MlmMasker::new(cfg, V, 2, 3).unwrap();
    let mut data = Generator::seed_from_u64(3);
    let (mut runs, mut run_tokens) = (0usize, 0usize);
    for i in 0..300u64 {
        let ids = seq(&mut data, 100);
        let (x, y) = m.apply(&ids, &mut SampleKey::new(0, 0, i).rng()).unwrap();
        let sel: Vec<bool> = y.iter().map(|&t| t != IGNORE_INDEX).collect();
        assert_eq!(sel.iter().filter(|&&s| s).count(), 15);
        for j in 0..100 {
            assert_eq!(
                x[j] == 2,
                sel[j],
                "mask_frac 1: every selected position is <mask>"
            );
            if sel[j] && (j == 0 || !sel[j - 1]) {
                runs += 1;
            }
        }
        run_tokens += 15;
    }
    let mean_run = run_tokens as f64 / runs as f64;
    // spans of mean ~3 (cut by the budget, merged when adjacent): clearly longer than single tokens
    assert!(mean_run > 2.0, "mean run length {mean_run}");
}

#[test]
fn draws_are_keyed_and_inputs_are_checked() {
    let m = MlmMasker::new(MlmMaskConfig::default(), V, 2, 3).unwrap();
    let ids: Vec<i64> = (0..64).map(|i| 3 + i % 68).collect();
    let a = mlm_views(&m, &ids, SampleKey::new(1, 0, 5)).unwrap();
    let b = mlm_views(&m, &ids, SampleKey::new(1, 0, 5)).unwrap();
    let c = mlm_views(&m, &ids, SampleKey::new(1, 1, 5)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    let e = m
        .apply(&[3, 4, 71], &mut Generator::seed_from_u64(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("71") && e.contains("position 2"), "{e}");

    let bad = MlmMaskConfig {
        mask_frac: 0.95,
        random_frac: 0.1,
        ..Default::default()
    };
    let e = bad.validate_at("method.mask").unwrap_err().to_string();
    assert!(e.contains("method.mask.random_frac"), "{e}");
    let bad = MlmMaskConfig {
        prob: 0.0,
        ..Default::default()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("mask.prob"));
    assert!(MlmMasker::new(MlmMaskConfig::default(), 3, 2, 3).is_err());
}

#[test]
fn the_config_enum_is_tagged_by_kind_and_validated() {
    assert_eq!(KINDS, &["gpt", "bert"]);
    assert_eq!(LanguageModelConfig::KINDS, KINDS);
    let c: LanguageModelConfig =
        serde_json::from_str(r#"{"kind": "bert", "mask": {"prob": 0.2, "select": "exact"}}"#)
            .unwrap();
    let LanguageModelConfig::Bert(b) = &c else {
        panic!("{c:?}")
    };
    assert_eq!(b.mask.prob, 0.2);
    assert_eq!(b.mask.select, SelectMode::Exact);
    assert_eq!(c.name(), "bert");
    c.validate().unwrap();
    let c: LanguageModelConfig =
        serde_json::from_str(r#"{"kind": "gpt", "dropout": 1.5}"#).unwrap();
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("method.dropout"), "{e}");
    assert!(serde_json::from_str::<LanguageModelConfig>(r#"{"kind": "gpt", "typo": 1}"#).is_err());
    assert!(serde_json::from_str::<LanguageModelConfig>(r#"{"kind": "t5"}"#).is_err());
}
