//! The test VM's initramfs: busybox, the workspace binaries, the scenarios and an `/init`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::cpio::Archive;
use crate::kernel::Kernel;
use crate::util;

/// The static busybox shipped by Debian's busybox-static.
const BUSYBOX: &str = "/bin/busybox";

/// Host tools copied into the guest's /usr/bin (with their libraries) when installed.
const HOST_TOOLS: &[&str] = &["stress-ng", "cyclictest", "hackbench", "chrt"];

/// What goes into one image.
#[derive(Debug)]
pub struct Spec<'a> {
    pub kernel: &'a Kernel,
    /// Executables installed into /usr/sbin.
    pub binaries: &'a [PathBuf],
    /// The `tests/vm` directory, copied to /scenarios.
    pub scenario_dir: &'a Path,
    /// Scenario names, run in this order.
    pub scenarios: &'a [String],
    /// Per-scenario time limit inside the guest, in seconds.
    pub timeout_secs: u64,
    /// The scheduler registry as `/etc/scx-schedulers` (see `registry::guest_list`).
    pub schedulers: &'a str,
}

/// Builds the image and writes it, zstd-compressed, to `out`.
pub fn build(spec: &Spec, out: &Path) -> Result<()> {
    let mut archive = Archive::new();
    for dir in ["proc", "sys", "dev", "tmp", "run", "root", "mnt", "var/tmp"] {
        archive.dir(dir)?;
    }
    // The kernel opens /dev/console for init before anything is mounted.
    archive.char_dev("dev/console", 5, 1)?;
    archive.char_dev("dev/null", 1, 3)?;

    archive.host_file("bin/busybox", Path::new(BUSYBOX))?;
    let applets = util::stdout_of(Command::new(BUSYBOX).arg("--list-full"))
        .context("listing busybox applets")?;
    for applet in applets.lines().map(str::trim).filter(|a| !a.is_empty()) {
        if applet != "bin/busybox" {
            archive.symlink(applet, "/bin/busybox")?;
        }
    }

    let mut libraries = Vec::new();
    for bin in spec.binaries {
        let name = file_name(bin)?;
        archive.host_file(&format!("usr/sbin/{name}"), bin)?;
        libraries.extend(shared_libraries(bin)?);
    }
    for tool in HOST_TOOLS {
        if let Some(path) = find_on_path(tool) {
            archive.host_file(&format!("usr/bin/{tool}"), &path)?;
            libraries.extend(shared_libraries(&path)?);
        }
    }
    libraries.sort();
    libraries.dedup();
    for lib in &libraries {
        let inside = lib.to_string_lossy().trim_start_matches('/').to_string();
        if !archive.contains(&inside) {
            archive.host_file(&inside, lib)?;
        }
    }

    add_tree(&mut archive, spec.scenario_dir, "scenarios")?;
    archive.host_file(
        &format!("boot/config-{}", spec.kernel.kver),
        &spec.kernel.config(),
    )?;
    archive.file(
        "etc/passwd",
        0o644,
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    archive.file(
        "etc/group",
        0o644,
        "root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n",
    )?;
    archive.file("etc/hostname", 0o644, "scx-vm\n")?;
    archive.file("etc/scx-schedulers", 0o644, spec.schedulers)?;
    archive.file(
        "init",
        0o755,
        init_script(spec.scenarios, spec.timeout_secs),
    )?;

    let bytes = archive.to_bytes()?;
    compress(&bytes, out)?;
    let packed = std::fs::metadata(out)
        .with_context(|| format!("inspecting {}", out.display()))?
        .len();
    eprintln!(
        "xtask: initramfs for {}: {:.1} MiB ({:.1} MiB unpacked)",
        spec.kernel.kver,
        packed as f64 / 1048576.0,
        bytes.len() as f64 / 1048576.0
    );
    Ok(())
}

fn file_name(path: &Path) -> Result<String> {
    Ok(path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?
        .to_string_lossy()
        .into_owned())
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| util::is_executable(p))
}

