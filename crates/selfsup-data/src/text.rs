//! Token-sequence datasets from text files, for the masked-token and next-token pretext tasks.
//!
//! ## Tokenizers
//! Three simple, fully documented tokenizers ([`TokenizerKind`]); all reserve the first ids for
//! special tokens: `0 = <pad>`, `1 = <unk>`, `2 = <mask>`.
//! - **byte**: every byte `b` of the UTF-8 text is the id `3 + b` (vocabulary of 259, no unknowns).
//! - **char**: every distinct Unicode scalar value (`char`) of the text the vocabulary is built from,
//!   in increasing code-point order, gets the ids `3, 4, …` (the character-level vocabulary of
//!   char-RNN/nanoGPT, after the three specials). A character outside the vocabulary is handled by the
//!   vocabulary's [`UnknownPolicy`]: `error` (the default) stops with an error naming the character, its
//!   line, column and byte offset; `unk` encodes it as `<unk>`. The vocabulary is saved and loaded as
//!   JSON ([`Vocab::save`], [`Vocab::load`]) so that validation text, generation prompts and any other
//!   file reuse the training file's ids.
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
//!
//! ## Language-model windows
//! A [`TokenStream`] is one file's token ids (checked: not empty, no NUL byte — binary —, UTF-8 in char
//! and whitespace mode). Language models read it as windows of `seq_len + 1` tokens (the inputs are
//! the first `seq_len`, the next-token targets the last `seq_len`), never padded:
//! - [`RandomWindows`] (training): sample `index` of `epoch` starts at an offset drawn uniformly from
//!   `[0, n − seq_len − 1]` by the generator `Generator::from_domain("lm_window", [seed, epoch, index])`,
//!   so batches are a pure function of `(seed, epoch, index)` like every other sample
//!   ([`RandomWindows::pipeline`] does the draw inside the loader from the sample's key).
//! - [`SequentialWindows`] (validation): window `i` starts at `i · seq_len`, so every token after the
//!   first is a target exactly once (consecutive windows share one token: the last input position of
//!   one is the first of the next); the tail that does not fill a whole window is left out.

use crate::pipeline::ViewPipeline;
use crate::{out_of_range, Dataset, Item};
use selfsup_core::{Error, Generator, Result, Sample, SampleKey, Tokens};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Characters (Unicode scalar values) with a vocabulary built from the corpus.
    Char,
}

/// What encoding does with a character or word outside the vocabulary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownPolicy {
    /// Stop with an error naming the character and its position (char vocabularies; whitespace
    /// vocabularies always map unknown words to `<unk>`).
    #[default]
    Error,
    /// Encode it as the `<unk>` id (1).
    Unk,
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
    /// Char tokenizer: what a character outside the vocabulary does (`"error"` or `"unk"`).
    pub unknown: UnknownPolicy,
}

impl Default for TextConfig {
    fn default() -> Self {
        TextConfig {
            tokenizer: TokenizerKind::Byte,
            seq_len: 128,
            mode: TextMode::Windows,
            min_count: 1,
            max_vocab: None,
            unknown: UnknownPolicy::Error,
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
    chars: HashMap<char, i64>,
    unknown: UnknownPolicy,
}

/// The JSON form of a [`Vocab`] (see [`Vocab::save`]).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabFile {
    format: String,
    kind: TokenizerKind,
    unknown: UnknownPolicy,
    tokens: Vec<String>,
}

const VOCAB_FORMAT: &str = "selfsup-vocab-v1";

impl Vocab {
    /// The byte vocabulary (259 ids).
    pub fn bytes() -> Self {
        let mut tokens: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
        tokens.extend((0..=255u8).map(|b| format!("<0x{b:02X}>")));
        Vocab {
            kind: TokenizerKind::Byte,
            ids: HashMap::new(),
            chars: HashMap::new(),
            unknown: UnknownPolicy::Unk,
            tokens,
        }
    }

    /// A character vocabulary: the specials, then every distinct character of `texts` in increasing
    /// code-point order. Errors when the texts hold no character.
    pub fn chars<'a>(
        texts: impl IntoIterator<Item = &'a str>,
        unknown: UnknownPolicy,
    ) -> Result<Self> {
        let mut set = BTreeSet::new();
        for t in texts {
            set.extend(t.chars());
        }
        if set.is_empty() {
            return Err(Error::config(
                "data",
                "cannot build a character vocabulary from empty text",
            ));
        }
        let mut tokens: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
        tokens.extend(set.into_iter().map(String::from));
        Ok(Self::from_char_tokens(tokens, unknown))
    }

