//! What the README's two commands (`cargo xtask test`, `cargo xtask demo`) print: one line per
//! step with its elapsed time, a progress line while a step runs, and each step's full output
//! (cargo, dpkg-buildpackage, debootstrap, guest consoles, xtask's own messages) in a log file
//! under `target/logs/`, whose tail is shown only when the step fails. `--verbose` streams
//! everything instead, as the other commands always do.

use std::fs::File;
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Lines of a failed step's log shown on the terminal.
const TAIL_LINES: usize = 25;

/// How often the progress line is refreshed: on a terminal it is rewritten in place; in a log
/// (CI) a line is added now and then.
const TICK_TTY: Duration = Duration::from_secs(1);
const TICK_LOG: Duration = Duration::from_secs(60);

struct Capture {
    /// The terminal's stdout, kept aside while fds 1 and 2 point at a step's log.
    out: File,
    dir: PathBuf,
    steps: usize,
}

static CAPTURE: Mutex<Option<Capture>> = Mutex::new(None);

/// Starts capturing: from now on [`step`] sends each step's output to
/// `target/logs/<command>/NN-<step>.log`. Without a call, steps stream as before.
pub fn quiet(command: &str) -> Result<()> {
    let dir = crate::vm::target_dir()?.join("logs").join(command);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let out = dup(1).context("duplicating stdout")?;
    let mut capture = CAPTURE.lock().unwrap_or_else(|e| e.into_inner());
    *capture = Some(Capture {
        out: File::from(out),
        dir,
        steps: 0,
    });
    Ok(())
}

/// Whether steps are captured (see [`quiet`]).
pub fn is_quiet() -> bool {
    CAPTURE.lock().map(|c| c.is_some()).unwrap_or(false)
}

/// Prints `text` on the terminal, also while a step's output is captured.
pub fn say(text: &str) {
    let mut capture = CAPTURE.lock().unwrap_or_else(|e| e.into_inner());
    match capture.as_mut() {
        Some(c) => {
            let _ = writeln!(c.out, "{text}");
        }
        None => println!("{text}"),
    }
}

/// The log a captured step writes to, and what to restore when it ends.
struct Redirect {
    log: PathBuf,
    saved_out: OwnedFd,
    saved_err: OwnedFd,
}

/// Runs one step. Streaming: a `==> NAME` header, then its output. Captured: its output goes
/// to its log, the terminal shows a progress line and then `ok`/`FAIL`, NAME and the elapsed
/// time, and on failure the log's tail.
pub fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let redirect = match begin(name) {
        Ok(Some(r)) => r,
        Ok(None) => {
            println!("==> {name}");
            return f();
        }
        Err(e) => {
            eprintln!("xtask: cannot capture the output of {name}: {e:#}");
            println!("==> {name}");
            return f();
        }
    };
    let start = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let ticker = spawn_ticker(name, start, Arc::clone(&done));
    let result = f();
    done.store(true, Ordering::SeqCst);
    if let Some(t) = ticker {
        let _ = t.join();
    }
    end(&redirect);
    let secs = start.elapsed().as_secs_f64();
    let verdict = if result.is_ok() { "ok  " } else { "FAIL" };
    say(&format!("{verdict} {secs:6.1} s  {name}"));
    if let Err(e) = &result {
        say(&format!("     {e:#}"));
        say(&format!(
            "     last lines of {}:",
            crate::vm::target_dir()
                .ok()
                .and_then(|t| redirect.log.strip_prefix(t).ok().map(PathBuf::from))
                .map(|p| format!("target/{}", p.display()))
                .unwrap_or_else(|| redirect.log.display().to_string())
        ));
        for line in tail(&redirect.log, TAIL_LINES) {
            say(&format!("     | {line}"));
        }
    }
    result
}

