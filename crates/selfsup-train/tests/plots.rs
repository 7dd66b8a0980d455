//! Run plots (issue 17): the axes are labelled, a one-point curve (a one-epoch run) is visible, and
//! `eval.png` draws the caller's `eval` rows (before training at epoch 0, the linear probe) with the
//! trainer's end-of-epoch evaluations.

use selfsup_train::metrics::{eval_series, plot_run, read_jsonl, MetricsWriter};

fn coloured(img: &image::RgbImage) -> usize {
    img.pixels()
        .filter(|p| {
            let [r, g, b] = p.0;
            r.max(g).max(b) - r.min(g).min(b) > 60
        })
        .count()
}

fn dark_in(img: &image::RgbImage, x: std::ops::Range<u32>) -> usize {
    img.enumerate_pixels()
        .filter(|(px, py, p)| x.contains(px) && (60..440).contains(py) && p.0[0] < 50)
        .count()
}

#[test]
fn a_single_point_is_drawn_and_the_y_axis_is_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("one.png");
    let one = vec![("knn_acc".to_string(), vec![(1.0, 0.5)])];
    selfsup_train::plot::line_chart(&p, "t", "epoch", "accuracy", &one).unwrap();
    let img = image::open(&p).unwrap().to_rgb8();
    // The legend swatch is 16×10 = 160 coloured pixels; the point's marker adds 7×7.
    assert!(coloured(&img) >= 160 + 49, "{}", coloured(&img));
    // The y label is drawn in the left margin (left of the tick labels).
    assert!(dark_in(&img, 0..24) > 50, "no y-axis label");
    selfsup_train::plot::line_chart(&p, "t", "epoch", "", &one).unwrap();
    let img = image::open(&p).unwrap().to_rgb8();
    assert_eq!(dark_in(&img, 0..24), 0);
}

#[test]
fn eval_rows_join_the_epoch_rows_sorted_by_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = MetricsWriter::open(dir.path(), None).unwrap();
    m.log("train", 4, 0, &[("loss".into(), 2.0)]).unwrap();
    m.log(
        "epoch",
        4,
        1,
        &[("epoch_loss".into(), 2.0), ("knn_acc".into(), 0.6)],
    )
    .unwrap();
    // Written after training: the random-init point and the final probe.
    let mut m = MetricsWriter::open(dir.path(), Some(u64::MAX)).unwrap();
    m.log(
        "eval",
        0,
        0,
        &[("knn_acc".into(), 0.3), ("linear_probe_acc".into(), 0.4)],
    )
    .unwrap();
    m.log(
        "eval",
        4,
        1,
        &[("knn_acc".into(), 0.6), ("linear_probe_acc".into(), 0.7)],
    )
    .unwrap();
    let rows = read_jsonl(&dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(rows.len(), 4, "reopening kept the rows");
    assert_eq!(
        eval_series(&rows),
        vec![
            ("knn_acc".to_string(), vec![(0.0, 0.3), (1.0, 0.6)]),
            ("linear_probe_acc".to_string(), vec![(0.0, 0.4), (1.0, 0.7)]),
        ]
    );
    plot_run(dir.path()).unwrap();
    assert!(dir.path().join("eval.png").exists());
}
