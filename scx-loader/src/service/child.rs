//! The scheduler as a child process: spawning it, relaying its output to the journal, waiting
//! until the kernel runs it, stopping it, and the one-line report of how it ended.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use scx_core::kernel::{self, State};

use super::ending::Ending;
use super::plan::Target;
use super::signals::Signals;
use crate::codes;
use crate::config::join_words;
use crate::logging::Relay;
use crate::notify::Notifier;
use crate::scheds;

/// How long the kernel may take to report sched_ext disabled after the scheduler stopped.
pub(super) const DISABLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a scheduler did not get running.
#[derive(Debug, thiserror::Error)]
pub(super) enum StartFailure {
    #[error("{0}")]
    Kernel(#[from] scx_core::Error),
    #[error("cannot start {path}: {source}", path = .path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{report}")]
    Exited { report: String, ending: Ending },
    #[error("{name} did not attach within {secs} s (sched_ext state: {state}); it was killed")]
    Timeout {
        name: String,
        secs: u64,
        state: String,
    },
    #[error("interrupted by a stop request")]
    Interrupted,
}

impl StartFailure {
    pub(super) fn exit_code(&self) -> u8 {
        match self {
            StartFailure::Kernel(e) => e.exit_code(),
            StartFailure::Exited { ending, .. } => match ending.kind {
                "usage" => codes::BAD_FLAGS,
                "no-privilege" => codes::NO_PRIVILEGE,
                "unsupported" => codes::UNSUPPORTED,
                "busy" => codes::BUSY,
                _ => codes::LOAD_FAILED,
            },
            StartFailure::Spawn { .. } | StartFailure::Timeout { .. } => codes::LOAD_FAILED,
            StartFailure::Interrupted => codes::OK,
        }
    }

    pub(super) fn ending(&self) -> Option<&Ending> {
        match self {
            StartFailure::Exited { ending, .. } => Some(ending),
            _ => None,
        }
    }
}

/// A running scheduler process and the thread relaying its output.
pub(super) struct Child {
    pub(super) target: Target,
    process: std::process::Child,
    relay: Option<JoinHandle<()>>,
    said: Arc<Mutex<Said>>,
}

/// What the scheduler printed that a failure report may quote.
#[derive(Debug, Default)]
struct Said {
    /// Its last line.
    last: Option<String>,
    /// Its last error line that is not part of an ejection's dump.
    error: Option<String>,
}

impl Child {
    pub(super) fn spawn(target: &Target) -> Result<Child, StartFailure> {
        let spawn_err = |source| StartFailure::Spawn {
            path: target.path.clone(),
            source,
        };
        let (read, write) = pipe().map_err(spawn_err)?;
        let write2 = write.try_clone().map_err(spawn_err)?;
        let process = Command::new(&target.path)
            .args(&target.flags)
            .stdin(Stdio::null())
            .stdout(Stdio::from(write))
            .stderr(Stdio::from(write2))
            .spawn()
            .map_err(spawn_err)?;
        let said = Arc::new(Mutex::new(Said::default()));
        let relay = {
            let said = Arc::clone(&said);
            let name = target.name.clone();
            std::thread::spawn(move || relay_lines(&name, std::fs::File::from(read), &said))
        };
        log::info!(
            scx_scheduler = target.name.as_str();
            "started {} (pid {}){}",
            target.name,
            process.id(),
            if target.flags.is_empty() {
                String::new()
            } else {
                format!(" with flags: {}", join_words(&target.flags))
            }
        );
        Ok(Child {
            target: target.clone(),
            process,
            relay: Some(relay),
            said,
        })
    }

    pub(super) fn pid(&self) -> i32 {
        self.process.id() as i32
    }

    pub(super) fn signal(&self, sig: i32) {
        // SAFETY: kill() has no memory-safety preconditions; the pid is our own unreaped child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    pub(super) fn try_wait(&mut self) -> Option<ExitStatus> {
        self.process.try_wait().ok().flatten()
    }

    /// Waits up to `limit` for the process to end.
    pub(super) fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if start.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the process for good and reaps it.
    pub(super) fn kill(&mut self) -> ExitStatus {
        let _ = self.process.kill();
        let status = self.process.wait();
        self.finish_relay();
        status.unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(9))
    }

