//! `selfsup eval --run DIR --data FILE`: the language-model loss of any text file under a trained
//! `gpt` or `bert` run.
//!
//! The file is encoded with the run's saved vocabulary (`vocab.json`, the training file's), cut into
//! the run's windows (`selfsup_data::SequentialWindows` of `data.text.seq_len + 1` tokens, as the
//! validation split during pretraining) and evaluated with the run's weights (`--checkpoint`, else
//! `checkpoints/best.safetensors`, else the newest) by `selfsup_pretext::language::evaluate_held_out`:
//! the same figures as the `val_*` metrics of pretraining. A character outside the vocabulary is an
//! error naming it and its position (`--unknown error`, the default) or is encoded as `<unk>`
//! (`--unknown unk`: counted in the report; the model never saw `<unk>`, so those positions raise the
//! loss). An empty, binary (NUL byte), non-UTF-8 (char vocabularies) or too short file is an error
//! naming the file and what is wrong.

use crate::commands::restored_method;
use anyhow::{bail, Context, Result};
use selfsup::methods::MethodConfig;
use selfsup_data::text::{SequentialWindows, TokenStream, UnknownPolicy, UNK};
use selfsup_data::{Dataset, TokenizerKind, Vocab};
use selfsup_nn::MethodSpec;
use selfsup_pretext::language::LmEval;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What `selfsup eval --data` measured.
#[derive(Clone, Debug)]
pub struct TextEval {
    /// The file.
    pub file: PathBuf,
    /// The method kind (`gpt`, `bert`).
    pub method: String,
    /// Windows evaluated.
    pub windows: usize,
    /// Tokens per window the model reads (the run's `data.text.seq_len`).
    pub seq_len: usize,
    /// Characters encoded as `<unk>` (with `--unknown unk`).
    pub unknown_chars: usize,
    /// The figures (loss over every predicted token; bert: over the masked positions).
    pub eval: LmEval,
}

impl TextEval {
    /// The one-paragraph report the command prints.
    pub fn describe(&self) -> String {
        let e = &self.eval;
        let mut s = format!(
            "{} language-model loss of {} ({} windows of {} tokens, {} predicted tokens{}): {:.4} nats/token, {:.4} bits/char, perplexity {:.3}",
            self.method,
            self.file.display(),
            self.windows,
            self.seq_len,
            e.tokens,
            if self.method == "bert" { ", the masked positions" } else { "" },
            e.loss,
            e.bits_per_char,
            e.ppl
        );
        if let Some(a) = e.mlm_acc {
            s += &format!(", masked-token accuracy {a:.4}");
        }
        if self.unknown_chars > 0 {
            s += &format!(
                "; {} character(s) outside the vocabulary were encoded as <unk>",
                self.unknown_chars
            );
        }
        s
    }
}

/// Evaluates `file` under the language-model run in `run` (see the module docs); `unknown` is `error`
/// or `unk`.
pub fn eval_text_file(
    run: &Path,
    checkpoint: &Option<PathBuf>,
    file: &Path,
    unknown: &str,
) -> Result<TextEval> {
    let policy = match unknown {
        "error" => UnknownPolicy::Error,
        "unk" => UnknownPolicy::Unk,
        other => bail!("invalid value for `--unknown`: `{other}`; allowed: error, unk"),
    };
    let cfg = crate::config::RunConfig::from_file(&run.join("config.toml"))?;
    let MethodConfig::Language(lm) = &cfg.method else {
        bail!(
            "--data: {} is a `{}` run, not a language model (gpt, bert); `selfsup eval knn|linear --run {}` evaluates it",
            run.display(),
            cfg.method.name(),
            run.display()
        );
    };
    let vocab_path = run.join("vocab.json");
    let vocab = Vocab::load(&vocab_path)
        .with_context(|| format!("cannot read the run's vocabulary {}", vocab_path.display()))?
        .with_unknown(policy);
    let stream = TokenStream::from_file(file, &vocab).map_err(|e| {
        anyhow::anyhow!(
            "--data: {e}{}",
            if policy == UnknownPolicy::Error && vocab.kind() == TokenizerKind::Char {
                " (or pass --unknown unk)"
            } else {
                ""
            }
        )
    })?;
    let unknown_chars = if vocab.kind() == TokenizerKind::Char {
        stream.ids().iter().filter(|&&t| t == UNK).count()
    } else {
        0
    };
    let seq_len = cfg.data.text.seq_len;
    let windows =
        SequentialWindows::new(stream, seq_len).map_err(|e| anyhow::anyhow!("--data: {e}"))?;
    let n = windows.len();
    let (_, mut method, _) = restored_method(run, checkpoint)?;
    let loader = selfsup_pretext::language::eval_loader(
        lm,
        Arc::new(windows),
        vocab.len() as i64,
        cfg.data.batch_size,
        cfg.train.seed,
        cfg.data.num_threads,
    )?;
    let eval = selfsup_pretext::language::evaluate_held_out(method.as_mut(), &loader)?;
    Ok(TextEval {
        file: file.to_path_buf(),
        method: lm.name().to_string(),
        windows: n,
        seq_len,
        unknown_chars,
        eval,
    })
}
