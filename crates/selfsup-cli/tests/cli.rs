//! The `selfsup` binary end to end: invalid configs fail before training naming the field and the
//! allowed values; a tiny pretraining run leaves a complete run folder, resumes, evaluates and exports.

use std::path::Path;

mod common;
use common::selfsup;

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
        !ok && err.contains("--optimizer") && err.contains("lars"),
        "{err}"
    );
    // A negative number is a value, not an unknown flag, and validation names the field.
    let (ok, _, err) = selfsup(&["pretrain", "--lr", "-0.1"], dir.path());
    assert!(!ok && err.contains("optimizer.lr"), "{err}");
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
fn the_main_job_runs_at_batch_128_other_methods_at_the_batch_they_were_measured_at() {
    let dir = tempfile::tempdir().unwrap();
    let batch = |args: &[&str]| {
        let v = common::resolved(args, dir.path());
        common::get(&v, "data.batch_size").as_integer().unwrap()
    };
    assert_eq!(batch(&[]), 128, "the main job");
    assert_eq!(
        batch(&["--method", "simclr"]),
        128,
        "the main job's method named"
    );
    for m in ["byol", "vicreg", "rotation", "jigsaw"] {
        assert_eq!(batch(&["--method", m]), 256, "{m}");
    }
    assert_eq!(batch(&["--method", "byol", "--batch-size", "64"]), 64);
    assert_eq!(
        batch(&["--dataset", "fsdd", "--method", "byol"]),
        128,
        "the FSDD preset's own"
    );
    assert_eq!(
        batch(&["--method", "ae"]),
        128,
        "the auto-encoder preset's own"
    );
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

/// The `train` and `epoch` rows of a run's metrics.jsonl without the wall-clock `samples_per_sec`.
fn metric_rows(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("samples_per_sec");
            v
        })
        .collect()
}

#[test]
fn the_online_probe_is_logged_and_an_interrupted_run_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    // 120 training samples in batches of 32: 3 steps per epoch, 6 in all; every step logged.
    let cfg = r#"
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
log_every = 1
progress = "off"
[eval]
before = false
online_probe_lr = 0.01
[eval.knn]
k = 10
[eval.probe]
epochs = 5
"#;
    let p = dir.path().join("run.toml");
    std::fs::write(&p, cfg).unwrap();
    let c = p.to_str().unwrap();
    let (ok, out, err) = selfsup(&["pretrain", "--config", c, "--out", "full"], dir.path());
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("online linear probe"), "{out}");
    let full = dir.path().join("full");
    let rows = metric_rows(&full);
    let train: Vec<_> = rows.iter().filter(|r| r["kind"] == "train").collect();
    assert_eq!(train.len(), 6, "{rows:?}");
    for r in &train {
        let acc = r["online_probe_acc"]
            .as_f64()
            .expect("online_probe_acc logged");
        let loss = r["online_probe_loss"]
            .as_f64()
            .expect("online_probe_loss logged");
        assert!(
            (0.0..=1.0).contains(&acc) && loss.is_finite() && loss > 0.0,
            "{r}"
        );
    }
    let csv = std::fs::read_to_string(full.join("metrics.csv")).unwrap();
    assert_eq!(csv.matches(",online_probe_acc,").count(), 6);
    assert!(full.join("online_probe.png").exists());
    let ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(full.join("eval.json")).unwrap()).unwrap();
    assert!(
        ev["online_probe_last_epoch"]["train_batch_acc"].is_f64(),
        "{ev}"
    );

    // The same run stopped after step 4 (mid-epoch 2) and resumed in a new process.
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--config",
            c,
            "--out",
            "part",
            "--stop-at-step",
            "4",
        ],
        dir.path(),
    );
    assert!(ok && out.contains("interrupted at step 4"), "{out}{err}");
    let (ok, out, err) = selfsup(
        &["pretrain", "--config", c, "--out", "part", "--resume"],
        dir.path(),
    );
    assert!(ok && out.contains("resumed at step 4"), "{out}{err}");
    // Losses, learning rates, gradient norms, online-probe loss and accuracy, kNN: all identical.
    assert_eq!(metric_rows(&dir.path().join("part")), rows);

    // Unlabelled data cannot have the probe switched on.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[data]\nkind = \"text\"\n[eval]\nonline_probe = true\n",
    )
    .unwrap();
    let (ok, _, err) = selfsup(&["pretrain", "--config", bad.to_str().unwrap()], dir.path());
    assert!(!ok && err.contains("eval.online_probe"), "{err}");
}