    fn from_char_tokens(tokens: Vec<String>, unknown: UnknownPolicy) -> Self {
        let chars = tokens
            .iter()
            .enumerate()
            .skip(SPECIALS.len())
            .filter_map(|(i, t)| t.chars().next().map(|c| (c, i as i64)))
            .collect();
        Vocab {
            kind: TokenizerKind::Char,
            tokens,
            ids: HashMap::new(),
            chars,
            unknown,
        }
    }

    /// The tokenizer kind.
    pub fn kind(&self) -> TokenizerKind {
        self.kind
    }

    /// The unknown-character policy (char vocabularies).
    pub fn unknown_policy(&self) -> UnknownPolicy {
        self.unknown
    }

    /// The same vocabulary with another unknown-character policy.
    pub fn with_unknown(mut self, unknown: UnknownPolicy) -> Self {
        self.unknown = unknown;
        self
    }

    /// The id of one character (char vocabularies), `None` when it is not in the vocabulary.
    pub fn char_id(&self, c: char) -> Option<i64> {
        self.chars.get(&c).copied()
    }

    /// Writes the vocabulary as JSON: `{"format": "selfsup-vocab-v1", "kind", "unknown", "tokens"}`
    /// (`tokens[id]` is the token of `id`, specials included).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file = VocabFile {
            format: VOCAB_FORMAT.into(),
            kind: self.kind,
            unknown: self.unknown,
            tokens: self.tokens.clone(),
        };
        let json = serde_json::to_string_pretty(&file)
            .map_err(|e| Error::Other(format!("cannot serialise the vocabulary: {e}")))?;
        std::fs::write(path, json + "\n").map_err(|e| Error::io(path, e))
    }

    /// Reads a vocabulary written by [`Vocab::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let f: VocabFile = serde_json::from_str(&text)
            .map_err(|e| Error::decode(path, format!("not a selfsup vocabulary: {e}")))?;
        if f.format != VOCAB_FORMAT {
            return Err(Error::decode(
                path,
                format!(
                    "vocabulary format `{}`, expected `{VOCAB_FORMAT}`",
                    f.format
                ),
            ));
        }
        if f.tokens.len() < SPECIALS.len()
            || f.tokens[..SPECIALS.len()]
                .iter()
                .zip(SPECIALS)
                .any(|(a, b)| a != b)
        {
            return Err(Error::decode(
                path,
                format!("the vocabulary must start with the specials {SPECIALS:?}"),
            ));
        }
        match f.kind {
            TokenizerKind::Byte => Ok(Vocab::bytes()),
            TokenizerKind::Char => {
                if let Some((i, t)) = f
                    .tokens
                    .iter()
                    .enumerate()
                    .skip(SPECIALS.len())
                    .find(|(_, t)| t.chars().count() != 1)
                {
                    return Err(Error::decode(
                        path,
                        format!("char vocabulary entry {i} is `{t}`, not one character"),
                    ));
                }
                Ok(Self::from_char_tokens(f.tokens, f.unknown))
            }
            TokenizerKind::Whitespace => {
                let ids = f
                    .tokens
                    .iter()
                    .enumerate()
                    .skip(SPECIALS.len())
                    .map(|(i, t)| (t.clone(), i as i64))
                    .collect();
                Ok(Vocab {
                    kind: TokenizerKind::Whitespace,
                    tokens: f.tokens,
                    ids,
                    chars: HashMap::new(),
                    unknown: f.unknown,
                })
            }
        }
    }

    /// Encodes text, applying the unknown-character policy: with [`UnknownPolicy::Error`] a character
    /// outside a char vocabulary is an error naming it, its line and column (1-based) and its byte
    /// offset. Byte and whitespace vocabularies never fail.
    pub fn try_encode(&self, text: &str) -> Result<Vec<i64>> {
        if self.kind != TokenizerKind::Char {
            return Ok(self.encode(text));
        }
        let mut out = Vec::with_capacity(text.len());
        let (mut line, mut col) = (1usize, 0usize);
        for (offset, c) in text.char_indices() {
            col += 1;
            match self.chars.get(&c) {
                Some(&id) => out.push(id),
                None if self.unknown == UnknownPolicy::Unk => out.push(UNK),
                None => {
                    return Err(Error::config(
                        "text",
                        format!(
                            "character {c:?} (U+{:04X}) at line {line}, column {col} (byte {offset}) is not in the vocabulary of {} characters; use a vocabulary built from text that has it, or the `unk` unknown policy",
                            c as u32,
                            self.tokens.len() - SPECIALS.len()
                        ),
                    ))
                }
            }
            if c == '\n' {
                line += 1;
                col = 0;
            }
        }
        Ok(out)
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
            chars: HashMap::new(),
            unknown: UnknownPolicy::Unk,
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

    /// Encodes text into ids; characters or words outside the vocabulary become `<unk>` whatever the
    /// policy (see [`Vocab::try_encode`] for the checked form).
    pub fn encode(&self, text: &str) -> Vec<i64> {
        match self.kind {
            TokenizerKind::Byte => text.bytes().map(|b| 3 + i64::from(b)).collect(),
            TokenizerKind::Char => text
                .chars()
                .map(|c| self.chars.get(&c).copied().unwrap_or(UNK))
                .collect(),
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
            TokenizerKind::Char => ids
                .iter()
                .map(|&id| self.token(id).unwrap_or("<unk>"))
                .collect(),
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
            TokenizerKind::Char => Vocab::chars(texts.iter().map(String::as_str), cfg.unknown)?,
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

/// Reads a text file for a language model: errors for a missing, empty or binary file (a NUL byte)
/// and, unless `kind` is [`TokenizerKind::Byte`], for bytes that are not UTF-8 (naming the offset).
/// Returns the raw bytes (UTF-8 checked where required).
pub fn read_text_file(path: impl AsRef<Path>, kind: TokenizerKind) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.is_empty() {
        return Err(Error::decode(path, "the text file is empty"));
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(Error::decode(
            path,
            format!("looks like a binary file, not text (NUL byte at offset {at})"),
        ));
    }
    if kind != TokenizerKind::Byte {
        if let Err(e) = std::str::from_utf8(&bytes) {
            return Err(Error::decode(
                path,
                format!(
                    "not UTF-8 text: invalid byte sequence at byte offset {} ({:?} tokenizer; the byte tokenizer reads any bytes)",
                    e.valid_up_to(),
                    kind
                ),
            ));
        }
    }
    Ok(bytes)
}

/// One text file as a stream of token ids under a [`Vocab`]; see the module docs.
#[derive(Clone, Debug)]
pub struct TokenStream {
    ids: Arc<Vec<i64>>,
    source: String,
}

impl TokenStream {
    /// Builds the vocabulary of kind `kind` from the file at `path` (byte: the fixed byte vocabulary).
    pub fn vocab_from_file(
        path: impl AsRef<Path>,
        kind: TokenizerKind,
        unknown: UnknownPolicy,
    ) -> Result<Vocab> {
        let bytes = read_text_file(&path, kind)?;
        match kind {
            TokenizerKind::Byte => Ok(Vocab::bytes()),
            TokenizerKind::Char => {
                let text = std::str::from_utf8(&bytes).expect("checked by read_text_file");
                Vocab::chars([text], unknown)
            }
            TokenizerKind::Whitespace => {
                let text = std::str::from_utf8(&bytes).expect("checked by read_text_file");
                Ok(Vocab::whitespace([text], 1, None))
            }
        }
    }

    /// Reads and encodes the file at `path` with `vocab` (see [`read_text_file`] and
    /// [`Vocab::try_encode`] for the errors; an error names the file).
    pub fn from_file(path: impl AsRef<Path>, vocab: &Vocab) -> Result<Self> {
        let path = path.as_ref();
        let bytes = read_text_file(path, vocab.kind())?;
        let ids = if vocab.kind() == TokenizerKind::Byte {
            bytes.iter().map(|&b| 3 + i64::from(b)).collect()
        } else {
            let text = std::str::from_utf8(&bytes).expect("checked by read_text_file");
            vocab
                .try_encode(text)
                .map_err(|e| Error::decode(path, e.to_string()))?
        };
        Ok(TokenStream {
            ids: Arc::new(ids),
            source: path.display().to_string(),
        })
    }

    /// Encodes text already in memory (`name` appears in errors).
    pub fn from_text(text: &str, vocab: &Vocab, name: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(Error::config("text", format!("{name}: the text is empty")));
        }
        let ids = vocab
            .try_encode(text)
            .map_err(|e| Error::config("text", format!("{name}: {e}")))?;
        Ok(TokenStream {
            ids: Arc::new(ids),
            source: name.to_string(),
        })
    }

    /// A stream of given ids.
    pub fn from_ids(ids: Vec<i64>, name: &str) -> Self {
        TokenStream {
            ids: Arc::new(ids),
            source: name.to_string(),
        }
    }

    /// The token ids.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True for an empty stream.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The file or name the stream was read from.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn check_window(&self, seq_len: usize) -> Result<()> {
        selfsup_core::check::at_least("seq_len", seq_len, 1)?;
        if self.ids.len() < seq_len + 1 {
            return Err(Error::config(
                "seq_len",
                format!(
                    "{} has {} tokens, fewer than one window of seq_len + 1 = {} tokens; use a shorter seq_len or a longer text",
                    self.source,
                    self.ids.len(),
                    seq_len + 1
                ),
            ));
        }
        Ok(())
    }
}

