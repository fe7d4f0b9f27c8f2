//! `scx-loader status` (what the kernel and the service run, and why) and `list` (the installed
//! schedulers).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Result;
use scx_core::kernel;
use serde::Serialize;

use super::{dirs, display_flags, env, print_json, read_sysfs};
use crate::codes;
use crate::config::Config;
use crate::scheds::{self};

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
    /// The scheduler's arguments: `--profile NAME` for `SCX_PROFILE`, then `SCX_FLAGS`.
    configured_flags: Vec<String>,
    configured_profile: Option<String>,
    /// With `SCX_PROFILE=auto`: the profile the service chose (None: the scheduler's
    /// defaults) and why, as it recorded them.
    auto_profile: Option<String>,
    auto_reason: Option<String>,
    config_error: Option<String>,
    configured_running: bool,
    /// What the service says on the bus (None: no bus, or the service is not on it).
    service: Option<ServiceReport>,
}

/// The service's own account, from its bus interface.
#[derive(Debug, Serialize)]
struct ServiceReport {
    /// starting, running, reloading, restarting, fallback, stopped or failed.
    state: String,
    scheduler: String,
    args: Vec<String>,
    mode: u64,
    /// The last ejection or crash: kind, how it ended, the report (empty before the first).
    last_exit: Vec<String>,
}

/// The service's state as its bus interface shows it.
fn service_report() -> Option<ServiceReport> {
    let connection = crate::bus::client::connect().ok()?;
    let all = crate::bus::client::read_all(&connection)?;
    let get = |name: &str| all.iter().find_map(|p| p.values.get(name)).cloned();
    let strings = |v: Option<serde_json::Value>| -> Vec<String> {
        v.and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    };
    let text = |v: Option<serde_json::Value>| {
        v.and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    Some(ServiceReport {
        state: text(get("State")),
        scheduler: text(get("CurrentScheduler")),
        args: strings(get("CurrentSchedulerArgs")),
        mode: get("SchedulerMode").and_then(|v| v.as_u64()).unwrap_or(0),
        last_exit: strings(get("LastExit")),
    })
}

/// `scx-loader status`.
pub fn status(config_path: &Path, json: bool) -> Result<u8> {
    let config = Config::load(config_path, &env);
    let (configured, flags, profile, config_error) = match &config {
        Ok(c) => (
            // With only SCX_PROFILE, the scheduler the service would choose for it.
            c.scheduler.as_ref().map(|s| s.value.clone()).or_else(|| {
                crate::profiles::chosen(c, &dirs())
                    .ok()
                    .map(|(name, _)| name)
            }),
            c.arguments(),
            c.profile.as_ref().map(|p| p.value.clone()),
            None,
        ),
        Err(e) => (None, Vec::new(), None, Some(e.to_string())),
    };
    let auto = match profile.as_deref() {
        Some(crate::config::AUTO) => crate::power::recorded(&crate::service::runtime_dir()),
        _ => None,
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
        configured_profile: profile,
        auto_profile: auto.as_ref().and_then(|c| c.profile.clone()),
        auto_reason: auto.map(|c| c.reason),
        config_error,
        service: service_report(),
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
        if let Some(reason) = &r.auto_reason {
            writeln!(
                out,
                "auto:        {} ({reason})",
                r.auto_profile
                    .as_deref()
                    .unwrap_or("the scheduler's defaults")
            )?;
        } else if r.configured_profile.as_deref() == Some(crate::config::AUTO) {
            writeln!(
                out,
                "auto:        no choice recorded (the service is not running)"
            )?;
        }
        if let Some(svc) = &r.service {
            let running = match svc.scheduler.as_str() {
                "unknown" => "nothing of ours attached".to_string(),
                name => format!("{name} {}", display_flags(&svc.args)),
            };
            writeln!(out, "service:     {} ({running})", svc.state)?;
            if let [kind, how, message] = svc.last_exit.as_slice() {
                if !kind.is_empty() {
                    writeln!(out, "last exit:   {kind}: {how}: {message}")?;
                }
            }
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
    /// Its `--profile` values (`--list-profiles`; none for a scheduler without them).
    profiles: Vec<String>,
}

/// `scx-loader list`.
pub fn list(json: bool) -> Result<u8> {
    let dirs = dirs();
    let items: Vec<ListItem> = dirs
        .list()
        .into_iter()
        .map(|i| {
            let ask =
                |flag: &str| scheds::answer_lines(&i.path, flag).and_then(|l| l.into_iter().next());
            let version = ask("--version").map(|v| {
                v.strip_prefix(&i.name)
                    .map(|r| r.trim().to_string())
                    .unwrap_or(v)
            });
            let profiles = crate::profiles::profiles_of(&i.path);
            ListItem {
                version,
                profiles,
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
            let profiles = match i.profiles.is_empty() {
                true => String::new(),
                false => format!(" (profiles: {})", i.profiles.join(", ")),
            };
            writeln!(
                out,
                "{:16} {:10} {}{profiles}",
                i.name,
                i.version.as_deref().unwrap_or("?"),
                i.description.as_deref().unwrap_or("")
            )?;
        }
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
