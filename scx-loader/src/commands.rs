//! The inspection and editing commands: `check`, `status`, `list` and `set`, with text and JSON
//! output.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use scx_core::kernel;
use serde::Serialize;

use crate::codes;
use crate::config::{self, Config, ConfigError, Origin};
use crate::scheds::{self, Dirs, SchedError};

const SYSFS: &str = kernel::SCHED_EXT_SYSFS;

fn dirs() -> Dirs {
    let (dirs, warning) = Dirs::from_env();
    if let Some(w) = warning {
        log::warn!("{w}");
    }
    dirs
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn print_json(value: &impl Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).context("writing JSON")?;
    writeln!(out).context("writing to stdout")?;
    Ok(())
}

fn read_sysfs(rel: &str) -> Option<String> {
    std::fs::read_to_string(Path::new(SYSFS).join(rel))
        .ok()
        .map(|s| s.trim().to_string())
}

/// `root/events`: one `NAME VALUE` (or `NAME: VALUE`) per line.
fn parse_events(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next()?.trim_end_matches(':');
            let value = parts.next()?.parse().ok()?;
            Some((name.to_string(), value))
        })
        .collect()
}

/// One line of `check`.
#[derive(Debug, Serialize)]
struct CheckItem {
    name: &'static str,
    ok: bool,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
    #[serde(skip)]
    code: u8,
}

impl CheckItem {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        CheckItem {
            name,
            ok: true,
            detail: detail.into(),
            fix: None,
            code: codes::OK,
        }
    }

    fn fail(
        name: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
        code: u8,
    ) -> Self {
        CheckItem {
            name,
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
            code,
        }
    }
}

/// `CONFIG_SCHED_CLASS_EXT` from `/boot/config-<release>` or `/proc/config.gz`.
fn kernel_config_value(release: &str, option: &str) -> Option<(String, String)> {
    let boot = PathBuf::from(format!("/boot/config-{release}"));
    let text = match std::fs::read_to_string(&boot) {
        Ok(text) => Some((text, boot.display().to_string())),
        Err(_) => Command::new("gzip")
            .args(["-dc", "/proc/config.gz"])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| {
                (
                    String::from_utf8_lossy(&o.stdout).into_owned(),
                    "/proc/config.gz".to_string(),
                )
            }),
    }?;
    let (text, source) = text;
    let value = text
        .lines()
        .find_map(|l| {
            if l.starts_with(&format!("{option}=")) {
                l.split_once('=').map(|(_, v)| v.to_string())
            } else if l == format!("# {option} is not set") {
                Some("n".to_string())
            } else {
                None
            }
        })
        .unwrap_or_else(|| "n".to_string());
    Some((value, source))
}