/// Training windows of `seq_len + 1` tokens at keyed random offsets; see the module docs.
#[derive(Clone, Debug)]
pub struct RandomWindows {
    stream: TokenStream,
    seq_len: usize,
    len: usize,
}

impl RandomWindows {
    /// Windows over `stream`, `samples_per_epoch` per epoch (`None`: `len / (seq_len + 1)`, one pass
    /// worth of tokens). Errors when the stream is shorter than one window.
    pub fn new(
        stream: TokenStream,
        seq_len: usize,
        samples_per_epoch: Option<usize>,
    ) -> Result<Self> {
        stream.check_window(seq_len)?;
        let len = samples_per_epoch.unwrap_or(stream.len() / (seq_len + 1));
        selfsup_core::check::at_least("samples_per_epoch", len, 1)?;
        Ok(RandomWindows {
            stream,
            seq_len,
            len,
        })
    }

    /// Tokens per window minus one (the model's context).
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// The stream.
    pub fn stream(&self) -> &TokenStream {
        &self.stream
    }

    /// The start offset of sample `index` of `epoch` in run `seed`: uniform in `[0, n − seq_len − 1]`
    /// from `Generator::from_domain("lm_window", [seed, epoch, index])`.
    pub fn offset(&self, seed: u64, epoch: u64, index: u64) -> usize {
        let span = (self.stream.len() - self.seq_len) as u64;
        Generator::from_domain("lm_window", &[seed, epoch, index]).below(span) as usize
    }

