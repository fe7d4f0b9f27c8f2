//! `cargo xtask sysvm`: a full systemd guest (Debian bookworm from debootstrap) that installs the
//! scx service and runs the scenarios in tests/systemd, which assert from `systemctl show`,
//! `journalctl` and /sys/kernel/sched_ext.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::cpio::Archive;
use crate::initramfs::{marker, PROBLEM_REGEX};
use crate::kernel::{self, Fetch, Kernel};
use crate::qemu;
use crate::scenario::{self, Check};
use crate::util;
use crate::vm::{self, TcgThreads};

/// The Debian release of the guest's user space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Userland {
    /// Debian 12
    Bookworm,
    /// Debian 13
    Trixie,
}

impl Userland {
    pub const ALL: [Userland; 2] = [Userland::Bookworm, Userland::Trixie];

    /// The suite name debootstrap and the archive know it by.
    pub fn suite(self) -> &'static str {
        match self {
            Userland::Bookworm => "bookworm",
            Userland::Trixie => "trixie",
        }
    }
}

const MIRROR: &str = "http://deb.debian.org/debian";
/// Packages beyond minbase: systemd as init, what the package test checks (man pages, bash
/// completion), and the system bus with power-profiles-daemon for `SCX_PROFILE=auto` (which
/// lets root change profiles only through polkitd, which needs a logind: libpam-systemd).
const BASE_PACKAGES: &str =
    "systemd-sysv,man-db,bash-completion,dbus,libpam-systemd,polkitd,power-profiles-daemon";
/// Names the cached image; bump it when [`BASE_PACKAGES`] or the stripping changes.
const BASE_REVISION: &str = "3";
/// Time from qemu start to the first marker (systemd reaching multi-user under TCG).
const BOOT_ALLOWANCE: Duration = Duration::from_secs(180);
/// Extra host time per scenario over the guest's own limit.
const SCENARIO_GRACE: Duration = Duration::from_secs(30);

/// Options of `cargo xtask sysvm`.
#[derive(Debug, Clone)]
pub struct Options {
    pub kernel: String,
    pub userland: Userland,
    pub tcg: TcgThreads,
    pub smp: u32,
    pub mem_mb: u32,
    pub timeout_secs: u64,
    pub build: bool,
    pub fetch: Fetch,
    pub scenarios: Vec<String>,
}

fn scenario_dir() -> Result<PathBuf> {
    Ok(util::repo_root()?.join("tests/systemd"))
}

/// The scenarios in tests/systemd, sorted.
pub fn list_scenarios() -> Result<Vec<String>> {
    crate::scenario::scenarios_in(&scenario_dir()?)
}

/// The requested scenarios of tests/systemd; all of them when none is named.
fn resolve_scenarios(requested: &[String]) -> Result<Vec<String>> {
    let known = list_scenarios()?;
    if requested.is_empty() {
        return Ok(known);
    }
    crate::scenario::resolve_in("tests/systemd", &known, requested)
}

/// The scenario for a kernel without sched_ext.
const PLAIN_SCENARIO: &str = "nosched";

