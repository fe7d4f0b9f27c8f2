//! `scx-loader check`: whether this kernel, this configuration and the installed schedulers can
//! run, one line per check with the fix for each failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Result;
use scx_core::kernel;
use serde::Serialize;

use super::{dirs, display_flags, env, print_json, SYSFS};
use crate::codes;
use crate::config::{self, Config};
use crate::scheds::{self, SchedError};

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
            match crate::profiles::chosen(c, &dirs) {
                Err(e) => {
                    let (item, fix) = match e {
                        SchedError::NoneConfigured { .. } => {
                            ("scheduler", "run scx-loader set <name>")
                        }
                        SchedError::ProfileMissing { .. }
                        | SchedError::NoSchedulerForProfile { .. } => (
                            "profile",
                            "choose a profile the scheduler has (scx-loader list)",
                        ),
                        _ => (
                            "scheduler",
                            "choose an installed scheduler (scx-loader list)",
                        ),
                    };
                    items.push(CheckItem::fail(item, e.to_string(), fix, e.exit_code()));
                }
                Ok((name, path)) => {
                    let origin = match &c.scheduler {
                        Some(s) => s.origin.to_string(),
                        None => "chosen for SCX_PROFILE".to_string(),
                    };
                    items.push(CheckItem::ok(
                        "scheduler",
                        format!("{name} ({}, from {origin})", path.display()),
                    ));
                    if let Some(p) = &c.profile {
                        items.push(CheckItem::ok(
                            "profile",
                            format!("{} (from {}; {name} has it)", p.value, p.origin),
                        ));
                    }
                    let args = c.arguments();
                    match scheds::check_flags(&name, &path, &args, &c.flags.origin.to_string()) {
                        Ok(warning) => items.push(CheckItem::ok(
                            "flags",
                            warning
                                .unwrap_or_else(|| format!("accepted: {}", display_flags(&args))),
                        )),
                        Err(e) => items.push(CheckItem::fail(
                            "flags",
                            e.to_string(),
                            format!("fix SCX_FLAGS (see {name} --help)"),
                            e.exit_code(),
                        )),
                    }
                }
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