    /// The window (`seq_len + 1` ids) of a sample key (its view is ignored).
    pub fn window(&self, key: SampleKey) -> Vec<i64> {
        let o = self.offset(key.seed, key.epoch, key.index);
        self.stream.ids[o..o + self.seq_len + 1].to_vec()
    }

    /// The loader pipeline that replaces each sample by the window of its key (one view).
    pub fn pipeline(self: &Arc<Self>) -> ViewPipeline {
        let me = Arc::clone(self);
        ViewPipeline::Custom {
            n_views: 1,
            f: Box::new(move |_sample, key| {
                Ok(vec![Sample::Tokens(Tokens {
                    ids: me.window(key),
                })])
            }),
        }
    }
}

impl Dataset for RandomWindows {
    fn len(&self) -> usize {
        self.len
    }
    /// The window of sample `index` for seed 0, epoch 0; the loader draws per `(seed, epoch, index)`
    /// through [`RandomWindows::pipeline`].
    fn get(&self, index: usize) -> Result<Item> {
        if index >= self.len {
            return Err(out_of_range("random text windows", index, self.len));
        }
        Ok(Item {
            sample: Sample::Tokens(Tokens {
                ids: self.window(SampleKey::new(0, 0, index as u64)),
            }),
            label: None,
        })
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        if index >= self.len {
            return Err(out_of_range("random text windows", index, self.len));
        }
        Ok(None)
    }
}

/// Validation windows of `seq_len + 1` tokens starting every `seq_len` tokens; see the module docs.
#[derive(Clone, Debug)]
pub struct SequentialWindows {
    stream: TokenStream,
    seq_len: usize,
}

impl SequentialWindows {
    /// Windows over `stream`. Errors when the stream is shorter than one window.
    pub fn new(stream: TokenStream, seq_len: usize) -> Result<Self> {
        stream.check_window(seq_len)?;
        Ok(SequentialWindows { stream, seq_len })
    }

    /// Window `i` (`seq_len + 1` ids starting at `i · seq_len`).
    pub fn window(&self, i: usize) -> &[i64] {
        &self.stream.ids[i * self.seq_len..i * self.seq_len + self.seq_len + 1]
    }

    /// Number of predicted tokens over all windows (`len() · seq_len`).
    pub fn n_targets(&self) -> usize {
        self.len() * self.seq_len
    }
}

impl Dataset for SequentialWindows {
    fn len(&self) -> usize {
        (self.stream.len() - 1) / self.seq_len
    }
    fn get(&self, index: usize) -> Result<Item> {
        if index >= self.len() {
            return Err(out_of_range("text windows", index, self.len()));
        }
        Ok(Item {
            sample: Sample::Tokens(Tokens {
                ids: self.window(index).to_vec(),
            }),
            label: None,
        })
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        if index >= self.len() {
            return Err(out_of_range("text windows", index, self.len()));
        }
        Ok(None)
    }
}
