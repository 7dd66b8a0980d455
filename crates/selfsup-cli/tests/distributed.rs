//! Data-parallel `selfsup pretrain` (issue 14). With the `dist` feature (run by
//! `cargo xtask test-dist`): `--nproc-per-node 2` with batch B trains what one process with batch
//! 2B trains (per-step losses within 1e-5; SimCLR with an MLP and no BatchNorm), rank 0 alone
//! writes the run folder and reports, and the kNN evaluation runs. Without the feature, the flag
//! (and a `WORLD_SIZE` > 1 in the environment) is an error that says how to build with it.

mod common;

use common::selfsup;
use std::path::Path;

#[allow(dead_code)]
const CFG: &str = r#"
[data]
max_samples = 120
batch_size = BATCH
val_fraction = 0.2
[backbone]
kind = "mlp"
input_dim = 784
hidden = [32]
output_dim = 16
[method]
kind = "simclr"
hidden_dim = 32
output_dim = 16
batch_norm = false
[train]
epochs = 2
log_every = 1
progress = "off"
[eval]
before = false
[eval.knn]
k = 5
[eval.probe]
epochs = 5
"#;

#[allow(dead_code)]
fn write_cfg(dir: &Path, name: &str, batch: usize) -> String {
    let p = dir.join(name);
    std::fs::write(&p, CFG.replace("BATCH", &batch.to_string())).unwrap();
    p.to_str().unwrap().to_string()
}

#[allow(dead_code)]
fn train_losses(run: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("kind").and_then(|s| s.as_str()) == Some("train"))
        .map(|v| v["loss"].as_f64().expect("loss"))
        .collect()
}

#[cfg(feature = "dist")]
#[test]
fn two_workers_train_what_one_process_with_twice_the_batch_trains() {
    let dir = tempfile::tempdir().unwrap();
    let one = write_cfg(dir.path(), "one.toml", 16);
    let two = write_cfg(dir.path(), "two.toml", 8);
    let (ok, out1, err) = selfsup(&["pretrain", "--config", &one, "--out", "one"], dir.path());
    assert!(ok, "stdout: {out1}\nstderr: {err}");
    let (ok, out2, err) = selfsup(
        &[
            "pretrain",
            "--config",
            &two,
            "--out",
            "two",
            "--nproc-per-node",
            "2",
        ],
        dir.path(),
    );
    assert!(ok, "stdout: {out2}\nstderr: {err}");
    // Rank 0 alone reports.
    assert_eq!(out2.matches("selfsup pretrain:").count(), 1, "{out2}");
    assert!(
        out2.contains("data-parallel: 2 ranks × batch 8 (global batch 16)"),
        "{out2}"
    );
    assert!(out2.contains("after pretraining"), "{out2}");
    let (a, b) = (
        train_losses(&dir.path().join("one")),
        train_losses(&dir.path().join("two")),
    );
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    assert!(a.len() >= 10, "{a:?}");
    for (s, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= 1e-5, "step {s}: {x} vs {y}");
    }
    assert!(
        (a[0] - a[a.len() - 1]).abs() > 1e-3,
        "the loss did not move: {a:?}"
    );
    for f in [
        "eval.json",
        "encoder.safetensors",
        "checkpoints/best.safetensors",
    ] {
        assert!(dir.path().join("two").join(f).exists(), "{f} missing");
    }
}

#[cfg(not(feature = "dist"))]
#[test]
fn without_the_feature_the_flag_says_how_to_build() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = selfsup(
        &["pretrain", "--nproc-per-node", "2", "--epochs", "1"],
        dir.path(),
    );
    assert!(!ok, "{err}");
    assert!(
        err.contains("--features dist") && err.contains("xtask setup --dist"),
        "{err}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_selfsup"))
        .args(["pretrain", "--epochs", "1"])
        .current_dir(dir.path())
        .env("RANK", "0")
        .env("WORLD_SIZE", "2")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("WORLD_SIZE = 2") && err.contains("--features dist"),
        "{err}"
    );
}

#[test]
fn zero_workers_is_an_error_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = selfsup(&["pretrain", "--nproc-per-node", "0"], dir.path());
    assert!(!ok);
    assert!(err.contains("--nproc-per-node"), "{err}");
}