/// The shared libraries (and dynamic loader) an executable needs, as `ldd` resolves them.
fn shared_libraries(bin: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(bin)
        .stdin(Stdio::null())
        .output()
        .context("failed to run ldd")?;
    // ldd exits non-zero for static executables: they need nothing.
    if !out.status.success() {
        return Ok(Vec::new());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut libs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.contains("not found") {
            bail!("{}: {line}", bin.display());
        }
        let candidate = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(path) = candidate.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

/// Copies a host directory tree (regular files only) under `prefix`.
fn add_tree(archive: &mut Archive, host: &Path, prefix: &str) -> Result<()> {
    archive.dir(prefix)?;
    let mut entries: Vec<_> = std::fs::read_dir(host)
        .with_context(|| format!("reading {}", host.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", host.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let inside = format!("{prefix}/{name}");
        let meta =
            std::fs::metadata(&path).with_context(|| format!("inspecting {}", path.display()))?;
        if meta.is_dir() {
            add_tree(archive, &path, &inside)?;
        } else if meta.is_file() {
            archive.host_file(&inside, &path)?;
        }
    }
    Ok(())
}

fn compress(data: &[u8], out: &Path) -> Result<()> {
    let mut child = Command::new("zstd")
        .args(["-q", "-f", "-3", "-T0", "-o"])
        .arg(out)
        .stdin(Stdio::piped())
        .spawn()
        .context("failed to start zstd")?;
    let mut stdin = child.stdin.take().context("zstd has no stdin")?;
    stdin
        .write_all(data)
        .context("writing the initramfs to zstd")?;
    drop(stdin);
    let status = child.wait().context("waiting for zstd")?;
    if !status.success() {
        bail!("zstd failed ({status}) writing {}", out.display());
    }
    Ok(())
}

/// Console markers shared with the host-side parser.
pub mod marker {
    pub const BOOT: &str = "@@SCX boot ";
    pub const BEGIN: &str = "@@SCX begin ";
    pub const END: &str = "@@SCX end ";
    pub const DONE: &str = "@@SCX done@@";
    /// Lines between these two are parsed by the host and logged, but not shown live.
    pub const DATA_BEGIN: &str = "@@SCX data begin@@";
    pub const DATA_END: &str = "@@SCX data end@@";
}

/// Kernel messages that mean something went wrong in the kernel, checked again by the host.
pub const PROBLEM_REGEX: &str =
    r"\] (Oops|BUG:|WARNING:|Kernel panic|general protection fault)|\] [A-Za-z0-9_ -]+: BUG:";

/// The guest's /init: mount the usual file systems, run each scenario, power off.
pub fn init_script(scenarios: &[String], timeout_secs: u64) -> String {
    let mut s = String::from(
        r#"#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb SCX_VM=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
# Show kernel warnings (and worse) on the console from here on; the boot itself stays quiet.
echo 5 > /proc/sys/kernel/printk
hostname scx-vm
ip link set lo up 2>/dev/null
read -r up _ < /proc/uptime
echo "kernel $(uname -r), $(nproc) CPUs, init started at ${up}s"
echo "@@SCX boot kernel=$(uname -r) nproc=$(nproc) uptime=${up}@@"

sx_settle() {
    # Whatever a scenario left running goes, so the next one starts from a clean system.
    kill -KILL -1 2>/dev/null
    n=0
    while [ "$n" -lt 500 ]; do
        st=
        [ -r /sys/kernel/sched_ext/state ] && read -r st < /sys/kernel/sched_ext/state
        [ -z "$st" ] || [ "$st" = disabled ] && return 0
        usleep 20000
        n=$((n + 1))
    done
    echo "@@SCX warning: sched_ext still $st 10 s after the scenario ended@@"
}

sx_run() {
    echo "@@SCX begin $1@@"
    (cd /tmp && exec timeout -s KILL "$2" sh "/scenarios/$1.sh" </dev/null)
    rc=$?
    echo "@@SCX end $1 rc=$rc@@"
    sx_settle
}

"#,
    );
    for name in scenarios {
        s.push_str(&format!("sx_run {name} {timeout_secs}\n"));
    }
    s.push_str(&format!(
        r#"
if dmesg | grep -qE '{PROBLEM_REGEX}'; then
    echo "@@SCX dmesg begin@@"
    dmesg
    echo "@@SCX dmesg end@@"
fi
echo "{done}"
sync
poweroff -f
sleep 30
"#,
        done = marker::DONE
    ));
    s
}
