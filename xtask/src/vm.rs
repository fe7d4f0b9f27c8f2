//! `cargo xtask vm`: build the workspace, boot each test kernel under qemu, run scenarios.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::initramfs;
use crate::kernel::{self, Fetch, Kernel};
use crate::qemu;
pub use crate::qemu::TcgThreads;
use crate::scenario::{self, Check};
use crate::{registry, util};

/// Time allowed outside scenarios: from start to /init, between scenarios, for power-off.
const BOOT_ALLOWANCE: Duration = Duration::from_secs(90);

/// Extra time a scenario gets over its in-guest limit before the host gives up on the VM.
const SCENARIO_GRACE: Duration = Duration::from_secs(20);

/// Options of one VM run.
#[derive(Debug, Clone)]
pub struct Options {
    /// `all`, a kernel release or a suite name.
    pub kernel: String,
    pub smp: u32,
    pub tcg: TcgThreads,
    pub mem_mb: u32,
    /// Per-scenario limit inside the guest, in seconds.
    pub timeout_secs: u64,
    pub build: bool,
    pub fetch: Fetch,
    pub scenarios: Vec<String>,
}

/// The scenarios in `tests/vm`, sorted.
pub fn list_scenarios() -> Result<Vec<String>> {
    scenario::scenarios_in(&scenario_dir()?)
}

/// The vCPU count a scenario of tests/vm asks for (see [`scenario::smp_of`]).
pub fn scenario_smp(name: &str) -> Result<Option<u32>> {
    scenario::smp_of(&scenario_dir()?, name)
}

/// The vCPUs to boot for the `requested` scenarios when `--smp` is not given: the most any of
/// them asks for, else 2, as in the suite; says so when one asked.
pub fn smp_asked(requested: &[String]) -> Result<u32> {
    let mut asked: Option<(u32, String)> = None;
    for name in resolve_scenarios(requested)? {
        if let Some(n) = scenario_smp(&name)? {
            if asked.as_ref().is_none_or(|(m, _)| n > *m) {
                asked = Some((n, name));
            }
        }
    }
    Ok(match asked {
        Some((n, name)) => {
            eprintln!("xtask: {n} vCPUs, as scenario {name} asks (--smp N to override)");
            n
        }
        None => 2,
    })
}

fn scenario_dir() -> Result<PathBuf> {
    Ok(util::repo_root()?.join("tests/vm"))
}

pub fn target_dir() -> Result<PathBuf> {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Ok(util::repo_root()?.join("target")),
    }
}

fn resolve_scenarios(requested: &[String]) -> Result<Vec<String>> {
    let out = scenario::resolve_in("tests/vm", &list_scenarios()?, requested)?;
    if out.is_empty() {
        bail!("no scenario given (see `cargo xtask vm --list`)");
    }
    Ok(out)
}

/// Builds the workspace's release binaries and returns the executables cargo reports.
pub fn build_binaries() -> Result<Vec<PathBuf>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(util::repo_root()?).args([
        "build",
        "--release",
        "--workspace",
        "--exclude",
        "xtask",
        "--bins",
        "--message-format=json-render-diagnostics",
    ]);
    eprintln!("xtask: {}", util::describe(&cmd));
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("failed to start `{}`", util::describe(&cmd)))?;
    if !out.status.success() {
        bail!("building the workspace failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut bins: Vec<PathBuf> = text
        .lines()
        .filter(|l| l.contains(r#""reason":"compiler-artifact""#))
        .filter_map(|l| json_string_field(l, "executable"))
        .map(PathBuf::from)
        .collect();
    bins.sort();
    bins.dedup();
    Ok(bins)
}

/// [`build_binaries`], checked to have produced each of `bins`; returns their directory. Every
/// release build goes through that one cargo invocation: a build of only some packages would
/// unify dependency features differently and rebuild them, and the next workspace build would
/// rebuild them back.
pub fn build_release(bins: &[String]) -> Result<PathBuf> {
    let built = build_binaries().context("building the release binaries")?;
    for bin in bins {
        if !built.iter().any(|b| b.ends_with(bin)) {
            bail!("the release build produced no {bin}");
        }
    }
    Ok(target_dir()?.join("release"))
}

/// How many schedulers a guest image built from target/release now would hold (at least
/// `floor`: more may appear with the next build), for sizing time limits.
pub fn image_scheduler_count(floor: u64) -> Result<u64> {
    let dir = target_dir()?.join("release");
    let found = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.starts_with("scx_") && !name.contains('.')
                })
                .count()
        })
        .unwrap_or(0);
    Ok((found as u64).max(floor))
}