#[test]
fn text_pretraining_runs_through_the_cli_library_and_the_loss_falls() {
    let dir = tempfile::tempdir().unwrap();
    // A small deterministic corpus: sentences drawn from a few words (an LCG picks them).
    let words = [
        "the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "red", "door", "and", "then",
        "slept", "near", "big", "tree",
    ];
    let mut state = 12345u64;
    let mut corpus = String::new();
    for _ in 0..1200 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        corpus.push_str(words[(state >> 33) as usize % words.len()]);
        corpus.push(if (state >> 20) % 7 == 0 { '\n' } else { ' ' });
    }
    let file = dir.path().join("corpus.txt");
    std::fs::write(&file, &corpus).unwrap();

    let mut cfg = selfsup_cli::config::RunConfig::text();
    cfg.out_dir = dir.path().join("run");
    cfg.data.path = Some(file.clone());
    cfg.data.text.seq_len = 32;
    cfg.data.max_samples = 96;
    cfg.data.batch_size = 16; // 6 steps per epoch
                              // views cropped from one window (the preset's 4-window passages would leave 2 steps per epoch)
    cfg.augment.tokens = Default::default();
    cfg.backbone = serde_json::from_value(serde_json::json!({
        "kind": "transformer_encoder", "vocab_size": 259, "max_len": 32,
        "dim": 32, "depth": 1, "heads": 2, "mlp_ratio": 2.0
    }))
    .unwrap();
    cfg.method = serde_json::from_value(serde_json::json!({
        "kind": "simclr", "hidden_dim": 32, "output_dim": 16
    }))
    .unwrap();
    cfg.train.epochs = 3;
    cfg.train.optimizer.lr = 3e-3;
    cfg.train.schedule.warmup_epochs = 0.0;
    cfg.train.progress = selfsup_train::ProgressMode::Off;
    let s = selfsup_cli::pretrain::run_config(&cfg, false).unwrap();
    assert!(s.after.is_none() && s.before.is_none() && s.online_probe.is_none());
    assert_eq!(s.epoch_losses.len(), 3, "{:?}", s.epoch_losses);
    assert!(s.epoch_losses.iter().all(|l| l.is_finite()));
    assert!(
        s.epoch_losses[2] < s.epoch_losses[0] - 0.05,
        "the loss did not fall: {:?}",
        s.epoch_losses
    );
    let run = dir.path().join("run");
    for f in [
        "config.toml",
        "metrics.jsonl",
        "metrics.csv",
        "loss.png",
        "eval.json",
        "encoder.safetensors",
        "checkpoints/best.safetensors",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    // The run folder's config reads back as the same run.
    let back = selfsup_cli::config::RunConfig::from_file(&run.join("config.toml")).unwrap();
    assert_eq!(back, cfg);

    // No labels: `selfsup eval` refuses clearly; `preview` prints the original and two views.
    let (ok, _, err) = selfsup(&["eval", "knn", "--run", "run"], dir.path());
    assert!(!ok && err.contains("labels"), "{err}");
    let (ok, out, err) = selfsup(
        &[
            "preview",
            "--dataset",
            "text",
            "--data",
            file.to_str().unwrap(),
            "--n",
            "2",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert_eq!(out.matches("view 2:").count(), 2, "{out}");
    // The preset's views are two unmasked windows of the passage: each is a piece of the original.
    assert!(!out.contains("<mask>"), "{out}");
    let field = |line: &str| {
        line.split_once(": ")
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
    };
    let mut original = String::new();
    for line in out.lines() {
        if line.trim_start().starts_with("original:") {
            original = field(line).unwrap();
        } else if line.trim_start().starts_with("view ") {
            let view = field(line).unwrap();
            assert!(
                original.contains(&view),
                "{view:?} not in {original:?}\n{out}"
            );
        }
    }
    // Text with an image backbone, or the image recipe, is refused naming the field.
    let (ok, _, err) = selfsup(
        &[
            "pretrain",
            "--dataset",
            "text",
            "--data",
            file.to_str().unwrap(),
            "--backbone",
            "conv_net",
        ],
        dir.path(),
    );
    assert!(!ok && err.contains("backbone.kind"), "{err}");
    let (ok, _, err) = selfsup(
        &[
            "pretrain",
            "--dataset",
            "text",
            "--data",
            file.to_str().unwrap(),
            "--recipe",
            "simclr",
        ],
        dir.path(),
    );
    assert!(
        !ok && err.contains("augment.recipe") && err.contains("tokens"),
        "{err}"
    );
}

#[test]
fn every_method_family_pretrains_from_the_cli() {
    // One tiny run per family (the contrastive family is covered above): the run completes, is
    // evaluated, and its metrics carry the family's own scalar.
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--method", "dae"], "recon"),
        (&["--method", "mae"], "recon"),
        (&["--method", "rotation"], "pretext_acc"),
        (
            &["--dataset", "fsdd", "--method", "masked_spectrogram"],
            "pretext_mse",
        ),
    ];
    for (i, (args, scalar)) in cases.iter().enumerate() {
        let out_dir = format!("run{i}");
        let mut all = vec!["pretrain", "--max-samples", "96", "--epochs", "1"];
        all.extend_from_slice(&["--batch-size", "32", "--out", &out_dir]);
        all.extend_from_slice(args);
        let (ok, out, err) = selfsup(&all, dir.path());
        assert!(ok, "{args:?}\nstdout: {out}\nstderr: {err}");
        assert!(out.contains("after pretraining"), "{args:?}: {out}");
        let run = dir.path().join(&out_dir);
        assert!(run.join("eval.json").exists(), "{args:?}: no eval.json");
        let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        assert!(
            metrics.contains(&format!("\"{scalar}\"")),
            "{args:?}: metrics lack `{scalar}`"
        );
    }
    let (ok, _, err) = selfsup(&["pretrain", "--method", "gpt"], dir.path());
    assert!(!ok && err.contains("gpt"), "{err}");
    // An image task on audio is refused before anything is evaluated or trained.
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--dataset",
            "fsdd",
            "--method",
            "jigsaw",
            "--out",
            "bad",
        ],
        dir.path(),
    );
    assert!(
        !ok && err.contains("jigsaw") && err.contains("images"),
        "{err}"
    );
    assert!(!out.contains("before pretraining"), "{out}");
}