/// The text a captured step wrote, for callers that show part of it (the demo).
pub fn last_log() -> Option<String> {
    let capture = CAPTURE.lock().ok()?;
    let c = capture.as_ref()?;
    let newest = std::fs::read_dir(&c.dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .max()?;
    std::fs::read_to_string(newest).ok()
}

fn begin(name: &str) -> Result<Option<Redirect>> {
    let mut capture = CAPTURE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(c) = capture.as_mut() else {
        return Ok(None);
    };
    c.steps += 1;
    let slug: String = name
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() {
                ch.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .take(8)
        .collect::<Vec<_>>()
        .join("-");
    let log = c.dir.join(format!("{:02}-{slug}.log", c.steps));
    let file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    std::io::stdout().flush().context("flushing stdout")?;
    std::io::stderr().flush().context("flushing stderr")?;
    let saved_out = dup(1).context("duplicating stdout")?;
    let saved_err = dup(2).context("duplicating stderr")?;
    dup2(file.as_raw_fd(), 1).context("sending stdout to the step's log")?;
    dup2(file.as_raw_fd(), 2).context("sending stderr to the step's log")?;
    Ok(Some(Redirect {
        log,
        saved_out,
        saved_err,
    }))
}

fn end(r: &Redirect) {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let _ = dup2(r.saved_out.as_raw_fd(), 1);
    let _ = dup2(r.saved_err.as_raw_fd(), 2);
}

/// While the step runs: `NAME … N s`, rewritten in place on a terminal, a line a minute
/// otherwise.
fn spawn_ticker(
    name: &str,
    start: Instant,
    done: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    let tty = {
        let capture = CAPTURE.lock().ok()?;
        capture.as_ref()?.out.is_terminal()
    };
    let name = name.to_string();
    Some(std::thread::spawn(move || {
        let tick = if tty { TICK_TTY } else { TICK_LOG };
        let mut next = start + tick;
        while !done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
            if Instant::now() < next {
                continue;
            }
            next += tick;
            let secs = start.elapsed().as_secs();
            let mut capture = CAPTURE.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = capture.as_mut() {
                let _ = if tty {
                    write!(c.out, "\r     {secs:4} s  {name} …")
                } else {
                    writeln!(c.out, "     {secs:4} s  {name} …")
                };
                let _ = c.out.flush();
            }
        }
        if tty {
            let mut capture = CAPTURE.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = capture.as_mut() {
                // Clear the progress line before the step's own line.
                let _ = write!(c.out, "\r\x1b[2K");
            }
        }
    }))
}

/// The last `n` lines of the file at `path`.
fn tail(path: &PathBuf, n: usize) -> Vec<String> {
    let Ok(mut f) = File::open(path) else {
        return Vec::new();
    };
    // The end of a long log is enough.
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut text = String::new();
    let mut bytes = Vec::new();
    if f.read_to_end(&mut bytes).is_ok() {
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

fn dup(fd: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) takes any descriptor number and reports errors through
    // its result; the copy is close-on-exec, so children get only fds 0-2.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fcntl returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

fn dup2(from: i32, to: i32) -> std::io::Result<()> {
    // SAFETY: dup2() replaces descriptor `to` (stdout or stderr here) atomically; both
    // descriptors stay open for the process's lifetime or until the step ends.
    if unsafe { libc::dup2(from, to) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_captured_step_logs_its_own_and_its_childrens_output() {
        quiet("progress-selftest").unwrap();
        let value = step("a step that prints", || {
            // (The test harness captures print! and eprint!; the binary's go to fds 1 and 2.)
            writeln!(std::io::stdout(), "from the step").context("writing")?;
            writeln!(std::io::stderr(), "to stderr").context("writing")?;
            std::process::Command::new("echo")
                .arg("from a child")
                .status()
                .context("running echo")?;
            Ok(42)
        })
        .unwrap();
        assert_eq!(value, 42);
        let log = last_log().unwrap();
        assert!(log.contains("from the step"), "{log}");
        assert!(log.contains("to stderr"), "{log}");
        assert!(log.contains("from a child"), "{log}");
        let err = step(
            "a step that fails on purpose (self-test)",
            || -> Result<()> { anyhow::bail!("failed on purpose") },
        );
        assert!(err.is_err());
        *CAPTURE.lock().unwrap() = None;
    }
}
