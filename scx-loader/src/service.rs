//! `scx-loader run`: the systemd service. Starts the configured scheduler as a child, reports
//! READY only once the kernel runs it, hot-swaps it on SIGHUP, restarts it with backoff when it
//! dies or is ejected (then falls back or gives up), and stops it cleanly on SIGTERM.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use scx_core::kernel::{self, State};

use crate::codes;
use crate::config::{join_words, Config, Setting};
use crate::logging::Relay;
use crate::notify::Notifier;
use crate::scheds::{self, Dirs, Ending, SchedError};

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
/// How long the kernel may take to report sched_ext disabled after the scheduler stopped.
const DISABLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of scheduler output kept for failure reports.
const TAIL_LINES: usize = 20;

/// What to run: a scheduler, its binary and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    name: String,
    path: PathBuf,
    flags: Vec<String>,
}

impl Target {
    fn describe(&self) -> String {
        if self.flags.is_empty() {
            format!("{} running (default flags)", self.name)
        } else {
            format!("{} running (flags: {})", self.name, join_words(&self.flags))
        }
    }
}

/// The validated configuration: the scheduler and an optional fallback.
#[derive(Debug, Clone)]
struct Plan {
    primary: Target,
    fallback: Option<Target>,
}

/// Reads the configuration and checks everything that can be checked without the kernel.
fn prepare(config_path: &Path, dirs: &Dirs) -> Result<Plan> {
    let config = Config::load(config_path, &|k| std::env::var(k).ok())?;
    for w in &config.warnings {
        log::warn!("{w}");
    }
    let Some(Setting {
        value: name,
        origin,
    }) = &config.scheduler
    else {
        return Err(SchedError::NoneConfigured {
            path: config.path.clone(),
            installed: dirs.names(),
        }
        .into());
    };
    let path = dirs.resolve(name, &origin.to_string())?;
    if let Some(w) = scheds::check_flags(
        name,
        &path,
        &config.flag_words,
        &config.flags.origin.to_string(),
    )? {
        log::warn!("{w}");
    }
    let fallback = match &config.fallback {
        Some(Setting { value, origin }) if value != name => Some(Target {
            name: value.clone(),
            path: dirs.resolve(value, &origin.to_string())?,
            flags: Vec::new(),
        }),
        _ => None,
    };
    Ok(Plan {
        primary: Target {
            name: name.clone(),
            path,
            flags: config.flag_words.clone(),
        },
        fallback,
    })
}

