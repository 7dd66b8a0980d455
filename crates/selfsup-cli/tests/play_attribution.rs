//! Play attribution of the text methods through the `selfsup` binary (issue 13): the BERT and
//! SimCLR-text presets resolve to the settings that transfer (40 % masking; neighbouring crops of one
//! passage), and the "after" figures `pretrain` reports are those of the trained weights it saved:
//! `selfsup eval knn|linear` on the run folder's newest checkpoint reproduces them. (That a trained
//! BERT's features differ from its initialisation's is `selfsup-pretext`'s `language_models` test.)

mod common;
use common::{get, resolved, selfsup};

fn eval_json(run: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap()
}

#[test]
fn presets_mask_40_percent_for_bert_and_crop_neighbouring_windows_for_simclr_text() {
    let dir = tempfile::tempdir().unwrap();
    let bert = resolved(
        &["--dataset", "shakespeare", "--method", "bert"],
        dir.path(),
    );
    assert_eq!(get(&bert, "method.mask.prob").as_float(), Some(0.4));
    assert_eq!(get(&bert, "method.mask.mask_frac").as_float(), Some(0.8));
    // the GPT preset keeps the windows as they are and evaluates every epoch
    let gpt = resolved(&["--dataset", "shakespeare"], dir.path());
    assert_eq!(get(&gpt, "augment.tokens.context").as_integer(), Some(1));
    assert_eq!(get(&gpt, "eval.every_epochs").as_integer(), Some(1));
    let text = resolved(&["--dataset", "text"], dir.path());
    assert_eq!(get(&text, "method.kind").as_str(), Some("simclr"));
    assert_eq!(get(&text, "augment.tokens.context").as_integer(), Some(4));
    let scale = get(&text, "augment.tokens.crop_scale").as_array().unwrap();
    assert!(
        scale.iter().all(|v| v.as_float() == Some(0.25)),
        "{scale:?}"
    );
    assert_eq!(get(&text, "data.text.seq_len").as_integer(), Some(64));
    // a bad context names its field
    std::fs::write(
        dir.path().join("bad.toml"),
        "[data]\nkind = \"text\"\n[augment]\nrecipe = \"tokens\"\n[augment.tokens]\ncontext = 0\n",
    )
    .unwrap();
    let (ok, _, err) = selfsup(
        &["pretrain", "--config", "bad.toml", "--out", "bad"],
        dir.path(),
    );
    assert!(!ok && err.contains("augment.tokens.context"), "{err}");
}

#[test]
fn bert_after_figures_are_those_of_its_saved_trained_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--dataset",
            "shakespeare",
            "--method",
            "bert",
            "--epochs",
            "1",
            "--max-samples",
            "96",
            "--batch-size",
            "16",
            "--out",
            "bert",
        ],
        dir.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    let eval = eval_json(&dir.path().join("bert"));
    // `selfsup eval` re-embeds both splits with the newest checkpoint (the final weights): the same
    // kNN and probe figures as `pretrain`'s "after", to the printed digits
    let (ok, knn_out, err) = selfsup(&["eval", "knn", "--run", "bert"], dir.path());
    assert!(ok, "{err}");
    let knn = format!("{:.4}", eval["after"]["knn_acc"].as_f64().unwrap());
    assert!(
        knn_out.contains(&format!("held-out split: {knn}")),
        "{knn_out} vs {knn}"
    );
    let (ok, lin_out, err) = selfsup(&["eval", "linear", "--run", "bert"], dir.path());
    assert!(ok, "{err}");
    let (test, train) = (
        format!("{:.4}", eval["after"]["linear_probe_acc"].as_f64().unwrap()),
        format!(
            "{:.4}",
            eval["after"]["linear_probe_train_acc"].as_f64().unwrap()
        ),
    );
    assert!(
        lin_out.contains(&format!("held-out {test}, train {train}")),
        "{lin_out} vs {test} / {train}"
    );
}
