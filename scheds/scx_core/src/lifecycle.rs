//! The life cycle of every scheduler process, top to bottom: `main` parses (the caller's
//! clap), answers `--list-profiles` and `--generate`, sets up logging; `run_scheduler` checks the options (and stops
//! there for `--check-args`) and installs the signal handlers; `run_restartable` runs one
//! attach after another: the scheduler's own `run_once` opens, configures, loads and attaches
//! its BPF program, loops until a signal or the kernel ends it, and detaches
//! ([`crate::policy::run_policy`] for the user-space schedulers); `after_run` reports how it
//! ended and decides whether the kernel asked for a restart; the end becomes the exit code.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::error::exit_code;
use crate::exit_info::ExitInfo;

/// The body of every scheduler's `main()`: answers `--list-profiles` and `--generate`, sets up
/// logging, runs `run` and turns its outcome into the process exit code. `run` returns the
/// exit code of a run that ended without an error (see [`crate::exit_code`]).
pub fn main<F>(
    name: &'static str,
    cmd: clap::Command,
    common: &crate::CommonOpts,
    run: F,
) -> ExitCode
where
    F: FnOnce() -> anyhow::Result<u8>,
{
    if common.list_profiles {
        let names = crate::profile::offered(&cmd);
        return answer(name, |out| {
            names.iter().try_for_each(|p| writeln!(out, "{p}"))
        });
    }
    if let Some(what) = common.generate {
        return answer(name, |out| crate::cli::generate(cmd, what, out));
    }
    crate::logging::init(name, common.verbose);
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            log::error!("{err:#}");
            ExitCode::from(crate::exit_code_of(&err, crate::Error::code_of))
        }
    }
}

/// Writes a query's answer to stdout and exits.
fn answer(name: &str, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: error: writing to stdout: {e}");
            ExitCode::from(crate::exit_code::FAILURE)
        }
    }
}

/// Validates the options, stops there for `--check-args`, installs the signal handlers and runs
/// the scheduler until it ends without a restart request; returns the process exit code.
pub fn run_scheduler(
    name: &str,
    common: &crate::CommonOpts,
    validate: impl FnOnce() -> Result<(), crate::Error>,
    mut run_once: impl FnMut(&crate::Shutdown) -> anyhow::Result<RunEnd>,
) -> anyhow::Result<u8> {
    validate()?;
    if common.check_args {
        return Ok(crate::exit_code::OK);
    }
    let shutdown = crate::Shutdown::install()?;
    run_restartable(name, || run_once(&shutdown))
}

/// How one attached run of a scheduler ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// The stop was requested (signal) rather than forced by the kernel.
    pub requested: bool,
    /// The kernel's exit record, if `ops.exit()` ran.
    pub info: Option<ExitInfo>,
}

/// At most this many restarts within [`RESTART_WINDOW`]; beyond that the kernel's restart
/// requests are treated as a failure, so a hotplug storm cannot turn into a busy loop.
pub const MAX_RESTARTS: usize = 8;
/// See [`MAX_RESTARTS`].
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// What to do after a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Restart,
    Exit(u8),
}

/// Decides what follows `end`, logging it in one line.
pub fn after_run(name: &str, end: &RunEnd) -> Next {
    match &end.info {
        Some(info) if info.wants_restart() && !end.requested => {
            log::warn!(
                "{name}: the kernel asked for a restart ({})",
                info.describe()
            );
            Next::Restart
        }
        Some(info) if end.requested || info.process_exit_code() == exit_code::OK => {
            log::info!("{name} detached ({})", info.describe());
            Next::Exit(exit_code::OK)
        }
        Some(info) => {
            let code = info.process_exit_code();
            if code == exit_code::SYSRQ {
                log::warn!(
                    "{name} was stopped by the administrator through the kernel ({})",
                    info.describe()
                );
            } else {
                log::error!("{name} was ejected by the kernel ({})", info.describe());
                log_dump(name, info);
            }
            Next::Exit(code)
        }
        None if end.requested => {
            log::info!("{name} detached");
            Next::Exit(exit_code::OK)
        }
        None => {
            log::error!("{name} stopped without an exit record from the kernel");
            Next::Exit(exit_code::FAILURE)
        }
    }
}

