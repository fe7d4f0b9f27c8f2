//! The errors scx_core reports, and the exit codes every scx scheduler binary uses.
//!
//! The exit code is the contract between a scheduler and whoever supervises it (scx-loader,
//! systemd, a shell): it says whether the stop was asked for, whether the machine can't run
//! a scheduler at all (no point restarting), or whether the kernel ejected the scheduler.

use std::path::PathBuf;

/// Exit codes of scx scheduler binaries.
pub mod exit_code {
    /// Stopped because it was asked to (SIGINT, SIGTERM, or user space detached it).
    pub const OK: u8 = 0;
    /// An unexpected runtime failure (I/O, libbpf); the message says what.
    pub const FAILURE: u8 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: u8 = 2;
    /// Not root: loading a sched_ext scheduler needs CAP_SYS_ADMIN and CAP_BPF.
    pub const NO_PRIVILEGE: u8 = 3;
    /// The kernel cannot run sched_ext schedulers (no sched_ext, no BTF).
    pub const UNSUPPORTED: u8 = 4;
    /// Another sched_ext scheduler is already attached.
    pub const BUSY: u8 = 5;
    /// The BPF program failed to load or attach (verifier, missing kernel feature).
    pub const LOAD_FAILED: u8 = 6;
    /// The kernel ejected the scheduler because of an error (SCX_EXIT_ERROR, SCX_EXIT_ERROR_BPF).
    pub const EJECTED_ERROR: u8 = 10;
    /// The kernel's watchdog ejected the scheduler: a runnable task was not scheduled in time.
    pub const EJECTED_STALL: u8 = 11;
    /// The administrator stopped it through the kernel (SysRq-S): do not restart.
    pub const SYSRQ: u8 = 12;
    /// The kernel unregistered it for another reason (SCX_EXIT_UNREG_KERN, unknown kinds).
    pub const EJECTED_OTHER: u8 = 13;
}

/// Why a scheduler could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("must run as root (loading a sched_ext scheduler needs CAP_SYS_ADMIN and CAP_BPF): run it with sudo or through scx-loader")]
    NotRoot,
    #[error("this kernel ({release}) has no sched_ext support ({path} is missing): boot a kernel built with CONFIG_SCHED_CLASS_EXT=y (Linux 6.12 or later)")]
    NoSchedExt { release: String, path: PathBuf },
    #[error("this kernel ({release}) has no BTF type information ({path} is missing): boot a kernel built with CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf { release: String, path: PathBuf },
    #[error("another sched_ext scheduler ({0}) is already attached: stop it first (systemctl stop scx, or end the process that runs it)")]
    AlreadyAttached(String),
    #[error("{what}")]
    Load {
        what: String,
        #[source]
        source: libbpf_rs::Error,
    },
    #[error("{what}")]
    Bpf {
        what: String,
        #[source]
        source: libbpf_rs::Error,
    },
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the kernel did not report {name} as running within {timeout_ms} ms (state: {state})")]
    AttachTimeout {
        name: String,
        timeout_ms: u64,
        state: String,
    },
    #[error("invalid option: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// The process exit code for this error (see [`exit_code`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotRoot => exit_code::NO_PRIVILEGE,
            Error::NoSchedExt { .. } | Error::NoBtf { .. } => exit_code::UNSUPPORTED,
            Error::AlreadyAttached(_) => exit_code::BUSY,
            Error::Load { .. } | Error::AttachTimeout { .. } => exit_code::LOAD_FAILED,
            Error::InvalidArgument(_) => exit_code::USAGE,
            Error::Bpf { .. } | Error::Io { .. } => exit_code::FAILURE,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn bpf(what: impl Into<String>, source: libbpf_rs::Error) -> Self {
        Error::Bpf {
            what: what.into(),
            source,
        }
    }
}

/// Result type of scx_core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The exit code an error chain asks for: the first error in it that `classify` knows decides
/// (a binary passes its own typed errors and falls back to [`Error::code_of`]); an error chain
/// with none of them is a plain failure. Every binary of the project maps errors through this.
pub fn exit_code_of(
    err: &anyhow::Error,
    classify: impl Fn(&(dyn std::error::Error + 'static)) -> Option<u8>,
) -> u8 {
    err.chain().find_map(classify).unwrap_or(exit_code::FAILURE)
}

impl Error {
    /// The exit code of `err` if it is an scx_core error.
    pub fn code_of(err: &(dyn std::error::Error + 'static)) -> Option<u8> {
        err.downcast_ref::<Error>().map(Error::exit_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_known_error_in_the_chain_decides() {
        let err = anyhow::Error::new(Error::NotRoot).context("starting scx_x");
        assert_eq!(exit_code_of(&err, Error::code_of), exit_code::NO_PRIVILEGE);
        let err = anyhow::anyhow!("plain");
        assert_eq!(exit_code_of(&err, Error::code_of), exit_code::FAILURE);
        let err = anyhow::Error::new(Error::AlreadyAttached("scx_y".into()));
        assert_eq!(exit_code_of(&err, |_| Some(42)), 42);
    }
}
