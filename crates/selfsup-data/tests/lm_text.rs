//! Language-model text: the char vocabulary (order, JSON round trip, unknown characters), file checks
//! (empty, binary, non-UTF-8, too short), keyed random training windows and sequential validation
//! windows, and the loader path through [`RandomWindows::pipeline`].

use selfsup_core::SampleKey;
use selfsup_data::text::UNK;
use selfsup_data::{
    read_text_file, Dataset, Loader, LoaderConfig, RandomWindows, SequentialWindows, TokenStream,
    TokenizerKind, UnknownPolicy, Vocab,
};
use std::sync::Arc;

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn char_vocab_is_sorted_by_code_point_after_the_specials_and_round_trips() {
    let v = Vocab::chars(["hello, world\n"], UnknownPolicy::Error).unwrap();
    // distinct chars sorted: '\n' ' ' ',' 'd' 'e' 'h' 'l' 'o' 'r' 'w'
    let expect = ["\n", " ", ",", "d", "e", "h", "l", "o", "r", "w"];
    assert_eq!(v.len(), 3 + expect.len());
    for (i, t) in expect.iter().enumerate() {
        assert_eq!(v.token(3 + i as i64), Some(*t));
    }
    let ids = v.try_encode("hello").unwrap();
    assert_eq!(ids, vec![8, 7, 9, 9, 10]);
    assert_eq!(v.decode(&ids), "hello");

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("vocab.json");
    v.save(&p).unwrap();
    let back = Vocab::load(&p).unwrap();
    assert_eq!(back, v);
    assert_eq!(
        back.try_encode("world").unwrap(),
        v.try_encode("world").unwrap()
    );

    let bad = write(
        &dir,
        "bad.json",
        br#"{"format":"selfsup-vocab-v1","kind":"char","unknown":"error","tokens":["a"]}"#,
    );
    let e = Vocab::load(&bad).unwrap_err().to_string();
    assert!(e.contains("specials"), "{e}");
    assert!(Vocab::chars([""], UnknownPolicy::Error).is_err());
}

#[test]
fn unknown_characters_are_an_error_naming_them_or_unk_when_asked() {
    let v = Vocab::chars(["ab\ncd"], UnknownPolicy::Error).unwrap();
    let e = v.try_encode("ab\ncZd").unwrap_err().to_string();
    assert!(
        e.contains("'Z'") && e.contains("line 2, column 2") && e.contains("byte 4"),
        "{e}"
    );
    let v = v.with_unknown(UnknownPolicy::Unk);
    let ids = v.try_encode("aZb").unwrap();
    assert_eq!(ids[1], UNK);
    assert_eq!(ids.len(), 3);
}

#[test]
fn bad_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(&dir, "empty.txt", b"");
    let e = read_text_file(&empty, TokenizerKind::Char)
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty"), "{e}");
    let bin = write(&dir, "bin.txt", b"abc\0def");
    let e = read_text_file(&bin, TokenizerKind::Byte)
        .unwrap_err()
        .to_string();
    assert!(e.contains("binary") && e.contains("offset 3"), "{e}");
    let latin1 = write(&dir, "l1.txt", b"caf\xe9 au lait");
    let e = read_text_file(&latin1, TokenizerKind::Char)
        .unwrap_err()
        .to_string();
    assert!(e.contains("UTF-8") && e.contains("offset 3"), "{e}");
    // the byte tokenizer reads any bytes
    let v = Vocab::bytes();
    let s = TokenStream::from_file(&latin1, &v).unwrap();
    assert_eq!(s.ids()[3], 3 + 0xe9);
    let missing = dir.path().join("nope.txt");
    assert!(
        TokenStream::vocab_from_file(&missing, TokenizerKind::Char, UnknownPolicy::Error).is_err()
    );

    // shorter than one window of seq_len + 1
    let short = write(&dir, "short.txt", b"abcd");
    let v =
        TokenStream::vocab_from_file(&short, TokenizerKind::Char, UnknownPolicy::Error).unwrap();
    let s = TokenStream::from_file(&short, &v).unwrap();
    let e = RandomWindows::new(s.clone(), 4, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("seq_len") && e.contains("4 tokens") && e.contains("5"),
        "{e}"
    );
    assert!(SequentialWindows::new(s.clone(), 4).is_err());
    assert!(SequentialWindows::new(s, 3).is_ok());

    // a val file with a character the training vocabulary lacks: the error names the file
    let val = write(&dir, "val.txt", b"abcx");
    let e = TokenStream::from_file(&val, &v).unwrap_err().to_string();
    assert!(e.contains("val.txt") && e.contains("'x'"), "{e}");
}

