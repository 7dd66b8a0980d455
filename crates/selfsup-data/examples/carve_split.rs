//! Writes the training split of an MNIST CSV — the rows `selfsup pretrain` trains on with
//! `data.val_fraction` and `train.seed` — as a new CSV, so that hyper-parameters can be chosen on a
//! validation split carved from the training rows alone (`data.path = <out>`), and the run's own
//! held-out rows are looked at only to confirm (issue 16's main-job ablations,
//! `scripts/ablations/main_job/`).
//!
//! usage: `cargo run -p selfsup-data --example carve_split -- <in.csv[.gz]> <val_fraction> <seed> <out.csv>`

#![allow(clippy::print_stderr)] // an example program reports to its user

use selfsup_data::{train_val_split, MnistCsv};
use std::io::{BufRead, Write};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, frac, seed, out] = args.as_slice() else {
        return Err("usage: carve_split <in.csv[.gz]> <val_fraction> <seed> <out.csv>".into());
    };
    let frac: f64 = frac.parse().map_err(|e| format!("val_fraction: {e}"))?;
    let seed: u64 = seed.parse().map_err(|e| format!("seed: {e}"))?;
    let ds = Arc::new(MnistCsv::new(input)?);
    // The same call, arguments and stratification as `selfsup pretrain` (`run::data::open_splits`).
    let (train, _) = train_val_split(ds, frac, seed, true)?;
    let file = std::fs::File::open(input)?;
    let reader: Box<dyn BufRead> = if input.ends_with(".gz") {
        Box::new(std::io::BufReader::new(flate2::read::GzDecoder::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    let rows: Vec<String> = reader
        .lines()
        .collect::<std::io::Result<Vec<_>>>()?
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    for &i in train.indices() {
        writeln!(w, "{}", rows[i])?;
    }
    eprintln!(
        "{} of {} rows written to {out}",
        train.indices().len(),
        rows.len()
    );
    Ok(())
}
