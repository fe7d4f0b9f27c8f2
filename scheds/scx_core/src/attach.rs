//! Loading and attaching a struct_ops scheduler, shared by every scheduler: naming the ops,
//! turning libbpf failures into errors that say what to do, confirming the kernel runs it.

use std::time::Duration;

use libbpf_rs::btf::types::Func;
use libbpf_rs::btf::Btf;
use libbpf_rs::{Link, MapMut, OpenProgramMut, ProgramMut};

use crate::error::{Error, Result};
use crate::kernel;

/// `SCX_OPS_SWITCH_PARTIAL`: only SCHED_EXT tasks run on the scheduler.
pub const SCX_OPS_SWITCH_PARTIAL: u64 = 8;

/// How long the kernel may take to report a freshly attached scheduler as enabled.
pub const ATTACH_TIMEOUT: Duration = Duration::from_secs(5);

/// Writes `name` into a `sched_ext_ops.name` field.
pub fn set_ops_name(field: &mut [i8; 128], name: &str) -> Result<()> {
    if name.is_empty() || name.len() >= field.len() {
        return Err(Error::InvalidArgument(format!(
            "scheduler name {name:?} must be 1 to 127 bytes"
        )));
    }
    field.fill(0);
    for (dst, src) in field.iter_mut().zip(name.bytes()) {
        *dst = src as i8;
    }
    Ok(())
}

/// The error for a BPF object the kernel refused to load, naming the kernel features libbpf
/// reported missing.
pub fn load_error(name: &str, source: libbpf_rs::Error) -> Error {
    let missing = missing_features(&crate::logging::take_libbpf_warnings());
    let why = if missing.is_empty() {
        "the verifier's reason is logged above".to_string()
    } else {
        format!(
            "this kernel lacks {}: boot a newer kernel, or use a scheduler built for this one",
            missing.join(", ")
        )
    };
    Error::Load {
        what: format!(
            "loading the {name} BPF program into kernel {} failed ({why})",
            kernel::release()
        ),
        source,
    }
}

