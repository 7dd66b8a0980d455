//! With the `c10d` feature, compiles the c10d shim (`shim/c10d_shim.cpp`) against the libtorch that torch-sys links.
//!
//! libtorch's location comes from torch-sys (`DEP_TCH_LIBTORCH_LIB`, its `lib/` folder), else from
//! `LIBTORCH`. Gloo's headers (declarations only; no Gloo code is compiled or linked from them) come
//! from `SELFSUP_GLOO_INCLUDE`, else `/usr/include` (Debian's `libgloo-dev`, installed by
//! `cargo xtask setup --dist`).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=shim/c10d_shim.cpp");
    if std::env::var_os("CARGO_FEATURE_C10D").is_none() {
        return;
    }
    println!("cargo:rerun-if-env-changed=SELFSUP_GLOO_INCLUDE");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("LIBTORCH").map(|p| PathBuf::from(p).join("lib")))
        .expect("selfsup-dist: neither DEP_TCH_LIBTORCH_LIB (from torch-sys) nor LIBTORCH is set");
    let root = lib
        .parent()
        .expect("libtorch lib dir has a parent")
        .to_path_buf();
    let include = root.join("include");
    let c10d = include.join("torch/csrc/distributed/c10d/ProcessGroupGloo.hpp");
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
    // The same ABI flag as torch-sys (its default "1", overridable by LIBTORCH_CXX11_ABI); the
    // wheel-based libtorch is the C++11 ABI (its symbols mention std::__cxx11).
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .include(&gloo)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .flag("-DUSE_C10D_GLOO")
        .file("shim/c10d_shim.cpp")
        .compile("selfsup_c10d_shim");
}
