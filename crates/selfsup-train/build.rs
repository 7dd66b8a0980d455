//! Compiles the CPU autocast shim (`shim/autocast_shim.cpp`) against the libtorch that torch-sys links.
//!
//! libtorch's location and the compiler flags come from `selfsup-build` (shared with `selfsup-dist`'s
//! build script): torch-sys's `DEP_TCH_LIBTORCH_LIB`, else `LIBTORCH`; the C++ ABI flag is
//! torch-sys's (`LIBTORCH_CXX11_ABI`, default `1`).

fn main() {
    println!("cargo:rerun-if-changed=shim/autocast_shim.cpp");
    selfsup_build::Libtorch::find("selfsup-train")
        .cpp_build()
        .file("shim/autocast_shim.cpp")
        .compile("selfsup_autocast_shim");
}