/// The kernel features libbpf's warnings say are missing, in words.
fn missing_features(warnings: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in warnings {
        let feature = if let Some(rest) = w.split("extern (func ksym) '").nth(1) {
            rest.split('\'').next().map(|f| format!("the kfunc {f}()"))
        } else if let Some(rest) = w.split("extern (var ksym) '").nth(1) {
            rest.split('\'')
                .next()
                .map(|v| format!("the kernel symbol {v}"))
        } else if w.contains("struct_ops init_kern") && w.contains("Cannot find member ") {
            w.split("Cannot find member ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .map(|m| format!("the sched_ext_ops callback {m}"))
        } else if w.contains("struct_ops init_kern") && w.contains("is not found in kernel BTF") {
            Some("sched_ext (struct sched_ext_ops is not in its BTF)".to_string())
        } else if w.contains("kernel BTF is missing") {
            Some("BTF type information (CONFIG_DEBUG_INFO_BTF)".to_string())
        } else {
            None
        };
        if let Some(f) = feature {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out
}

/// Attaches the struct_ops `map` and waits until the kernel reports `name` enabled (or reports
/// that it already unloaded it again: the exit record then tells why).
pub fn attach_ops(map: &mut MapMut<'_>, name: &str) -> Result<Link> {
    let seq_before = kernel::enable_seq();
    let link = map.attach_struct_ops().map_err(|e| {
        // A scheduler that attached between our check and now makes the kernel refuse.
        match kernel::attached_ops() {
            Some(other) if e.kind() == libbpf_rs::ErrorKind::AlreadyExists || other != name => {
                Error::AlreadyAttached(other)
            }
            _ => Error::Load {
                what: format!("attaching {name} to the kernel"),
                source: e,
            },
        }
    })?;
    kernel::wait_attached(name, seq_before, ATTACH_TIMEOUT)?;
    Ok(link)
}

/// The kfunc that re-enqueues a CPU's local DSQ from any context (Linux 6.19 on).
const REENQUEUE_ANYWHERE_KFUNC: &str = "scx_bpf_reenqueue_local___v2";

/// How a scheduler re-enqueues the tasks queued on a CPU that a higher scheduling class takes
/// (scheds/include/scx/higher_class.bpf.h): up to Linux 6.18 its `ops.cpu_release()` does it; from
/// 6.19 on the kernel deprecates that callback (and warns at every load of a scheduler that has
/// one), and the `scx_higher_class_switch` tracepoint program does it instead.
pub struct HigherClassHook {
    at_switch: bool,
}

impl HigherClassHook {
    /// Asks the running kernel's BTF which of the two it needs.
    pub fn probe() -> Self {
        let at_switch = Btf::from_vmlinux()
            .map(|btf| btf.type_by_name::<Func>(REENQUEUE_ANYWHERE_KFUNC).is_some())
            .unwrap_or(false);
        HigherClassHook { at_switch }
    }

    /// Before load: clears the ops' `cpu_release` callback and loads the tracepoint program
    /// instead, where the kernel has the kfunc; leaves both alone otherwise.
    pub fn prepare(
        &self,
        cpu_release: &mut *mut libbpf_rs::libbpf_sys::bpf_program,
        prog: &mut OpenProgramMut<'_>,
    ) {
        if self.at_switch {
            *cpu_release = std::ptr::null_mut();
        }
        prog.set_autoload(self.at_switch);
    }

    /// After the scheduler attached: attaches the tracepoint program if it was loaded. The link
    /// must live as long as the scheduler.
    pub fn attach(&self, prog: &mut ProgramMut<'_>) -> Result<Option<Link>> {
        if !self.at_switch {
            return Ok(None);
        }
        prog.attach().map(Some).map_err(|e| {
            Error::bpf(
                "attaching the sched_switch hook that re-enqueues tasks a higher class displaced",
                e,
            )
        })
    }
}

/// Locks current and future memory, so a scheduler never waits on page reclaim while tasks wait
/// on it.
pub fn lock_memory() -> Result<()> {
    // SAFETY: mlockall() only takes flags.
    let ret = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    if ret != 0 {
        return Err(Error::io(
            "locking the scheduler's memory (mlockall)",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_features_in_words() {
        let warnings: Vec<String> = [
            "libbpf: extern (func ksym) 'scx_bpf_dsq_insert_vtime': not found in kernel or module BTFs",
            "libbpf: failed to load object 'usersched_bpf'",
            "libbpf: struct_ops init_kern usersched_ops: Cannot find member dequeue_later in kernel BTF",
            "libbpf: struct_ops init_kern usersched_ops: member exit is not a struct_ops program",
            "libbpf: extern (func ksym) 'scx_bpf_dsq_insert_vtime': not found in kernel or module BTFs",
            "libbpf: kernel BTF is missing at '/sys/kernel/btf/vmlinux', was CONFIG_DEBUG_INFO_BTF enabled?",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            missing_features(&warnings),
            vec![
                "the kfunc scx_bpf_dsq_insert_vtime()",
                "the sched_ext_ops callback dequeue_later",
                "BTF type information (CONFIG_DEBUG_INFO_BTF)",
            ]
        );
        assert!(missing_features(&["libbpf: prog 'x': BPF program load failed".into()]).is_empty());
    }

    #[test]
    fn ops_names() {
        let mut f = [1i8; 128];
        set_ops_name(&mut f, "scx_x").expect("fits");
        assert_eq!(
            &f[..6],
            &[b's' as i8, b'c' as i8, b'x' as i8, b'_' as i8, b'x' as i8, 0]
        );
        assert!(f[6..].iter().all(|&b| b == 0));
        assert!(set_ops_name(&mut f, "").is_err());
        assert!(set_ops_name(&mut f, &"a".repeat(128)).is_err());
    }
}
