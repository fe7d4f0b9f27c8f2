//! `cargo xtask vm`: build the workspace, boot each test kernel under qemu, run scenarios.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use crate::initramfs::{self, marker};
use crate::kernel::{self, Fetch, Kernel};
use crate::{registry, util};

/// The scenario library, sourced by scenarios rather than run.
const LIBRARY: &str = "lib.sh";

/// Time allowed outside scenarios: from start to /init, between scenarios, for power-off.
const BOOT_ALLOWANCE: Duration = Duration::from_secs(90);

/// Extra time a scenario gets over its in-guest limit before the host gives up on the VM.
const SCENARIO_GRACE: Duration = Duration::from_secs(20);

/// Lines of console shown around a kernel problem.
const EXCERPT_BEFORE: usize = 5;
const EXCERPT_AFTER: usize = 15;

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
    fn accel(self) -> &'static str {
        match self {
            TcgThreads::Multi => "tcg,thread=multi",
            TcgThreads::Single => "tcg,thread=single",
        }
    }
}

/// Options of one VM run.
#[derive(Debug, Clone)]
pub struct Options {
    /// `all`, a kernel release or a suite name.
    pub kernel: String,
    pub smp: u32,
    pub tcg: TcgThreads,
    pub mem_mb: u32,
    /// Per-scenario limit inside the guest, in seconds.
    pub timeout_secs: u64,
    pub build: bool,
    pub fetch: Fetch,
    pub scenarios: Vec<String>,
}

/// The outcome of one check: a scenario on a kernel, or a kernel problem.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// The scenarios in `dir` (every `*.sh` except the helper library `lib.sh`), sorted.
pub fn scenarios_in(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if file == LIBRARY {
            continue;
        }
        if let Some(name) = file.strip_suffix(".sh") {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// The scenarios in `tests/vm`, sorted.
pub fn list_scenarios() -> Result<Vec<String>> {
    scenarios_in(&scenario_dir()?)
}

/// The vCPU count a scenario asks for with a `# vm-smp: N` line among its first lines (e.g.
/// CPU hotplug needs CPUs to take offline), if any.
pub fn scenario_smp(name: &str) -> Result<Option<u32>> {
    let path = scenario_dir()?.join(format!("{name}.sh"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .take(10)
        .find_map(|l| l.strip_prefix("# vm-smp:"))
        .and_then(|n| n.trim().parse().ok()))
}

fn scenario_dir() -> Result<PathBuf> {
    Ok(util::repo_root()?.join("tests/vm"))
}

pub fn target_dir() -> Result<PathBuf> {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Ok(util::repo_root()?.join("target")),
    }
}

/// Accepts `name` or `name.sh` for each of `requested`, checks the scenario is one of
/// `known` (the scenarios of `dir`, named in errors) and has a shell-safe name.
pub fn resolve_in(dir: &str, known: &[String], requested: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for req in requested {
        let name = req.strip_suffix(".sh").unwrap_or(req);
        let name = name.rsplit('/').next().unwrap_or(name);
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!("scenario names use only letters, digits, '_' and '-': {req:?}");
        }
        if !known.iter().any(|k| k == name) {
            bail!(
                "no scenario {name:?} in {dir} (known: {})",
                known.join(", ")
            );
        }
        out.push(name.to_string());
    }
    Ok(out)
}

fn resolve_scenarios(requested: &[String]) -> Result<Vec<String>> {
    let out = resolve_in("tests/vm", &list_scenarios()?, requested)?;
    if out.is_empty() {
        bail!("no scenario given (see `cargo xtask vm --list`)");
    }
    Ok(out)
}

/// The kernels `--kernel` selects: `all`, a suite's current kernel, or a cached release.
pub fn select_kernels(which: &str, fetch: Fetch) -> Result<Vec<Kernel>> {
    let suites: Vec<String> = if kernel::SUITES.contains(&which) {
        vec![which.to_string()]
    } else {
        kernel::SUITES.iter().map(|s| s.to_string()).collect()
    };
    let current = kernel::ensure_kernels(&suites, fetch)?;
    if which == "all" || kernel::SUITES.contains(&which) {
        return Ok(current);
    }
    if let Some(k) = current.iter().find(|k| k.kver == which) {
        return Ok(vec![k.clone()]);
    }
    if let Some(k) = kernel::cached()?.into_iter().find(|k| k.kver == which) {
        return Ok(vec![k]);
    }
    let known: Vec<String> = current.iter().map(|k| k.kver.clone()).collect();
    bail!(
        "no kernel {which:?} (use all, a suite, or one of: {})",
        known.join(", ")
    )
}

/// Builds the workspace's release binaries and returns the executables cargo reports.
pub fn build_binaries() -> Result<Vec<PathBuf>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(util::repo_root()?).args([
        "build",
        "--release",
        "--workspace",
        "--exclude",
        "xtask",
        "--bins",
        "--message-format=json-render-diagnostics",
    ]);
    eprintln!("xtask: {}", util::describe(&cmd));
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("failed to start `{}`", util::describe(&cmd)))?;
    if !out.status.success() {
        bail!("building the workspace failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut bins: Vec<PathBuf> = text
        .lines()
        .filter(|l| l.contains(r#""reason":"compiler-artifact""#))
        .filter_map(|l| json_string_field(l, "executable"))
        .map(PathBuf::from)
        .collect();
    bins.sort();
    bins.dedup();
    Ok(bins)
}

/// [`build_binaries`], checked to have produced each of `bins`; returns their directory. Every
/// release build goes through that one cargo invocation: a build of only some packages would
/// unify dependency features differently and rebuild them, and the next workspace build would
/// rebuild them back.
pub fn build_release(bins: &[String]) -> Result<PathBuf> {
    let built = build_binaries().context("building the release binaries")?;
    for bin in bins {
        if !built.iter().any(|b| b.ends_with(bin)) {
            bail!("the release build produced no {bin}");
        }
    }
    Ok(target_dir()?.join("release"))
}

/// How many schedulers a guest image built from target/release now would hold (at least
/// `floor`: more may appear with the next build), for sizing time limits.
pub fn image_scheduler_count(floor: u64) -> Result<u64> {
    let dir = target_dir()?.join("release");
    let found = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.starts_with("scx_") && !name.contains('.')
                })
                .count()
        })
        .unwrap_or(0);
    Ok((found as u64).max(floor))
}

