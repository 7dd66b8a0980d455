//! The `selfsup` binary on data the way people have it (issue 17): a `train/` + `test/` folder
//! layout, a separate held-out folder, unlabelled flat folders of images or WAVs, photos of mixed
//! sizes. Each test reproduces a failure of the CLI before the fix.

use std::path::Path;

mod common;
use common::{selfsup, write_config, TINY_IMAGES};

fn eval_json(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap()
}

#[test]
fn a_train_test_layout_is_one_split_dataset_and_val_data_names_the_held_out_folder() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    for c in ['a', 'b'] {
        common::images(
            &root.join("train").join(c.to_string()),
            c,
            12,
            (16, 16),
            false,
        );
        common::images(
            &root.join("test").join(c.to_string()),
            c,
            4,
            (16, 16),
            false,
        );
    }
    let cfg = write_config(t.path(), TINY_IMAGES);
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--config",
            &cfg,
            "--data",
            root.to_str().unwrap(),
            "--out",
            "run",
        ],
        t.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    // Before: two classes called `train` and `test`, 32 files split 26 / 6.
    assert!(out.contains("train/val layout detected"), "{out}");
    assert!(out.contains("24 train / 8 val samples, 2 classes"), "{out}");
    assert!(out.contains("kNN acc"), "{out}");
    // The held-out folder can also be named: the training folder alone plus --val-data.
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--config",
            &cfg,
            "--data",
            root.join("train").to_str().unwrap(),
            "--val-data",
            root.join("test").to_str().unwrap(),
            "--out",
            "run2",
        ],
        t.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("24 train / 8 val samples, 2 classes"), "{out}");
    assert!(out.contains("held-out files"), "{out}");
    // `eval` takes --data: the run evaluated on the layout's own held-out folder.
    let (ok, out, err) = selfsup(
        &[
            "eval",
            "knn",
            "--run",
            "run",
            "--data",
            root.to_str().unwrap(),
        ],
        t.path(),
    );
    assert!(
        ok && out.contains("kNN (k=3"),
        "stdout: {out}\nstderr: {err}"
    );
    // A held-out folder with a class the training data does not have is an error naming it.
    common::images(&root.join("test").join("zebra"), 'a', 2, (16, 16), false);
    let (ok, _, err) = selfsup(
        &[
            "pretrain",
            "--config",
            &cfg,
            "--data",
            root.to_str().unwrap(),
            "--out",
            "run3",
        ],
        t.path(),
    );
    assert!(!ok && err.contains("zebra"), "{err}");
    // Kinds with their own test split refuse --val-data, naming the field.
    let (ok, _, err) = selfsup(&["pretrain", "--val-data", "x", "--print-config"], t.path());
    assert!(!ok && err.contains("data.val_path"), "{err}");
}

#[test]
fn an_unlabelled_flat_folder_pretrains_and_evaluates_on_labelled_val_data() {
    let t = tempfile::tempdir().unwrap();
    let flat = t.path().join("flat");
    common::images(&flat, 'a', 10, (16, 16), false);
    common::images(&flat, 'b', 10, (16, 16), false);
    let cfg = write_config(t.path(), TINY_IMAGES);
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--config",
            &cfg,
            "--data",
            flat.to_str().unwrap(),
            "--out",
            "run",
        ],
        t.path(),
    );
    // Before: "has no class sub-folders".
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("unlabelled") && out.contains("skipped"),
        "{out}"
    );
    assert!(out.contains("mean training loss"), "{out}");
    let e = eval_json(&t.path().join("run"));
    assert!(e["after"].is_null() && e["skipped"].is_string(), "{e}");
    // Asking for the online probe on unlabelled files is an error naming the field.
    let (ok, _, err) = selfsup(
        &[
            "pretrain",
            "--config",
            &write_config(
                t.path(),
                &format!("{TINY_IMAGES}[eval]\nonline_probe = true\n"),
            ),
            "--data",
            flat.to_str().unwrap(),
            "--out",
            "run-probe",
        ],
        t.path(),
    );
    assert!(!ok && err.contains("eval.online_probe"), "{err}");
    // A labelled held-out folder gives kNN and the probe (on a split of it).
    let val = t.path().join("val");
    common::images(&val.join("a"), 'a', 6, (16, 16), false);
    common::images(&val.join("b"), 'b', 6, (16, 16), false);
    let cfg = write_config(t.path(), TINY_IMAGES);
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--config",
            &cfg,
            "--data",
            flat.to_str().unwrap(),
            "--val-data",
            val.to_str().unwrap(),
            "--out",
            "run2",
        ],
        t.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("labelled held-out files"), "{out}");
    let e = eval_json(&t.path().join("run2"));
    let k = e["after"]["knn_acc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&k), "{e}");
}