#[test]
fn random_windows_are_keyed_contiguous_and_cover_every_offset() {
    let n = 50usize;
    let ids: Vec<i64> = (0..n as i64).collect();
    let w = RandomWindows::new(TokenStream::from_ids(ids, "t"), 8, Some(10)).unwrap();
    assert_eq!(w.len(), 10);
    let mut seen = vec![false; n];
    for idx in 0..400u64 {
        let k = SampleKey::new(3, idx / 20, idx % 20);
        let win = w.window(k);
        assert_eq!(win.len(), 9);
        // contiguous: consecutive ids of the stream
        for j in 1..9 {
            assert_eq!(win[j], win[0] + j as i64);
        }
        assert_eq!(win, w.window(k), "same key, same window");
        assert_eq!(win[0] as usize, w.offset(3, idx / 20, idx % 20));
        seen[win[0] as usize] = true;
    }
    // offsets cover exactly [0, n - seq_len - 1]
    assert!(seen[..n - 8].iter().all(|&s| s), "{seen:?}");
    assert!(seen[n - 8..].iter().all(|&s| !s));
    // epochs and seeds change the draw
    let a: Vec<usize> = (0..20).map(|i| w.offset(3, 0, i)).collect();
    let b: Vec<usize> = (0..20).map(|i| w.offset(3, 1, i)).collect();
    let c: Vec<usize> = (0..20).map(|i| w.offset(4, 0, i)).collect();
    assert_ne!(a, b);
    assert_ne!(a, c);
}

#[test]
fn sequential_windows_predict_every_token_once() {
    let ids: Vec<i64> = (0..23).collect();
    let w = SequentialWindows::new(TokenStream::from_ids(ids, "t"), 5).unwrap();
    assert_eq!(w.len(), 4); // (23 - 1) / 5
    assert_eq!(w.n_targets(), 20);
    let mut targets = Vec::new();
    for i in 0..w.len() {
        let win = w.window(i);
        assert_eq!(win.len(), 6);
        assert_eq!(win[0], 5 * i as i64);
        targets.extend_from_slice(&win[1..]);
    }
    assert_eq!(targets, (1..21).collect::<Vec<i64>>());
}

#[test]
fn loader_draws_windows_per_seed_epoch_index_for_any_thread_count() {
    let ids: Vec<i64> = (0..1000).map(|i| (i * 7 % 61) as i64).collect();
    let w = Arc::new(RandomWindows::new(TokenStream::from_ids(ids, "t"), 16, Some(32)).unwrap());
    let run = |threads: usize, epoch: u64| {
        let loader = Loader::new(
            w.clone(),
            w.pipeline(),
            LoaderConfig {
                batch_size: 8,
                num_threads: threads,
                seed: 11,
                ..Default::default()
            },
        )
        .unwrap();
        loader
            .epoch(epoch)
            .map(|b| {
                let b = b.unwrap();
                assert_eq!(b.tokens[0].dim(), (8, 17));
                for (r, &i) in b.indices.iter().enumerate() {
                    let expect = w.window(SampleKey::new(11, epoch, i as u64));
                    assert_eq!(b.tokens[0].row(r).to_vec(), expect);
                }
                b.tokens[0].clone()
            })
            .collect::<Vec<_>>()
    };
    let one = run(1, 0);
    assert_eq!(one.len(), 4);
    assert_eq!(one, run(3, 0));
    assert_ne!(one, run(1, 1));
}

#[test]
fn shakespeare_files_tokenize_with_the_training_vocabulary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/shakespeare");
    let v = TokenStream::vocab_from_file(
        root.join("train.txt"),
        TokenizerKind::Char,
        UnknownPolicy::Error,
    )
    .unwrap();
    assert_eq!(v.len(), 3 + 68);
    let val = TokenStream::from_file(root.join("val.txt"), &v).unwrap();
    assert_eq!(val.len(), 93923); // ASCII: one token per byte
}

