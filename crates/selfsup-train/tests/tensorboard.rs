//! The TensorBoard event file next to `metrics.jsonl`: records framed and encoded byte for byte as
//! TensorBoard's own writer does (fixture from `scripts/fixtures/tensorboard_fixtures.py`), decoded
//! back with both CRCs checked, holding the values of `metrics.jsonl`, and rewritten on resume.

use selfsup_train::metrics::{read_jsonl, MetricsWriter};
use selfsup_train::tensorboard::{
    crc32c, frame_record, masked_crc32c, read_events, split_records, Event, EVENTS_FILE,
    FILE_VERSION,
};

fn fixture() -> serde_json::Value {
    serde_json::from_str(include_str!("fixtures/tensorboard.json")).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn crc32c_and_its_mask_match_the_reference() {
    // The CRC-32C check value of the standard test string (RFC 3720, appendix B.4).
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    for (hex, want) in fixture()["crc32c_check"].as_object().unwrap() {
        assert_eq!(
            masked_crc32c(&unhex(hex)) as u64,
            want.as_u64().unwrap(),
            "{hex}"
        );
    }
}

#[test]
fn records_are_tensorboards_bytes_and_decode_back() {
    for case in fixture()["cases"].as_array().unwrap() {
        let ev = Event {
            wall_time: case["wall_time"].as_f64().unwrap(),
            step: case["step"].as_i64().unwrap(),
            file_version: case["file_version"].as_str().map(String::from),
            scalars: case["scalars"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap().to_string(),
                        p[1].as_f64().unwrap() as f32,
                    )
                })
                .collect(),
        };
        let want = unhex(case["record_hex"].as_str().unwrap());
        assert_eq!(frame_record(&ev.encode()), want, "{case}");
        let recs = split_records(&want).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(
            selfsup_train::tensorboard::decode_event(recs[0]).unwrap(),
            ev
        );
    }
}

#[test]
fn the_metrics_writer_mirrors_every_record_into_the_event_file() {
    let dir = tempfile::tempdir().unwrap();
    let v = |pairs: &[(&str, f64)]| -> Vec<(String, f64)> {
        pairs.iter().map(|(k, x)| (k.to_string(), *x)).collect()
    };
    let mut m = MetricsWriter::open(dir.path(), None).unwrap();
    m.log(
        "eval",
        0,
        0,
        &v(&[("knn_acc", 0.31), ("linear_probe_acc", 0.42)]),
    )
    .unwrap();
    for s in 1..=4u64 {
        m.log(
            "train",
            s,
            0,
            &v(&[("loss", 3.0 / s as f64), ("lr", 1e-3 * s as f64)]),
        )
        .unwrap();
    }
    m.log("epoch", 4, 1, &v(&[("epoch_loss", 1.5), ("knn_acc", 0.77)]))
        .unwrap();
    let path = dir.path().join(EVENTS_FILE);
    let events = read_events(&path).unwrap();
    assert_eq!(events[0].file_version.as_deref(), Some(FILE_VERSION));
    assert!(events[0].scalars.is_empty());
    // One event per record, with the values of metrics.jsonl (as f32).
    let rows = read_jsonl(&dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(events.len(), 1 + rows.len());
    for (ev, row) in events[1..].iter().zip(&rows) {
        assert_eq!(ev.step as u64, row.step);
        let want: Vec<(String, f32)> = row
            .values
            .iter()
            .map(|(k, x)| (format!("{}/{k}", row.kind), *x as f32))
            .collect();
        let mut got = ev.scalars.clone();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want);
        assert!(ev.wall_time > 1.6e9, "{}", ev.wall_time);
    }
    assert!(events
        .iter()
        .any(|e| e.scalars.contains(&("eval/knn_acc".into(), 0.31f32))));
    // A corrupted byte is caught by the CRC.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 6;
    bytes[last] ^= 0x40;
    let err = split_records(&bytes).unwrap_err().to_string();
    assert!(err.contains("CRC mismatch"), "{err}");
    // A resume keeps the records up to its checkpoint's step and rewrites the file from them, with
    // the wall times they had.
    drop(m);
    let before: Vec<(i64, f64)> = events[1..4].iter().map(|e| (e.step, e.wall_time)).collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut m = MetricsWriter::open(dir.path(), Some(2)).unwrap();
    m.log("train", 3, 0, &v(&[("loss", 9.0)])).unwrap();
    let events = read_events(&path).unwrap();
    let steps: Vec<i64> = events[1..].iter().map(|e| e.step).collect();
    assert_eq!(steps, [0, 1, 2, 3]);
    let after: Vec<(i64, f64)> = events[1..4].iter().map(|e| (e.step, e.wall_time)).collect();
    assert_eq!(after, before);
    assert!(events[4].wall_time > before[2].1);
    assert_eq!(
        events.last().unwrap().scalars,
        [("train/loss".into(), 9.0f32)]
    );
}
