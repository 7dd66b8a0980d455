//! With the `c10d` feature, compiles the c10d shim (`shim/c10d_shim.cpp`) against the libtorch that torch-sys links.
//!
//! libtorch's location and the compiler flags come from `selfsup-build` (shared with `selfsup-train`'s
//! build script): torch-sys's `DEP_TCH_LIBTORCH_LIB`, else `LIBTORCH`. Gloo's headers (declarations
//! only; no Gloo code is compiled or linked from them) come from `SELFSUP_GLOO_INCLUDE`, else
//! `/usr/include` (Debian's `libgloo-dev`, installed by `cargo xtask setup --dist`).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=shim/c10d_shim.cpp");
    if std::env::var_os("CARGO_FEATURE_C10D").is_none() {
        return;
    }
    println!("cargo:rerun-if-env-changed=SELFSUP_GLOO_INCLUDE");
    let libtorch = selfsup_build::Libtorch::find("selfsup-dist");
    let c10d = libtorch
        .include
        .join("torch/csrc/distributed/c10d/ProcessGroupGloo.hpp");
    if !c10d.exists() {
        panic!(
            "selfsup-dist: {} not found: this libtorch has no c10d headers",
            c10d.display()
        );
    }
    let gloo = std::env::var("SELFSUP_GLOO_INCLUDE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/usr/include"));
    if !gloo.join("gloo/context.h").exists() {
        panic!(
            "selfsup-dist: Gloo headers not found under {} (gloo/context.h). Install them with \
             `cargo xtask setup --dist` (Debian: `apt-get install libgloo-dev`) or point \
             SELFSUP_GLOO_INCLUDE at a folder holding gloo/",
            gloo.display()
        );
    }
    libtorch
        .cpp_build()
        .include(&gloo)
        .flag("-DUSE_C10D_GLOO")
        .file("shim/c10d_shim.cpp")
        .compile("selfsup_c10d_shim");
}