#[test]
fn a_character_gpt_pretrains_on_shakespeare_validates_and_generates_by_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--dataset",
            "shakespeare",
            "--epochs",
            "1",
            "--max-samples",
            "96",
            "--batch-size",
            "16",
            "--out",
            "gpt",
        ],
        dir.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("val_loss"), "{out}");
    let run = dir.path().join("gpt");
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    let loss = eval["validation"]["val_loss"].as_f64().unwrap();
    // A barely trained character model: between a perfect model and far worse than uniform.
    assert!(loss > 0.5 && loss < 2.0 * (71f64).ln(), "{loss}");
    // The vendored plays label their windows: kNN and the probe attribute them to their play before
    // and after training, on `--max-samples` evenly spaced windows of each split.
    assert!(
        out.contains(
            "play attribution: the eight Shakespeare plays, 96 train / 96 held-out windows"
        ),
        "{out}"
    );
    assert!(out.contains("8 classes"), "{out}");
    for when in ["before", "after"] {
        for m in ["knn_acc", "linear_probe_acc"] {
            let a = eval[when][m].as_f64().unwrap_or(-1.0);
            assert!((0.0..=1.0).contains(&a), "{when} {m}: {eval}");
        }
    }
    // `selfsup eval knn` re-evaluates the run on the same windows: the figure pretrain reported.
    let (ok, knn_out, err) = selfsup(&["eval", "knn", "--run", "gpt"], dir.path());
    assert!(ok, "stdout: {knn_out}\nstderr: {err}");
    let knn = format!("{:.4}", eval["after"]["knn_acc"].as_f64().unwrap());
    assert!(
        knn_out.contains(&format!("accuracy on the held-out split: {knn}")),
        "{knn_out} vs {knn}"
    );
    let gen = |seed: &str| {
        let (ok, out, err) = selfsup(
            &[
                "generate", "--run", "gpt", "--prompt", "ROMEO:", "--tokens", "30", "--seed", seed,
            ],
            dir.path(),
        );
        assert!(ok, "{err}");
        out
    };
    let a = gen("1");
    assert!(a.starts_with("ROMEO:") && a.chars().count() >= 36, "{a}");
    assert_eq!(a, gen("1"));
    let (ok, _, err) = selfsup(
        &["generate", "--run", "gpt", "--prompt", "ROMEO\u{20ac}"],
        dir.path(),
    );
    assert!(!ok && err.contains("U+20AC"), "{err}");
}
