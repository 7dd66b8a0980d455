//! Issue 16's method table through the binary: `--method <contrastive kind>` on the built-in small
//! datasets brings heads of lightly's CIFAR-10 benchmark widths (Barlow Twins' and VICReg's 2048-wide
//! projectors, DINO's 2,048 outputs, SwAV's 512 prototypes), image folders keep the paper defaults,
//! the main job (SimCLR without `--method`) is untouched, and a config file is taken as written.

mod common;
use common::{get, resolved};

#[test]
fn contrastive_methods_on_small_datasets_get_small_heads() {
    let dir = tempfile::tempdir().unwrap();
    let int = |v: &toml::Value, k: &str| get(v, k).as_integer();
    let barlow = resolved(&["--method", "barlow_twins"], dir.path());
    assert_eq!(int(&barlow, "method.hidden_dim"), Some(2048));
    assert_eq!(int(&barlow, "method.output_dim"), Some(2048));
    let dino = resolved(&["--dataset", "fsdd", "--method", "dino"], dir.path());
    assert_eq!(int(&dino, "method.output_dim"), Some(2048));
    assert_eq!(get(&dino, "method.momentum_start").as_float(), Some(0.99));
    // VICReg's learning rate is capped at 5e-4 under Adam(W) (the main job's 2e-3 collapses it).
    let vicreg = resolved(&["--method", "vicreg"], dir.path());
    assert_eq!(get(&vicreg, "train.optimizer.lr").as_float(), Some(5e-4));
    let swav = resolved(&["--dataset", "cifar", "--method", "swav"], dir.path());
    assert_eq!(int(&swav, "method.n_prototypes"), Some(512));

    // Image folders keep the paper's heads; so does a config file.
    let folder = dir.path().join("imgs");
    std::fs::create_dir_all(&folder).unwrap();
    let vicreg = resolved(
        &[
            "--dataset",
            "image-folder",
            "--data",
            folder.to_str().unwrap(),
            "--method",
            "vicreg",
        ],
        dir.path(),
    );
    assert_eq!(int(&vicreg, "method.hidden_dim"), Some(8192));
    let cfg = dir.path().join("dino.toml");
    std::fs::write(&cfg, "[method]\nkind = \"dino\"\n").unwrap();
    let dino = resolved(&["--config", cfg.to_str().unwrap()], dir.path());
    assert_eq!(int(&dino, "method.output_dim"), Some(65536));

    // The main job's SimCLR is the same with and without `--method simclr`.
    let simclr = resolved(&["--method", "simclr"], dir.path());
    let main_job = resolved(&[], dir.path());
    assert_eq!(get(&simclr, "method"), get(&main_job, "method"));
}