/// `scx-loader check`.
pub fn check(config_path: &Path, json: bool) -> Result<u8> {
    let dirs = dirs();
    let mut items = Vec::new();
    let release = kernel::release();
    items.push(CheckItem::ok("kernel", format!("Linux {release}")));
    if config::euid() == 0 {
        items.push(CheckItem::ok("privileges", "running as root"));
    } else {
        items.push(CheckItem::fail(
            "privileges",
            "not running as root",
            "run it as root (sudo scx-loader check); the service runs as root",
            codes::NO_PRIVILEGE,
        ));
    }
    let kconfig = kernel_config_value(&release, "CONFIG_SCHED_CLASS_EXT")
        .map(|(v, src)| format!("CONFIG_SCHED_CLASS_EXT={v} in {src}"))
        .unwrap_or_else(|| "no kernel config found in /boot or /proc/config.gz".to_string());
    if kernel::has_sched_ext() {
        items.push(CheckItem::ok(
            "sched_ext",
            format!("{SYSFS} present; {kconfig}"),
        ));
    } else {
        items.push(CheckItem::fail(
            "sched_ext",
            format!("{SYSFS} is missing; {kconfig}"),
            "boot a kernel built with CONFIG_SCHED_CLASS_EXT=y (Linux 6.12 or later)",
            codes::UNSUPPORTED,
        ));
    }
    if Path::new(kernel::VMLINUX_BTF).exists() {
        items.push(CheckItem::ok(
            "btf",
            format!("{} present", kernel::VMLINUX_BTF),
        ));
    } else {
        items.push(CheckItem::fail(
            "btf",
            format!("{} is missing", kernel::VMLINUX_BTF),
            "boot a kernel built with CONFIG_DEBUG_INFO_BTF=y",
            codes::UNSUPPORTED,
        ));
    }

    let config = Config::load(config_path, &env);
    let configured = config
        .as_ref()
        .ok()
        .and_then(|c| c.scheduler.as_ref())
        .map(|s| s.value.clone());
    if kernel::has_sched_ext() {
        let state = kernel::state().map(|s| s.to_string()).unwrap_or_default();
        match kernel::attached_ops() {
            None if state == "disabled" => items.push(CheckItem::ok(
                "attached",
                "no scheduler attached (EEVDF runs)",
            )),
            Some(ops) if Some(&ops) == configured.as_ref() => items.push(CheckItem::ok(
                "attached",
                format!("{ops} (the configured scheduler) is already running"),
            )),
            ops => items.push(CheckItem::fail(
                "attached",
                format!(
                    "{} is attached (state {state})",
                    ops.unwrap_or_else(|| "an unknown scheduler".into())
                ),
                "stop it first (systemctl stop scx, or end the process that runs it)",
                codes::BUSY,
            )),
        }
    }

    match &config {
        Err(e) => items.push(CheckItem::fail(
            "config",
            e.to_string(),
            "fix the line named above (see scx(5))",
            e.exit_code(),
        )),
        Ok(c) => {
            items.push(CheckItem::ok(
                "config",
                format!("{} is valid", config_path.display()),
            ));
            for w in &c.warnings {
                log::warn!("{w}");
            }
            match &c.scheduler {
                None => {
                    let e = SchedError::NoneConfigured {
                        path: c.path.clone(),
                        installed: dirs.names(),
                    };
                    items.push(CheckItem::fail(
                        "scheduler",
                        e.to_string(),
                        "run scx-loader set <name>",
                        e.exit_code(),
                    ));
                }
                Some(s) => match dirs.resolve(&s.value, &s.origin.to_string()) {
                    Err(e) => items.push(CheckItem::fail(
                        "scheduler",
                        e.to_string(),
                        "choose an installed scheduler (scx-loader list)",
                        e.exit_code(),
                    )),
                    Ok(path) => {
                        items.push(CheckItem::ok(
                            "scheduler",
                            format!("{} ({}, from {})", s.value, path.display(), s.origin),
                        ));
                        match scheds::check_flags(
                            &s.value,
                            &path,
                            &c.flag_words,
                            &c.flags.origin.to_string(),
                        ) {
                            Ok(warning) => items.push(CheckItem::ok(
                                "flags",
                                warning.unwrap_or_else(|| {
                                    format!("accepted: {}", display_flags(&c.flag_words))
                                }),
                            )),
                            Err(e) => items.push(CheckItem::fail(
                                "flags",
                                e.to_string(),
                                format!("fix SCX_FLAGS (see {} --help)", s.value),
                                e.exit_code(),
                            )),
                        }
                    }
                },
            }
            if let Some(f) = &c.fallback {
                match dirs.resolve(&f.value, &f.origin.to_string()) {
                    Ok(path) => items.push(CheckItem::ok(
                        "fallback",
                        format!("{} ({})", f.value, path.display()),
                    )),
                    Err(e) => items.push(CheckItem::fail(
                        "fallback",
                        e.to_string(),
                        "choose an installed scheduler or remove SCX_FALLBACK_SCHEDULER",
                        e.exit_code(),
                    )),
                }
            }
        }
    }
    items.push(CheckItem::ok("installed", dirs.names()));

    let code = items
        .iter()
        .find(|i| !i.ok)
        .map(|i| i.code)
        .unwrap_or(codes::OK);
    if json {
        #[derive(Serialize)]
        struct Report<'a> {
            ready: bool,
            checks: &'a [CheckItem],
        }
        print_json(&Report {
            ready: code == codes::OK,
            checks: &items,
        })?;
    } else {
        let mut out = std::io::stdout().lock();
        for i in &items {
            let verdict = if i.ok { "ok  " } else { "FAIL" };
            writeln!(out, "{verdict} {:10} {}", i.name, i.detail)?;
            if let Some(fix) = &i.fix {
                writeln!(out, "     {:10} fix: {fix}", "")?;
            }
        }
        if code == codes::OK {
            let start = config::service_unit().start;
            writeln!(out, "ready: `{start}` would start the scheduler")?;
        } else {
            writeln!(out, "not ready (exit code {code})")?;
        }
    }
    Ok(code)
}

