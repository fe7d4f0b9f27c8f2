//! The one qemu engine every guest runs on (busybox scenarios, systemd guests, package and snap
//! guests, benchmarks): boots a kernel and an initramfs, pumps the console to the terminal and
//! a log, moves the host's deadline with the guest's scenario markers, and spots kernel
//! problems (Oops, BUG, WARNING, panics) in what it printed. Guests that do not depend on each
//! other run side by side, one host core each.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::initramfs::marker;
use crate::kernel::Kernel;
use crate::util;

/// How TCG maps virtual CPUs to host threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TcgThreads {
    /// One host thread per vCPU: faster, but qemu 7.2 races with the kernel's live code
    /// patching (an `int3` Oops in `__schedule` when a scheduler attaches or detaches).
    Multi,
    /// All vCPUs on one host thread (the default): slower, no cross-vCPU races in the emulator.
    Single,
}

impl TcgThreads {
    pub fn accel(self) -> &'static str {
        match self {
            TcgThreads::Multi => "tcg,thread=multi",
            TcgThreads::Single => "tcg,thread=single",
        }
    }
}

/// One guest to boot.
pub struct Guest<'a> {
    pub kernel: &'a Kernel,
    pub initrd: &'a Path,
    /// The kernel command line.
    pub append: String,
    pub smp: u32,
    pub mem_mb: u32,
    pub tcg: TcgThreads,
    /// Time allowed outside scenarios: from start to the guest's first marker, between
    /// scenarios, for power-off.
    pub allowance: Duration,
    /// Time allowed for one scenario, from its begin marker to its end marker.
    pub scenario_limit: Duration,
    /// What the live view puts before each console line (the kernel, when guests run side by
    /// side or several kernels are booted).
    pub prefix: Option<&'a str>,
    /// Where the console log goes (see [`log_path`]).
    pub log: PathBuf,
}

/// `target/vm-logs/<unix time>-<tag>.log`.
pub fn log_path(tag: &str) -> Result<PathBuf> {
    let logs = crate::vm::target_dir()?.join("vm-logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_secs();
    Ok(logs.join(format!("{stamp}-{tag}.log")))
}

/// What one console line is, for the live view and the parser.
enum Event {
    Stdout(String),
    Stderr(String),
    Closed,
}

fn pump(reader: impl Read + Send + 'static, tx: mpsc::Sender<Event>, stderr: bool) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = strip_controls(&String::from_utf8_lossy(&buf));
                    let event = if stderr {
                        Event::Stderr(line)
                    } else {
                        Event::Stdout(line)
                    };
                    if tx.send(event).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = tx.send(Event::Closed);
    });
}

/// Removes terminal escape sequences (the firmware clears the screen) and carriage returns.
fn strip_controls(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // Parameters and intermediates, then one final byte in @..~.
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\n' | '\r' => {}
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// One console line with the time it arrived.
pub struct Line {
    pub at: Duration,
    pub text: String,
}

/// The record of one boot.
pub struct Boot {
    pub lines: Vec<Line>,
    pub timed_out: bool,
    pub log: PathBuf,
}

/// A run that [`side_by_side`] gives a thread of its own.
pub type Job<'a, T> = Box<dyn FnOnce() -> Result<T> + Send + 'a>;

/// Runs independent jobs at once, each on a host thread of its own (a single-threaded TCG
/// guest keeps one host core busy), and returns their results in order; a job whose thread
/// panicked is an error.
pub fn side_by_side<'a, T: Send>(jobs: Vec<Job<'a, T>>) -> Vec<Result<T>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs.into_iter().map(|job| scope.spawn(job)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("its thread panicked")))
            })
            .collect()
    })
}

