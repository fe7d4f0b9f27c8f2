//! Why a scheduler stopped: the kernel's exit record (written by `ops.exit()` into BPF memory)
//! decoded, classified, and mapped to an exit code.

use crate::error::exit_code;

/// `SCX_ECODE_ACT_RESTART`: the kernel (or the BPF code) asks user space to load the scheduler
/// again, e.g. after CPU hotplug.
pub const ECODE_ACT_RESTART: i64 = 1 << 48;
/// `SCX_ECODE_RSN_HOTPLUG`: the exit was caused by a CPU going on- or offline.
pub const ECODE_RSN_HOTPLUG: i64 = 1 << 32;
/// `UEI_DUMP_LEN`: room for the kernel's state dump in the record.
pub const DUMP_LEN: usize = 16384;

/// The layout of `struct user_exit_info` in `scx/user_exit_info.bpf.h`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawExitInfo {
    pub kind: i32,
    pub pad: u32,
    pub exit_code: i64,
    pub reason: [u8; 128],
    pub msg: [u8; 1024],
    pub dump: [u8; DUMP_LEN],
}

/// `enum scx_exit_kind`, as far as user space needs to tell the kinds apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    None,
    Done,
    Unreg,
    UnregBpf,
    UnregKern,
    SysRq,
    Error,
    ErrorBpf,
    ErrorStall,
    Other(i32),
}

impl ExitKind {
    pub fn from_raw(kind: i32) -> Self {
        match kind {
            0 => ExitKind::None,
            1 => ExitKind::Done,
            64 => ExitKind::Unreg,
            65 => ExitKind::UnregBpf,
            66 => ExitKind::UnregKern,
            67 => ExitKind::SysRq,
            1024 => ExitKind::Error,
            1025 => ExitKind::ErrorBpf,
            1026 => ExitKind::ErrorStall,
            k => ExitKind::Other(k),
        }
    }

    /// The short name used in logs and in the `SCX_EXIT_KIND=` journal field.
    pub fn name(&self) -> String {
        match self {
            ExitKind::None => "none".into(),
            ExitKind::Done => "done".into(),
            ExitKind::Unreg => "unregistered".into(),
            ExitKind::UnregBpf => "unregistered-by-bpf".into(),
            ExitKind::UnregKern => "unregistered-by-kernel".into(),
            ExitKind::SysRq => "sysrq".into(),
            ExitKind::Error => "error".into(),
            ExitKind::ErrorBpf => "error-bpf".into(),
            ExitKind::ErrorStall => "error-stall".into(),
            ExitKind::Other(k) if *k >= 1024 => format!("error-{k}"),
            ExitKind::Other(k) => format!("kind-{k}"),
        }
    }

    /// Whether this kind means the kernel ejected the scheduler for misbehaving.
    pub fn is_error(&self) -> bool {
        match self {
            ExitKind::Error | ExitKind::ErrorBpf | ExitKind::ErrorStall => true,
            ExitKind::Other(k) => *k >= 1024,
            _ => false,
        }
    }
}

/// A decoded exit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    pub kind: ExitKind,
    pub exit_code: i64,
    pub reason: String,
    pub msg: String,
    /// The kernel's state dump for an error exit (one line per entry; empty otherwise): every
    /// CPU and runnable task, and what the scheduler's `ops.dump*()` callbacks add.
    pub dump: String,
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end])
        .split(['\n', '\r'])
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The dump as text: up to the first NUL, blank lines dropped, trailing spaces trimmed.
fn dump_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end])
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

impl ExitInfo {
    /// Reads the record the BPF side wrote, or `None` while `ops.exit()` has not run.
    ///
    /// `raw` must be the skeleton's `uei` global; its generated type differs per scheduler but
    /// has [`RawExitInfo`]'s layout, which is checked here.
    pub fn read<T>(raw: &T) -> Option<ExitInfo> {
        assert_eq!(
            std::mem::size_of::<T>(),
            std::mem::size_of::<RawExitInfo>(),
            "uei has the wrong layout"
        );
        let base = raw as *const T as *const RawExitInfo;
        // SAFETY: sizes match (checked above) and RawExitInfo is plain old data with no invalid
        // bit patterns; volatile reads keep the compiler from caching BPF-written memory. The
        // kind alone is read first: callers poll this, and the record is 17 KiB.
        if unsafe { std::ptr::read_volatile(std::ptr::addr_of!((*base).kind)) } == 0 {
            return None;
        }
        // SAFETY: as above.
        let raw: RawExitInfo = unsafe { std::ptr::read_volatile(base) };
        if raw.kind == 0 {
            return None;
        }
        Some(ExitInfo {
            kind: ExitKind::from_raw(raw.kind),
            exit_code: raw.exit_code,
            reason: c_string(&raw.reason),
            msg: c_string(&raw.msg),
            dump: dump_text(&raw.dump),
        })
    }