fn display_flags(words: &[String]) -> String {
    if words.is_empty() {
        "(none)".to_string()
    } else {
        config::join_words(words)
    }
}

#[derive(Debug, Serialize)]
struct StatusReport {
    kernel: String,
    sched_ext: bool,
    state: Option<String>,
    ops: Option<String>,
    switch_all: Option<bool>,
    enable_seq: Option<u64>,
    nr_rejected: Option<u64>,
    events: BTreeMap<String, u64>,
    config: String,
    configured: Option<String>,
    configured_flags: Vec<String>,
    config_error: Option<String>,
    configured_running: bool,
}

/// `scx-loader status`.
pub fn status(config_path: &Path, json: bool) -> Result<u8> {
    let config = Config::load(config_path, &env);
    let (configured, flags, config_error) = match &config {
        Ok(c) => (
            c.scheduler.as_ref().map(|s| s.value.clone()),
            c.flag_words.clone(),
            None,
        ),
        Err(e) => (None, Vec::new(), Some(e.to_string())),
    };
    let sched_ext = kernel::has_sched_ext();
    let state = read_sysfs("state");
    let ops = kernel::attached_ops();
    let report = StatusReport {
        kernel: kernel::release(),
        sched_ext,
        configured_running: state.as_deref() == Some("enabled")
            && ops.is_some()
            && ops == configured,
        state,
        ops,
        switch_all: kernel::switch_all(),
        enable_seq: kernel::enable_seq(),
        nr_rejected: read_sysfs("nr_rejected").and_then(|s| s.parse().ok()),
        events: read_sysfs("root/events")
            .map(|t| parse_events(&t))
            .unwrap_or_default(),
        config: config_path.display().to_string(),
        configured,
        configured_flags: flags,
        config_error,
    };
    if json {
        print_json(&report)?;
    } else {
        let mut out = std::io::stdout().lock();
        let r = &report;
        if !r.sched_ext {
            writeln!(out, "sched_ext:   not supported by kernel {}", r.kernel)?;
        } else {
            let running = match (&r.state, &r.ops) {
                (Some(s), Some(o)) => format!("{s}, running {o}"),
                (Some(s), None) => format!("{s} (the kernel runs EEVDF)"),
                _ => "unknown".to_string(),
            };
            writeln!(out, "sched_ext:   {running}")?;
            if let Some(sw) = r.switch_all {
                let mode = if sw {
                    "all tasks"
                } else {
                    "opted-in tasks only"
                };
                writeln!(out, "switch_all:  {} ({mode})", u8::from(sw))?;
            }
            if let Some(seq) = r.enable_seq {
                writeln!(out, "enable_seq:  {seq}")?;
            }
            if let Some(n) = r.nr_rejected {
                writeln!(out, "nr_rejected: {n}")?;
            }
        }
        match (&r.configured, &r.config_error) {
            (_, Some(e)) => writeln!(out, "configured:  invalid: {e}")?,
            (None, None) => writeln!(out, "configured:  nothing ({})", r.config)?,
            (Some(c), None) => writeln!(
                out,
                "configured:  {c} {} ({}){}",
                display_flags(&r.configured_flags),
                r.config,
                if r.configured_running {
                    ", running"
                } else {
                    ", not running"
                }
            )?,
        }
        if !r.events.is_empty() {
            writeln!(out, "events:")?;
            for (k, v) in &r.events {
                writeln!(out, "  {k:40} {v}")?;
            }
        }
    }
    Ok(if sched_ext {
        codes::OK
    } else {
        codes::UNSUPPORTED
    })
}

