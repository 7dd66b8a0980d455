//! The play-attribution downstream task on the vendored Shakespeare plays: which play does a window of
//! text come from? Eight classes (the plays of `data/shakespeare/train.txt`, in file order), windows of
//! `seq_len` tokens cut without overlap inside each play, and a held-out tail of each play as the test
//! split (the last `test_frac` of its tokens), so no test window shares text with a training window.
//!
//! [`SHAKESPEARE_PLAYS`] names each play with its opening (first speaker line and the start of the first
//! speech); [`find_play_starts`] locates them in the text, and [`play_attribution`] cuts the labelled
//! windows of any token stream given the starts (token offsets; with the char tokenizer a token is a
//! character, so the character offsets of [`find_play_starts`] are token offsets).

use crate::{out_of_range, Dataset, Item, Vocab};
use selfsup_core::{Error, Result, Sample, Tokens};

/// The plays of `data/shakespeare/train.txt` in file order: `(name, opening text)`.
pub const SHAKESPEARE_PLAYS: [(&str, &str); 8] = [
    (
        "Coriolanus",
        "First Citizen:\nBefore we proceed any further",
    ),
    (
        "Richard III",
        "Gloucester:\nNow is the winter of our discontent",
    ),
    (
        "Richard II",
        "King Richard Ii:\nOld John of Gaunt, time-honour'd Lancaster",
    ),
    (
        "Henry VI Part 3",
        "Warwick:\nI wonder how the king escaped our hands",
    ),
    ("King John", "King John:\nNow, say, Chatillon"),
    ("Julius Caesar", "Flavius:\nHence! home, you idle creatures"),
    (
        "Romeo and Juliet",
        "Prologue:\nTwo households, both alike in dignity",
    ),
    ("The Taming of the Shrew", "Sly:\nI'll pheeze you, in faith"),
];

/// The character offset where each play's opening first occurs, in order. Errors when an opening is
/// missing or the openings are out of order (the text is not the vendored training file).
pub fn find_play_starts(text: &str, plays: &[(&str, &str)]) -> Result<Vec<usize>> {
    Ok(play_byte_starts(text, plays)?
        .into_iter()
        .map(|b| text[..b].chars().count())
        .collect())
}

/// The byte offset where each play's opening first occurs, in order (see [`find_play_starts`]).
fn play_byte_starts(text: &str, plays: &[(&str, &str)]) -> Result<Vec<usize>> {
    let mut starts = Vec::with_capacity(plays.len());
    let mut from = 0usize;
    for (name, opening) in plays {
        let b = text[from..]
            .find(opening)
            .map(|i| i + from)
            .ok_or_else(|| {
                Error::config(
                    "data",
                    format!(
                        "the opening of {name} ({opening:?}) is not in the text after byte {from}"
                    ),
                )
            })?;
        starts.push(b);
        from = b + opening.len();
    }
    Ok(starts)
}

/// The play-attribution splits of `text` under any tokenizer: each play's text (from its opening to
/// the next play's) is encoded with `vocab` on its own, then cut as [`play_attribution`] does.
/// `Ok(None)` when `text` does not hold the openings of [`SHAKESPEARE_PLAYS`] in order (it is not the
/// vendored training file); errors for characters outside a char vocabulary with the `error` policy,
/// or a play part shorter than one window.
pub fn shakespeare_play_attribution(
    text: &str,
    vocab: &Vocab,
    seq_len: usize,
    test_frac: f64,
) -> Result<Option<(LabeledWindows, LabeledWindows)>> {
    let Ok(bytes) = play_byte_starts(text, &SHAKESPEARE_PLAYS) else {
        return Ok(None);
    };
    let mut ids = Vec::new();
    let mut starts = Vec::with_capacity(bytes.len());
    for (p, &b) in bytes.iter().enumerate() {
        let e = bytes.get(p + 1).copied().unwrap_or(text.len());
        starts.push(ids.len());
        ids.extend(vocab.try_encode(&text[b..e])?);
    }
    let names: Vec<&str> = SHAKESPEARE_PLAYS.iter().map(|p| p.0).collect();
    play_attribution(&ids, &starts, &names, seq_len, test_frac).map(Some)
}

/// Labelled token windows (one class per play); see the module docs.
#[derive(Clone, Debug)]
pub struct LabeledWindows {
    windows: Vec<Vec<i64>>,
    labels: Vec<i64>,
    classes: Vec<String>,
}

impl LabeledWindows {
    /// The windows.
    pub fn windows(&self) -> &[Vec<i64>] {
        &self.windows
    }

    /// The label of each window.
    pub fn labels(&self) -> &[i64] {
        &self.labels
    }
}

impl Dataset for LabeledWindows {
    fn len(&self) -> usize {
        self.windows.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        let w = self
            .windows
            .get(index)
            .ok_or_else(|| out_of_range("play windows", index, self.windows.len()))?;
        Ok(Item {
            sample: Sample::Tokens(Tokens { ids: w.clone() }),
            label: Some(self.labels[index]),
        })
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        self.labels
            .get(index)
            .map(|&l| Some(l))
            .ok_or_else(|| out_of_range("play windows", index, self.windows.len()))
    }
    fn classes(&self) -> Option<&[String]> {
        Some(&self.classes)
    }
}

/// Cuts `ids` into the play-attribution splits: play `p` spans `[starts[p], starts[p+1])` (the last to
/// the end); its first `1 − test_frac` of tokens give training windows, the rest test windows, each
/// `seq_len` tokens without overlap (a partial window at the end of a part is dropped). Returns
/// `(train, test)`. Errors for unsorted starts, a `test_frac` outside `(0, 1)`, or a part shorter
/// than one window.
pub fn play_attribution(
    ids: &[i64],
    starts: &[usize],
    names: &[&str],
    seq_len: usize,
    test_frac: f64,
) -> Result<(LabeledWindows, LabeledWindows)> {
    selfsup_core::check::at_least("seq_len", seq_len, 1)?;
    if !(test_frac > 0.0 && test_frac < 1.0) {
        return Err(Error::config(
            "test_frac",
            format!("must be in (0, 1), got {test_frac}"),
        ));
    }
    if starts.len() != names.len() || starts.is_empty() {
        return Err(Error::config(
            "starts",
            format!("{} starts for {} plays", starts.len(), names.len()),
        ));
    }
    let classes: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut train = LabeledWindows {
        windows: Vec::new(),
        labels: Vec::new(),
        classes: classes.clone(),
    };
    let mut test = LabeledWindows {
        windows: Vec::new(),
        labels: Vec::new(),
        classes,
    };
    for (p, &s) in starts.iter().enumerate() {
        let e = starts.get(p + 1).copied().unwrap_or(ids.len());
        if s >= e || e > ids.len() {
            return Err(Error::config(
                "starts",
                format!("play {} spans [{s}, {e}) of {} tokens", names[p], ids.len()),
            ));
        }
        let cut = s + ((1.0 - test_frac) * (e - s) as f64).floor() as usize;
        for (lo, hi, split) in [(s, cut, &mut train), (cut, e, &mut test)] {
            let n = (hi - lo) / seq_len;
            if n == 0 {
                return Err(Error::config(
                    "seq_len",
                    format!(
                        "a part of {} has {} tokens, fewer than one window of {seq_len}",
                        names[p],
                        hi - lo
                    ),
                ));
            }
            for k in 0..n {
                split
                    .windows
                    .push(ids[lo + k * seq_len..lo + (k + 1) * seq_len].to_vec());
                split.labels.push(p as i64);
            }
        }
    }
    Ok((train, test))
}