/// Without building: the executables already in target/release.
fn existing_binaries() -> Result<Vec<PathBuf>> {
    let dir = target_dir()?.join("release");
    let mut bins = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(bins);
    };
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name != "xtask" && !name.contains('.') && util::is_executable(&path) {
            bins.push(path);
        }
    }
    bins.sort();
    Ok(bins)
}

/// Extracts a top-level-or-nested `"key":"string"` value from one line of cargo's JSON.
fn json_string_field(line: &str, key: &str) -> Option<String> {
    let pattern = format!("\"{key}\":\"");
    let start = line.find(&pattern)? + pattern.len();
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
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
struct Line {
    at: Duration,
    text: String,
}

/// The record of one boot.
struct Boot {
    lines: Vec<Line>,
    timed_out: bool,
    exit: Option<std::process::ExitStatus>,
    log: PathBuf,
    elapsed: Duration,
}

fn boot(
    kernel: &Kernel,
    initrd: &Path,
    opts: &Options,
    prefix: Option<&str>,
    extra_cmdline: &[String],
) -> Result<Boot> {
    let logs = target_dir()?.join("vm-logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_secs();
    let log_path = logs.join(format!("{stamp}-{}.log", kernel.kver));
    let mut log =
        File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;

    let mut append = "console=ttyS0 rdinit=/init panic=-1 quiet".to_string();
    for word in extra_cmdline {
        append.push(' ');
        append.push_str(word);
    }
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-accel", opts.tcg.accel(), "-cpu", "max"])
        .args(["-smp", &opts.smp.to_string()])
        .args(["-m", &opts.mem_mb.to_string()])
        .args(["-nographic", "-no-reboot"])
        .arg("-kernel")
        .arg(kernel.vmlinuz())
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", &append])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    writeln!(log, "# {}", util::describe(&cmd)).context("writing the VM log")?;
    let scenario_limit = Duration::from_secs(opts.timeout_secs) + SCENARIO_GRACE;
    eprintln!(
        "xtask: booting {} (host limits: {} s outside scenarios, {} s per scenario), log {}",
        kernel.kver,
        BOOT_ALLOWANCE.as_secs(),
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
    let mut deadline = start + BOOT_ALLOWANCE;
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
                    deadline = Instant::now() + BOOT_ALLOWANCE;
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
    Ok(Boot {
        lines,
        timed_out,
        exit,
        log: log_path,
        elapsed,
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
pub(crate) fn kernel_problem(line: &str) -> Option<&str> {
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

/// Scenario results and kernel problems of one boot.
fn evaluate(kernel: &Kernel, boot: &Boot, scenarios: &[String], tag: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    // Scenarios run in order and may repeat, so each one is looked for after the previous.
    let mut cursor = 0;
    for name in scenarios {
        let begin = format!("{}{name}@@", marker::BEGIN);
        let end = format!("{}{name} rc=", marker::END);
        let began = boot.lines[cursor..]
            .iter()
            .position(|l| l.text.contains(&begin))
            .map(|i| i + cursor);
        let search_from = began.unwrap_or(cursor);
        let ended = boot.lines[search_from..]
            .iter()
            .enumerate()
            .find_map(|(i, l)| {
                let at = l.text.find(&end)?;
                let rest = &l.text[at + end.len()..];
                let rc: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                Some((i + search_from, rc.parse::<i32>().ok()))
            });
        cursor = match (began, ended) {
            (_, Some((e, _))) => e + 1,
            (Some(b), None) => b + 1,
            (None, None) => cursor,
        };
        let (passed, detail) = match ended {
            Some((_, Some(0))) => (true, String::new()),
            Some((_, Some(137))) => (false, "killed by the guest time limit (rc=137)".to_string()),
            Some((e, Some(rc))) => {
                let from = began.unwrap_or(0);
                let last_fail = boot.lines[from..e]
                    .iter()
                    .rev()
                    .find(|l| l.text.contains("FAIL:"))
                    .map(|l| format!(": {}", l.text.trim()))
                    .unwrap_or_default();
                (false, format!("rc={rc}{last_fail}"))
            }
            Some((_, None)) => (false, "unreadable exit code".to_string()),
            None if began.is_some() && boot.timed_out => (
                false,
                "no end marker: the VM hung or ran out of time".to_string(),
            ),
            None if began.is_some() => (
                false,
                "no end marker: the VM stopped mid-scenario".to_string(),
            ),
            None if boot.lines.iter().any(|l| l.text.contains(marker::DONE)) => {
                (false, "never started".to_string())
            }
            None => (
                false,
                "never started: the VM went down before it".to_string(),
            ),
        };
        let duration = match (began, ended) {
            (Some(b), Some((e, _))) => {
                let secs = boot.lines[e].at.saturating_sub(boot.lines[b].at);
                format!("{:.1} s", secs.as_secs_f64())
            }
            _ => String::new(),
        };
        let detail = match (detail.is_empty(), duration.is_empty()) {
            (_, true) => detail,
            (true, false) => duration,
            (false, false) => format!("{detail} ({duration})"),
        };
        checks.push(Check {
            name: format!("{name} [{tag}]"),
            passed,
            detail,
        });
    }

    // Kernel problems, each reported once with the console around it.
    let mut seen: Vec<String> = Vec::new();
    let mut last_report: Option<usize> = None;
    for (i, line) in boot.lines.iter().enumerate() {
        let Some(problem) = kernel_problem(&line.text) else {
            continue;
        };
        if seen.iter().any(|s| s == problem) {
            continue;
        }
        seen.push(problem.to_string());
        // Messages of one splat share one report.
        if last_report.is_some_and(|r| i < r + EXCERPT_AFTER) {
            continue;
        }
        last_report = Some(i);
        let from = i.saturating_sub(EXCERPT_BEFORE);
        let to = (i + EXCERPT_AFTER).min(boot.lines.len());
        let during = boot.lines[..i]
            .iter()
            .rev()
            .find_map(|l| {
                let at = l.text.find(marker::BEGIN)?;
                let rest = &l.text[at + marker::BEGIN.len()..];
                Some(rest.trim_end_matches('@').to_string())
            })
            .map(|s| format!(" during scenario {s}"))
            .unwrap_or_else(|| " during boot".to_string());
        let excerpt: Vec<String> = boot.lines[from..to]
            .iter()
            .map(|l| format!("    | {}", l.text))
            .collect();
        checks.push(Check {
            name: format!("kernel problem [{tag}]"),
            passed: false,
            detail: format!("{problem}{during}\n{}", excerpt.join("\n")),
        });
    }
    if !boot.lines.iter().any(|l| l.text.contains(marker::BOOT)) {
        let tail: Vec<String> = boot.lines[boot.lines.len().saturating_sub(20)..]
            .iter()
            .map(|l| format!("    | {}", l.text))
            .collect();
        checks.push(Check {
            name: format!("boot [{tag}]"),
            passed: false,
            detail: format!(
                "{} never reached /init (see {})\n{}",
                kernel.kver,
                boot.log.display(),
                tail.join("\n")
            ),
        });
    }
    checks
}

/// Prints one check as a PASS/FAIL line (and its excerpt).
pub fn print_check(check: &Check) {
    let verdict = if check.passed { "PASS" } else { "FAIL" };
    if check.detail.is_empty() {
        println!("{verdict} {}", check.name);
    } else {
        println!("{verdict} {}: {}", check.name, check.detail);
    }
}

/// Runs the scenarios on the selected kernels and returns every check.
pub fn run(opts: &Options) -> Result<Vec<Check>> {
    let scenarios = resolve_scenarios(&opts.scenarios)?;
    let boots = run_resolved(opts, &scenarios, &[])?;
    Ok(boots.into_iter().flat_map(|b| b.checks).collect())
}

/// One kernel's boot, for callers that read the guest's output themselves.
#[derive(Debug)]
pub struct Console {
    pub kernel: Kernel,
    /// Every console line, terminal escapes removed.
    pub lines: Vec<String>,
    /// The scripts' results and the kernel problems, as `run` reports them.
    pub checks: Vec<Check>,
    pub log: PathBuf,
}

/// Like `run`, but `opts.scenarios` are scripts anywhere under tests/vm, named by their path
/// without `.sh` (e.g. `bench/run`), and `extra_cmdline` words go on the kernel command line
/// (`KEY=value` words reach the scripts as environment variables).
pub fn run_scripts(opts: &Options, extra_cmdline: &[String]) -> Result<Vec<Console>> {
    let dir = scenario_dir()?;
    for name in &opts.scenarios {
        let safe = name
            .split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.'))
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-/.".contains(c));
        if !safe {
            bail!("guest script names are relative paths under tests/vm: {name:?}");
        }
        let path = dir.join(format!("{name}.sh"));
        if !path.is_file() {
            bail!("no guest script {}", path.display());
        }
    }
    run_resolved(opts, &opts.scenarios, extra_cmdline)
}

/// Like `run`, but with every selected kernel booted at once (see `run_scripts_parallel`).
pub fn run_parallel(opts: &Options) -> Result<Vec<Check>> {
    resolve_scenarios(&opts.scenarios)?;
    let consoles = in_parallel(opts, |o| run_resolved(o, &o.scenarios, &[]))?;
    Ok(consoles.into_iter().flat_map(|c| c.checks).collect())
}

/// Like `run_scripts`, but with every selected kernel booted at once, each VM on a host thread
/// of its own (single-threaded TCG uses one core per VM). Consoles come back in kernel order.
pub fn run_scripts_parallel(opts: &Options, extra_cmdline: &[String]) -> Result<Vec<Console>> {
    in_parallel(opts, |o| run_scripts(o, extra_cmdline))
}

thread_local! {
    /// Set on the threads of `in_parallel`: console lines name their kernel.
    static SIDE_BY_SIDE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Builds once, then runs `each` for every selected kernel on a thread of its own, with
/// `opts` narrowed to that kernel.
fn in_parallel(
    opts: &Options,
    each: impl Fn(&Options) -> Result<Vec<Console>> + Sync,
) -> Result<Vec<Console>> {
    let kernels = select_kernels(&opts.kernel, opts.fetch)?;
    if opts.build {
        build_binaries()?;
    }
    let per_kernel: Vec<Options> = kernels
        .iter()
        .map(|k| Options {
            kernel: k.kver.clone(),
            build: false,
            fetch: Fetch::Offline,
            ..opts.clone()
        })
        .collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = per_kernel
            .iter()
            .map(|o| {
                let each = &each;
                scope.spawn(move || {
                    SIDE_BY_SIDE.with(|s| s.set(true));
                    each(o)
                })
            })
            .collect();
        let mut out = Vec::new();
        for handle in handles {
            match handle.join() {
                Ok(consoles) => out.extend(consoles?),
                Err(_) => bail!("a VM thread panicked"),
            }
        }
        Ok(out)
    })
}

fn run_resolved(
    opts: &Options,
    scenarios: &[String],
    extra_cmdline: &[String],
) -> Result<Vec<Console>> {
    let kernels = select_kernels(&opts.kernel, opts.fetch)?;
    let binaries = if opts.build {
        build_binaries()?
    } else {
        existing_binaries()?
    };
    if binaries.is_empty() {
        eprintln!(
            "xtask: no workspace binaries yet; the guest gets busybox and the scenarios only"
        );
    } else {
        let names: Vec<String> = binaries
            .iter()
            .filter_map(|b| b.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        eprintln!("xtask: guest binaries: {}", names.join(" "));
    }
    // One directory per call: calls may run at once, from several threads.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let work = std::env::temp_dir().join(format!("scx-vm-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let result = run_kernels(opts, scenarios, &kernels, &binaries, &work, extra_cmdline);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run_kernels(
    opts: &Options,
    scenarios: &[String],
    kernels: &[Kernel],
    binaries: &[PathBuf],
    work: &Path,
    extra_cmdline: &[String],
) -> Result<Vec<Console>> {
    let scenario_dir = scenario_dir()?;
    let schedulers = registry::guest_list(&registry::schedulers(&util::repo_root()?)?);
    let mut boots = Vec::new();
    for kernel in kernels {
        let initrd = work.join(format!("{}.cpio.zst", kernel.kver));
        initramfs::build(
            &initramfs::Spec {
                kernel,
                binaries,
                scenario_dir: &scenario_dir,
                scenarios,
                timeout_secs: opts.timeout_secs,
                schedulers: &schedulers,
            },
            &initrd,
        )
        .with_context(|| format!("building the initramfs for {}", kernel.kver))?;
        let several = kernels.len() > 1 || SIDE_BY_SIDE.with(std::cell::Cell::get);
        let prefix = several.then_some(kernel.kver.as_str());
        let boot = boot(kernel, &initrd, opts, prefix, extra_cmdline)?;
        let to_init = boot
            .lines
            .iter()
            .find(|l| l.text.contains(marker::BOOT))
            .map(|l| format!("{:.1} s to /init", l.at.as_secs_f64()))
            .unwrap_or_else(|| "never reached /init".to_string());
        let status = match (&boot.exit, boot.timed_out) {
            (_, true) => "killed after the time limit".to_string(),
            (Some(s), false) => format!("qemu {s}"),
            (None, false) => "qemu did not exit by itself".to_string(),
        };
        eprintln!(
            "xtask: {}: {to_init}, {:.1} s in all, {status}; log {}",
            kernel.kver,
            boot.elapsed.as_secs_f64(),
            boot.log.display()
        );
        let checks = evaluate(kernel, &boot, scenarios, &kernel.kver);
        boots.push(Console {
            kernel: kernel.clone(),
            lines: boot.lines.into_iter().map(|l| l.text).collect(),
            checks,
            log: boot.log,
        });
    }
    Ok(boots)
}

/// `cargo xtask vm`: run, print PASS/FAIL lines and the totals; returns the failure count.
pub fn command(opts: &Options) -> Result<usize> {
    let checks = run(opts)?;
    Ok(report(&checks))
}

/// Prints every check and the final `N passed, N failed` line; returns the failures.
pub fn report(checks: &[Check]) -> usize {
    println!();
    for check in checks {
        print_check(check);
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    println!("{} passed, {failed} failed", checks.len() - failed);
    failed
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

    #[test]
    fn reads_executables_from_cargo_json() {
        let line = r#"{"reason":"compiler-artifact","executable":"/w/target/release/scx_a\"b","fresh":true}"#;
        assert_eq!(
            json_string_field(line, "executable").unwrap(),
            "/w/target/release/scx_a\"b"
        );
        assert!(json_string_field(r#"{"executable":null}"#, "executable").is_none());
    }
}