#[derive(Debug, Serialize)]
struct ListItem {
    name: String,
    path: String,
    version: Option<String>,
    description: Option<String>,
}

/// `scx-loader list`.
pub fn list(json: bool) -> Result<u8> {
    let dirs = dirs();
    let items: Vec<ListItem> = dirs
        .list()
        .into_iter()
        .map(|i| {
            let ask = |flag: &str| {
                scheds::query(&i.path, &[flag.to_string()], flag)
                    .ok()
                    .filter(|a| a.status.success())
                    .and_then(|a| {
                        a.output
                            .lines()
                            .map(str::trim)
                            .find(|l| !l.is_empty())
                            .map(str::to_string)
                    })
            };
            let version = ask("--version").map(|v| {
                v.strip_prefix(&i.name)
                    .map(|r| r.trim().to_string())
                    .unwrap_or(v)
            });
            ListItem {
                version,
                description: ask("--help"),
                path: i.path.display().to_string(),
                name: i.name,
            }
        })
        .collect();
    if json {
        print_json(&items)?;
    } else if items.is_empty() {
        println!("no schedulers installed in {}", dirs.describe());
    } else {
        let mut out = std::io::stdout().lock();
        for i in &items {
            writeln!(
                out,
                "{:16} {:10} {}",
                i.name,
                i.version.as_deref().unwrap_or("?"),
                i.description.as_deref().unwrap_or("")
            )?;
        }
    }
    Ok(codes::OK)
}

/// Writes `text` to `path` atomically, keeping the old file's owner and mode.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.scx-loader-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let old = std::fs::metadata(path).ok();
    let result = (|| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        let mode = old.as_ref().map(|m| m.mode() & 0o755).unwrap_or(0o644);
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", tmp.display()))?;
        if let Some(m) = &old {
            std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()))
                .with_context(|| format!("setting the owner of {}", tmp.display()))?;
        }
        f.write_all(text.as_bytes())
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn systemctl(args: &[&str]) -> Option<std::process::Output> {
    Command::new("systemctl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()
}

fn status_text() -> String {
    systemctl(&[
        "show",
        "-p",
        "StatusText",
        "--value",
        config::service_unit().name,
    ])
    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    .unwrap_or_default()
}

fn read_reload_report(path: &Path) -> (u64, String) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let text = text.trim_end();
    match text.split_once(' ') {
        Some((count, rest)) => (count.parse().unwrap_or(0), rest.to_string()),
        None => (0, String::new()),
    }
}

