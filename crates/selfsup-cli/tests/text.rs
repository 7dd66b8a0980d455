//! Language models through the `selfsup` binary (issue 13): validation metrics at each evaluation,
//! `selfsup eval --data FILE`, exact resume of a GPT run, and bad text input (empty, binary, too
//! short, non-UTF-8, characters outside the vocabulary) refused with a clear message.

use std::path::Path;

mod common;
use common::selfsup;

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

/// A small text: a few hundred characters of two short "plays", repeated, so that a tiny model learns
/// something in a few steps.
fn write_corpus(dir: &Path) -> (String, String) {
    let line = "ROMEO: But soft, what light through yonder window breaks?\nJULIET: O Romeo, Romeo, wherefore art thou Romeo?\n";
    std::fs::write(dir.join("train.txt"), line.repeat(40)).unwrap();
    std::fs::write(dir.join("val.txt"), line.repeat(4)).unwrap();
    (
        dir.join("train.txt").display().to_string(),
        dir.join("val.txt").display().to_string(),
    )
}

/// A tiny GPT or BERT config over `train.txt` / `val.txt`: 32 samples of 16+1 characters per epoch in
/// batches of 8, so 4 steps per epoch, 3 epochs, every step logged, an evaluation after each epoch.
fn tiny_config(dir: &Path, kind: &str) -> String {
    let cfg = format!(
        r#"
[data]
kind = "text"
path = "train.txt"
val_path = "val.txt"
batch_size = 8
max_samples = 32
[data.text]
tokenizer = "char"
seq_len = 16
[backbone]
kind = "transformer_encoder"
vocab_size = 64
max_len = 16
dim = 32
depth = 1
heads = 2
[method]
kind = "{kind}"
[train]
epochs = 3
log_every = 1
progress = "off"
[train.optimizer]
kind = "adamw"
lr = 0.01
"#
    );
    let p = dir.join(format!("{kind}.toml"));
    std::fs::write(&p, cfg).unwrap();
    p.display().to_string()
}

#[test]
fn validation_metrics_are_logged_at_each_evaluation_and_a_stopped_gpt_run_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    let c = tiny_config(dir.path(), "gpt");
    let (ok, out, err) = selfsup(&["pretrain", "--config", &c, "--out", "full"], dir.path());
    assert!(ok, "stdout: {out}\nstderr: {err}");
    let full = dir.path().join("full");
    let rows = metric_rows(&full);
    let evals: Vec<_> = rows.iter().filter(|r| r["kind"] == "epoch").collect();
    assert_eq!(evals.len(), 3, "{rows:?}");
    let ln2 = std::f64::consts::LN_2;
    let mut losses = Vec::new();
    for r in &evals {
        let l = r["val_loss"].as_f64().expect("val_loss at each evaluation");
        let bpc = r["val_bits_per_char"].as_f64().unwrap();
        let ppl = r["val_ppl"].as_f64().unwrap();
        assert!(
            (bpc - l / ln2).abs() < 1e-9 && (ppl - l.exp()).abs() < 1e-9 * ppl,
            "{r}"
        );
        assert!(
            r.get("val_tokens").is_none(),
            "the weight is not a metric: {r}"
        );
        losses.push(l);
    }
    // Uniform over the 34 characters of the text is ln 34 = 3.53 nats; training moves below it.
    assert!(
        losses[2] < losses[0] && losses[2] < 34f64.ln(),
        "{losses:?}"
    );
    let csv = std::fs::read_to_string(full.join("metrics.csv")).unwrap();
    assert_eq!(csv.matches(",val_bits_per_char,").count(), 3, "{csv}");
    assert!(full.join("eval.png").exists());
    // The reported validation is the last evaluation's, and the best checkpoint is the lowest val_loss.
    let ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(full.join("eval.json")).unwrap()).unwrap();
    assert_eq!(ev["validation"]["val_loss"].as_f64(), Some(losses[2]));
    assert!(full.join("checkpoints/best.safetensors").exists());

    // `selfsup eval --data` on the validation file gives the same figure.
    let (ok, out, err) = selfsup(
        &[
            "eval",
            "--run",
            "full",
            "--checkpoint",
            &newest_checkpoint(&full),
            "--data",
            "val.txt",
        ],
        dir.path(),
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!("{:.4} nats/token", losses[2])),
        "{out} vs {}",
        losses[2]
    );

    // Stopped after step 6 (mid-epoch 2) and resumed in a new process: every logged value, the
    // validation metrics included, replays bit-exactly.
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--config",
            &c,
            "--out",
            "part",
            "--stop-at-step",
            "6",
        ],
        dir.path(),
    );
    assert!(ok && out.contains("interrupted at step 6"), "{out}{err}");
    // The vocabulary and model description are there from the start (generation, eval of a stopped run).
    for f in ["vocab.json", "model.json"] {
        assert!(dir.path().join("part").join(f).exists(), "{f}");
    }
    let (ok, out, err) = selfsup(
        &["pretrain", "--config", &c, "--out", "part", "--resume"],
        dir.path(),
    );
    assert!(ok && out.contains("resumed at step 6"), "{out}{err}");
    assert_eq!(metric_rows(&dir.path().join("part")), rows);
}

fn newest_checkpoint(run: &Path) -> String {
    let mut v: Vec<_> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ckpt-step"))
        })
        .collect();
    v.sort();
    v.last().expect("a step checkpoint").display().to_string()
}