/// Without building: the executables already in target/release.
fn existing_binaries() -> Result<Vec<PathBuf>> {
    let dir = target_dir()?.join("release");
    let mut bins = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(bins);
    };
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name != "xtask" && !name.contains('.') && util::is_executable(&path) {
            bins.push(path);
        }
    }
    bins.sort();
    Ok(bins)
}

/// Extracts a top-level-or-nested `"key":"string"` value from one line of cargo's JSON.
fn json_string_field(line: &str, key: &str) -> Option<String> {
    let pattern = format!("\"{key}\":\"");
    let start = line.find(&pattern)? + pattern.len();
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// Runs the scenarios on the selected kernels and returns every check.
pub fn run(opts: &Options) -> Result<Vec<Check>> {
    let scenarios = resolve_scenarios(&opts.scenarios)?;
    let boots = run_resolved(opts, &scenarios, &[])?;
    Ok(boots.into_iter().flat_map(|b| b.checks).collect())
}

/// One kernel's boot, for callers that read the guest's output themselves.
#[derive(Debug)]
pub struct Console {
    pub kernel: Kernel,
    /// Every console line, terminal escapes removed.
    pub lines: Vec<String>,
    /// The scripts' results and the kernel problems, as `run` reports them.
    pub checks: Vec<Check>,
    pub log: PathBuf,
}

/// Like `run`, but `opts.scenarios` are scripts anywhere under tests/vm, named by their path
/// without `.sh` (e.g. `bench/run`), and `extra_cmdline` words go on the kernel command line
/// (`KEY=value` words reach the scripts as environment variables).
pub fn run_scripts(opts: &Options, extra_cmdline: &[String]) -> Result<Vec<Console>> {
    let dir = scenario_dir()?;
    for name in &opts.scenarios {
        let safe = name
            .split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.'))
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-/.".contains(c));
        if !safe {
            bail!("guest script names are relative paths under tests/vm: {name:?}");
        }
        let path = dir.join(format!("{name}.sh"));
        if !path.is_file() {
            bail!("no guest script {}", path.display());
        }
    }
    run_resolved(opts, &opts.scenarios, extra_cmdline)
}

/// Like `run`, but with every selected kernel booted at once (see `run_scripts_parallel`).
pub fn run_parallel(opts: &Options) -> Result<Vec<Check>> {
    resolve_scenarios(&opts.scenarios)?;
    let consoles = in_parallel(opts, |o| run_resolved(o, &o.scenarios, &[]))?;
    Ok(consoles.into_iter().flat_map(|c| c.checks).collect())
}

/// Like `run_scripts`, but with every selected kernel booted at once, each VM on a host thread
/// of its own (single-threaded TCG uses one core per VM). Consoles come back in kernel order.
pub fn run_scripts_parallel(opts: &Options, extra_cmdline: &[String]) -> Result<Vec<Console>> {
    in_parallel(opts, |o| run_scripts(o, extra_cmdline))
}

thread_local! {
    /// Set on the threads of `in_parallel`: console lines name their kernel.
    static SIDE_BY_SIDE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Builds once, then runs `each` for every selected kernel on a thread of its own, with
/// `opts` narrowed to that kernel.
fn in_parallel(
    opts: &Options,
    each: impl Fn(&Options) -> Result<Vec<Console>> + Sync,
) -> Result<Vec<Console>> {
    let kernels = kernel::select(&opts.kernel, opts.fetch)?;
    if opts.build {
        build_binaries()?;
    }
    let per_kernel: Vec<Options> = kernels
        .iter()
        .map(|k| Options {
            kernel: k.kver.clone(),
            build: false,
            fetch: Fetch::Offline,
            ..opts.clone()
        })
        .collect();
    let jobs: Vec<qemu::Job<Vec<Console>>> = per_kernel
        .iter()
        .map(|o| {
            let each = &each;
            let job: qemu::Job<Vec<Console>> = Box::new(move || {
                SIDE_BY_SIDE.with(|s| s.set(true));
                each(o)
            });
            job
        })
        .collect();
    let mut out = Vec::new();
    for consoles in qemu::side_by_side(jobs) {
        out.extend(consoles?);
    }
    Ok(out)
}

fn run_resolved(
    opts: &Options,
    scenarios: &[String],
    extra_cmdline: &[String],
) -> Result<Vec<Console>> {
    let kernels = kernel::select(&opts.kernel, opts.fetch)?;
    let binaries = if opts.build {
        build_binaries()?
    } else {
        existing_binaries()?
    };
    if binaries.is_empty() {
        eprintln!(
            "xtask: no workspace binaries yet; the guest gets busybox and the scenarios only"
        );
    } else {
        let names: Vec<String> = binaries
            .iter()
            .filter_map(|b| b.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        eprintln!("xtask: guest binaries: {}", names.join(" "));
    }
    // One directory per call: calls may run at once, from several threads.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let work = std::env::temp_dir().join(format!("scx-vm-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let result = run_kernels(opts, scenarios, &kernels, &binaries, &work, extra_cmdline);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run_kernels(
    opts: &Options,
    scenarios: &[String],
    kernels: &[Kernel],
    binaries: &[PathBuf],
    work: &Path,
    extra_cmdline: &[String],
) -> Result<Vec<Console>> {
    let scenario_dir = scenario_dir()?;
    let schedulers = registry::guest_list(&registry::schedulers(&util::repo_root()?)?);
    let mut boots = Vec::new();
    for kernel in kernels {
        let initrd = work.join(format!("{}.cpio.zst", kernel.kver));
        initramfs::build(
            &initramfs::Spec {
                kernel,
                binaries,
                scenario_dir: &scenario_dir,
                scenarios,
                timeout_secs: opts.timeout_secs,
                schedulers: &schedulers,
            },
            &initrd,
        )
        .with_context(|| format!("building the initramfs for {}", kernel.kver))?;
        let several = kernels.len() > 1 || SIDE_BY_SIDE.with(std::cell::Cell::get);
        let prefix = several.then_some(kernel.kver.as_str());
        let mut append = "console=ttyS0 rdinit=/init panic=-1 quiet".to_string();
        for word in extra_cmdline {
            append.push(' ');
            append.push_str(word);
        }
        let boot = qemu::boot(&qemu::Guest {
            kernel,
            initrd: &initrd,
            append,
            smp: opts.smp,
            mem_mb: opts.mem_mb,
            tcg: opts.tcg,
            allowance: BOOT_ALLOWANCE,
            scenario_limit: Duration::from_secs(opts.timeout_secs) + SCENARIO_GRACE,
            prefix,
            log: qemu::log_path(&kernel.kver)?,
        })?;
        let checks = scenario::evaluate(kernel, &boot, scenarios, "", &kernel.kver);
        boots.push(Console {
            kernel: kernel.clone(),
            lines: boot.lines.into_iter().map(|l| l.text).collect(),
            checks,
            log: boot.log,
        });
    }
    Ok(boots)
}

/// `cargo xtask vm`: run, print PASS/FAIL lines and the totals; returns the failure count.
pub fn command(opts: &Options) -> Result<usize> {
    let checks = run(opts)?;
    Ok(scenario::report(&checks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_executables_from_cargo_json() {
        let line = r#"{"reason":"compiler-artifact","executable":"/w/target/release/scx_a\"b","fresh":true}"#;
        assert_eq!(
            json_string_field(line, "executable").unwrap(),
            "/w/target/release/scx_a\"b"
        );
        assert!(json_string_field(r#"{"executable":null}"#, "executable").is_none());
    }
}