/// `scx-loader reload`: asks the running service (pid `pid`, or systemd's MainPID of scx) to
/// reload, and waits until it reports the outcome. This is what `systemctl reload scx` runs,
/// so that the reload command itself fails when the new configuration did not take.
pub fn reload(pid: Option<i32>, timeout: Duration) -> Result<u8> {
    let unit = config::service_unit();
    let pid = match pid {
        Some(pid) => pid,
        None => {
            let out = systemctl(&["show", "-p", "MainPID", "--value", unit.name])
                .with_context(|| format!("running systemctl show {}", unit.name))?;
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .unwrap_or(0)
        }
    };
    if pid <= 0 {
        bail!("{} is not running: start it with {}", unit.name, unit.start);
    }
    let path = crate::service::runtime_dir().join(crate::service::RELOAD_FILE);
    let (before, _) = read_reload_report(&path);
    // SAFETY: kill() has no memory-safety preconditions.
    if unsafe { libc::kill(pid, libc::SIGHUP) } != 0 {
        let err = std::io::Error::last_os_error();
        bail!("cannot signal scx-loader (pid {pid}): {err}");
    }
    let start = Instant::now();
    loop {
        let (count, report) = read_reload_report(&path);
        if count > before {
            let (verdict, status) = report.split_once(' ').unwrap_or((report.as_str(), ""));
            println!("{status}");
            return Ok(if verdict == "ok" {
                codes::OK
            } else {
                codes::RELOAD_FAILED
            });
        }
        if start.elapsed() > timeout {
            bail!(
                "scx-loader (pid {pid}) did not report the reload within {} s: see journalctl -u scx",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `scx-loader set`.
pub fn set(config_path: &Path, name: &str, flags: Option<&str>, reload: bool) -> Result<u8> {
    let dirs = dirs();
    let origin = Origin::CommandLine.to_string();
    let path = dirs.resolve(name, &origin)?;
    let words =
        config::split_words(flags.unwrap_or("")).map_err(|e| SchedError::FlagsRejected {
            name: name.to_string(),
            origin: origin.clone(),
            flags: format!("{:?}", flags.unwrap_or("")),
            message: format!("{}: {}", e.problem, e.fix),
        })?;
    if let Some(w) = scheds::check_flags(name, &path, &words, "--flags")? {
        log::warn!("{w}");
    }
    let existing = match std::fs::metadata(config_path) {
        Ok(_) => {
            config::check_file_safety(config_path, config::euid())?;
            std::fs::read_to_string(config_path)
                .with_context(|| format!("reading {}", config_path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "# scx: the sched_ext scheduler the scx service runs (see scx(5)).\n".to_string()
        }
        Err(e) => return Err(e).with_context(|| format!("inspecting {}", config_path.display())),
    };
    let joined = config::join_words(&words);
    let text = config::rewrite(
        &existing,
        &[(config::KEY_SCHEDULER, name), (config::KEY_FLAGS, &joined)],
    )
    .map_err(|e| ConfigError::Syntax {
        path: config_path.to_path_buf(),
        line: e.line,
        problem: e.problem,
        fix: e.fix,
    })?;
    // Refuse to write a file the service would then reject for another reason.
    Config::from_text(config_path, &text, &|_| None)?;
    write_atomic(config_path, &text)?;
    println!(
        "{}: SCX_SCHEDULER={name} SCX_FLAGS={}",
        config_path.display(),
        config::quote(&joined)
    );
    for var in [config::ENV_SCHEDULER_OVERRIDE, config::ENV_FLAGS_OVERRIDE] {
        if std::env::var_os(var).is_some() {
            log::warn!("{var} is set in this environment and overrides the file");
        }
    }
    if !reload {
        return Ok(codes::OK);
    }
    let unit = config::service_unit();
    let active =
        systemctl(&["is-active", "--quiet", unit.name]).is_some_and(|o| o.status.success());
    if !active {
        println!(
            "{} is not running; start it with: {}",
            unit.name, unit.start
        );
        return Ok(codes::OK);
    }
    let out = systemctl(&["reload", unit.name])
        .with_context(|| format!("running systemctl reload {}", unit.name))?;
    let status = status_text();
    println!("{}: {status}", unit.name);
    if !out.status.success() {
        log::error!(
            "the service did not take the new configuration (it keeps running the old one): {status}"
        );
        return Ok(codes::RELOAD_FAILED);
    }
    Ok(codes::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_both_layouts() {
        let e = parse_events("SCX_EV_A 3\nSCX_EV_B: 4\nbad\n");
        assert_eq!(e.get("SCX_EV_A"), Some(&3));
        assert_eq!(e.get("SCX_EV_B"), Some(&4));
        assert_eq!(e.len(), 2);
    }
}
