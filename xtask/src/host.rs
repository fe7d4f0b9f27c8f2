//! Host set-up: the Debian packages and rustup components the other commands rely on.

use std::collections::BTreeSet;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util;

/// Debian packages the tasks need, with what each one is for.
const PACKAGES: &[(&str, &str)] = &[
    ("clang-19", "compiling the BPF programs"),
    ("llvm-19", "llvm-strip for BPF objects"),
    ("bpftool", "generating vmlinux.h"),
    ("libelf-dev", "libbpf (static link)"),
    ("zlib1g-dev", "libbpf (static link)"),
    ("pkg-config", "locating libraries at build time"),
    ("qemu-system-x86", "booting test kernels"),
    ("busybox-static", "the test VM's user space"),
    ("cpio", "inspecting initramfs images"),
    ("zstd", "kernel images and initramfs compression"),
    ("debian-archive-keyring", "verifying kernel downloads"),
    ("rt-tests", "latency measurements"),
    ("stress-ng", "load generation"),
    ("man-db", "checking that the man pages render"),
    ("dpkg-dev", "building the Debian source package"),
    ("debhelper", "building the Debian package"),
    ("lintian", "checking the Debian package"),
    ("snapd", "packing and checking the snap (snap pack)"),
    ("squashfs-tools", "packing the snap"),
];

/// Rustup components needed by `cargo xtask test`.
const COMPONENTS: &[&str] = &["rustfmt", "clippy"];

/// Makes sure every needed Debian package is installed, installing the missing ones as root.
pub fn ensure_packages() -> Result<()> {
    let missing = missing_packages().context("checking installed Debian packages")?;
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    if !util::is_root() {
        bail!(
            "missing host packages; run: sudo apt-get update && sudo \
             DEBIAN_FRONTEND=noninteractive apt-get install -y {list}"
        );
    }
    eprintln!("xtask: installing missing host packages: {list}");
    util::run(Command::new("apt-get").arg("update")).context("apt-get update")?;
    util::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing),
    )
    .context("installing host packages")?;
    let still = missing_packages().context("re-checking installed Debian packages")?;
    if !still.is_empty() {
        bail!(
            "packages still missing after apt-get install: {}",
            still.join(" ")
        );
    }
    Ok(())
}

/// The packages from [`PACKAGES`] that dpkg does not report as installed.
fn missing_packages() -> Result<Vec<String>> {
    if !util::on_path("dpkg-query") {
        bail!("dpkg-query not found: host set-up supports Debian and derivatives only");
    }
    let names: Vec<&str> = PACKAGES.iter().map(|(name, _)| *name).collect();
    // dpkg-query exits 1 when some package is unknown; its stdout still lists the known ones.
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Package} ${db:Status-Status}\\n"])
        .args(&names)
        .output()
        .context("failed to run dpkg-query")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let installed: BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(_, status)| *status == "installed")
        .map(|(name, _)| name)
        .collect();
    Ok(names
        .iter()
        .filter(|name| !installed.contains(*name))
        .map(|name| name.to_string())
        .collect())
}

/// Makes sure `cargo fmt` and `cargo clippy` are available.
pub fn ensure_rust_components() -> Result<()> {
    if !util::on_path("rustup") {
        for comp in COMPONENTS {
            let works = Command::new("cargo")
                .args([sub_command(comp), "--version"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if !works {
                bail!(
                    "`cargo {}` is not available and rustup is not installed",
                    sub_command(comp)
                );
            }
        }
        return Ok(());
    }
    let installed =
        util::stdout_of(Command::new("rustup").args(["component", "list", "--installed"]))
            .context("listing rustup components")?;
    let missing: Vec<&str> = COMPONENTS
        .iter()
        .copied()
        .filter(|comp| {
            !installed
                .lines()
                .any(|line| line == *comp || line.starts_with(&format!("{comp}-")))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: adding rustup components: {}", missing.join(" "));
    util::run(
        Command::new("rustup")
            .args(["component", "add"])
            .args(&missing),
    )
    .context("rustup component add")
}

fn sub_command(component: &str) -> &str {
    match component {
        "rustfmt" => "fmt",
        other => other,
    }
}

/// Everything a command that builds, fetches kernels or boots VMs needs.
pub fn ensure() -> Result<()> {
    ensure_packages().context("host set-up")
}

/// Prints what the host set-up covers (for `cargo xtask setup`).
pub fn describe() {
    for (name, why) in PACKAGES {
        println!("{name:24} {why}");
    }
    for comp in COMPONENTS {
        println!("{:24} rustup component", comp);
    }
}
