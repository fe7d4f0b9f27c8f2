//! `scx-loader run`: the systemd service. Starts the configured scheduler as a child, reports
//! READY only once the kernel runs it, hot-swaps it on SIGHUP, restarts it with backoff when it
//! dies or is ejected (then falls back or gives up), stops it cleanly on SIGTERM, and carries out
//! the calls of the bus interface. This module is the state machine; the child process, signals,
//! the plan, reloads, `auto` and the bus calls are its submodules.

mod auto;
mod calls;
mod child;
mod ending;
mod plan;
mod reload;
mod signals;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use scx_core::kernel::{self, State};

use crate::bus;
use crate::codes;
use crate::notify::Notifier;
use crate::scheds::Dirs;
use child::{kernel_runs, start, Child, StartFailure, DISABLE_TIMEOUT};
use ending::Ending;
use plan::{prepare, Plan, Target};
pub use reload::{runtime_dir, RELOAD_FILE};
use signals::Signals;

/// Tunables of `run`.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    /// How long a scheduler may take to attach.
    pub attach_timeout: Duration,
    /// How long a scheduler may take to exit after SIGTERM before it is killed.
    pub stop_timeout: Duration,
    /// Failures within `failure_window` after which the loader falls back or gives up.
    pub max_failures: usize,
    pub failure_window: Duration,
    /// First restart delay; doubled for each further failure in the window.
    pub first_backoff: Duration,
}

/// The longest restart delay.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long the kernel may show something other than our scheduler before the loader concludes
/// it was ejected (a scheduler that restarts itself on the kernel's request detaches briefly).
const EJECT_GRACE: Duration = Duration::from_secs(3);
/// How long an ejected but still living scheduler gets to report and exit by itself.
const EJECT_EXIT_GRACE: Duration = Duration::from_secs(3);

/// What the service is doing.
enum Mode {
    Running {
        child: Child,
        mismatch_since: Option<Instant>,
    },
    /// Waiting to (re)start `target`.
    Backoff { target: Target, until: Instant },
    /// Nothing to run until a reload (stopped through SysRq).
    Idle,
}

struct Service {
    opts: Options,
    dirs: Dirs,
    notifier: Notifier,
    signals: Signals,
    plan: Plan,
    mode: Mode,
    /// Whether the current target is the fallback.
    on_fallback: bool,
    failures: Vec<Instant>,
    status: String,
    /// Reloads handled so far (reported in the runtime directory).
    reloads: u64,
    /// `SCX_PROFILE=auto`: the power state followed and the profile chosen.
    auto: Option<auto::AutoState>,
    /// The bus interface, when there is a system bus.
    bus: Option<bus::Server>,
    /// What the service is in the middle of, shown instead of what `mode` says (reloading).
    phase: Option<&'static str>,
    /// The last ejection or crash: kind, how it ended, the report.
    last_exit: (String, String, String),
    /// The configured scheduler and its mode (`DefaultScheduler`, `DefaultMode`).
    defaults: (String, u32),
    /// Each installed scheduler and its profiles.
    installed: calls::Installed,
}

/// `scx-loader run`; returns the exit code.
pub fn run(opts: Options) -> Result<u8> {
    let notifier = Notifier::from_env();
    let (dirs, warning) = Dirs::from_env();
    if let Some(w) = warning {
        log::warn!("{w}");
    }
    let signals = Signals::install()?;
    notifier.status("checking the configuration");
    let mut plan = match prepare(&opts.config, &dirs, None) {
        Ok((plan, _)) => plan,
        Err(err) => {
            notifier.status(&format!("not started: {err:#}"));
            return Err(err);
        }
    };
    let _ = std::fs::remove_file(runtime_dir().join(crate::power::AUTO_FILE));
    let defaults = calls::defaults_of(&plan);
    let installed = calls::Installed::read(&dirs);
    let mut first = bus::Snapshot {
        current: "unknown".into(),
        default_scheduler: defaults.0.clone(),
        default_mode: defaults.1,
        state: "starting".into(),
        profiles: installed.profiles.clone(),
        ..bus::Snapshot::default()
    };
    let mut bus = start_bus(&signals, &first);
    let auto = auto::start(&mut plan);
    notifier.status(&format!("starting {}", plan.primary.name));
    let child = match start(&plan.primary, opts.attach_timeout, &signals, &notifier) {
        Ok(child) => child,
        Err(StartFailure::Interrupted) => return Ok(codes::OK),
        Err(failure) => {
            let code = failure.exit_code();
            let kind = failure.ending().map(|e| e.kind).unwrap_or("start-failed");
            let report = format!("{} did not start: {failure}", plan.primary.name);
            log::error!(
                scx_scheduler = plan.primary.name.as_str(), scx_exit_kind = kind;
                "{report}"
            );
            notifier.status(&format!("not started: {failure}"));
            if let Some(bus) = &mut bus {
                let how = failure.ending().map(|e| e.text.clone()).unwrap_or_default();
                first.state = "failed".into();
                first.last_exit = (kind.to_string(), how, report);
                bus.publish(&first);
            }
            return Ok(code);
        }
    };
    let _ = std::fs::remove_file(runtime_dir().join(RELOAD_FILE));
    let mut service = Service {
        opts,
        dirs,
        notifier,
        signals,
        plan,
        mode: Mode::Running {
            child,
            mismatch_since: None,
        },
        on_fallback: false,
        failures: Vec::new(),
        status: String::new(),
        reloads: 0,
        auto,
        bus,
        phase: None,
        last_exit: Default::default(),
        defaults,
        installed,
    };
    let status = service.describe(&service.plan.primary);
    service.publish();
    service.notifier.ready(&status);
    service.status = status;
    service.main_loop()
}

