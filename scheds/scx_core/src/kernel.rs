//! What the running kernel says about sched_ext: support, current state, the attached scheduler.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Root of the sched_ext sysfs interface.
pub const SCHED_EXT_SYSFS: &str = "/sys/kernel/sched_ext";
/// The kernel's own BTF, needed to load any struct_ops program.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// The state of the sched_ext class as `/sys/kernel/sched_ext/state` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Disabled,
    Enabling,
    Enabled,
    Disabling,
    Other(String),
}

impl State {
    fn parse(s: &str) -> Self {
        match s.trim() {
            "disabled" => State::Disabled,
            "enabling" => State::Enabling,
            "enabled" => State::Enabled,
            "disabling" => State::Disabling,
            other => State::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            State::Disabled => "disabled",
            State::Enabling => "enabling",
            State::Enabled => "enabled",
            State::Disabling => "disabling",
            State::Other(s) => s,
        };
        f.write_str(s)
    }
}

fn sysfs(rel: &str) -> PathBuf {
    Path::new(SCHED_EXT_SYSFS).join(rel)
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The kernel release (`uname -r`).
pub fn release() -> String {
    read_trimmed(Path::new("/proc/sys/kernel/osrelease")).unwrap_or_else(|| "unknown".into())
}

/// Whether the kernel has sched_ext at all.
pub fn has_sched_ext() -> bool {
    Path::new(SCHED_EXT_SYSFS).is_dir()
}

/// Current state of the sched_ext class.
pub fn state() -> Result<State> {
    let path = sysfs("state");
    std::fs::read_to_string(&path)
        .map(|s| State::parse(&s))
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

/// Name of the attached scheduler, if one is attached.
pub fn attached_ops() -> Option<String> {
    read_trimmed(&sysfs("root/ops")).filter(|s| !s.is_empty())
}

/// Whether every SCHED_NORMAL task runs on the attached scheduler (`switch_all`).
pub fn switch_all() -> Option<bool> {
    read_trimmed(&sysfs("switch_all")).map(|s| s == "1")
}

/// How many schedulers were enabled since boot (`enable_seq`).
pub fn enable_seq() -> Option<u64> {
    read_trimmed(&sysfs("enable_seq")).and_then(|s| s.parse().ok())
}

/// Checks everything that must hold before a scheduler can attach, in the order an
/// administrator would fix them: privileges, kernel support, BTF, nobody else attached.
pub fn check_can_attach() -> Result<()> {
    // SAFETY: geteuid() has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Error::NotRoot);
    }
    if !has_sched_ext() {
        return Err(Error::NoSchedExt {
            release: release(),
            path: PathBuf::from(SCHED_EXT_SYSFS),
        });
    }
    if !Path::new(VMLINUX_BTF).exists() {
        return Err(Error::NoBtf {
            release: release(),
            path: PathBuf::from(VMLINUX_BTF),
        });
    }
    if let Some(name) = attached_ops() {
        return Err(Error::AlreadyAttached(name));
    }
    match state()? {
        State::Disabled => Ok(()),
        other => Err(Error::AlreadyAttached(format!("unknown, state {other}"))),
    }
}

/// Waits until the kernel reports `name` as the running scheduler; returns how long it took.
///
/// `enable_seq_before` is `enable_seq` read before attaching: if it moved on and the class is
/// already disabled again, the scheduler did attach and was unloaded at once (SysRq-S, an
/// error in its first moments); that is not an attach failure, and the caller's exit record
/// says what happened.
pub fn wait_attached(
    name: &str,
    enable_seq_before: Option<u64>,
    timeout: Duration,
) -> Result<Duration> {
    let start = Instant::now();
    loop {
        let st = state()?;
        if st == State::Enabled && attached_ops().as_deref() == Some(name) {
            return Ok(start.elapsed());
        }
        if st == State::Disabled {
            if let (Some(before), Some(now)) = (enable_seq_before, enable_seq()) {
                if now > before {
                    return Ok(start.elapsed());
                }
            }
        }
        if start.elapsed() >= timeout {
            return Err(Error::AttachTimeout {
                name: name.to_string(),
                timeout_ms: timeout.as_millis() as u64,
                state: st.to_string(),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the sched_ext class is disabled again; returns whether it was within `timeout`.
pub fn wait_disabled(timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        if matches!(state(), Ok(State::Disabled)) {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_states() {
        assert_eq!(State::parse("enabled\n"), State::Enabled);
        assert_eq!(State::parse("disabled"), State::Disabled);
        assert_eq!(State::parse("odd"), State::Other("odd".into()));
        assert_eq!(State::parse("disabling").to_string(), "disabling");
    }
}