#[test]
fn play_attribution_finds_the_eight_plays_and_holds_out_each_tail() {
    use selfsup_data::plays::{find_play_starts, play_attribution, SHAKESPEARE_PLAYS};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/shakespeare");
    let text = std::fs::read_to_string(root.join("train.txt")).unwrap();
    let starts = find_play_starts(&text, &SHAKESPEARE_PLAYS).unwrap();
    // the byte offsets of the first speaker lines (`grep -b -n "^Warwick:$" train.txt`, ...; ASCII)
    assert_eq!(
        starts,
        vec![0, 156740, 325663, 453077, 590128, 706062, 816084, 951705]
    );
    let names: Vec<&str> = SHAKESPEARE_PLAYS.iter().map(|p| p.0).collect();
    let ids: Vec<i64> = (0..text.len() as i64).collect(); // ids = positions, to check the cut
    let (train, test) = play_attribution(&ids, &starts, &names, 64, 0.1).unwrap();
    assert_eq!(train.classes().unwrap().len(), 8);
    for p in 0..8 {
        let s = starts[p] as i64;
        let e = *starts.get(p + 1).unwrap_or(&text.len()) as i64;
        let cut = s + (0.9 * (e - s) as f64).floor() as i64;
        let tr: Vec<&Vec<i64>> = train
            .windows()
            .iter()
            .zip(train.labels())
            .filter(|(_, &l)| l == p as i64)
            .map(|(w, _)| w)
            .collect();
        let te: Vec<&Vec<i64>> = test
            .windows()
            .iter()
            .zip(test.labels())
            .filter(|(_, &l)| l == p as i64)
            .map(|(w, _)| w)
            .collect();
        assert_eq!(tr.len() as i64, (cut - s) / 64);
        assert_eq!(te.len() as i64, (e - cut) / 64);
        assert!(tr.iter().all(|w| w[0] >= s && w[63] < cut));
        assert!(te.iter().all(|w| w[0] >= cut && w[63] < e));
    }
    assert!(play_attribution(&ids, &starts, &names, 64, 1.0).is_err());
    assert!(find_play_starts("no plays here", &SHAKESPEARE_PLAYS).is_err());
}

#[test]
fn shakespeare_play_attribution_encodes_each_play_with_any_tokenizer() {
    use selfsup_data::plays::{
        find_play_starts, play_attribution, shakespeare_play_attribution, SHAKESPEARE_PLAYS,
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/shakespeare");
    let text = std::fs::read_to_string(root.join("train.txt")).unwrap();
    let names: Vec<&str> = SHAKESPEARE_PLAYS.iter().map(|p| p.0).collect();
    // char tokenizer: the same windows as cutting the whole file's ids at the plays' char offsets
    let chars = TokenStream::vocab_from_file(
        root.join("train.txt"),
        TokenizerKind::Char,
        UnknownPolicy::Error,
    )
    .unwrap();
    let ids = chars.try_encode(&text).unwrap();
    let starts = find_play_starts(&text, &SHAKESPEARE_PLAYS).unwrap();
    let (tr, te) = play_attribution(&ids, &starts, &names, 64, 0.1).unwrap();
    let (tr2, te2) = shakespeare_play_attribution(&text, &chars, 64, 0.1)
        .unwrap()
        .expect("the vendored plays");
    assert_eq!((tr.windows(), tr.labels()), (tr2.windows(), tr2.labels()));
    assert_eq!((te.windows(), te.labels()), (te2.windows(), te2.labels()));
    // byte tokenizer: every window decodes to text of its own play
    let bytes = Vocab::bytes();
    let (tr3, _) = shakespeare_play_attribution(&text, &bytes, 64, 0.1)
        .unwrap()
        .unwrap();
    let w = &tr3.windows()[tr3.labels().iter().position(|&l| l == 6).unwrap()];
    let romeo = &text[text.find("Prologue:\nTwo households").unwrap()..];
    assert!(romeo.starts_with(&bytes.decode(w)));
    // other text: no play attribution, not an error
    assert!(
        shakespeare_play_attribution("To be, or not to be", &bytes, 4, 0.1)
            .unwrap()
            .is_none()
    );
}