/// Serves the bus interface, or says in one line why the service runs without it.
fn start_bus(signals: &Signals, first: &bus::Snapshot) -> Option<bus::Server> {
    let started = signals
        .waker()
        .map_err(|e| format!("{e:#}"))
        .and_then(|waker| bus::Server::start(waker, first.clone()));
    match started {
        Ok(server) => {
            log::info!("D-Bus interface {} on the system bus", bus::NAME);
            Some(server)
        }
        Err(why) => {
            log::info!("D-Bus interface off: {why}; the service runs without it");
            None
        }
    }
}

impl Service {
    /// Shows `status` to systemd, after the bus has been told of the state it describes.
    fn set_status(&mut self, status: String) {
        self.publish();
        self.notifier.status(&status);
        self.status = status;
    }

    fn main_loop(&mut self) -> Result<u8> {
        loop {
            if self.signals.term() {
                return self.shutdown();
            }
            if self.signals.take_hup() {
                self.reload();
                continue;
            }
            self.take_calls();
            if let Some(code) = self.tick() {
                return Ok(code);
            }
            let switch_due = self.follow_power();
            self.publish();
            let now = Instant::now();
            let mut timeout = Duration::from_millis(500);
            if let Some(due) = switch_due {
                timeout = timeout.min(due);
            }
            if let Some(next) = self.notifier.keepalive() {
                timeout = timeout.min(next);
            }
            if let Mode::Backoff { until, .. } = &self.mode {
                timeout = timeout.min(until.saturating_duration_since(now));
            }
            self.signals.wait(timeout);
        }
    }

