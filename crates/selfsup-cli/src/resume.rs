//! `selfsup pretrain --resume`: the run continues with its own `config.toml`, not with the defaults
//! or the flags of the new command line. Flags that agree with the saved config are accepted (so the
//! original command line can be repeated with `--resume`); flags that contradict it are an error
//! naming each field with the saved and the given value. `--device` may change (a run can move to
//! another machine), and `--stop-at-step` is a run option, not config.

use crate::config::RunConfig;
use crate::pretrain::{apply_flags, PretrainArgs};
use anyhow::{bail, Context, Result};
use selfsup_nn::MethodSpec;
use std::path::Path;

/// Dotted paths whose values differ between `a` and `b`, with both values (`None`: absent).
pub fn differences(
    a: &toml::Value,
    b: &toml::Value,
) -> Vec<(String, Option<String>, Option<String>)> {
    fn walk(
        prefix: &str,
        a: Option<&toml::Value>,
        b: Option<&toml::Value>,
        out: &mut Vec<(String, Option<String>, Option<String>)>,
    ) {
        match (a, b) {
            (Some(toml::Value::Table(x)), Some(toml::Value::Table(y))) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, x.get(k), y.get(k), out);
                }
            }
            (x, y) if x == y => {}
            (x, y) => out.push((
                prefix.to_string(),
                x.map(ToString::to_string),
                y.map(ToString::to_string),
            )),
        }
    }
    let mut out = Vec::new();
    walk("", Some(a), Some(b), &mut out);
    out
}

/// The saved config of the run in `dir`, with the flags of `args` checked against it.
pub fn resume_config(dir: &Path, args: &PretrainArgs) -> Result<RunConfig> {
    let path = dir.join("config.toml");
    if !path.exists() {
        bail!(
            "--resume: {} has no config.toml (not a `selfsup pretrain` run folder; pass --out <run folder>)",
            dir.display()
        );
    }
    let saved = RunConfig::from_file(&path)?;
    let mut given = match &args.config {
        Some(p) => {
            let mut c = RunConfig::from_file(p)?;
            let explicit = crate::defaults::Explicit::from_toml(
                &std::fs::read_to_string(p).unwrap_or_default(),
            );
            crate::defaults::apply(&mut c, &explicit)?;
            c
        }
        None => saved.clone(),
    };
    given.out_dir = saved.out_dir.clone();
    // `--method simclr` / `--backbone conv_net` name a kind: they agree with a saved config of that
    // kind whatever its other fields.
    let mut flags = PretrainArgs {
        config: None,
        ..args.clone()
    };
    if flags.method.as_deref() == Some(saved.method.name()) {
        flags.method = None;
    }
    if flags.backbone == Some(saved.backbone.kind()) {
        flags.backbone = None;
    }
    apply_flags(&mut given, &flags)?;
    // The same file or folder written another way (relative / absolute) agrees.
    let same = |a: &Option<std::path::PathBuf>, b: &Option<std::path::PathBuf>| match (a, b) {
        (Some(a), Some(b)) => a
            .canonicalize()
            .ok()
            .is_some_and(|x| b.canonicalize().ok() == Some(x)),
        _ => false,
    };
    if same(&saved.data.path, &given.data.path) {
        given.data.path = saved.data.path.clone();
    }
    if same(&saved.data.val_path, &given.data.val_path) {
        given.data.val_path = saved.data.val_path.clone();
    }
    given.train.device = saved.train.device.clone();
    let a = toml::Value::try_from(&saved).context("cannot compare the saved config")?;
    let b = toml::Value::try_from(&given).context("cannot compare the given config")?;
    let diff = differences(&a, &b);
    if !diff.is_empty() {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "absent".into());
        bail!(
            "--resume continues the run in {} with its own config.toml, and the command line contradicts it: {}; leave these out (or start a new run with another --out)",
            dir.display(),
            diff.iter()
                .map(|(k, s, g)| format!("`{k}` (saved {}, given {})", show(s), show(g)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut cfg = saved;
    if let Some(d) = &args.device {
        cfg.train.device = d.clone();
    }
    cfg.out_dir = std::path::absolute(dir)?;
    cfg.validate()?;
    Ok(cfg)
}
