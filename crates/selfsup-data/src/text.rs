//! Token-sequence datasets from text files, for the masked-token and next-token pretext tasks.
//!
//! ## Tokenizers
//! Two simple, fully documented tokenizers ([`TokenizerKind`]); both reserve the first ids for
//! special tokens: `0 = <pad>`, `1 = <unk>`, `2 = <mask>`.
//! - **byte**: every byte `b` of the UTF-8 text is the id `3 + b` (vocabulary of 259, no unknowns).
//! - **whitespace**: the text is split on Unicode whitespace; the vocabulary is every word seen at
//!   least `min_count` times, ordered by decreasing count then by the word itself (so it is the same
//!   on every machine), cut to `max_vocab` entries (specials included) when set; other words are
//!   `<unk>`.
//!
//! ## Samples
//! [`TextMode::Windows`] concatenates the token stream of all files (in the order given) and cuts it
//! into non-overlapping windows of `seq_len` tokens (a last partial window is dropped).
//! [`TextMode::Lines`] makes one sample per non-empty line, truncated to `seq_len` or padded with
//! `<pad>`. Samples are unlabeled `Sample::Tokens`.

use crate::{out_of_range, Dataset, Item};
use selfsup_core::{Error, Result, Sample, Tokens};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The padding token id.
pub const PAD: i64 = 0;
/// The unknown-word token id.
pub const UNK: i64 = 1;
/// The mask token id (for masked-token pretext tasks).
pub const MASK: i64 = 2;
const SPECIALS: [&str; 3] = ["<pad>", "<unk>", "<mask>"];

/// Which tokenizer to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerKind {
    /// Bytes of the UTF-8 text, id = 3 + byte.
    #[default]
    Byte,
    /// Whitespace-separated words with a vocabulary built from the corpus.
    Whitespace,
}

/// How the token stream becomes samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextMode {
    /// Non-overlapping windows of `seq_len` over the concatenated stream.
    #[default]
    Windows,
    /// One sample per non-empty line, truncated or padded to `seq_len`.
    Lines,
}

/// Configuration of a [`TextTokens`] dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextConfig {
    /// The tokenizer (`"byte"` or `"whitespace"`).
    pub tokenizer: TokenizerKind,
    /// Tokens per sample (>= 1).
    pub seq_len: usize,
    /// `"windows"` or `"lines"`.
    pub mode: TextMode,
    /// Whitespace tokenizer: minimum count of a word to enter the vocabulary (>= 1).
    pub min_count: usize,
    /// Whitespace tokenizer: maximum vocabulary size including the 3 specials (>= 4), if any.
    pub max_vocab: Option<usize>,
}

impl Default for TextConfig {
    fn default() -> Self {
        TextConfig {
            tokenizer: TokenizerKind::Byte,
            seq_len: 128,
            mode: TextMode::Windows,
            min_count: 1,
            max_vocab: None,
        }
    }
}

impl TextConfig {
    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        selfsup_core::check::at_least("seq_len", self.seq_len, 1)?;
        selfsup_core::check::at_least("min_count", self.min_count, 1)?;
        if let Some(m) = self.max_vocab {
            selfsup_core::check::at_least("max_vocab", m, SPECIALS.len() + 1)?;
        }
        Ok(())
    }
}

/// A token vocabulary: id ↔ token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    kind: TokenizerKind,
    tokens: Vec<String>,
    ids: HashMap<String, i64>,
}

impl Vocab {
    /// The byte vocabulary (259 ids).
    pub fn bytes() -> Self {
        let mut tokens: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
        tokens.extend((0..=255u8).map(|b| format!("<0x{b:02X}>")));
        Vocab {
            kind: TokenizerKind::Byte,
            ids: HashMap::new(),
            tokens,
        }
    }

