//! Compiles the CPU autocast shim (`shim/autocast_shim.cpp`) against the libtorch that torch-sys links.
//!
//! libtorch's location comes from torch-sys (`DEP_TCH_LIBTORCH_LIB`, its `lib/` folder), else from
//! `LIBTORCH`, as in `selfsup-dist`'s build script; the C++ ABI flag is torch-sys's
//! (`LIBTORCH_CXX11_ABI`, default `1`).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=shim/autocast_shim.cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("LIBTORCH").map(|p| PathBuf::from(p).join("lib")))
        .expect("selfsup-train: neither DEP_TCH_LIBTORCH_LIB (from torch-sys) nor LIBTORCH is set");
    let include = lib
        .parent()
        .expect("libtorch lib dir has a parent")
        .join("include");
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .file("shim/autocast_shim.cpp")
        .compile("selfsup_autocast_shim");
}
