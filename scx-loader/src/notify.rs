//! The sd_notify protocol: datagrams of `KEY=VALUE` lines to `$NOTIFY_SOCKET`, and the
//! watchdog interval systemd asks for (`$WATCHDOG_USEC`).

use std::cell::Cell;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

/// A connection to the service manager; does nothing when not started by one.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
    /// When `WATCHDOG=1` was last sent.
    last_ping: Cell<Option<Instant>>,
}

impl Notifier {
    /// Takes `NOTIFY_SOCKET` and `WATCHDOG_USEC` from the environment and removes them, so that
    /// the scheduler processes started later do not inherit them.
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET");
        let watchdog = watchdog_from(
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
            std::process::id(),
        );
        for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            std::env::remove_var(var);
        }
        let target = socket.and_then(|s| {
            let s = s.to_string_lossy().into_owned();
            let addr = match s.strip_prefix('@') {
                Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
                None => SocketAddr::from_pathname(&s),
            };
            let addr = addr
                .map_err(|e| log::warn!("NOTIFY_SOCKET={s} is not usable: {e}"))
                .ok()?;
            let sock = UnixDatagram::unbound()
                .map_err(|e| log::warn!("cannot create the notification socket: {e}"))
                .ok()?;
            Some((sock, addr))
        });
        Notifier {
            target,
            watchdog,
            last_ping: Cell::new(None),
        }
    }

    /// How often to send `WATCHDOG=1` (half the interval systemd asked for), if at all.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|w| w / 2)
    }

    /// Sends one notification (`READY=1`, `STATUS=…`, several lines at once).
    pub fn send(&self, message: &str) {
        if let Some((sock, addr)) = &self.target {
            if let Err(e) = sock.send_to_addr(message.as_bytes(), addr) {
                log::warn!("cannot notify systemd ({message:?}): {e}");
            }
        }
    }

    /// Sends a `STATUS=` line.
    pub fn status(&self, text: &str) {
        log::debug!("status: {text}");
        self.send(&format!("STATUS={}", one_line(text)));
    }

    /// `READY=1` with a status.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// `RELOADING=1` with the monotonic time systemd 253+ wants alongside it.
    pub fn reloading(&self, status: &str) {
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS={}",
            monotonic_usec(),
            one_line(status)
        ));
    }

    pub fn stopping(&self, status: &str) {
        self.send(&format!("STOPPING=1\nSTATUS={}", one_line(status)));
    }

    /// Sends `WATCHDOG=1` if half the watchdog interval passed since the last one; returns how
    /// long until the next one is due.
    pub fn keepalive(&self) -> Option<Duration> {
        let interval = self.watchdog_interval()?;
        let now = Instant::now();
        let due = self
            .last_ping
            .get()
            .is_none_or(|last| now.duration_since(last) >= interval);
        if due {
            self.send("WATCHDOG=1");
            self.last_ping.set(Some(now));
            return Some(interval);
        }
        let last = self.last_ping.get().unwrap_or(now);
        Some(interval.saturating_sub(now.duration_since(last)))
    }
}

fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

fn watchdog_from(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|u| *u > 0)?;
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok() != Some(me) {
            return None;
        }
    }
    Some(Duration::from_micros(usec))
}

/// `CLOCK_MONOTONIC` in microseconds.
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_only_for_this_process() {
        assert_eq!(
            watchdog_from(Some("2000000"), None, 7),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            watchdog_from(Some("2000000"), Some("7"), 7),
            Some(Duration::from_secs(2))
        );
        assert_eq!(watchdog_from(Some("2000000"), Some("8"), 7), None);
        assert_eq!(watchdog_from(Some("0"), None, 7), None);
        assert_eq!(watchdog_from(None, None, 7), None);
    }

    #[test]
    fn sends_datagrams() {
        let path = std::env::temp_dir().join(format!("scx-notify-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            target: Some((
                UnixDatagram::unbound().unwrap(),
                SocketAddr::from_pathname(&path).unwrap(),
            )),
            watchdog: None,
            last_ping: Cell::new(None),
        };
        n.ready("scx_a running\n(flags)");
        let mut buf = [0u8; 256];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..len]).unwrap(),
            "READY=1\nSTATUS=scx_a running (flags)"
        );
        assert!(monotonic_usec() > 0);
        std::fs::remove_file(&path).unwrap();
    }
}