    /// Checks the child and the kernel; returns an exit code when the service has to end.
    fn tick(&mut self) -> Option<u8> {
        match &mut self.mode {
            Mode::Idle => None,
            Mode::Backoff { target, until } => {
                if Instant::now() < *until {
                    return None;
                }
                let target = target.clone();
                self.set_status(format!("starting {}", target.name));
                match start(
                    &target,
                    self.opts.attach_timeout,
                    &self.signals,
                    &self.notifier,
                ) {
                    Ok(child) => {
                        let mut status = self.describe(&target);
                        if self.on_fallback {
                            status.push_str(&format!(
                                " as the fallback for {}",
                                self.plan.primary.name
                            ));
                        }
                        self.mode = Mode::Running {
                            child,
                            mismatch_since: None,
                        };
                        self.set_status(status);
                        None
                    }
                    Err(StartFailure::Interrupted) => None,
                    Err(failure) => {
                        let ending = failure.ending().cloned();
                        self.failed(&target, &failure.to_string(), ending.as_ref())
                    }
                }
            }
            Mode::Running {
                child,
                mismatch_since,
            } => {
                if let Some(status) = child.try_wait() {
                    child.finish_relay();
                    let ending = Ending::of(status);
                    let msg = child.exit_report("", &ending);
                    let target = child.target.clone();
                    return self.failed(&target, &msg, Some(&ending));
                }
                if kernel_runs(&child.target.name) {
                    *mismatch_since = None;
                    return None;
                }
                let since = *mismatch_since.get_or_insert_with(Instant::now);
                if since.elapsed() < EJECT_GRACE {
                    return None;
                }
                // The kernel no longer runs it, but the process lives (stopped, or stuck):
                // let it report the ejection itself, then make sure it is gone.
                child.signal(libc::SIGCONT);
                let status = match child.wait_for(EJECT_EXIT_GRACE) {
                    Some(s) => {
                        child.finish_relay();
                        s
                    }
                    None => child.kill(),
                };
                let ending = Ending::of(status);
                let state = kernel::state()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|_| "unknown".into());
                let msg = child.exit_report(
                    &format!(" is no longer attached (sched_ext state: {state}) and"),
                    &ending,
                );
                let target = child.target.clone();
                self.failed(&target, &msg, Some(&ending))
            }
        }
    }

    /// Handles a failed scheduler: report, then restart later, fall back, or give up.
    fn failed(&mut self, target: &Target, msg: &str, ending: Option<&Ending>) -> Option<u8> {
        let kind = ending.map(|e| e.kind).unwrap_or("start-failed");
        let how = ending.map(|e| e.text.clone()).unwrap_or_default();
        self.last_exit = (kind.to_string(), how, msg.to_string());
        if ending.is_some_and(Ending::is_sysrq) {
            log::warn!(
                scx_scheduler = target.name.as_str(), scx_exit_kind = kind;
                "{msg}; not restarting it"
            );
            self.mode = Mode::Idle;
            self.set_status(format!(
                "{} stopped by the administrator (SysRq-S), not restarted; the kernel runs EEVDF (systemctl reload scx starts it again)",
                target.name
            ));
            return None;
        }
        let now = Instant::now();
        let window = self.opts.failure_window;
        self.failures.retain(|t| now.duration_since(*t) < window);
        self.failures.push(now);
        let permanent = ending.is_some_and(Ending::is_permanent);
        let count = self.failures.len();
        log::error!(
            scx_scheduler = target.name.as_str(), scx_exit_kind = kind;
            "{msg}"
        );
        if count < self.opts.max_failures && !permanent {
            let factor = 1u32 << (count - 1).min(16);
            let delay = (self.opts.first_backoff * factor).min(MAX_BACKOFF);
            let status = format!(
                "{} failed ({kind}); restarting in {:.1} s (failure {count} of {} within {} s)",
                target.name,
                delay.as_secs_f64(),
                self.opts.max_failures,
                window.as_secs()
            );
            log::warn!(scx_scheduler = target.name.as_str(); "{status}");
            self.mode = Mode::Backoff {
                target: target.clone(),
                until: now + delay,
            };
            self.set_status(status);
            return None;
        }
        let why = if permanent {
            format!("{} cannot run here ({kind})", target.name)
        } else {
            format!(
                "{} failed {count} times within {} s",
                target.name,
                window.as_secs()
            )
        };
        if let (Some(fallback), false) = (self.plan.fallback.clone(), self.on_fallback) {
            log::warn!(
                scx_scheduler = fallback.name.as_str();
                "{why}; switching to the fallback scheduler {}",
                fallback.name
            );
            self.on_fallback = true;
            self.failures.clear();
            let status = format!("{why}; starting the fallback {}", fallback.name);
            self.mode = Mode::Backoff {
                target: fallback,
                until: now,
            };
            self.set_status(status);
            return None;
        }
        let status = format!("{why}; giving up, the kernel runs EEVDF");
        log::error!(scx_scheduler = target.name.as_str(), scx_exit_kind = kind; "{status}");
        self.notifier.stopping(&status);
        self.status = status;
        self.phase = Some("failed");
        self.publish();
        Some(codes::GAVE_UP)
    }

    /// Stops the running child (if any) and waits for the kernel to disable sched_ext.
    fn stop_child(&mut self) -> Option<Target> {
        let mode = std::mem::replace(&mut self.mode, Mode::Idle);
        let Mode::Running { mut child, .. } = mode else {
            return match mode {
                Mode::Backoff { target, .. } => Some(target),
                _ => None,
            };
        };
        let status = child.stop(self.opts.stop_timeout);
        log::info!(
            scx_scheduler = child.target.name.as_str();
            "{} stopped ({})",
            child.target.name,
            Ending::of(status).text
        );
        if !kernel::wait_disabled(DISABLE_TIMEOUT) {
            log::warn!(
                "sched_ext is still {} {} s after {} stopped",
                kernel::state()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|_| "unknown".into()),
                DISABLE_TIMEOUT.as_secs(),
                child.target.name
            );
        }
        Some(child.target)
    }

    fn shutdown(&mut self) -> Result<u8> {
        let name = match &self.mode {
            Mode::Running { child, .. } => child.target.name.clone(),
            _ => self.plan.primary.name.clone(),
        };
        self.notifier.stopping(&format!("stopping {name}"));
        self.stop_child();
        self.publish();
        match kernel::state() {
            Ok(State::Disabled) => {
                log::info!("stopped; the kernel runs EEVDF");
                Ok(codes::OK)
            }
            Ok(state) => {
                let ops = kernel::attached_ops().unwrap_or_default();
                log::error!(
                    "sched_ext is still {state} after stopping {name} (attached: {ops:?}): check `scx-loader status`"
                );
                Ok(codes::FAILURE)
            }
            Err(e) => {
                log::error!("cannot confirm that sched_ext is disabled: {e}");
                Ok(codes::FAILURE)
            }
        }
    }

    fn running_status(&self) -> String {
        match &self.mode {
            Mode::Running { child, .. } => format!("still {}", child.target.describe()),
            _ => self.status.clone(),
        }
    }
}
