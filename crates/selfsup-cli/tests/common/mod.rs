//! Shared by the CLI test binaries: runs the built `selfsup` binary on the vendored data, and writes
//! the small image folders and run configs the own-data tests use (each binary uses a subset).
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Runs `selfsup args...` in `cwd` with the vendored data, `RUST_LOG=warn` and one libtorch thread;
/// returns (success, stdout, stderr).
///
/// One thread (`OMP_NUM_THREADS=1`, as `faults.rs` and `memory.rs` set) because the tests compare runs
/// bit for bit across processes: on 2 threads CI once saw two fresh GPT runs of one config part at step 2
/// (grad norm 1.1813629 vs 1.1813631, 2e-7), which 27 local repeats did not reproduce.
pub fn selfsup(args: &[&str], cwd: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_selfsup"))
        .args(args)
        .current_dir(cwd)
        .env(
            "SELFSUP_DATA",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../data"),
        )
        .env("RUST_LOG", "warn")
        .env("OMP_NUM_THREADS", "1")
        .output()
        .expect("run selfsup");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The run config `selfsup pretrain --print-config args...` resolves to (presets, flags and the data's
/// defaults applied), parsed; panics with the binary's message when it refuses.
pub fn resolved(args: &[&str], dir: &Path) -> toml::Value {
    let mut all = vec!["pretrain", "--print-config"];
    all.extend_from_slice(args);
    let (ok, out, err) = selfsup(&all, dir);
    assert!(ok, "{args:?}: {err}");
    toml::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
}

/// The value at a dotted `path` (`method.mask_ratio`) of a config; panics naming the path when absent.
pub fn get<'a>(v: &'a toml::Value, path: &str) -> &'a toml::Value {
    path.split('.')
        .fold(v, |v, k| v.get(k).unwrap_or_else(|| panic!("no `{path}`")))
}

/// `n` RGB images of `w×h` in `dir`: class `a` is bright at the top, class `b` at the bottom, with
/// a per-image colour so that no two images are equal; `blue_ramp` adds a left-to-right ramp to the
/// blue channel (texture within an image).
pub fn images(dir: &Path, class: char, n: usize, (w, h): (u32, u32), blue_ramp: bool) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            let top = y < h / 2;
            let on = if class == 'a' { top } else { !top };
            let v = if on { 200 } else { 30 };
            let ramp = if blue_ramp { x as u8 } else { 0 };
            image::Rgb([v, (v as usize + 7 * i) as u8, (255 - v).wrapping_add(ramp)])
        });
        img.save(dir.join(format!("{class}{i:02}.png"))).unwrap();
    }
}

/// A tiny image run: small ConvNet, SimCLR recipe at 16 px, one epoch.
pub const TINY_IMAGES: &str = r#"
[data]
kind = "image-folder"
batch_size = 8
[augment]
recipe = "simclr"
image_size = 16
[backbone]
kind = "conv_net"
widths = [4, 8]
[method]
kind = "simclr"
hidden_dim = 16
output_dim = 8
[train]
epochs = 1
progress = "off"
[eval.knn]
k = 3
[eval.probe]
epochs = 5
"#;

/// Writes `text` as `dir/run.toml` and returns its path.
pub fn write_config(dir: &Path, text: &str) -> String {
    let p = dir.join("run.toml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}