/// What each line of an ejection's dump begins with, so that a supervisor can tell the dump
/// from the error that explains the ejection.
pub const DUMP_PREFIX: &str = "dump: ";

/// Logs the kernel's state dump of an ejection, one line each, so the journal says where each
/// stuck task waited.
pub fn log_dump(name: &str, info: &ExitInfo) {
    if info.dump.is_empty() {
        return;
    }
    // Every line already carries the program's name (the logger's prefix).
    log::error!("{DUMP_PREFIX}the kernel's dump at the ejection of {name} follows");
    for line in info.dump.lines() {
        log::error!("{DUMP_PREFIX}{line}");
    }
}

/// Runs `run_once` until it ends without a restart request; returns the process exit code.
pub fn run_restartable<E>(
    name: &str,
    mut run_once: impl FnMut() -> Result<RunEnd, E>,
) -> Result<u8, E> {
    let mut restarts: Vec<Instant> = Vec::new();
    loop {
        let end = run_once()?;
        match after_run(name, &end) {
            Next::Exit(code) => return Ok(code),
            Next::Restart => {
                let now = Instant::now();
                restarts.retain(|t| now.duration_since(*t) < RESTART_WINDOW);
                if restarts.len() >= MAX_RESTARTS {
                    log::error!(
                        "{name}: {MAX_RESTARTS} restarts within {} s, giving up",
                        RESTART_WINDOW.as_secs()
                    );
                    return Ok(exit_code::EJECTED_OTHER);
                }
                restarts.push(now);
            }
        }
    }
}

/// Fires every `interval` (never, if `None`).
#[derive(Debug)]
pub struct Ticker {
    interval: Option<Duration>,
    next: Instant,
}

impl Ticker {
    pub fn new(interval: Option<Duration>) -> Self {
        Ticker {
            interval,
            next: Instant::now() + interval.unwrap_or_default(),
        }
    }

    /// Whether the interval elapsed since the last time this returned true.
    pub fn due(&mut self) -> bool {
        match self.interval {
            Some(iv) if Instant::now() >= self.next => {
                self.next = Instant::now() + iv;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_info::{ExitKind, ECODE_ACT_RESTART};

    fn info(kind: ExitKind, code: i64) -> Option<ExitInfo> {
        Some(ExitInfo {
            kind,
            exit_code: code,
            reason: String::new(),
            msg: String::new(),
            dump: String::new(),
        })
    }

    #[test]
    fn decisions() {
        let end = |requested, info| RunEnd { requested, info };
        assert_eq!(
            after_run("t", &end(true, info(ExitKind::Unreg, 0))),
            Next::Exit(0)
        );
        assert_eq!(after_run("t", &end(true, None)), Next::Exit(0));
        assert_eq!(
            after_run("t", &end(false, info(ExitKind::ErrorStall, 0))),
            Next::Exit(exit_code::EJECTED_STALL)
        );
        assert_eq!(
            after_run(
                "t",
                &end(false, info(ExitKind::UnregKern, ECODE_ACT_RESTART))
            ),
            Next::Restart
        );
        assert_eq!(
            after_run("t", &end(false, info(ExitKind::SysRq, 0))),
            Next::Exit(exit_code::SYSRQ)
        );
        assert_eq!(
            after_run("t", &end(false, None)),
            Next::Exit(exit_code::FAILURE)
        );
    }

    #[test]
    fn restart_loop_stops_on_final_end_and_limits_restarts() {
        let mut n = 0;
        let code = run_restartable::<()>("t", || {
            n += 1;
            Ok(RunEnd {
                requested: n == 3,
                info: info(
                    ExitKind::UnregKern,
                    if n < 3 { ECODE_ACT_RESTART } else { 0 },
                ),
            })
        });
        assert_eq!(code, Ok(0));
        assert_eq!(n, 3);

        let mut m = 0;
        let code = run_restartable::<()>("t", || {
            m += 1;
            Ok(RunEnd {
                requested: false,
                info: info(ExitKind::UnregKern, ECODE_ACT_RESTART),
            })
        });
        assert_eq!(code, Ok(exit_code::EJECTED_OTHER));
        assert_eq!(m, MAX_RESTARTS + 1);
    }
}