    /// The kernel or the BPF code asks for the scheduler to be loaded again.
    pub fn wants_restart(&self) -> bool {
        self.exit_code & ECODE_ACT_RESTART != 0
    }

    /// The process exit code for a scheduler that stopped with this record.
    pub fn process_exit_code(&self) -> u8 {
        match self.kind {
            ExitKind::None | ExitKind::Done | ExitKind::Unreg => exit_code::OK,
            ExitKind::UnregBpf if self.exit_code == 0 => exit_code::OK,
            ExitKind::SysRq => exit_code::SYSRQ,
            ExitKind::ErrorStall => exit_code::EJECTED_STALL,
            k if k.is_error() => exit_code::EJECTED_ERROR,
            _ => exit_code::EJECTED_OTHER,
        }
    }

    /// One log line describing the exit.
    pub fn describe(&self) -> String {
        let mut s = format!("exit kind={}", self.kind.name());
        if self.exit_code != 0 {
            s.push_str(&format!(" code={:#x}", self.exit_code));
        }
        if !self.reason.is_empty() {
            s.push_str(&format!(" reason=\"{}\"", self.reason));
        }
        if !self.msg.is_empty() {
            s.push_str(&format!(" message=\"{}\"", self.msg));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: i32, code: i64, reason: &str, msg: &str) -> RawExitInfo {
        let mut r = RawExitInfo {
            kind,
            pad: 0,
            exit_code: code,
            reason: [0; 128],
            msg: [0; 1024],
            dump: [0; DUMP_LEN],
        };
        r.reason[..reason.len()].copy_from_slice(reason.as_bytes());
        r.msg[..msg.len()].copy_from_slice(msg.as_bytes());
        r
    }

    #[test]
    fn no_record_until_kind_is_set() {
        assert_eq!(ExitInfo::read(&raw(0, 0, "", "")), None);
    }

    #[test]
    fn stall_is_reported_and_maps_to_its_code() {
        let info = ExitInfo::read(&raw(1026, 0, "runnable task stall", "a\nb\n")).expect("set");
        assert_eq!(info.kind, ExitKind::ErrorStall);
        assert_eq!(info.process_exit_code(), exit_code::EJECTED_STALL);
        assert_eq!(
            info.describe(),
            "exit kind=error-stall reason=\"runnable task stall\" message=\"a; b\""
        );
        assert!(!info.wants_restart());
    }

    #[test]
    fn classifies_kinds() {
        let code = |k, c| {
            ExitInfo::read(&raw(k, c, "", ""))
                .expect("set")
                .process_exit_code()
        };
        assert_eq!(code(64, 0), exit_code::OK);
        assert_eq!(code(65, 0), exit_code::OK);
        assert_eq!(code(65, 3), exit_code::EJECTED_OTHER);
        assert_eq!(code(67, 0), exit_code::SYSRQ);
        assert_eq!(code(1025, 0), exit_code::EJECTED_ERROR);
        assert_eq!(code(1030, 0), exit_code::EJECTED_ERROR);
        assert_eq!(code(66, 0), exit_code::EJECTED_OTHER);
    }

    #[test]
    fn dump_is_kept_line_by_line() {
        let mut r = raw(1026, 0, "runnable task stall", "");
        let text = b"CPU 0   : nr_run=3\n\n  R a[1] -7ms  \n";
        r.dump[..text.len()].copy_from_slice(text);
        let info = ExitInfo::read(&r).expect("set");
        assert_eq!(info.dump, "CPU 0   : nr_run=3\n  R a[1] -7ms");
        assert_eq!(ExitInfo::read(&raw(64, 0, "", "")).expect("set").dump, "");
    }

    #[test]
    fn restart_flag() {
        let info =
            ExitInfo::read(&raw(66, ECODE_ACT_RESTART | ECODE_RSN_HOTPLUG, "", "")).expect("set");
        assert!(info.wants_restart());
    }
}
