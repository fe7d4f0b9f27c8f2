//! `cargo xtask snap`: lays out the snap from a release build (binaries, default config, install
//! hook, `meta/snap.yaml` derived from `snap/snapcraft.yaml`), packs it with `snap pack`, and
//! checks the packed file list and metadata.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util;

/// `meta/snap.yaml`: snapcraft.yaml without its build-only parts, built for amd64.
pub fn snap_yaml(snapcraft: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in snapcraft.lines() {
        let top_level = !line.starts_with(' ') && !line.starts_with('#') && !line.is_empty();
        if top_level {
            skipping = line.starts_with("parts:") || line.starts_with("architectures:");
        }
        if !skipping {
            out.push(line);
        }
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    format!("{}\narchitectures:\n  - amd64\n", out.join("\n"))
}

fn install(from: &Path, to: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::copy(from, to).with_context(|| format!("copying {}", from.display()))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", to.display()))
}

fn listing(snap: &Path) -> Result<String> {
    let out = Command::new("unsquashfs")
        .arg("-l")
        .arg(snap)
        .output()
        .context("running unsquashfs -l")?;
    if !out.status.success() {
        bail!("unsquashfs -l {} failed", snap.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn packed_file(snap: &Path, path: &str) -> Result<String> {
    let out = Command::new("unsquashfs")
        .arg("-cat")
        .arg(snap)
        .arg(path)
        .output()
        .context("running unsquashfs -cat")?;
    if !out.status.success() {
        bail!("{path} is not in {}", snap.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Checks the packed snap: every file the service needs, and metadata that says what it is.
pub fn check(snap: &Path) -> Result<()> {
    let files = listing(snap)?;
    let mut missing = Vec::new();
    let bins = crate::man::binaries(&util::repo_root()?)?;
    let mut want: Vec<String> = bins.iter().map(|b| format!("usr/sbin/{b}")).collect();
    want.extend(
        ["etc/default/scx", "meta/snap.yaml", "meta/hooks/install"]
            .iter()
            .map(|s| s.to_string()),
    );
    for w in &want {
        if !files
            .lines()
            .any(|l| l.trim_end().ends_with(&format!("/{w}")))
        {
            missing.push(w.clone());
        }
    }
    if !missing.is_empty() {
        bail!("{} lacks {}", snap.display(), missing.join(", "));
    }
    let meta = packed_file(snap, "meta/snap.yaml")?;
    for needle in [
        "name: scx",
        "base: core24",
        "confinement: classic",
        "daemon: notify",
        "command: usr/sbin/scx-loader run",
        "name: org.scx.Loader",
    ] {
        if !meta.contains(needle) {
            bail!("meta/snap.yaml of {} lacks `{needle}`", snap.display());
        }
    }
    if meta.contains("parts:") {
        bail!(
            "meta/snap.yaml of {} still has build-time parts",
            snap.display()
        );
    }
    Ok(())
}

/// `cargo xtask snap`: returns the packed snap.
pub fn command() -> Result<PathBuf> {
    let root = util::repo_root()?;
    let bins = crate::man::binaries(&root)?;
    // The release build the .deb ships too: scx-loader finds the schedulers beside itself.
    let release = crate::vm::build_release(&bins)?;
    let out = crate::vm::target_dir()?.join("snap");
    let prime = out.join("prime");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    for bin in &bins {
        install(&release.join(bin), &prime.join("usr/sbin").join(bin), 0o755)?;
    }
    install(
        &root.join("etc/default/scx"),
        &prime.join("etc/default/scx"),
        0o644,
    )?;
    install(
        &root.join("snap/hooks/install"),
        &prime.join("meta/hooks/install"),
        0o755,
    )?;
    let snapcraft = std::fs::read_to_string(root.join("snap/snapcraft.yaml"))
        .context("reading snap/snapcraft.yaml")?;
    std::fs::write(prime.join("meta/snap.yaml"), snap_yaml(&snapcraft))
        .context("writing meta/snap.yaml")?;

    util::run(Command::new("snap").arg("pack").arg(&prime).arg(&out))
        .context("packing the snap (snap pack validates meta/snap.yaml)")?;
    let snap = std::fs::read_dir(&out)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "snap"))
        .with_context(|| format!("snap pack left no .snap in {}", out.display()))?;
    check(&snap)?;
    println!("snap: {} (file list and metadata checked)", snap.display());
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snap_yaml_drops_build_parts() {
        let y = "name: scx\n# comment\narchitectures:\n  - build-on: [amd64]\napps:\n  a:\n    command: x\n\nparts:\n  p:\n    plugin: rust\n";
        assert_eq!(
            snap_yaml(y),
            "name: scx\n# comment\napps:\n  a:\n    command: x\narchitectures:\n  - amd64\n"
        );
    }
}
