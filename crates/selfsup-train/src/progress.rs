//! Progress bars that fit an 80-column terminal and log lines that do not clobber them.
//!
//! Every bar of the process (the trainer's steps, `selfsup embed`'s files) is added to one
//! [`indicatif::MultiProgress`], [`bars`], which draws on stderr. Log lines must go through it too:
//! a program that installs a `tracing` subscriber passes [`log_writer`] as its writer
//! (`tracing_subscriber::fmt().with_writer(selfsup_train::progress::log_writer)`), and each line is
//! then written with the bars cleared and drawn again below it ([`indicatif::MultiProgress::suspend`]),
//! instead of being written over the bar's line.
//!
//! Widths: [`TRAIN_TEMPLATE`] is a 20-cell bar, `pos/len`, elapsed and remaining time in compact form
//! (`3m<12m`) and then `{wide_msg}`, which indicatif cuts to what is left of the terminal's width;
//! [`train_message`] keeps the message short (`ep 3 loss 2.3026 lr 3.0e-4 812/s`, at most 44
//! characters). A usual line (10,000 steps, that message) fits whole in 80 columns; extreme values
//! (a million steps, a diverged loss) lose the end of the message, and the line never wraps.

use std::io::Write;
use std::sync::OnceLock;

/// The trainer's bar: steps done of the run, elapsed < remaining time, then the message.
pub const TRAIN_TEMPLATE: &str = "{bar:20} {pos}/{len} {elapsed}<{eta} {wide_msg}";

/// The terminal width the templates are sized for.
pub const TARGET_COLUMNS: usize = 80;

/// The process's bars (drawn on stderr).
pub fn bars() -> &'static indicatif::MultiProgress {
    static BARS: OnceLock<indicatif::MultiProgress> = OnceLock::new();
    BARS.get_or_init(indicatif::MultiProgress::new)
}

/// A bar of `total` units drawn with `template` (an invalid template falls back to indicatif's
/// default), added to [`bars`].
pub fn bar(total: u64, template: &str) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new(total).with_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bars().add(b)
}

/// Clears `bar` from the terminal and removes it from [`bars`].
pub fn done(bar: &indicatif::ProgressBar) {
    bar.finish_and_clear();
    bars().remove(bar);
}

/// A number in at most 9 characters: 4 decimals in `[-1e4, 1e4]`, scientific notation beyond.
fn compact(x: f64) -> String {
    if x.is_finite() && x.abs() < 1e4 {
        format!("{x:.4}")
    } else {
        format!("{x:.2e}")
    }
}

/// The trainer's bar message: 1-based epoch, loss, learning rate and throughput, e.g.
/// `ep 3 loss 2.3026 lr 3.0e-4 812/s` (at most 44 characters: epochs above 999,999 show as that,
/// losses beyond ±10⁴ and rates from 10⁶ samples/s in scientific notation).
pub fn train_message(epoch: u64, loss: f64, lr: f64, samples_per_sec: f64) -> String {
    let rate = if samples_per_sec.is_finite() {
        samples_per_sec.max(0.0)
    } else {
        0.0
    };
    let rate = if rate < 1e6 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.1e}")
    };
    format!(
        "ep {} loss {} lr {lr:.1e} {rate}/s",
        epoch.min(999_999),
        compact(loss)
    )
}

/// Writes `buf` to `sink` with the bars of `multi` cleared while it is written and drawn again after.
pub fn write_through(
    multi: &indicatif::MultiProgress,
    sink: &mut dyn Write,
    buf: &[u8],
) -> std::io::Result<usize> {
    multi.suspend(|| sink.write_all(buf).and_then(|_| sink.flush()))?;
    Ok(buf.len())
}

/// A stderr writer for log lines that goes through [`bars`] (see the module documentation).
#[derive(Debug, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_through(bars(), &mut std::io::stderr(), buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// A new [`LogWriter`]: the function `tracing_subscriber::fmt().with_writer(...)` takes.
pub fn log_writer() -> LogWriter {
    LogWriter
}
