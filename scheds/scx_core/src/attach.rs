//! Loading and attaching a struct_ops scheduler, shared by every scheduler: naming the ops,
//! turning libbpf failures into errors that say what to do, confirming the kernel runs it.

use std::time::Duration;

use libbpf_rs::{Link, MapMut};

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

/// The error for a BPF object the kernel refused to load.
pub fn load_error(name: &str, source: libbpf_rs::Error) -> Error {
    Error::Load {
        what: format!(
            "loading the {name} BPF program into kernel {} failed (the verifier's reason and the \
             missing kernel feature, if any, are logged above)",
            kernel::release()
        ),
        source,
    }
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

/// Unlocks memory again (before a restart, or for schedulers that don't need it).
pub fn unlock_memory() {
    // SAFETY: munlockall() takes no arguments; failure leaves memory locked, which is harmless.
    unsafe { libc::munlockall() };
}

#[cfg(test)]
mod tests {
    use super::*;

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