/// The cached, packed user space of `userland` (`debootstrap`, stripped, cpio + zstd).
pub(crate) fn ensure_base(userland: Userland) -> Result<PathBuf> {
    // Guests of the suite start from several threads at once: one debootstrap per release.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let suite = userland.suite();
    let dir = util::cache_dir()?.join("sysguest");
    let packed = dir.join(format!("{suite}-minbase-{BASE_REVISION}.cpio.zst"));
    if packed.is_file() {
        return Ok(packed);
    }
    if !util::is_root() {
        bail!(
            "the systemd guest is built with debootstrap, which needs root: run `sudo cargo xtask sysvm` once to create {}",
            packed.display()
        );
    }
    if !util::on_path("debootstrap") {
        eprintln!("xtask: installing debootstrap");
        util::run(
            Command::new("apt-get")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(["install", "-y", "--no-install-recommends", "debootstrap"]),
        )
        .context("installing debootstrap")?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let root = dir.join(format!("{suite}.tmp-{}", std::process::id()));
    eprintln!(
        "xtask: debootstrap {suite} into {} (about a minute)",
        root.display()
    );
    let result = (|| -> Result<()> {
        util::run(
            Command::new("debootstrap")
                .args([
                    "--variant=minbase",
                    &format!("--include={BASE_PACKAGES}"),
                    suite,
                ])
                .arg(&root)
                .arg(MIRROR),
        )
        .context("debootstrap (needs the Debian archive)")?;
        for strip in [
            "usr/share/doc",
            "usr/share/man",
            "usr/share/info",
            "usr/share/locale",
            "var/cache/apt",
            "var/lib/apt/lists",
            "var/cache/debconf",
        ] {
            let p = root.join(strip);
            if p.exists() {
                std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
        let tmp = dir.join(format!(".{suite}.cpio.zst.tmp"));
        let script = format!(
            "set -e; cd '{}'; find . -print0 | cpio --null -o -H newc --quiet | zstd -q -T0 -10 -f -o '{}'",
            root.display(),
            tmp.display()
        );
        util::run(Command::new("sh").args(["-c", &script])).context("packing the guest")?;
        std::fs::rename(&tmp, &packed).with_context(|| format!("creating {}", packed.display()))?;
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&root);
    result?;
    Ok(packed)
}

/// The unit that runs the scenarios once multi-user is reached, then powers off.
const TEST_UNIT: &str = "[Unit]
Description=scx scenarios
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh /scenarios/run-all.sh
StandardInput=null
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity
SuccessAction=poweroff-force
FailureAction=poweroff-force
";

fn driver_script(scenarios: &[String], timeout_secs: u64) -> String {
    driver_script_for(scenarios, timeout_secs, true)
}

/// `restore_config`: put the shipped /etc/default/scx back after each scenario (the package
/// scenarios own that file through dpkg instead).
pub(crate) fn driver_script_for(
    scenarios: &[String],
    timeout_secs: u64,
    restore_config: bool,
) -> String {
    let mut s = String::from(
        r#"#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
echo 5 > /proc/sys/kernel/printk
read -r up _ < /proc/uptime
echo "@@SCX boot kernel=$(uname -r) nproc=$(nproc) uptime=${up}@@"
systemctl is-system-running
run() {
    echo "@@SCX begin $1@@"
    (cd /tmp && timeout -s KILL "$2" sh "/scenarios/$1.sh" </dev/null 2>&1)
    rc=$?
    echo "@@SCX end $1 rc=$rc@@"
    # The next scenario starts from a stopped service, the shipped configuration and EEVDF.
    systemctl stop scx >/dev/null 2>&1
    systemctl reset-failed scx >/dev/null 2>&1
    # Builtins only: a process per /proc entry costs seconds under TCG.
    for comm in /proc/[0-9]*/comm; do
        c=
        read -r c < "$comm" 2>/dev/null
        case "$c" in
            scx_*) p=${comm#/proc/}; kill -9 "${p%/comm}" 2>/dev/null ;;
        esac
    done
    n=0
    st=
    read -r st < /sys/kernel/sched_ext/state 2>/dev/null
    while [ "$st" = enabled ] && [ $n -lt 50 ]; do
        sleep 0.2
        n=$((n + 1))
        read -r st < /sys/kernel/sched_ext/state 2>/dev/null
    done
    if [ -d /run/systemd/system/scx.service.d ]; then
        rm -rf /run/systemd/system/scx.service.d
        systemctl daemon-reload
    elif [ "$(systemctl show -P NeedDaemonReload scx 2>/dev/null)" = yes ]; then
        systemctl daemon-reload
    fi
    [ -f /scenarios/default-scx ] || return 0
    cp /scenarios/default-scx /etc/default/scx
    chmod 644 /etc/default/scx
}
"#,
    );
    if !restore_config {
        s = s.replace("[ -f /scenarios/default-scx ] || return 0", "return 0");
    }
    for name in scenarios {
        s.push_str(&format!("run {name} {timeout_secs}\n"));
    }
    s.push_str(&format!(
        r#"if dmesg | grep -qE '{PROBLEM_REGEX}'; then
    echo "@@SCX dmesg begin@@"
    dmesg
    echo "@@SCX dmesg end@@"
fi
echo "{done}"
sync
# Straight to the kernel: nothing in the guest needs an orderly shutdown.
systemctl poweroff -ff
"#,
        done = marker::DONE
    ));
    s
}

/// What every run's layer has: no getty on the console, the unit that runs the scenarios, a
/// host name, and the kernel's config where the loader's checks look for it.
pub(crate) fn guest_basics(a: &mut Archive, kernel: &Kernel) -> Result<()> {
    a.symlink("etc/systemd/system/serial-getty@ttyS0.service", "/dev/null")?;
    a.file("etc/systemd/system/scx-test.service", 0o644, TEST_UNIT)?;
    a.symlink(
        "etc/systemd/system/multi-user.target.wants/scx-test.service",
        "/etc/systemd/system/scx-test.service",
    )?;
    a.file("etc/hostname", 0o644, "scx-sysvm\n")?;
    a.host_file(&format!("boot/config-{}", kernel.kver), &kernel.config())
}

/// Writes a layer as a zstd-compressed cpio archive.
pub(crate) fn write_layer(a: &Archive, out: &Path) -> Result<()> {
    let bytes = a.to_bytes()?;
    let mut child = Command::new("zstd")
        .args(["-q", "-f", "-3", "-o"])
        .arg(out)
        .stdin(Stdio::piped())
        .spawn()
        .context("failed to start zstd")?;
    child
        .stdin
        .take()
        .context("zstd has no stdin")?
        .write_all(&bytes)
        .context("writing to zstd")?;
    let status = child.wait().context("waiting for zstd")?;
    if !status.success() {
        bail!("zstd failed ({status})");
    }
    Ok(())
}

/// The bus policy and the polkit action of the service's bus interface: where they go in a
/// guest (and the package), and their source in the tree.
pub(crate) const BUS_FILES: &[(&str, &str)] = &[
    (
        "usr/share/dbus-1/system.d/org.scx.Loader.conf",
        "dbus/org.scx.Loader.conf",
    ),
    (
        "usr/share/polkit-1/actions/org.scx.Loader.policy",
        "polkit/org.scx.Loader.policy",
    ),
];

/// The per-run layer: our binaries, the unit, the bus and polkit files, the configuration,
/// the scenarios.
fn overlay(
    kernel: &Kernel,
    binaries: &[PathBuf],
    scenarios: &[String],
    timeout_secs: u64,
    out: &Path,
) -> Result<()> {
    let root = util::repo_root()?;
    let mut a = Archive::new();
    for bin in binaries {
        let name = bin
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "scx-loader" || name.starts_with("scx_") {
            a.host_file(&format!("usr/sbin/{name}"), bin)?;
        }
    }
    a.host_file(
        "usr/lib/systemd/system/scx.service",
        &root.join("systemd/scx.service"),
    )?;
    for (guest, host) in BUS_FILES {
        a.host_file(guest, &root.join(host))?;
    }
    let default_conf = root.join("etc/default/scx");
    let conf = std::fs::read(&default_conf)
        .with_context(|| format!("reading {}", default_conf.display()))?;
    a.file("etc/default/scx", 0o644, conf.clone())?;
    a.file("scenarios/default-scx", 0o644, conf)?;
    guest_basics(&mut a, kernel)?;
    let dir = scenario_dir()?;
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path.is_file() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            a.host_file(&format!("scenarios/{name}"), &path)?;
        }
    }
    scenario::add_libraries(&mut a, &root)?;
    a.file(
        "scenarios/run-all.sh",
        0o755,
        driver_script(scenarios, timeout_secs),
    )?;
    write_layer(&a, out)
}

/// Boots `kernel` with the base image and a layer over it; logs to `vm-logs/<stamp>-<tag>-<kver>`.
pub(crate) fn boot_layered(
    kernel: &Kernel,
    base: &Path,
    layer: &Path,
    opts: &Options,
    tag: &str,
) -> Result<qemu::Boot> {
    // Concatenated zstd frames decompress to the base archive followed by the layer, whose
    // files replace the base's.
    let initrd = layer.with_file_name("initrd.cpio.zst");
    let mut out = File::create(&initrd).context("creating the initrd")?;
    for part in [base, layer] {
        let mut f = File::open(part).with_context(|| format!("opening {}", part.display()))?;
        std::io::copy(&mut f, &mut out).context("writing the initrd")?;
    }
    drop(out);
    qemu::boot(&qemu::Guest {
        kernel,
        initrd: &initrd,
        append: "console=ttyS0 rdinit=/sbin/init panic=-1 quiet systemd.show_status=error".into(),
        smp: opts.smp,
        mem_mb: opts.mem_mb,
        tcg: opts.tcg,
        allowance: BOOT_ALLOWANCE,
        scenario_limit: Duration::from_secs(opts.timeout_secs) + SCENARIO_GRACE,
        // Systemd guests always run beside another guest.
        prefix: Some(&kernel.kver),
        log: qemu::log_path(&format!("{tag}-{}", kernel.kver))?,
    })
}

/// Runs the scenarios on the selected kernels; returns every check.
pub fn run(opts: &Options) -> Result<Vec<Check>> {
    let (scenarios, kernels) = if opts.kernel == kernel::PLAIN {
        let scenarios = if opts.scenarios.is_empty() {
            vec![PLAIN_SCENARIO.to_string()]
        } else {
            resolve_scenarios(&opts.scenarios)?
        };
        (scenarios, vec![kernel::plain()?])
    } else {
        (
            resolve_scenarios(&opts.scenarios)?,
            kernel::select(&opts.kernel, opts.fetch)?,
        )
    };
    let base = ensure_base(opts.userland)?;
    let suite = opts.userland.suite();
    let binaries = if opts.build {
        vm::build_binaries()?
    } else {
        let dir = vm::target_dir()?.join("release");
        std::fs::read_dir(&dir)
            .with_context(|| {
                format!(
                    "reading {} (build first, or drop --no-build)",
                    dir.display()
                )
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| util::is_executable(p) && p.extension().is_none())
            .collect()
    };
    if !binaries.iter().any(|b| b.ends_with("scx-loader")) {
        bail!("no scx-loader among the built binaries (build with `cargo build --release --workspace`)");
    }
    let logs = vm::target_dir()?.join("vm-logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    // One directory per call: calls may run at once, from several threads.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let work = std::env::temp_dir().join(format!("scx-sysvm-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    // One guest per kernel, side by side: each single-threaded TCG guest takes one host core.
    let one = |kernel: &Kernel| -> Result<Vec<Check>> {
        let dir = work.join(&kernel.kver);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let layer = dir.join("overlay.cpio.zst");
        overlay(kernel, &binaries, &scenarios, opts.timeout_secs, &layer)?;
        let boot = boot_layered(kernel, &base, &layer, opts, &format!("sysvm-{suite}"))?;
        let tag = format!("{suite}, {}", kernel.kver);
        Ok(scenario::evaluate(
            kernel, &boot, &scenarios, "systemd/", &tag,
        ))
    };
    let one = &one;
    let jobs: Vec<qemu::Job<Vec<Check>>> = kernels
        .iter()
        .map(|k| {
            let job: qemu::Job<Vec<Check>> = Box::new(move || one(k));
            job
        })
        .collect();
    let results = qemu::side_by_side(jobs);
    let _ = std::fs::remove_dir_all(&work);
    let mut checks = Vec::new();
    for result in results {
        checks.extend(result?);
    }
    Ok(checks)
}

/// `cargo xtask sysvm`: run and report; returns the number of failures.
pub fn command(opts: &Options) -> Result<usize> {
    let checks = run(opts)?;
    Ok(scenario::report(&checks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_runs_each_scenario_and_powers_off() {
        let script = driver_script(&["start".to_string(), "reload".to_string()], 60);
        assert!(script.contains("run start 60\nrun reload 60\n"));
        assert!(script.contains(marker::DONE));
        assert!(script.contains("systemctl poweroff -ff"));
    }
}