    /// A whitespace vocabulary built from `texts` (see the module docs for the ordering rule).
    pub fn whitespace<'a>(
        texts: impl IntoIterator<Item = &'a str>,
        min_count: usize,
        max_vocab: Option<usize>,
    ) -> Self {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for t in texts {
            for w in t.split_whitespace() {
                *counts.entry(w).or_default() += 1;
            }
        }
        let mut words: Vec<(&str, usize)> = counts
            .into_iter()
            .filter(|&(_, c)| c >= min_count)
            .collect();
        words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut tokens: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
        let room = max_vocab.map_or(usize::MAX, |m| m.saturating_sub(SPECIALS.len()));
        tokens.extend(words.into_iter().take(room).map(|(w, _)| w.to_string()));
        let ids = tokens
            .iter()
            .enumerate()
            .skip(SPECIALS.len())
            .map(|(i, t)| (t.clone(), i as i64))
            .collect();
        Vocab {
            kind: TokenizerKind::Whitespace,
            tokens,
            ids,
        }
    }

    /// Number of ids (specials included).
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Never true: the specials are always there.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token of `id` (`None` when out of range).
    pub fn token(&self, id: i64) -> Option<&str> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.tokens.get(i))
            .map(String::as_str)
    }

    /// Encodes text into ids.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        match self.kind {
            TokenizerKind::Byte => text.bytes().map(|b| 3 + i64::from(b)).collect(),
            TokenizerKind::Whitespace => text
                .split_whitespace()
                .map(|w| self.ids.get(w).copied().unwrap_or(UNK))
                .collect(),
        }
    }

    /// Decodes ids back to text (bytes are reassembled; words are joined by single spaces; specials
    /// are written as their names).
    pub fn decode(&self, ids: &[i64]) -> String {
        match self.kind {
            TokenizerKind::Byte => {
                let mut bytes = Vec::new();
                for &id in ids {
                    if (3..259).contains(&id) {
                        bytes.push((id - 3) as u8);
                    } else if let Some(t) = self.token(id) {
                        bytes.extend_from_slice(t.as_bytes());
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
            TokenizerKind::Whitespace => ids
                .iter()
                .map(|&id| self.token(id).unwrap_or("<unk>"))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// Token sequences cut from text files.
#[derive(Clone, Debug)]
pub struct TextTokens {
    vocab: Vocab,
    seqs: Vec<Vec<i64>>,
}

impl TextTokens {
    /// Reads and tokenizes `files` (UTF-8 text) with `cfg`.
    pub fn from_files(files: &[PathBuf], cfg: &TextConfig) -> Result<Self> {
        let mut texts = Vec::with_capacity(files.len());
        for f in files {
            let bytes = std::fs::read(f).map_err(|e| Error::io(f, e))?;
            let text = String::from_utf8(bytes)
                .map_err(|e| Error::decode(f, format!("not UTF-8 text: {e}")))?;
            texts.push(text);
        }
        Self::from_texts(&texts, cfg)
    }

    /// Reads one text file.
    pub fn from_file(file: impl AsRef<Path>, cfg: &TextConfig) -> Result<Self> {
        Self::from_files(&[file.as_ref().to_path_buf()], cfg)
    }

    /// Tokenizes texts already in memory.
    pub fn from_texts(texts: &[String], cfg: &TextConfig) -> Result<Self> {
        cfg.validate()?;
        let vocab = match cfg.tokenizer {
            TokenizerKind::Byte => Vocab::bytes(),
            TokenizerKind::Whitespace => Vocab::whitespace(
                texts.iter().map(String::as_str),
                cfg.min_count,
                cfg.max_vocab,
            ),
        };
        let seqs = match cfg.mode {
            TextMode::Windows => {
                let mut stream = Vec::new();
                for t in texts {
                    stream.extend(vocab.encode(t));
                }
                stream
                    .chunks_exact(cfg.seq_len)
                    .map(<[i64]>::to_vec)
                    .collect()
            }
            TextMode::Lines => texts
                .iter()
                .flat_map(|t| t.lines())
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    let mut ids = vocab.encode(l);
                    ids.resize(cfg.seq_len, PAD);
                    ids
                })
                .collect::<Vec<_>>(),
        };
        if seqs.is_empty() {
            return Err(Error::config(
                "seq_len",
                format!(
                    "the text yields no sample of {} tokens (mode {:?}); use a shorter seq_len or more text",
                    cfg.seq_len, cfg.mode
                ),
            ));
        }
        Ok(TextTokens { vocab, seqs })
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }
}

impl Dataset for TextTokens {
    fn len(&self) -> usize {
        self.seqs.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        let ids = self
            .seqs
            .get(index)
            .ok_or_else(|| out_of_range("text dataset", index, self.seqs.len()))?
            .clone();
        Ok(Item {
            sample: Sample::Tokens(Tokens { ids }),
            label: None,
        })
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        if index >= self.seqs.len() {
            return Err(out_of_range("text dataset", index, self.seqs.len()));
        }
        Ok(None)
    }
}
