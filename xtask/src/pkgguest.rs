//! Package guests: a clean Debian guest (the systemd guest's image, with no scx in it) that
//! installs what users install — the `.deb`s, the snap laid out as snapd would — and runs the
//! scenarios of tests/package and tests/snap against them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cpio::Archive;
use crate::kernel::{self, Fetch, Kernel};
use crate::scenario::{self, Check};
use crate::sysguest::{
    boot_layered, driver_script_for, ensure_base, guest_basics, write_layer, Options, Userland,
};
use crate::util;
use crate::vm::{self, TcgThreads};

/// What a package guest gets: `.deb`s (in /scenarios/pkg) for the scenarios of tests/package,
/// and the snap unpacked where snapd would mount it for those of tests/snap. With both, one boot
/// runs the package's scenarios first; they end with a purge, so the snap's find a guest with no
/// packaged scx, as they require.
#[derive(Clone, Copy)]
pub struct Payload<'a> {
    pub debs: &'a [PathBuf],
    /// The packed snap (`.snap`).
    pub snap: Option<&'a Path>,
}

/// Where the scenarios find the unpacked snap (`$SNAP`), as snapd mounts revision x1.
pub const SNAP_ROOT: &str = "snap/scx/x1";

/// The scenarios a package guest runs for one part of its payload.
struct Group {
    /// tests/package or tests/snap.
    dir: &'static str,
    /// What the checks' tags call it.
    what: &'static str,
    scenarios: Vec<String>,
}

/// The per-run layer of a package test: no scx files outside the payload (the snap as the
/// unpacked `snap_tree`), the groups' scenarios and the helper libraries.
fn package_overlay(
    kernel: &Kernel,
    debs: &[PathBuf],
    snap_tree: Option<&Path>,
    groups: &[Group],
    timeout_secs: u64,
    out: &Path,
) -> Result<()> {
    let root = util::repo_root()?;
    let mut a = Archive::new();
    for deb in debs {
        let name = deb
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .context("a package without a file name")?;
        a.host_file(&format!("scenarios/pkg/{name}"), deb)?;
    }
    if let Some(tree) = snap_tree {
        a.host_tree(SNAP_ROOT, tree)?;
        a.symlink("snap/scx/current", "x1")?;
    }
    guest_basics(&mut a, kernel)?;
    let mut all = Vec::new();
    for group in groups {
        for name in &group.scenarios {
            if all.contains(name) {
                bail!("scenario {name} is in two of tests/package and tests/snap: rename one");
            }
            a.host_file(
                &format!("scenarios/{name}.sh"),
                &root.join(format!("{}/{name}.sh", group.dir)),
            )?;
            all.push(name.clone());
        }
    }
    scenario::add_libraries(&mut a, &root)?;
    a.file(
        "scenarios/run-all.sh",
        0o755,
        driver_script_for(&all, timeout_secs, false),
    )?;
    write_layer(&a, out)
}

/// Options for a package-guest run on `kernel` (2 vCPUs, 1 GiB, no workspace build).
pub fn package_options(
    kernel: String,
    userland: Userland,
    tcg: TcgThreads,
    timeout_secs: u64,
    fetch: Fetch,
) -> Options {
    Options {
        kernel,
        userland,
        tcg,
        smp: 2,
        mem_mb: 1024,
        timeout_secs,
        build: false,
        fetch,
        scenarios: Vec::new(),
    }
}

/// The scenarios of `dir` (tests/package or tests/snap), sorted.
pub fn package_scenarios(dir: &str) -> Result<Vec<String>> {
    crate::scenario::scenarios_in(&util::repo_root()?.join(dir))
}

/// Installs the payload on a clean guest per selected kernel and runs the scenarios of
/// tests/package (for the `.deb`s; `opts.scenarios` when given) and tests/snap (for the snap),
/// in one boot.
pub fn run_package(opts: &Options, payload: Payload) -> Result<Vec<Check>> {
    let mut groups = Vec::new();
    if !payload.debs.is_empty() {
        groups.push(Group {
            dir: "tests/package",
            what: "package",
            scenarios: opts.scenarios.clone(),
        });
    }
    if payload.snap.is_some() {
        groups.push(Group {
            dir: "tests/snap",
            what: "snap",
            scenarios: if groups.is_empty() {
                opts.scenarios.clone()
            } else {
                Vec::new()
            },
        });
    }
    if groups.is_empty() {
        bail!("a package guest needs a .deb or a snap to install");
    }
    for group in &mut groups {
        if group.scenarios.is_empty() {
            group.scenarios = package_scenarios(group.dir)?;
        }
    }
    let kernels = kernel::select(&opts.kernel, opts.fetch)?;
    let base = ensure_base(opts.userland)?;
    let suite = opts.userland.suite();
    let whats: Vec<&str> = groups.iter().map(|g| g.what).collect();
    let what = whats.join("-");
    let logs = vm::target_dir()?.join("vm-logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    // Guests of different releases may run side by side: each gets its own directory.
    let work = std::env::temp_dir().join(format!("scx-{what}vm-{suite}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let mut checks = Vec::new();
    let result = (|| -> Result<()> {
        let snap_tree = match payload.snap {
            Some(snap) => {
                let tree = work.join("snap");
                util::run(
                    Command::new("unsquashfs")
                        .args(["-q", "-n", "-d"])
                        .arg(&tree)
                        .arg(snap),
                )
                .with_context(|| format!("unpacking {}", snap.display()))?;
                Some(tree)
            }
            None => None,
        };
        for kernel in &kernels {
            let layer = work.join("overlay.cpio.zst");
            package_overlay(
                kernel,
                payload.debs,
                snap_tree.as_deref(),
                &groups,
                opts.timeout_secs,
                &layer,
            )?;
            let tag = format!("{what}vm-{suite}");
            let boot = boot_layered(kernel, &base, &layer, opts, &tag)?;
            for group in &groups {
                checks.extend(scenario::evaluate(
                    kernel,
                    &boot,
                    &group.scenarios,
                    "systemd/",
                    &format!("{}, {suite}, {}", group.what, kernel.kver),
                ));
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&work);
    result?;
    Ok(checks)
}
