//! Issue 12 through the binary: `--method jigsaw|relative_position` on the MNIST digits brings the
//! pretext preset (the assembled whole-image jigsaw without per-tile standardisation, relative
//! position on digits upsampled to 56 px with 15-px patches), other data keep the generators'
//! defaults, and a config file is taken as it is written.

mod common;
use common::{get, resolved};

#[test]
fn pretext_tasks_on_digits_bring_their_presets() {
    let dir = tempfile::tempdir().unwrap();
    let jig = resolved(&["--method", "jigsaw"], dir.path());
    assert_eq!(get(&jig, "method.assemble_views").as_bool(), Some(true));
    assert_eq!(get(&jig, "method.normalize_tiles").as_bool(), Some(false));
    assert_eq!(get(&jig, "method.grid").as_integer(), Some(3));
    let rel = resolved(&["--method", "relative_position"], dir.path());
    assert_eq!(get(&rel, "method.gap").as_float(), Some(0.15));
    // Relative position on the digits trains and is evaluated on digits upsampled to 56 px.
    assert_eq!(get(&rel, "augment.image_size").as_integer(), Some(56));
    assert_eq!(get(&jig, "augment.image_size").as_integer(), Some(28));
    // The pretext presets keep the three-block ConvNet they were measured with; the main job has four.
    let widths = |v: &toml::Value| get(v, "backbone.widths").as_array().map(Vec::len);
    assert_eq!(widths(&rel), Some(3));
    assert_eq!(widths(&resolved(&[], dir.path())), Some(4));
    let cpc = resolved(&["--dataset", "fsdd", "--method", "cpc"], dir.path());
    assert_eq!(widths(&cpc), Some(3));
    assert_eq!(
        widths(&resolved(&["--dataset", "fsdd"], dir.path())),
        Some(4)
    );

    // Colour images keep the generators' defaults (Noroozi's tiles, Doersch's gap).
    let jig = resolved(&["--dataset", "cifar", "--method", "jigsaw"], dir.path());
    assert_eq!(get(&jig, "method.assemble_views").as_bool(), Some(false));
    assert_eq!(get(&jig, "method.normalize_tiles").as_bool(), Some(true));
    let rel = resolved(
        &["--dataset", "cifar", "--method", "relative_position"],
        dir.path(),
    );
    assert_eq!(get(&rel, "method.gap").as_float(), Some(0.3));

    // A config file is not a preset: what it says is what runs.
    let cfg = dir.path().join("jig.toml");
    std::fs::write(&cfg, "[method]\nkind = \"jigsaw\"\n").unwrap();
    let jig = resolved(&["--config", cfg.to_str().unwrap()], dir.path());
    assert_eq!(get(&jig, "method.assemble_views").as_bool(), Some(false));
}