/// Boots the guest and follows its console until qemu exits or a deadline passes.
pub fn boot(guest: &Guest) -> Result<Boot> {
    let kernel = guest.kernel;
    let log_path = guest.log.clone();
    let mut log =
        File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-accel", guest.tcg.accel(), "-cpu", "max"])
        .args(["-smp", &guest.smp.to_string()])
        .args(["-m", &guest.mem_mb.to_string()])
        .args(["-nographic", "-no-reboot"])
        .arg("-kernel")
        .arg(kernel.vmlinuz())
        .arg("-initrd")
        .arg(guest.initrd)
        .args(["-append", &guest.append])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    writeln!(log, "# {}", util::describe(&cmd)).context("writing the VM log")?;
    let scenario_limit = guest.scenario_limit;
    let allowance = guest.allowance;
    let prefix = guest.prefix;
    eprintln!(
        "xtask: booting {} (host limits: {} s outside scenarios, {} s per scenario), log {}",
        kernel.kver,
        allowance.as_secs(),
        scenario_limit.as_secs(),
        log_path.display()
    );

    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("failed to start `{}`", util::describe(&cmd)))?;
    let (tx, rx) = mpsc::channel();
    pump(
        child.stdout.take().context("qemu has no stdout")?,
        tx.clone(),
        false,
    );
    pump(child.stderr.take().context("qemu has no stderr")?, tx, true);

    // The host deadline moves with the guest's progress: each marker restarts the clock.
    let mut deadline = start + allowance;
    let mut waiting_for = "/init".to_string();
    let mut lines = Vec::new();
    let mut open_streams = 2;
    let mut timed_out = false;
    let mut data_lines: Option<usize> = None;
    let stdout = std::io::stdout();
    while open_streams > 0 {
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            break;
        }
        match rx.recv_timeout(deadline - now) {
            Ok(Event::Stdout(text)) => {
                // Data blocks are for the parser: the log keeps them, the live view counts them.
                let mut shown = Some(text.as_str());
                let summary;
                if text.contains(marker::DATA_BEGIN) {
                    data_lines = Some(0);
                } else if text.contains(marker::DATA_END) {
                    summary = format!("({} lines of data, in the log)", data_lines.unwrap_or(0));
                    data_lines = None;
                    shown = Some(summary.as_str());
                } else if let Some(n) = data_lines.as_mut() {
                    *n += 1;
                    shown = None;
                }
                if let Some(shown) = shown {
                    let mut out = stdout.lock();
                    match prefix {
                        Some(p) => writeln!(out, "[{p}] {shown}"),
                        None => writeln!(out, "{shown}"),
                    }
                    .context("writing to stdout")?;
                    out.flush().context("flushing stdout")?;
                }
                writeln!(log, "{text}").context("writing the VM log")?;
                if let Some(at) = text.find(marker::BEGIN) {
                    let name = text[at + marker::BEGIN.len()..].trim_end_matches('@');
                    waiting_for = format!("the end of scenario {name}");
                    deadline = Instant::now() + scenario_limit;
                } else if text.contains(marker::END) || text.contains(marker::BOOT) {
                    waiting_for = "the next scenario or power-off".to_string();
                    deadline = Instant::now() + allowance;
                }
                lines.push(Line {
                    at: start.elapsed(),
                    text,
                });
            }
            Ok(Event::Stderr(text)) => {
                eprintln!("[qemu] {text}");
                writeln!(log, "[qemu] {text}").context("writing the VM log")?;
            }
            Ok(Event::Closed) => open_streams -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let exit = finish(&mut child, timed_out)?;
    let elapsed = start.elapsed();
    if timed_out {
        let msg = format!("qemu killed: gave up waiting for {waiting_for}");
        eprintln!("xtask: {}: {msg}", kernel.kver);
        writeln!(log, "# {msg}").context("writing the VM log")?;
    }
    let to_init = lines
        .iter()
        .find(|l| l.text.contains(marker::BOOT))
        .map(|l| format!("{:.1} s to its first scenario", l.at.as_secs_f64()))
        .unwrap_or_else(|| "never reached its scenarios".to_string());
    let status = match (&exit, timed_out) {
        (_, true) => "killed after the time limit".to_string(),
        (Some(s), false) => format!("qemu {s}"),
        (None, false) => "qemu did not exit by itself".to_string(),
    };
    eprintln!(
        "xtask: {}: {to_init}, {:.1} s in all, {status}; log {}",
        kernel.kver,
        elapsed.as_secs_f64(),
        log_path.display()
    );
    Ok(Boot {
        lines,
        timed_out,
        log: log_path,
    })
}

fn finish(child: &mut Child, kill: bool) -> Result<Option<std::process::ExitStatus>> {
    if kill {
        child.kill().context("killing qemu")?;
        child.wait().context("waiting for qemu")?;
        return Ok(None);
    }
    // The streams closed, so qemu is exiting; give it a moment, then insist.
    for _ in 0..100 {
        if let Some(status) = child.try_wait().context("waiting for qemu")? {
            return Ok(Some(status));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().context("killing qemu")?;
    child.wait().context("waiting for qemu")?;
    Ok(None)
}

/// A kernel message that signals a kernel problem, if the line holds one.
pub fn kernel_problem(line: &str) -> Option<&str> {
    const STARTS: &[&str] = &[
        "Oops",
        "BUG:",
        "WARNING:",
        "Kernel panic",
        "general protection fault",
    ];
    // A console line may carry user output before the kernel's "[ seconds] " stamp.
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            break;
        };
        let stamp = after[..close].trim();
        let is_stamp = !stamp.is_empty()
            && stamp.contains('.')
            && stamp.chars().all(|c| c.is_ascii_digit() || c == '.');
        if is_stamp {
            let message = after[close + 1..].trim_start();
            let prefixed_bug = message.split_once(": BUG:").is_some_and(|(subsystem, _)| {
                !subsystem.is_empty()
                    && subsystem
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || " _-".contains(c))
            });
            if STARTS.iter().any(|s| message.starts_with(s)) || prefixed_bug {
                return Some(&rest[open..]);
            }
        }
        rest = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_real_kernel_problems_only() {
        assert!(
            kernel_problem("[   12.345678] WARNING: kernel/sched/ext.c:12 at x, CPU#0: a/1")
                .is_some()
        );
        assert!(
            kernel_problem("[    1.000000] BUG: kernel NULL pointer dereference, address: 0")
                .is_some()
        );
        assert!(
            kernel_problem("[    9.100000] watchdog: BUG: soft lockup - CPU#1 stuck for 22s!")
                .is_some()
        );
        assert!(kernel_problem("[    3.000000] Oops: int3: 0000 [#1] SMP NOPTI").is_some());
        assert!(
            kernel_problem("[    3.000000] Kernel panic - not syncing: Fatal exception").is_some()
        );
        assert!(kernel_problem("output without newline[    3.000000] Oops: 0000 [#1]").is_some());
        assert!(kernel_problem(
            "[    0.100000] RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable"
        )
        .is_none());
        assert!(kernel_problem("FAIL: WARNING: something in user space").is_none());
        assert!(kernel_problem("ok: BUG: not a kernel line").is_none());
    }

    #[test]
    fn strips_terminal_escapes() {
        assert_eq!(
            strip_controls("\u{1b}c\u{1b}[?7l\u{1b}[2Jkernel 7.3\r\n"),
            "kernel 7.3"
        );
    }
}
