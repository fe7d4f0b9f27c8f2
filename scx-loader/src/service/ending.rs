//! How a scheduler process ended, read the way scx_core's exit-code contract defines it.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use scx_core::exit_code;

/// How a scheduler process ended, in the terms of scx_core's exit-code contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// The `SCX_EXIT_KIND=` value: `requested`, `failure`, `error`, `error-stall`, `sysrq`, …
    pub kind: &'static str,
    /// The exit code, or None when a signal ended it.
    pub code: Option<i32>,
    /// One human phrase.
    pub text: String,
}

impl Ending {
    pub fn of(status: ExitStatus) -> Ending {
        if let Some(sig) = status.signal() {
            return Ending {
                kind: "signal",
                code: None,
                text: format!("killed by signal {sig} ({})", signal_name(sig)),
            };
        }
        let code = status.code().unwrap_or(-1);
        let (kind, what) = match u8::try_from(code).unwrap_or(u8::MAX) {
            exit_code::OK => ("done", "exited on its own without an error"),
            exit_code::FAILURE => ("failure", "failed"),
            exit_code::USAGE => ("usage", "rejected its command line"),
            exit_code::NO_PRIVILEGE => ("no-privilege", "lacks privileges"),
            exit_code::UNSUPPORTED => ("unsupported", "found no sched_ext support in the kernel"),
            exit_code::BUSY => ("busy", "found another scheduler attached"),
            exit_code::LOAD_FAILED => ("load-failed", "failed to load or attach its BPF program"),
            exit_code::EJECTED_ERROR => ("error", "was ejected by the kernel for an error"),
            exit_code::EJECTED_STALL => (
                "error-stall",
                "was ejected by the kernel's watchdog (a runnable task was not scheduled in time)",
            ),
            exit_code::SYSRQ => ("sysrq", "was stopped by the administrator (SysRq-S)"),
            exit_code::EJECTED_OTHER => ("unregistered", "was unregistered by the kernel"),
            _ => ("failure", "exited with an unknown code"),
        };
        Ending {
            kind,
            code: Some(code),
            text: format!("{what} (exit code {code})"),
        }
    }

    /// Restarting cannot help: the command line or the machine is wrong.
    pub fn is_permanent(&self) -> bool {
        matches!(self.kind, "usage" | "no-privilege" | "unsupported")
    }

    pub fn is_sysrq(&self) -> bool {
        self.kind == "sysrq"
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGHUP => "SIGHUP",
        libc::SIGPIPE => "SIGPIPE",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endings_follow_the_exit_code_contract() {
        let e = Ending::of(ExitStatus::from_raw(11 << 8));
        assert_eq!(e.kind, "error-stall");
        assert!(e.text.contains("watchdog"));
        assert!(Ending::of(ExitStatus::from_raw(12 << 8)).is_sysrq());
        assert!(Ending::of(ExitStatus::from_raw(4 << 8)).is_permanent());
        let k = Ending::of(ExitStatus::from_raw(9));
        assert_eq!(k.kind, "signal");
        assert_eq!(k.text, "killed by signal 9 (SIGKILL)");
    }
}
