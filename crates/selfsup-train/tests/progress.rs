//! The training progress bar fits an 80-column terminal, and a log line written through the bars
//! clears the bar first and draws it again after (it is not written over the bar's line). Rendered by
//! indicatif itself on a recording terminal of 80 columns.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use selfsup_train::progress::{train_message, write_through, TARGET_COLUMNS, TRAIN_TEMPLATE};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// What was done to the terminal, in order.
#[derive(Clone, Debug, PartialEq)]
enum Op {
    Line(String),
    Str(String),
    Clear,
    Up(usize),
    Log(String),
}

#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Op>>>);

impl Recorder {
    fn push(&self, op: Op) {
        self.0.lock().unwrap().push(op);
    }
    fn ops(&self) -> Vec<Op> {
        self.0.lock().unwrap().clone()
    }
}

impl TermLike for Recorder {
    fn width(&self) -> u16 {
        TARGET_COLUMNS as u16
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.push(Op::Up(n));
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.push(Op::Line(s.to_string()));
        Ok(())
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.push(Op::Str(s.to_string()));
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.push(Op::Clear);
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The visible width of what a draw wrote (ANSI escapes removed).
fn width(s: &str) -> usize {
    let (mut n, mut esc) = (0, false);
    for c in s.chars() {
        match (esc, c) {
            (false, '\x1b') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

fn drawn(ops: &[Op]) -> Vec<String> {
    ops.iter()
        .filter_map(|o| match o {
            Op::Line(s) | Op::Str(s) if !s.trim().is_empty() => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn training_bar(rec: &Recorder, total: u64) -> ProgressBar {
    ProgressBar::with_draw_target(
        Some(total),
        ProgressDrawTarget::term_like(Box::new(rec.clone())),
    )
    .with_style(ProgressStyle::with_template(TRAIN_TEMPLATE).unwrap())
}

#[test]
fn the_training_bar_fits_80_columns_and_keeps_its_message_at_usual_sizes() {
    let rec = Recorder::default();
    // A usual run: 10,000 steps. The whole message is shown.
    let b = training_bar(&rec, 10_000);
    b.set_position(9_876);
    let msg = train_message(12, 2.30261, 3e-4, 812.4);
    assert_eq!(msg, "ep 12 loss 2.3026 lr 3.0e-4 812/s");
    b.set_message(msg.clone());
    b.abandon(); // a forced draw that keeps the position
    let lines = drawn(&rec.ops());
    let last = lines.last().expect("the bar was drawn");
    assert!(
        width(last) <= TARGET_COLUMNS,
        "{} columns: {last:?}",
        width(last)
    );
    assert!(last.contains(&msg), "{last:?}");
    assert!(last.contains("9876/10000"), "{last:?}");
    // Extremes: a million steps, a diverged loss, a huge rate: still within 80 columns (the message
    // is cut, never the line wrapped).
    let rec = Recorder::default();
    let b = training_bar(&rec, 1_000_000);
    b.set_position(999_999);
    let msg = train_message(999_999, -1.5e300, 1.0e-12, 1e12);
    assert!(msg.chars().count() <= 44, "{msg}");
    b.set_message(msg);
    b.abandon();
    for l in drawn(&rec.ops()) {
        assert!(width(&l) <= TARGET_COLUMNS, "{} columns: {l:?}", width(&l));
    }
    // The template before the fix ("{bar:30} {pos}/{len} steps [{elapsed_precise} < {eta_precise}]
    // epoch .. samples/s") took 101 columns at these sizes: the check above would fail on it.
    let rec = Recorder::default();
    let old = ProgressBar::with_draw_target(
        Some(10_000),
        ProgressDrawTarget::term_like(Box::new(rec.clone())),
    )
    .with_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps [{elapsed_precise} < {eta_precise}] {msg}",
        )
        .unwrap(),
    );
    old.set_position(9_876);
    old.set_message("epoch 12 loss 2.3026 lr 3.00e-4 812 samples/s");
    old.abandon();
    assert!(drawn(&rec.ops()).iter().any(|l| width(l) > TARGET_COLUMNS));
}

#[test]
fn a_log_line_clears_the_bar_and_the_bar_is_drawn_again_below_it() {
    let rec = Recorder::default();
    let multi =
        MultiProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(rec.clone())));
    let b = multi.add(
        ProgressBar::new(100).with_style(ProgressStyle::with_template(TRAIN_TEMPLATE).unwrap()),
    );
    b.set_position(40);
    b.set_message(train_message(1, 0.5, 1e-3, 100.0));
    b.tick();
    /// The log sink records into the same sequence as the terminal.
    struct Sink(Recorder);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .push(Op::Log(String::from_utf8_lossy(buf).into_owned()));
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let before = rec.ops().len();
    let n = write_through(&multi, &mut Sink(rec.clone()), b"INFO a log line\n").unwrap();
    assert_eq!(n, 16);
    let ops = rec.ops()[before..].to_vec();
    let at = ops
        .iter()
        .position(|o| matches!(o, Op::Log(_)))
        .expect("the line was written");
    // Before the line: the bar's line is cleared; after it: the bar is drawn again.
    assert!(ops[..at].contains(&Op::Clear), "{ops:?}");
    assert!(
        drawn(&ops[at + 1..]).iter().any(|l| l.contains("40/100")),
        "{ops:?}"
    );
}
