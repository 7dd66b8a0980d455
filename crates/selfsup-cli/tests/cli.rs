//! The `selfsup` binary end to end: invalid configs fail before training naming the field and the
//! allowed values; a tiny pretraining run leaves a complete run folder, resumes, evaluates and exports.

use std::path::Path;
use std::process::Command;

fn selfsup(args: &[&str], cwd: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_selfsup"))
        .args(args)
        .current_dir(cwd)
        .env(
            "SELFSUP_DATA",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../data"),
        )
        .env("RUST_LOG", "warn")
        .output()
        .expect("run selfsup");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn invalid_configs_fail_before_training_and_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[train]\nepochs = 0\n", "train.epochs"),
        ("[train.optimizer]\nkind = \"rmsprop\"\n", "adamw"),
        ("[data]\nbatchsize = 3\n", "batchsize"),
        ("[augment]\nrecipe = \"nope\"\n", "augment.recipe"),
        ("[eval.knn]\nk = 0\n", "knn.k"),
    ];
    for (text, needle) in cases {
        let p = dir.path().join("run.toml");
        std::fs::write(&p, text).unwrap();
        let (ok, _, err) = selfsup(&["pretrain", "--config", p.to_str().unwrap()], dir.path());
        assert!(!ok, "{text} was accepted");
        assert!(
            err.contains(needle),
            "{text}: error does not name `{needle}`: {err}"
        );
        assert!(
            !dir.path().join("runs").exists(),
            "a run folder was created for an invalid config"
        );
    }
    let (ok, _, err) = selfsup(&["pretrain", "--optimizer", "rmsprop"], dir.path());
    assert!(
        !ok && err.contains("optimizer.kind") && err.contains("lars"),
        "{err}"
    );
    let (ok, _, err) = selfsup(&["pretrain", "--method", "simclrr"], dir.path());
    assert!(
        !ok && err.contains("method") && err.contains("byol"),
        "{err}"
    );
}

#[test]
fn print_config_gives_a_config_that_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text, err) = selfsup(&["pretrain", "--print-config", "--epochs", "3"], dir.path());
    assert!(ok, "{err}");
    let p = dir.path().join("run.toml");
    std::fs::write(&p, &text).unwrap();
    let (ok, again, err) = selfsup(
        &[
            "pretrain",
            "--print-config",
            "--config",
            p.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert_eq!(again, text);
    assert!(text.contains("epochs = 3"));
}

#[test]
fn a_tiny_run_trains_resumes_evaluates_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = r#"
out_dir = "run"
[data]
max_samples = 160
batch_size = 32
val_fraction = 0.25
[backbone]
kind = "conv_net"
widths = [8, 16]
[method]
kind = "simclr"
hidden_dim = 32
output_dim = 16
[train]
epochs = 2
progress = "off"
[eval.knn]
k = 10
[eval.probe]
epochs = 20
"#;
    let p = dir.path().join("run.toml");
    std::fs::write(&p, cfg).unwrap();
    let (ok, out, err) = selfsup(&["pretrain", "--config", p.to_str().unwrap()], dir.path());
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("before pretraining") && out.contains("after pretraining"),
        "{out}"
    );
    let run = dir.path().join("run");
    for f in [
        "config.toml",
        "metrics.jsonl",
        "metrics.csv",
        "loss.png",
        "eval.png",
        "eval.json",
        "encoder.safetensors",
        "checkpoints/best.safetensors",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    // Running again into the same folder without --resume is refused.
    let (ok, _, err) = selfsup(&["pretrain", "--config", p.to_str().unwrap()], dir.path());
    assert!(!ok && err.contains("--resume"), "{err}");
    // Resuming a finished run trains nothing more and evaluates again.
    let (ok, out, err) = selfsup(
        &["pretrain", "--config", p.to_str().unwrap(), "--resume"],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("resumed at step"), "{out}");
    let (ok, out, err) = selfsup(&["eval", "knn", "--run", "run", "--k", "5"], dir.path());
    assert!(ok && out.contains("kNN (k=5"), "{out}{err}");
    let (ok, out, err) = selfsup(
        &["export", "--run", "run", "--out", "enc.safetensors"],
        dir.path(),
    );
    assert!(ok && out.contains("tensors"), "{out}{err}");
    assert!(dir.path().join("enc.safetensors").exists());
    let (ok, out, err) = selfsup(&["preview", "--n", "2", "--out", "p.png"], dir.path());
    assert!(ok, "{out}{err}");
    let img = image::open(dir.path().join("p.png")).unwrap();
    // 3 columns (original + 2 views) × 2 rows of 28 px tiles drawn 3× with 2 px gaps.
    assert_eq!((img.width(), img.height()), (3 * 86 + 2, 2 * 86 + 2));
}