    /// Asks the process to stop (SIGTERM, resuming it if it was stopped), kills it if it does not.
    pub(super) fn stop(&mut self, limit: Duration) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.signal(libc::SIGCONT);
        match self.wait_for(limit) {
            Some(status) => {
                self.finish_relay();
                status
            }
            None => {
                log::warn!(
                    "{} did not stop within {} s of SIGTERM; killing it",
                    self.target.name,
                    limit.as_secs()
                );
                self.kill()
            }
        }
    }

    pub(super) fn finish_relay(&mut self) {
        if let Some(relay) = self.relay.take() {
            let _ = relay.join();
        }
    }

    /// How the process ended, in one line: `NAME[CONTEXT] ENDING[: the last error it printed]`.
    /// Every report of a scheduler's end (at start, while running, after an ejection) is this.
    pub(super) fn exit_report(&self, context: &str, ending: &Ending) -> String {
        let detail = self
            .last_error()
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        format!("{}{context} {}{detail}", self.target.name, ending.text)
    }

    /// The most telling line of what the scheduler printed last: its last error (not a line of
    /// the kernel's dump), else its last line.
    fn last_error(&self) -> Option<String> {
        let said = self.said.lock().ok()?;
        let pick = said.error.as_ref().or(said.last.as_ref())?;
        Some(scheds::error_line(&self.target.name, pick))
    }
}

fn relay_lines(name: &str, source: impl Read, said: &Mutex<Said>) {
    let relay = Relay::new(name);
    let mut reader = BufReader::new(source);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                relay.line(&line);
                if let Ok(mut s) = said.lock() {
                    let dump = scheds::error_line(name, &line)
                        .starts_with(scx_core::lifecycle::DUMP_PREFIX);
                    if !dump && crate::logging::line_level(name, &line) == log::Level::Error {
                        s.error = Some(line.clone());
                    }
                    s.last = Some(line);
                }
            }
        }
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid array of two ints for pipe2() to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2() succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Waits until `target` is attached, or reports why not. The child is killed on failure.
pub(super) fn start(
    target: &Target,
    timeout: Duration,
    signals: &Signals,
    notifier: &Notifier,
) -> Result<Child, StartFailure> {
    // Right after a scheduler died the kernel may still be disabling it; give it a moment
    // unless someone else's scheduler is attached.
    let foreign = kernel::attached_ops().is_some_and(|ops| ops != target.name);
    if !foreign && !matches!(kernel::state(), Ok(State::Disabled)) {
        kernel::wait_disabled(DISABLE_TIMEOUT);
    }
    kernel::check_can_attach()?;
    let mut child = Child::spawn(target)?;
    let begin = Instant::now();
    loop {
        if let Some(status) = child.try_wait() {
            child.finish_relay();
            let ending = Ending::of(status);
            return Err(StartFailure::Exited {
                report: child.exit_report("", &ending),
                ending,
            });
        }
        let state = kernel::state().map(|s| s.to_string()).unwrap_or_default();
        if state == State::Enabled.to_string()
            && kernel::attached_ops().as_deref() == Some(&target.name)
        {
            log::info!(
                scx_scheduler = target.name.as_str();
                "{} attached in {} ms",
                target.name,
                begin.elapsed().as_millis()
            );
            return Ok(child);
        }
        notifier.keepalive();
        if signals.term() {
            child.stop(Duration::from_secs(5));
            return Err(StartFailure::Interrupted);
        }
        if begin.elapsed() >= timeout {
            child.kill();
            return Err(StartFailure::Timeout {
                name: target.name.clone(),
                secs: timeout.as_secs(),
                state,
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the kernel currently runs `name`.
pub(super) fn kernel_runs(name: &str) -> bool {
    matches!(kernel::state(), Ok(State::Enabled)) && kernel::attached_ops().as_deref() == Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_quote_the_error_not_the_dump() {
        let out = "scx_a: starting\n\
                   scx_a: error: EXIT: runnable task stall (watchdog failed to check in)\n\
                   scx_a: error: dump: the kernel's dump at the ejection of scx_a follows\n\
                   scx_a: error: dump: CPU 0: nr_run=2\n";
        let said = Mutex::new(Said::default());
        relay_lines("scx_a", out.as_bytes(), &said);
        let said = said.lock().unwrap();
        assert_eq!(
            said.error.as_deref(),
            Some("scx_a: error: EXIT: runnable task stall (watchdog failed to check in)")
        );
        assert_eq!(
            said.last.as_deref(),
            Some("scx_a: error: dump: CPU 0: nr_run=2")
        );
    }
}
