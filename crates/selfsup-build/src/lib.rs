//! Build-script support for the crates that compile a C++ shim against libtorch (`selfsup-train`'s
//! autocast shim, `selfsup-dist`'s c10d shim): one lookup of libtorch and one set of compiler flags,
//! so that the build scripts cannot drift apart.
//!
//! libtorch's location comes from torch-sys (`DEP_TCH_LIBTORCH_LIB`, its `lib/` folder; a crate
//! receives it only when it depends on `torch-sys` directly), else from `LIBTORCH` (which
//! `.cargo/config.toml` points at the `.libtorch` link that `cargo xtask setup` makes). The C++ ABI
//! flag is torch-sys's: `LIBTORCH_CXX11_ABI`, default `1` (the wheel-based libtorch is the C++11 ABI;
//! its symbols mention `std::__cxx11`).
//!
//! ```no_run
//! // build.rs
//! println!("cargo:rerun-if-changed=shim/my_shim.cpp");
//! let libtorch = selfsup_build::Libtorch::find("my-crate");
//! libtorch.cpp_build().file("shim/my_shim.cpp").compile("my_shim");
//! ```

use std::path::PathBuf;

/// The libtorch that torch-sys links, as a build script sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Libtorch {
    /// Its `lib/` folder.
    pub lib: PathBuf,
    /// Its `include/` folder.
    pub include: PathBuf,
    /// The value of `_GLIBCXX_USE_CXX11_ABI` to compile with.
    pub cxx11_abi: String,
}

impl Libtorch {
    /// Finds libtorch from the build script's environment and prints the `rerun-if-env-changed`
    /// lines of the variables read. Panics, naming `krate`, when neither `DEP_TCH_LIBTORCH_LIB` nor
    /// `LIBTORCH` is set.
    #[allow(clippy::print_stdout)] // cargo reads a build script's instructions from its stdout
    pub fn find(krate: &str) -> Self {
        println!("cargo:rerun-if-env-changed=LIBTORCH");
        println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
        Self::from_vars(|name| std::env::var(name).ok()).unwrap_or_else(|| {
            panic!("{krate}: neither DEP_TCH_LIBTORCH_LIB (from torch-sys) nor LIBTORCH is set")
        })
    }

    /// The lookup itself, over a variable reader; `None` when neither variable is set.
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let lib = var("DEP_TCH_LIBTORCH_LIB")
            .map(PathBuf::from)
            .or_else(|| var("LIBTORCH").map(|p| PathBuf::from(p).join("lib")))?;
        let include = lib
            .parent()
            .expect("libtorch lib dir has a parent")
            .join("include");
        let cxx11_abi = var("LIBTORCH_CXX11_ABI").unwrap_or_else(|| "1".into());
        Some(Self {
            lib,
            include,
            cxx11_abi,
        })
    }

    /// A C++17 position-independent `cc::Build` with libtorch's two include folders, its ABI flag
    /// and `GLOG_USE_GLOG_EXPORT`, warnings off; add the shim's own includes, defines and files.
    pub fn cpp_build(&self) -> cc::Build {
        let mut build = cc::Build::new();
        build
            .cpp(true)
            .pic(true)
            .warnings(false)
            .include(&self.include)
            .include(self.include.join("torch/csrc/api/include"))
            .flag("-std=c++17")
            .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={}", self.cxx11_abi))
            .flag("-DGLOG_USE_GLOG_EXPORT");
        build
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> Option<Libtorch> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Libtorch::from_vars(|k| vars.get(k).cloned())
    }

    #[test]
    fn torch_sys_lib_wins_over_libtorch() {
        let lt = lookup(&[
            ("DEP_TCH_LIBTORCH_LIB", "/a/libtorch/lib"),
            ("LIBTORCH", "/b"),
        ])
        .unwrap();
        assert_eq!(lt.lib, PathBuf::from("/a/libtorch/lib"));
        assert_eq!(lt.include, PathBuf::from("/a/libtorch/include"));
        assert_eq!(lt.cxx11_abi, "1");
    }

    #[test]
    fn libtorch_is_the_fallback_and_the_abi_is_read() {
        let lt = lookup(&[("LIBTORCH", "/b"), ("LIBTORCH_CXX11_ABI", "0")]).unwrap();
        assert_eq!(lt.lib, PathBuf::from("/b/lib"));
        assert_eq!(lt.include, PathBuf::from("/b/include"));
        assert_eq!(lt.cxx11_abi, "0");
    }

    #[test]
    fn nothing_set_is_none() {
        assert_eq!(lookup(&[("LIBTORCH_CXX11_ABI", "1")]), None);
    }
}
