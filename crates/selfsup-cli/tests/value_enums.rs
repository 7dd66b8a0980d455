//! The flags that name a kind — `--method`, `--backbone`, `--optimizer`, `--schedule`, `--recipe` and
//! `eval`'s protocol — are clap value enums: `--help` lists the allowed values, a wrong value is
//! clap's "possible values" error before anything runs, and every listed value is the config file's
//! own spelling (the flag and the TOML `kind` agree).

use clap::ValueEnum;
use selfsup::methods::MethodConfig;
use selfsup_nn::{BackboneConfig, BackboneKind};
use selfsup_train::eval::EvalProtocol;
use selfsup_train::{OptimizerKind, ScheduleKind};

mod common;
use common::selfsup;

fn names<T: ValueEnum>() -> Vec<String> {
    T::value_variants()
        .iter()
        .map(|v| v.to_possible_value().unwrap().get_name().to_string())
        .collect()
}

/// The `[possible values: a, b, ...]` list that `-h` prints for `flag` (clap's short help).
fn listed(help: &str, flag: &str) -> Vec<String> {
    let start = help
        .find(flag)
        .unwrap_or_else(|| panic!("{flag} not in the help:\n{help}"));
    let rest = &help[start..];
    let open = rest
        .find("[possible values: ")
        .unwrap_or_else(|| panic!("{flag} lists no possible values:\n{rest}"));
    let list = &rest[open + "[possible values: ".len()..];
    let list = &list[..list.find(']').unwrap()];
    // The list of one flag must end before the next flag starts.
    let next_flag = rest[2..].find("\n  -").map_or(usize::MAX, |i| i + 2);
    assert!(open < next_flag, "{flag}'s line has no possible values");
    list.split(", ").map(str::to_string).collect()
}

fn kinds() -> Vec<String> {
    MethodConfig::kinds()
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[test]
fn pretrain_help_lists_every_allowed_value() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, help, err) = selfsup(&["pretrain", "-h"], dir.path());
    assert!(ok, "{err}");
    let methods = kinds();
    assert!(methods.len() > 20, "{methods:?}");
    assert_eq!(listed(&help, "--method"), methods);
    assert_eq!(listed(&help, "--backbone"), names::<BackboneKind>());
    assert_eq!(listed(&help, "--optimizer"), names::<OptimizerKind>());
    assert_eq!(listed(&help, "--schedule"), names::<ScheduleKind>());
    assert_eq!(
        listed(&help, "--recipe"),
        names::<selfsup_augment::RecipeName>()
    );
    for b in ["conv_net", "resnet18", "vit", "transformer_encoder"] {
        assert!(names::<BackboneKind>().iter().any(|n| n == b), "{b}");
    }
    // The long help lists them too, one per line with its description.
    let (ok, long, err) = selfsup(&["pretrain", "--help"], dir.path());
    assert!(ok, "{err}");
    assert!(long.contains("- warmup_cosine"), "{long}");
    assert!(long.contains("- resnet50"), "{long}");
    let (ok, help, err) = selfsup(&["eval", "-h"], dir.path());
    assert!(ok, "{err}");
    assert!(help.contains("[possible values: knn, linear]"), "{help}");
}

#[test]
fn a_wrong_value_is_an_error_listing_the_allowed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let methods = kinds().join(", ");
    let cases: [(&[&str], &str, String); 5] = [
        (&["pretrain", "--method", "simclrr"], "simclrr", methods),
        (
            &["pretrain", "--backbone", "resnet19"],
            "resnet19",
            names::<BackboneKind>().join(", "),
        ),
        (
            &["pretrain", "--optimizer", "rmsprop"],
            "rmsprop",
            names::<OptimizerKind>().join(", "),
        ),
        (
            &["pretrain", "--schedule", "cosine"],
            "cosine",
            names::<ScheduleKind>().join(", "),
        ),
        (
            &["eval", "knnn", "--run", "nowhere"],
            "knnn",
            "knn, linear".into(),
        ),
    ];
    for (args, wrong, allowed) in cases {
        let (ok, out, err) = selfsup(args, dir.path());
        assert!(!ok, "{args:?} was accepted: {out}");
        assert!(
            err.contains(&format!("invalid value '{wrong}'")),
            "{args:?}: {err}"
        );
        assert!(
            err.contains(&format!("[possible values: {allowed}]")),
            "{args:?}: {err}"
        );
        assert!(!dir.path().join("runs").exists(), "{args:?} started a run");
    }
}

#[test]
fn the_values_reach_the_config_under_their_toml_spelling_and_old_spellings_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text, err) = selfsup(
        &[
            "pretrain",
            "--print-config",
            "--method",
            "byol",
            "--backbone",
            "resnet18",
            "--optimizer",
            "adamw",
            "--schedule",
            "warmup_cosine",
            "--recipe",
            "mnist",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    let v: toml::Value = toml::from_str(&text).unwrap();
    let get = |path: &str| {
        path.split('.')
            .fold(&v, |v, k| &v[k])
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(get("method.kind").as_deref(), Some("byol"));
    assert_eq!(get("backbone.kind").as_deref(), Some("resnet18"));
    assert_eq!(get("train.optimizer.kind").as_deref(), Some("adamw"));
    assert_eq!(get("train.schedule.kind").as_deref(), Some("warmup_cosine"));
    // `mnist` is the old spelling of the digit recipe; the main job's digit recipe sets fields
    // (rotation, shear), so it is written as a table with its `kind`.
    let recipe = get("augment.recipe").or_else(|| get("augment.recipe.kind"));
    assert_eq!(recipe.as_deref(), Some("digit"));
}

#[test]
fn every_flag_value_is_the_config_files_spelling() {
    for k in BackboneKind::value_variants() {
        let name = k.to_possible_value().unwrap().get_name().to_string();
        let c = BackboneConfig::from(*k);
        assert_eq!(c.kind(), *k);
        assert_eq!(c.kind_name(), name);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["kind"], name.as_str(), "{k:?}");
        let back: BackboneConfig =
            serde_json::from_value(serde_json::json!({ "kind": name })).unwrap();
        assert_eq!(back, c, "{name}: `kind` alone gives the defaults");
    }
    fn same_as_serde<T: ValueEnum + serde::Serialize>() {
        for k in T::value_variants() {
            let name = k.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(serde_json::to_value(k).unwrap(), name.as_str());
        }
    }
    same_as_serde::<OptimizerKind>();
    same_as_serde::<ScheduleKind>();
    same_as_serde::<EvalProtocol>();
    same_as_serde::<selfsup_augment::RecipeName>();
    for kind in MethodConfig::kinds() {
        assert_eq!(MethodConfig::from_kind(kind).unwrap().spec().name(), kind);
    }
}
