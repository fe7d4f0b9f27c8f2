//! Which kernels a guest boots: `--kernel all`, a suite's current sched_ext kernel, a cached
//! release, or Debian 12's own kernel (no sched_ext), fetched with apt for the test that the
//! service stays out of the way there.

use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{Fetch, Kernel, SUITES};
use crate::util;

/// The kernels `--kernel` selects: `all`, a suite's current kernel, or a cached release.
pub fn select(which: &str, fetch: Fetch) -> Result<Vec<Kernel>> {
    let suites: Vec<String> = if SUITES.contains(&which) {
        vec![which.to_string()]
    } else {
        SUITES.iter().map(|s| s.to_string()).collect()
    };
    let current = super::ensure_kernels(&suites, fetch)?;
    if which == "all" || SUITES.contains(&which) {
        return Ok(current);
    }
    if let Some(k) = current.iter().find(|k| k.kver == which) {
        return Ok(vec![k.clone()]);
    }
    if let Some(k) = super::cached()?.into_iter().find(|k| k.kver == which) {
        return Ok(vec![k]);
    }
    let known: Vec<String> = current.iter().map(|k| k.kver.clone()).collect();
    bail!(
        "no kernel {which:?} (use all, a suite, or one of: {})",
        known.join(", ")
    )
}

/// `--kernel` value for Debian 12's own kernel, which has no sched_ext.
pub const PLAIN: &str = "bookworm";

/// Debian 12's own cloud kernel (6.1, no sched_ext), from the host's apt sources, cached.
pub fn plain() -> Result<Kernel> {
    let dir = util::cache_dir()?.join("sysguest/kernel-bookworm");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).map(|s| s.trim().to_string());
    if let (Ok(kver), Ok(version)) = (read("kver"), read("version")) {
        if dir.join("vmlinuz").is_file() && dir.join("config").is_file() {
            return Ok(Kernel {
                suite: PLAIN.to_string(),
                kver,
                version,
                dir,
            });
        }
    }
    if !util::is_root() {
        bail!("downloading Debian 12's kernel needs root (apt-get download)");
    }
    let depends = match util::stdout_of(
        Command::new("apt-cache").args(["depends", "linux-image-cloud-amd64"]),
    ) {
        Ok(text) if text.contains("linux-image-") => text,
        _ => {
            util::run(Command::new("apt-get").args(["-q", "update"])).context("apt-get update")?;
            util::stdout_of(Command::new("apt-cache").args(["depends", "linux-image-cloud-amd64"]))?
        }
    };
    let package = depends
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-cloud-amd64"))
        .with_context(|| format!("no kernel package in: {depends}"))?
        .to_string();
    let kver = package.trim_start_matches("linux-image-").to_string();
    let work = util::cache_dir()?.join(format!("sysguest/.kernel-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let result = (|| -> Result<()> {
        util::run(
            Command::new("apt-get")
                .current_dir(&work)
                .args(["-q", "download", &package]),
        )
        .with_context(|| format!("downloading {package}"))?;
        let deb = std::fs::read_dir(&work)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .context("apt-get download left no .deb")?;
        let tree = work.join("tree");
        util::run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree))?;
        let version = util::stdout_of(
            Command::new("dpkg-deb")
                .args(["-f"])
                .arg(&deb)
                .arg("Version"),
        )?;
        let out = work.join("out");
        std::fs::create_dir_all(&out)?;
        std::fs::copy(
            tree.join(format!("boot/vmlinuz-{kver}")),
            out.join("vmlinuz"),
        )
        .context("copying vmlinuz")?;
        std::fs::copy(tree.join(format!("boot/config-{kver}")), out.join("config"))
            .context("copying config")?;
        std::fs::write(out.join("kver"), format!("{kver}\n"))?;
        std::fs::write(out.join("version"), version)?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::rename(&out, &dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&work);
    result?;
    plain()
}