#[test]
fn an_unlabelled_folder_of_wavs_pretrains() {
    use selfsup_augment::audio::io::write_wav;
    let t = tempfile::tempdir().unwrap();
    let flat = t.path().join("clips");
    std::fs::create_dir_all(&flat).unwrap();
    for i in 0..12 {
        let f = 200.0 + 50.0 * i as f32;
        let x: Vec<f32> = (0..4000)
            .map(|n| 0.5 * (2.0 * std::f32::consts::PI * f * n as f32 / 8000.0).sin())
            .collect();
        let a = selfsup_core::Audio::mono(8000, x).unwrap();
        write_wav(&flat.join(format!("clip{i:02}.wav")), &a, 16).unwrap();
    }
    let cfg = write_config(
        t.path(),
        r#"
[data]
kind = "audio-folder"
batch_size = 4
[augment]
recipe = "contrastive"
clip_seconds = 0.25
[backbone]
kind = "audio_cnn"
widths = [4, 8]
[method]
kind = "simclr"
hidden_dim = 16
output_dim = 8
[train]
epochs = 1
progress = "off"
"#,
    );
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--config",
            &cfg,
            "--data",
            flat.to_str().unwrap(),
            "--out",
            "run",
        ],
        t.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("12 files, no class folders: unlabelled"),
        "{out}"
    );
    assert!(
        out.contains("skipped") && out.contains("mean training loss"),
        "{out}"
    );
}

#[test]
fn photos_of_mixed_sizes_train_and_defaults_follow_the_data() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    common::images(&root.join("a"), 'a', 8, (24, 18), false);
    common::images(&root.join("b"), 'b', 8, (20, 30), false);
    // What is chosen for colour photos, and that --print-config shows the effective values.
    let (ok, toml, err) = selfsup(
        &[
            "pretrain",
            "--dataset",
            "image-folder",
            "--data",
            root.to_str().unwrap(),
            "--print-config",
        ],
        t.path(),
    );
    assert!(ok, "{err}");
    assert!(
        toml.contains("recipe = \"sim_clr\"") && toml.contains("image_size = 18"),
        "{toml}"
    );
    assert!(toml.contains("online_probe = true"), "{toml}");
    assert!(
        err.contains("chosen from the data") && err.contains("colour"),
        "{err}"
    );
    // The default run shows its effective options too (absent clipping as a comment).
    let (ok, toml, err) = selfsup(&["pretrain", "--print-config"], t.path());
    assert!(ok, "{err}");
    assert!(
        toml.contains("image_size = 28") && toml.contains("online_probe = true"),
        "{toml}"
    );
    assert!(toml.contains("# clip_grad_norm: absent"), "{toml}");
    // Before: "all views in a batch need one shape", even with a fixed-size recipe. --image-size is a flag.
    let cfg = write_config(
        t.path(),
        &TINY_IMAGES.replace("recipe = \"simclr\"\nimage_size = 16\n", ""),
    );
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--config",
            &cfg,
            "--data",
            root.to_str().unwrap(),
            "--image-size",
            "12",
            "--out",
            "run",
        ],
        t.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("chosen from the data: recipe `sim_clr`"),
        "{out}"
    );
    let saved = std::fs::read_to_string(t.path().join("run/config.toml")).unwrap();
    assert!(saved.contains("image_size = 12"), "{saved}");
    let e = eval_json(&t.path().join("run"));
    assert!(e["after"]["knn_acc"].as_f64().is_some(), "{e}");
    // An audio folder gets the audio recipe and the audio CNN.
    let wavs = t.path().join("wavs");
    std::fs::create_dir_all(&wavs).unwrap();
    let a = selfsup_core::Audio::mono(8000, vec![0.1; 800]).unwrap();
    selfsup_augment::audio::io::write_wav(&wavs.join("x.wav"), &a, 16).unwrap();
    let (ok, toml, err) = selfsup(
        &[
            "pretrain",
            "--dataset",
            "audio-folder",
            "--data",
            wavs.to_str().unwrap(),
            "--print-config",
        ],
        t.path(),
    );
    assert!(ok, "{err}");
    assert!(
        toml.contains("recipe = \"cola\"") && toml.contains("kind = \"audio_cnn\""),
        "{toml}"
    );
    assert!(toml.contains("online_probe = false"), "{toml}");
}