#[test]
fn bert_logs_masked_token_accuracy_and_eval_data_reports_any_file_with_unknowns_explicit() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    let c = tiny_config(dir.path(), "bert");
    let (ok, out, err) = selfsup(&["pretrain", "--config", &c, "--out", "bert"], dir.path());
    assert!(ok, "stdout: {out}\nstderr: {err}");
    let rows = metric_rows(&dir.path().join("bert"));
    let evals: Vec<_> = rows.iter().filter(|r| r["kind"] == "epoch").collect();
    assert_eq!(evals.len(), 3);
    for r in &evals {
        let a = r["val_mlm_acc"]
            .as_f64()
            .expect("val_mlm_acc at each evaluation");
        assert!(
            (0.0..=1.0).contains(&a) && r["val_loss"].as_f64().unwrap() > 0.0,
            "{r}"
        );
    }

    // Any text file: one with a character the training text lacks is an error naming it ...
    std::fs::write(
        dir.path().join("other.txt"),
        "ROMEO: what light is this? Zounds!\n".repeat(3),
    )
    .unwrap();
    let (ok, _, err) = selfsup(
        &["eval", "--run", "bert", "--data", "other.txt"],
        dir.path(),
    );
    assert!(
        !ok && err.contains("'Z'") && err.contains("--unknown unk"),
        "{err}"
    );
    // ... or, asked for, encoded as <unk> and counted.
    let (ok, out, err) = selfsup(
        &[
            "eval",
            "--run",
            "bert",
            "--data",
            "other.txt",
            "--unknown",
            "unk",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("bert language-model loss") && out.contains("masked-token accuracy"),
        "{out}"
    );
    assert!(
        out.contains("6 character(s) outside the vocabulary"),
        "{out}"
    );
    let (ok, _, err) = selfsup(
        &[
            "eval",
            "--run",
            "bert",
            "--data",
            "other.txt",
            "--unknown",
            "skip",
        ],
        dir.path(),
    );
    assert!(
        !ok && err.contains("--unknown") && err.contains("error, unk"),
        "{err}"
    );
    // A protocol and --data together, or an LM run with knn, are refused with the right usage.
    let (ok, _, err) = selfsup(&["eval", "knn", "--run", "bert"], dir.path());
    assert!(!ok && err.contains("--data FILE"), "{err}");
}

#[test]
fn bad_text_input_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_corpus(d);
    std::fs::write(d.join("empty.txt"), "").unwrap();
    std::fs::write(d.join("binary.bin"), [0x7fu8, b'E', b'L', b'F', 0, 1, 2, 3]).unwrap();
    std::fs::write(d.join("short.txt"), "ROMEO: hi\n").unwrap();
    std::fs::write(d.join("latin1.txt"), b"ROMEO: caf\xe9 au lait\n".repeat(20)).unwrap();
    let pretrain = |data: &str, val: Option<&str>| {
        let mut args = vec![
            "pretrain",
            "--dataset",
            "text",
            "--method",
            "gpt",
            "--data",
            data,
            "--out",
            "x",
        ];
        if let Some(v) = val {
            args.extend(["--val-data", v]);
        }
        let (ok, out, err) = selfsup(&args, d);
        assert!(!ok, "{data}: accepted\n{out}");
        assert!(
            !err.contains("panicked") && !err.contains("libtorch"),
            "{err}"
        );
        assert!(!out.contains("before pretraining"), "{out}");
        err
    };
    let err = pretrain("empty.txt", None);
    assert!(err.contains("empty.txt") && err.contains("empty"), "{err}");
    let err = pretrain("binary.bin", None);
    assert!(
        err.contains("binary.bin") && err.contains("binary"),
        "{err}"
    );
    let err = pretrain("short.txt", None);
    assert!(
        err.contains("short.txt")
            && err.contains("seq_len")
            && err.contains("fewer than one window"),
        "{err}"
    );
    let err = pretrain("latin1.txt", None);
    assert!(
        err.contains("latin1.txt") && err.contains("not UTF-8") && err.contains("byte offset 10"),
        "{err}"
    );
    // A validation file with a character the training file lacks.
    std::fs::write(d.join("val_z.txt"), "Zounds!\n".repeat(40)).unwrap();
    let err = pretrain("train.txt", Some("val_z.txt"));
    assert!(
        err.contains("val_z.txt") && err.contains("'Z'") && err.contains("line 1"),
        "{err}"
    );
    assert!(!d.join("x").join("checkpoints").exists(), "nothing trained");

    // The same files given to `selfsup eval --data` of a trained run.
    let c = tiny_config(d, "gpt");
    let (ok, out, err) = selfsup(&["pretrain", "--config", &c, "--out", "gpt"], d);
    assert!(ok, "{out}{err}");
    for (f, what) in [
        ("empty.txt", "empty"),
        ("binary.bin", "binary"),
        ("short.txt", "fewer than one window"),
        ("latin1.txt", "not UTF-8"),
        ("missing.txt", "missing.txt"),
    ] {
        let (ok, _, err) = selfsup(&["eval", "--run", "gpt", "--data", f], d);
        assert!(!ok && err.contains(f) && err.contains(what), "{f}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A prompt with a character outside the vocabulary.
    let (ok, _, err) = selfsup(
        &["generate", "--run", "gpt", "--prompt", "ROMEO: Zounds"],
        d,
    );
    assert!(
        !ok && err.contains("'Z'") && err.contains("column 8"),
        "{err}"
    );
}
