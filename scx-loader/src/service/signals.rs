//! The service's signals (SIGHUP reload, SIGTERM/SIGINT stop, SIGCHLD) as flags plus a pipe
//! that wakes the main loop (which bus calls write to as well).

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

/// Signals turned into flags plus a wake-up pipe the main loop can poll.
pub(super) struct Signals {
    hup: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    wake: UnixStream,
    /// The pipe's other end, for others that wake the loop (the bus).
    notify: UnixStream,
}

impl Signals {
    pub(super) fn install() -> Result<Signals> {
        use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
        let hup = Arc::new(AtomicBool::new(false));
        let term = Arc::new(AtomicBool::new(false));
        let (wake, notify) = UnixStream::pair().context("creating the signal pipe")?;
        wake.set_nonblocking(true)
            .context("configuring the signal pipe")?;
        notify
            .set_nonblocking(true)
            .context("configuring the signal pipe")?;
        signal_hook::flag::register(SIGHUP, Arc::clone(&hup)).context("handling SIGHUP")?;
        for sig in [SIGTERM, SIGINT] {
            signal_hook::flag::register(sig, Arc::clone(&term))
                .with_context(|| format!("handling signal {sig}"))?;
        }
        for sig in [SIGHUP, SIGTERM, SIGINT, SIGCHLD] {
            let w = notify.try_clone().context("cloning the signal pipe")?;
            signal_hook::low_level::pipe::register(sig, w)
                .with_context(|| format!("handling signal {sig}"))?;
        }
        Ok(Signals {
            hup,
            term,
            wake,
            notify,
        })
    }

    /// Another writer that wakes [`Signals::wait`].
    pub(super) fn waker(&self) -> Result<UnixStream> {
        self.notify.try_clone().context("cloning the signal pipe")
    }

    /// Sleeps until a signal arrives or `timeout` passes.
    pub(super) fn wait(&self, timeout: Duration) {
        let mut pfd = libc::pollfd {
            fd: self.wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: pfd is one valid pollfd and the count says so.
        unsafe { libc::poll(&mut pfd, 1, ms) };
        let mut buf = [0u8; 64];
        while matches!((&self.wake).read(&mut buf), Ok(n) if n > 0) {}
    }

    pub(super) fn take_hup(&self) -> bool {
        self.hup.swap(false, Ordering::SeqCst)
    }

    pub(super) fn term(&self) -> bool {
        self.term.load(Ordering::SeqCst)
    }
}
