//! Compiles a scheduler's BPF C source and generates its Rust skeleton, for `build.rs` scripts.
//!
//! Every scheduler crate's `build.rs` calls [`build_skeleton`] with its `*.bpf.c` file. The object
//! and the skeleton go to `OUT_DIR`; the crate then includes the skeleton as `mod skel` with
//! `scx_core::include_skeleton!("<name>")`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use libbpf_cargo::SkeletonBuilder;

/// Flags every BPF object is compiled with.
///
/// `-fms-extensions` keeps the anonymous struct members of recent kernels' vmlinux.h (without it
/// some of them silently vanish); `-mcpu=v3` enables the atomics the schedulers use.
const BPF_CFLAGS: &[&str] = &[
    "-fms-extensions",
    "-Wno-microsoft-anon-tag",
    "-Wall",
    "-Wno-compare-distinct-pointer-types",
    "-Wno-unused-function",
    "-mcpu=v3",
];

/// The directory holding the shared BPF headers (`scx/…`, `vmlinux/…`).
pub fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../include")
}

/// The clang to compile BPF with: `$BPF_CLANG`, else `clang-19`, else `clang`.
pub fn find_clang() -> Result<PathBuf> {
    if let Some(clang) = env::var_os("BPF_CLANG") {
        return Ok(PathBuf::from(clang));
    }
    for candidate in ["clang-19", "clang"] {
        let found = Command::new(candidate)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if found {
            return Ok(PathBuf::from(candidate));
        }
    }
    bail!("no clang found to compile BPF code: install clang-19 (apt-get install clang-19) or set BPF_CLANG")
}

fn target_arch_dir() -> &'static str {
    match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("aarch64") => "arm64",
        _ => "x86",
    }
}

fn rerun_if_changed_under(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            rerun_if_changed_under(&path)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("c" | "h")) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Ok(())
}

/// Compiles `source` (a `*.bpf.c` file) and writes `OUT_DIR/<name>.skel.rs`.
///
/// `extra_includes` are added to the include path after the shared headers; the source's own
/// directory is always on it. Cargo is told to rerun on any change to a `.c` or `.h` file in the
/// source's directory, the extra include directories and the shared headers.
pub fn build_skeleton(source: &Path, name: &str, extra_includes: &[&Path]) -> Result<()> {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR is not set")?);
    let clang = find_clang()?;
    let include = include_dir();
    let src_dir = source
        .parent()
        .context("BPF source has no parent directory")?
        .to_path_buf();

    let mut args: Vec<String> = BPF_CFLAGS.iter().map(|s| s.to_string()).collect();
    args.push(format!("-I{}", include.display()));
    args.push(format!(
        "-I{}",
        include.join("vmlinux").join(target_arch_dir()).display()
    ));
    args.push(format!("-I{}", src_dir.display()));
    for dir in extra_includes {
        args.push(format!("-I{}", dir.display()));
    }

    let skel = out_dir.join(format!("{name}.skel.rs"));
    SkeletonBuilder::new()
        .source(source)
        .obj(out_dir.join(format!("{name}.bpf.o")))
        .clang(&clang)
        .clang_args(&args)
        .build_and_generate(&skel)
        .with_context(|| format!("compiling {} with {}", source.display(), clang.display()))?;

    rerun_if_changed_under(&src_dir)?;
    rerun_if_changed_under(&include)?;
    for dir in extra_includes {
        rerun_if_changed_under(dir)?;
    }
    println!("cargo:rerun-if-env-changed=BPF_CLANG");
    Ok(())
}
