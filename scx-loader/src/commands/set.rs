//! `scx-loader set` (rewrite the configuration, then reload) and `reload` (ask the running
//! service to re-read it and wait for the outcome).

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::dirs;
use crate::codes;
use crate::config::{self, Config, ConfigError, Origin};
use crate::scheds::{self, SchedError};

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

/// `scx-loader set`: writes the scheduler (and its flags, empty unless given) and/or the
/// profile, keeping the other keys; refuses a result the service would reject.
pub fn set(
    config_path: &Path,
    name: Option<&str>,
    flags: Option<&str>,
    profile: Option<&str>,
    reload: bool,
) -> Result<u8> {
    let dirs = dirs();
    let origin = Origin::CommandLine.to_string();
    if let Some(name) = name {
        dirs.resolve(name, &origin)?;
    }
    let words =
        config::split_words(flags.unwrap_or("")).map_err(|e| SchedError::FlagsRejected {
            name: name.unwrap_or("the scheduler").to_string(),
            origin: origin.clone(),
            flags: format!("{:?}", flags.unwrap_or("")),
            message: format!("{}: {}", e.problem, e.fix),
            fix: "fix --flags",
        })?;
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
    let mut keys: Vec<(&str, &str)> = Vec::new();
    if let Some(name) = name {
        keys.push((config::KEY_SCHEDULER, name));
    }
    if name.is_some() || flags.is_some() {
        keys.push((config::KEY_FLAGS, &joined));
    }
    if let Some(profile) = profile {
        keys.push((config::KEY_PROFILE, profile));
    }
    let text = config::rewrite(&existing, &keys).map_err(|e| ConfigError::Syntax {
        path: config_path.to_path_buf(),
        line: e.line,
        problem: e.problem,
        fix: e.fix,
    })?;
    // Refuse to write a file the service would then reject: its keys, the scheduler it names
    // or picks for the profile, and that scheduler's view of the profile and the flags.
    let new = Config::from_text(config_path, &text, &|_| None)?;
    let (chosen, binary) = crate::profiles::chosen(&new, &dirs)?;
    if let Some(w) = scheds::check_flags(&chosen, &binary, &new.arguments(), "--flags")? {
        log::warn!("{w}");
    }
    write_atomic(config_path, &text)?;
    let written: Vec<String> = keys
        .iter()
        .map(|(k, v)| format!("{k}={}", config::quote(v)))
        .collect();
    println!("{}: {}", config_path.display(), written.join(" "));
    for var in config::ENV_KEYS {
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
