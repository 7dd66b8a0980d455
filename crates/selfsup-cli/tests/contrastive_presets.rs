//! Issue 16's method table through the binary: `--method <contrastive kind>` on the built-in small
//! datasets brings heads of lightly's CIFAR-10 benchmark widths (Barlow Twins' and VICReg's 2048-wide
//! projectors, DINO's 2,048 outputs, SwAV's 512 prototypes), image folders keep the paper defaults,
//! the main job (SimCLR without `--method`) is untouched, and a config file is taken as written. CIFAR
//! and image folders get lightly's CIFAR-10 SGD schedule unless the optimizer is set.

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
    // On audio SimSiam, BYOL and DINO are capped at 5e-4 too; on the digits they keep 2e-3.
    for m in ["simsiam", "byol", "dino"] {
        let audio = resolved(&["--dataset", "fsdd", "--method", m], dir.path());
        assert_eq!(
            get(&audio, "train.optimizer.lr").as_float(),
            Some(5e-4),
            "{m}"
        );
        let digits = resolved(&["--method", m], dir.path());
        assert_eq!(
            get(&digits, "train.optimizer.lr").as_float(),
            Some(2e-3),
            "{m}"
        );
    }
    // DINO's teacher at 0.07 on audio.
    let dino = resolved(&["--dataset", "fsdd", "--method", "dino"], dir.path());
    assert_eq!(get(&dino, "method.teacher_temp").as_float(), Some(0.07));
    assert_eq!(
        get(&dino, "method.warmup_teacher_temp").as_float(),
        Some(0.07)
    );
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

#[test]
fn colour_datasets_get_lightlys_sgd_schedule_unless_the_optimizer_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let s = |v: &toml::Value, k: &str| get(v, k).as_str().map(str::to_string);
    let f = |v: &toml::Value, k: &str| get(v, k).as_float();
    // CIFAR with a contrastive method: SGD 0.06 · batch / 128, momentum 0.9, wd 5e-4 on every
    // parameter, cosine without warm-up (lightly's CIFAR-10 benchmark).
    for method in ["simclr", "byol"] {
        let c = resolved(&["--dataset", "cifar", "--method", method], dir.path());
        assert_eq!(
            s(&c, "train.optimizer.kind").as_deref(),
            Some("sgd"),
            "{method}"
        );
        assert_eq!(f(&c, "train.optimizer.lr"), Some(0.06));
        assert_eq!(f(&c, "train.optimizer.momentum"), Some(0.9));
        assert_eq!(f(&c, "train.optimizer.weight_decay"), Some(5e-4));
        assert_eq!(
            get(&c, "train.optimizer.exclude_bias_and_norm").as_bool(),
            Some(false)
        );
        assert_eq!(s(&c, "train.lr_scaling").as_deref(), Some("linear"));
        assert_eq!(get(&c, "train.lr_reference_batch").as_integer(), Some(128));
        assert_eq!(
            s(&c, "train.schedule.kind").as_deref(),
            Some("warmup_cosine")
        );
        assert_eq!(f(&c, "train.schedule.warmup_epochs"), Some(0.0));
    }
    // An optimizer flag keeps the configured optimizer; the digits keep AdamW; the auto-encoders
    // keep their preset's Adam; a config file is taken as written.
    let lr = resolved(&["--dataset", "cifar", "--lr", "0.01"], dir.path());
    assert_eq!(s(&lr, "train.optimizer.kind").as_deref(), Some("adamw"));
    assert_eq!(f(&lr, "train.optimizer.lr"), Some(0.01));
    let adamw = resolved(&["--dataset", "cifar", "--optimizer", "adamw"], dir.path());
    assert_eq!(f(&adamw, "train.optimizer.lr"), Some(2e-3));
    let sgd = resolved(&["--dataset", "cifar", "--optimizer", "sgd"], dir.path());
    assert_eq!(f(&sgd, "train.optimizer.lr"), Some(0.06));
    let mnist = resolved(&["--dataset", "mnist"], dir.path());
    assert_eq!(s(&mnist, "train.optimizer.kind").as_deref(), Some("adamw"));
    let ae = resolved(&["--dataset", "cifar", "--method", "ae"], dir.path());
    assert_eq!(s(&ae, "train.optimizer.kind").as_deref(), Some("adam"));
    let cfg = dir.path().join("adamw.toml");
    std::fs::write(
        &cfg,
        "[data]\nkind = \"cifar\"\n[train.optimizer]\nkind = \"adamw\"\nlr = 0.001\n",
    )
    .unwrap();
    let file = resolved(&["--config", cfg.to_str().unwrap()], dir.path());
    assert_eq!(s(&file, "train.optimizer.kind").as_deref(), Some("adamw"));
    assert_eq!(s(&file, "train.lr_scaling").as_deref(), Some("none"));
}