#[test]
fn resume_restores_the_runs_config_and_refuses_contradicting_flags() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    common::images(&root.join("a"), 'a', 8, (16, 16), false);
    common::images(&root.join("b"), 'b', 8, (16, 16), false);
    let cfg = write_config(t.path(), &TINY_IMAGES.replace("epochs = 1", "epochs = 2"));
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--config",
            &cfg,
            "--data",
            "photos",
            "--out",
            "run",
            "--stop-at-step",
            "1",
        ],
        t.path(),
    );
    assert!(
        ok && out.contains("interrupted"),
        "stdout: {out}\nstderr: {err}"
    );
    let saved = std::fs::read_to_string(t.path().join("run/config.toml")).unwrap();
    // Contradicting flags are named with both values.
    let (ok, _, err) = selfsup(
        &[
            "pretrain", "--resume", "--out", "run", "--epochs", "5", "--lr", "0.5",
        ],
        t.path(),
    );
    assert!(
        !ok && err.contains("train.epochs") && err.contains("train.optimizer.lr"),
        "{err}"
    );
    // Before: the default config (another backbone, MNIST) on top of the checkpoint. Now the run's
    // own config, from another folder too (the data path was stored absolute).
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let run = t.path().join("run");
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--resume",
            "--out",
            run.to_str().unwrap(),
            "--epochs",
            "2",
        ],
        &elsewhere,
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("resumed at step 1") && out.contains("image-folder"),
        "{out}"
    );
    let again = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert_eq!(again, saved);
    assert!(!saved.contains("path = \"photos\""), "{saved}");
    // Portable: eval from another folder, and `eval` reports on the final weights (what pretrain
    // reported); `--checkpoint best` opts into the best one.
    let (ok, out, err) = selfsup(&["eval", "knn", "--run", run.to_str().unwrap()], &elsewhere);
    assert!(ok, "stdout: {out}\nstderr: {err}");
    let after = eval_json(&run)["after"]["knn_acc"].as_f64().unwrap();
    assert!(out.contains(&format!("{after:.4}")), "{out} vs {after}");
    let (ok, _, err) = selfsup(
        &[
            "eval",
            "knn",
            "--run",
            run.to_str().unwrap(),
            "--checkpoint",
            "best",
        ],
        &elsewhere,
    );
    assert!(ok, "{err}");
}

/// The values of a little-endian f32 `.npy` file (format 1.0) and its shape, parsed by hand.
fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
    let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
    assert_eq!((10 + hl) % 64, 0, "header not aligned");
    let header = std::str::from_utf8(&b[10..10 + hl]).unwrap();
    assert!(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"));
    let shape = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape: Vec<usize> = shape
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let vals = b[10 + hl..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (shape, vals)
}

#[test]
fn embed_writes_the_features_of_every_file_with_names_and_labels() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    common::images(&root.join("a"), 'a', 6, (16, 16), false);
    common::images(&root.join("b"), 'b', 5, (20, 16), false);
    let cfg = write_config(t.path(), TINY_IMAGES);
    let (ok, out, err) = selfsup(
        &[
            "pretrain", "--config", &cfg, "--data", "photos", "--out", "run",
        ],
        t.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    // The exported encoder says what it is and what it takes.
    let (_, meta) =
        selfsup_train::checkpoint::load_safetensors(&t.path().join("run/encoder.safetensors"))
            .unwrap();
    assert!(
        meta["backbone"].contains("conv_net") && meta["backbone"].contains("[4,8]"),
        "{meta:?}"
    );
    assert_eq!(meta["input_shape"], "[3,16,16]");
    assert_eq!(meta["in_channels"], "3");
    assert!(
        meta["input"].contains("[0, 1]") && meta["input"].contains("16 px"),
        "{meta:?}"
    );
    for f in ["e.csv", "e.npy", "e.safetensors"] {
        let (ok, out, err) = selfsup(
            &["embed", "--run", "run", "--out", f, "--batch-size", "4"],
            t.path(),
        );
        assert!(
            ok && out.contains("11 files × 8 features"),
            "stdout: {out}\nstderr: {err}"
        );
    }
    // CSV: one row per file, sorted, with label and class.
    let csv = std::fs::read_to_string(t.path().join("e.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 11);
    assert_eq!(&rows[0][..3], &["a/a00.png", "0", "a"]);
    assert_eq!(&rows[10][..3], &["b/b04.png", "1", "b"]);
    let from_csv: Vec<f32> = rows
        .iter()
        .flat_map(|r| r[3..].iter().map(|v| v.parse::<f32>().unwrap()))
        .collect();
    assert_eq!(from_csv.len(), 11 * 8);
    // .npy: the same numbers (CSV prints f32 exactly), index next to it.
    let (shape, vals) = read_npy(&t.path().join("e.npy"));
    assert_eq!(shape, vec![11, 8]);
    assert_eq!(vals, from_csv);
    let idx = std::fs::read_to_string(t.path().join("e.index.csv")).unwrap();
    assert!(
        idx.starts_with("index,file,label,class\n0,a/a00.png,0,a\n"),
        "{idx}"
    );
    // safetensors: the same numbers and labels, file names in the metadata.
    let (tensors, meta) =
        selfsup_train::checkpoint::load_safetensors(&t.path().join("e.safetensors")).unwrap();
    let e = Vec::<f32>::try_from(tensors["embeddings"].reshape([-1])).unwrap();
    assert_eq!(e, from_csv);
    let l = Vec::<i64>::try_from(&tensors["labels"]).unwrap();
    assert_eq!(l, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    assert!(meta["files"].contains("b/b04.png"), "{meta:?}");
    // The features are not all alike (an encoder, not a constant).
    assert!(from_csv[..8] != from_csv[80..88]);
    // An unknown extension is refused naming the allowed ones.
    let (ok, _, err) = selfsup(&["embed", "--run", "run", "--out", "e.txt"], t.path());
    assert!(!ok && err.contains(".npy"), "{err}");
}