/// Why a scheduler did not get running.
#[derive(Debug, thiserror::Error)]
enum StartFailure {
    #[error("{0}")]
    Kernel(#[from] scx_core::Error),
    #[error("cannot start {path}: {source}", path = .path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{name} {text}{detail}")]
    Exited {
        name: String,
        text: String,
        detail: String,
        ending: Ending,
    },
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
    fn exit_code(&self) -> u8 {
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

    fn ending(&self) -> Option<&Ending> {
        match self {
            StartFailure::Exited { ending, .. } => Some(ending),
            _ => None,
        }
    }
}

/// A running scheduler process and the thread relaying its output.
struct Child {
    target: Target,
    process: std::process::Child,
    relay: Option<JoinHandle<()>>,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl Child {
    fn spawn(target: &Target) -> Result<Child, StartFailure> {
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
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let relay = {
            let tail = Arc::clone(&tail);
            let name = target.name.clone();
            std::thread::spawn(move || relay_lines(&name, std::fs::File::from(read), &tail))
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
            tail,
        })
    }

    fn pid(&self) -> i32 {
        self.process.id() as i32
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill() has no memory-safety preconditions; the pid is our own unreaped child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        self.process.try_wait().ok().flatten()
    }

    /// Waits up to `limit` for the process to end.
    fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
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
    fn kill(&mut self) -> ExitStatus {
        let _ = self.process.kill();
        let status = self.process.wait();
        self.finish_relay();
        status.unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(9))
    }

    /// Asks the process to stop (SIGTERM, resuming it if it was stopped), kills it if it does not.
    fn stop(&mut self, limit: Duration) -> ExitStatus {
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

    fn finish_relay(&mut self) {
        if let Some(relay) = self.relay.take() {
            let _ = relay.join();
        }
    }

    /// The most telling line of what the scheduler printed last.
    fn last_error(&self) -> Option<String> {
        let tail = self.tail.lock().ok()?;
        let pick = tail
            .iter()
            .rev()
            .find(|l| crate::logging::line_level(&self.target.name, l) == log::Level::Error)
            .or_else(|| tail.back())?;
        Some(scheds::error_line(&self.target.name, pick))
    }
}

fn relay_lines(name: &str, source: impl Read, tail: &Mutex<VecDeque<String>>) {
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
                if let Ok(mut t) = tail.lock() {
                    if t.len() == TAIL_LINES {
                        t.pop_front();
                    }
                    t.push_back(line);
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

/// Signals turned into flags plus a wake-up pipe the main loop can poll.
struct Signals {
    hup: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    wake: UnixStream,
}

impl Signals {
    fn install() -> Result<Signals> {
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
        Ok(Signals { hup, term, wake })
    }

    /// Sleeps until a signal arrives or `timeout` passes.
    fn wait(&self, timeout: Duration) {
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

    fn take_hup(&self) -> bool {
        self.hup.swap(false, Ordering::SeqCst)
    }

    fn term(&self) -> bool {
        self.term.load(Ordering::SeqCst)
    }
}

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
}

/// Waits until `target` is attached, or reports why not. The child is killed on failure.
fn start(
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
            let detail = child
                .last_error()
                .map(|l| format!(": {l}"))
                .unwrap_or_default();
            return Err(StartFailure::Exited {
                name: target.name.clone(),
                text: ending.text.clone(),
                detail,
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
fn kernel_runs(name: &str) -> bool {
    matches!(kernel::state(), Ok(State::Enabled)) && kernel::attached_ops().as_deref() == Some(name)
}

/// The directory systemd created for the service (`RuntimeDirectory=scx`).
pub fn runtime_dir() -> PathBuf {
    std::env::var("RUNTIME_DIRECTORY")
        .ok()
        .and_then(|d| d.split(':').next().map(PathBuf::from))
        .filter(|d| d.is_absolute())
        .unwrap_or_else(|| PathBuf::from("/run/scx"))
}

/// The file in which the service reports each finished reload: `COUNT ok|failed STATUS`.
pub const RELOAD_FILE: &str = "reload";

/// Reports a finished reload for `scx-loader reload` (which ExecReload runs) to pick up.
fn record_reload(count: u64, ok: bool, status: &str) {
    let dir = runtime_dir();
    // systemd creates RuntimeDirectory= for scx.service; other units (the snap's) do not.
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log::warn!(
            "cannot create {} (reloads cannot report their outcome): {e}",
            dir.display()
        );
    }
    let path = dir.join(RELOAD_FILE);
    let tmp = dir.join(format!(".{RELOAD_FILE}.tmp"));
    let verdict = if ok { "ok" } else { "failed" };
    let result = std::fs::write(&tmp, format!("{count} {verdict} {status}\n"))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = result {
        log::debug!("cannot record the reload in {}: {e}", path.display());
    }
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
    let plan = match prepare(&opts.config, &dirs) {
        Ok(plan) => plan,
        Err(err) => {
            notifier.status(&format!("not started: {err:#}"));
            return Err(err);
        }
    };
    notifier.status(&format!("starting {}", plan.primary.name));
    let child = match start(&plan.primary, opts.attach_timeout, &signals, &notifier) {
        Ok(child) => child,
        Err(StartFailure::Interrupted) => return Ok(codes::OK),
        Err(failure) => {
            let code = failure.exit_code();
            let kind = failure.ending().map(|e| e.kind).unwrap_or("start-failed");
            log::error!(
                scx_scheduler = plan.primary.name.as_str(), scx_exit_kind = kind;
                "{} did not start: {failure}",
                plan.primary.name
            );
            notifier.status(&format!("not started: {failure}"));
            return Ok(code);
        }
    };
    let status = plan.primary.describe();
    notifier.ready(&status);
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
        status,
        reloads: 0,
    };
    service.main_loop()
}

impl Service {
    fn set_status(&mut self, status: String) {
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
            if let Some(code) = self.tick() {
                return Ok(code);
            }
            let now = Instant::now();
            let mut timeout = Duration::from_millis(500);
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
                        let mut status = target.describe();
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
                    let detail = child
                        .last_error()
                        .map(|l| format!(": {l}"))
                        .unwrap_or_default();
                    let target = child.target.clone();
                    let msg = format!("{} {}{detail}", target.name, ending.text);
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
                let detail = child
                    .last_error()
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default();
                let target = child.target.clone();
                let msg = format!(
                    "{} is no longer attached (sched_ext state: {}) and {}{detail}",
                    target.name,
                    kernel::state()
                        .map(|s| s.to_string())
                        .unwrap_or_else(|_| "unknown".into()),
                    ending.text
                );
                self.failed(&target, &msg, Some(&ending))
            }
        }
    }

    /// Handles a failed scheduler: report, then restart later, fall back, or give up.
    fn failed(&mut self, target: &Target, msg: &str, ending: Option<&Ending>) -> Option<u8> {
        let kind = ending.map(|e| e.kind).unwrap_or("start-failed");
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
            self.set_status(status);
            self.mode = Mode::Backoff {
                target: target.clone(),
                until: now + delay,
            };
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
            self.set_status(format!("{why}; starting the fallback {}", fallback.name));
            self.mode = Mode::Backoff {
                target: fallback,
                until: now,
            };
            return None;
        }
        let status = format!("{why}; giving up, the kernel runs EEVDF");
        log::error!(scx_scheduler = target.name.as_str(), scx_exit_kind = kind; "{status}");
        self.notifier.stopping(&status);
        self.status = status;
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

    /// SIGHUP: re-read the configuration; swap schedulers if it changed, keeping the old one if
    /// the new one does not come up.
    fn reload(&mut self) {
        self.notifier.reloading("reloading the configuration");
        let (ok, status) = self.reload_config();
        self.status = status.clone();
        self.notifier.ready(&status);
        self.reloads += 1;
        record_reload(self.reloads, ok, &status);
    }

    /// The reload itself; returns whether it succeeded and the status to show.
    fn reload_config(&mut self) -> (bool, String) {
        let plan = match prepare(&self.opts.config, &self.dirs) {
            Ok(plan) => plan,
            Err(err) => {
                log::error!("reload failed: {err:#}");
                return (
                    false,
                    format!("reload failed: {err:#}; {}", self.running_status()),
                );
            }
        };
        let running_same = match &self.mode {
            Mode::Running { child, .. } => child.target == plan.primary,
            _ => false,
        };
        if running_same {
            log::info!(
                "configuration unchanged; {} keeps running",
                plan.primary.name
            );
            self.plan = plan;
            self.on_fallback = false;
            return (true, self.plan.primary.describe());
        }
        let old = self.stop_child();
        let new = plan.primary.clone();
        match start(
            &new,
            self.opts.attach_timeout,
            &self.signals,
            &self.notifier,
        ) {
            Ok(child) => {
                log::info!(scx_scheduler = new.name.as_str(); "reloaded: {}", new.describe());
                self.plan = plan;
                self.on_fallback = false;
                self.failures.clear();
                self.mode = Mode::Running {
                    child,
                    mismatch_since: None,
                };
                (true, new.describe())
            }
            Err(failure) => {
                let kind = failure.ending().map(|e| e.kind).unwrap_or("start-failed");
                log::error!(
                    scx_scheduler = new.name.as_str(), scx_exit_kind = kind;
                    "reload failed: {failure}"
                );
                let status = match old {
                    Some(old) => match start(
                        &old,
                        self.opts.attach_timeout,
                        &self.signals,
                        &self.notifier,
                    ) {
                        Ok(child) => {
                            log::warn!(
                                scx_scheduler = old.name.as_str();
                                "{} runs again after the failed reload", old.name
                            );
                            let s = format!("reload failed: {failure}; {} again", old.describe());
                            self.mode = Mode::Running {
                                child,
                                mismatch_since: None,
                            };
                            s
                        }
                        Err(again) => {
                            log::error!(
                                scx_scheduler = old.name.as_str();
                                "{} did not start again either: {again}", old.name
                            );
                            self.mode = Mode::Backoff {
                                target: old.clone(),
                                until: Instant::now() + self.opts.first_backoff,
                            };
                            format!(
                                "reload failed: {failure}; {} did not start again: {again}; retrying",
                                old.name
                            )
                        }
                    },
                    None => format!("reload failed: {failure}; nothing running"),
                };
                (false, status)
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
