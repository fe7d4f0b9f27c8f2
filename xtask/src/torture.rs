//! `cargo xtask torture` and `cargo xtask soak`: every scheduler under stress-ng's scheduler
//! stressors and mixed loads in the VM, one boot per kernel (the kernels side by side), with
//! EEVDF as the control; a scheduler that the kernel ejects, or that dies, fails.
//!
//! The guest half is `tests/vm/torture/run.sh`; it prints one `torture:` line per step and, in a
//! soak, `soak:` samples. This side turns them into checks and the soak table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Result};

use crate::kernel::Fetch;
use crate::scenario::{self, Check};
use crate::vm::{self, Console};

/// The guest script, relative to tests/vm and without `.sh`.
const SCRIPT: &str = "torture/run";

/// Stressors and mixed runs the guest knows; `--steps` is checked against them.
const STRESSORS: &[&str] = &[
    "affinity",
    "clone",
    "exec",
    "fork",
    "futex",
    "mutex",
    "nice",
    "pthread",
    "race-sched",
    "resched",
    "schedpolicy",
    "sem",
    "switch",
    "vfork",
    "vforkmany",
    "yield",
    "zombie",
    "spawn",
    "hrtimers",
    "cyclic",
    "sleep",
];
const MIXES: &[&str] = &[
    "mix-affinity",
    "mix-forkexec",
    "mix-churn",
    "mix-pinned",
    "mix-niced",
    "mix-nice",
    "mix-cgroup",
    "mix-fifo",
    "mix-rtsat",
    "mix-memory",
];

/// Options shared by `torture` and `soak`.
#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// Kernel to boot: `all` (each in its own VM, side by side), a suite or a kernel release
    #[arg(long, default_value = "all")]
    kernel: String,
    /// Schedulers to run, comma-separated (default: every scx_* binary in the image)
    #[arg(long, value_delimiter = ',')]
    scheds: Vec<String>,
    /// Steps to run, comma-separated (stressor names and mix-* runs; default: all)
    #[arg(long, value_delimiter = ',')]
    steps: Vec<String>,
    /// Seconds per mixed run
    #[arg(long, default_value_t = 10)]
    mix_secs: u32,
    /// Skip the EEVDF control run
    #[arg(long)]
    no_control: bool,
    /// TCG threading: one host thread per vCPU, or all vCPUs on one thread
    #[arg(long, value_enum, default_value = "single")]
    tcg: vm::TcgThreads,
    /// Do not build; use the executables already in target/release
    #[arg(long)]
    no_build: bool,
    /// Use only kernels already in the cache
    #[arg(long)]
    offline: bool,
}

/// `cargo xtask torture`.
#[derive(Debug, clap::Args)]
pub struct TortureArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Seconds per stressor
    #[arg(long, default_value_t = 3)]
    secs: u32,
}

/// `cargo xtask soak`.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Minutes of rotating mixed load per scheduler
    #[arg(long, default_value_t = 10)]
    minutes: u32,
}

impl TortureArgs {
    /// The run of `cargo xtask test` on one kernel: short steps, already built, no EEVDF
    /// control (the suite judges the schedulers; the control is `cargo xtask torture`'s).
    /// `share` is this kernel's part of the steps ([`suite_shares`]); empty runs them all.
    pub fn for_test(kernel: &str, share: Vec<String>, tcg: vm::TcgThreads) -> Self {
        TortureArgs {
            common: CommonArgs {
                kernel: kernel.to_string(),
                scheds: Vec::new(),
                steps: share,
                mix_secs: 4,
                no_control: true,
                tcg,
                no_build: true,
                offline: true,
            },
            secs: 1,
        }
    }
}

/// How many steps a full torture run has per scheduler.
pub fn step_count() -> usize {
    STRESSORS.len() + MIXES.len()
}

/// The suite's torture steps dealt out to `n` kernels in turn, stressors and mixed runs alike:
/// every step runs once per suite, every kernel gets both kinds, and each kernel's guest takes
/// 1/n of the time. `cargo xtask torture` runs every step on every kernel.
pub fn suite_shares(n: usize) -> Vec<Vec<String>> {
    let mut shares = vec![Vec::new(); n.max(1)];
    let count = shares.len();
    for (i, step) in STRESSORS.iter().chain(MIXES).enumerate() {
        shares[i % count].push(step.to_string());
    }
    shares
}

fn check_names(common: &CommonArgs) -> Result<()> {
    for name in &common.scheds {
        let ok =
            name.starts_with("scx_") && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            bail!("--scheds takes scheduler binary names such as scx_rlfifo, not {name:?}");
        }
    }
    for step in &common.steps {
        if !STRESSORS.contains(&step.as_str()) && !MIXES.contains(&step.as_str()) {
            bail!(
                "no torture step {step:?} (stressors: {}; mixed runs: {})",
                STRESSORS.join(", "),
                MIXES.join(", ")
            );
        }
    }
    Ok(())
}

/// How many schedulers the guest will run, for its time limit.
fn nr_scheds(common: &CommonArgs) -> Result<u64> {
    if !common.scheds.is_empty() {
        return Ok(common.scheds.len() as u64);
    }
    vm::image_scheduler_count(3)
}

fn boot(common: &CommonArgs, cmdline: Vec<String>, per_sched_secs: u64) -> Result<Vec<Console>> {
    let runs = nr_scheds(common)? + u64::from(!common.no_control);
    let opts = vm::Options {
        kernel: common.kernel.clone(),
        smp: 2,
        tcg: common.tcg,
        mem_mb: 1024,
        // TCG runs the steps' start-up and teardown slowly: twice the nominal time, and more.
        timeout_secs: 120 + runs * per_sched_secs * 2,
        build: !common.no_build,
        fetch: if common.offline {
            Fetch::Offline
        } else {
            Fetch::Normal
        },
        scenarios: vec![SCRIPT.to_string()],
    };
    let mut cmdline = cmdline;
    cmdline.push(format!("SCX_TORTURE_MIX_SECS={}", common.mix_secs));
    if !common.scheds.is_empty() {
        cmdline.push(format!("SCX_TORTURE_SCHEDS={}", common.scheds.join(",")));
    }
    if !common.steps.is_empty() {
        cmdline.push(format!("SCX_TORTURE_STEPS={}", common.steps.join(",")));
    }
    if common.no_control {
        cmdline.push("SCX_TORTURE_CONTROL=0".to_string());
    }
    vm::run_scripts_parallel(&opts, &cmdline)
}

/// One `torture: SCHED STEP VERDICT rest` line.
#[derive(Debug, Clone, PartialEq)]
struct StepLine {
    sched: String,
    step: String,
    ok: bool,
    rest: String,
}

fn parse_step(line: &str) -> Option<StepLine> {
    let at = line.find("torture: ")?;
    let mut words = line[at + "torture: ".len()..].splitn(4, ' ');
    let sched = words.next()?.to_string();
    let step = words.next()?.to_string();
    let verdict = words.next()?;
    let rest = words.next().unwrap_or("").to_string();
    let ok = match verdict {
        "ok" => true,
        "FAIL" => false,
        _ => return None,
    };
    Some(StepLine {
        sched,
        step,
        ok,
        rest,
    })
}

/// The console lines from a failed step to the end of its logs, for the report.
fn failure_excerpt(lines: &[String], from: usize) -> String {
    let mut out = Vec::new();
    for line in &lines[from + 1..] {
        if line.contains("torture: ") {
            break;
        }
        out.push(format!("    | {line}"));
        if line.contains("torture-log end") || out.len() > 500 {
            break;
        }
    }
    out.join("\n")
}

/// The checks of one console: one per scheduler (and the control), plus the VM runner's;
/// `what` (torture, soak) names them.
fn checks_of(console: &Console, what: &str) -> Vec<Check> {
    let kver = &console.kernel.kver;
    let mut checks: Vec<Check> = console
        .checks
        .iter()
        .filter(|c| !c.passed || !c.name.starts_with(SCRIPT))
        .cloned()
        .collect();
    let mut per_sched: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
    let mut order = Vec::new();
    for (i, line) in console.lines.iter().enumerate() {
        let Some(step) = parse_step(line) else {
            continue;
        };
        if !order.contains(&step.sched) {
            order.push(step.sched.clone());
        }
        let entry = per_sched.entry(step.sched.clone()).or_default();
        if step.step == "summary" {
            continue;
        }
        if step.ok {
            entry.0 += 1;
        } else {
            entry.1.push(format!(
                "{} failed: {}\n{}",
                step.step,
                step.rest,
                failure_excerpt(&console.lines, i)
            ));
        }
    }
    if order.is_empty() {
        checks.push(Check {
            name: format!("torture [{kver}]"),
            passed: false,
            detail: format!(
                "no torture results on the console (see {})",
                console.log.display()
            ),
        });
    }
    for sched in order {
        let (ok, failures) = &per_sched[&sched];
        checks.push(Check {
            name: format!("{what} {sched} [{kver}]"),
            passed: failures.is_empty(),
            detail: if failures.is_empty() {
                format!("{ok} steps")
            } else {
                failures.join("\n")
            },
        });
    }
    checks
}

/// `cargo xtask torture`: returns the number of failed checks.
pub fn torture(args: &TortureArgs) -> Result<usize> {
    Ok(scenario::report(&run_checks(args)?))
}

/// Runs the torture suite and returns its checks.
pub fn run_checks(args: &TortureArgs) -> Result<Vec<Check>> {
    check_names(&args.common)?;
    let cmdline = vec![
        "SCX_TORTURE_MODE=torture".to_string(),
        format!("SCX_TORTURE_SECS={}", args.secs),
    ];
    let steps = if args.common.steps.is_empty() {
        (STRESSORS.len() as u64) * u64::from(args.secs + 2)
            + (MIXES.len() as u64) * u64::from(args.common.mix_secs + 3)
    } else {
        args.common
            .steps
            .iter()
            .map(|step| match step.starts_with("mix-") {
                true => u64::from(args.common.mix_secs + 3),
                false => u64::from(args.secs + 2),
            })
            .sum()
    };
    let consoles = boot(&args.common, cmdline, steps + 20)?;
    Ok(consoles
        .iter()
        .flat_map(|c| checks_of(c, "torture"))
        .collect())
}

/// One soak sample.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    t: u64,
    rss_kb: u64,
    cpu_ms: u64,
    wait_max_us: u64,
    delay_max_us: u64,
}

fn parse_sample(line: &str) -> Option<(String, Sample)> {
    let at = line.find("soak: ")?;
    let mut words = line[at + "soak: ".len()..].split_whitespace();
    let sched = words.next()?.to_string();
    let kv: BTreeMap<&str, u64> = words
        .filter_map(|w| w.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect();
    Some((
        sched,
        Sample {
            t: *kv.get("t")?,
            rss_kb: *kv.get("rss_kb")?,
            cpu_ms: *kv.get("cpu_ms")?,
            wait_max_us: kv.get("wait_max_us").copied().unwrap_or(0),
            delay_max_us: kv.get("delay_max_us").copied().unwrap_or(0),
        },
    ))
}

/// The soak table of one console.
fn soak_table(console: &Console) -> String {
    let mut samples: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    let mut ejections: BTreeMap<String, usize> = BTreeMap::new();
    for line in &console.lines {
        if let Some((sched, s)) = parse_sample(line) {
            samples.entry(sched).or_default().push(s);
        } else if let Some(step) = parse_step(line) {
            if !step.ok && step.step.starts_with("mix-") {
                *ejections.entry(step.sched).or_default() += 1;
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:>5} {:>9} {:>14} {:>15} {:>12} {:>10} {:>8}",
        "scheduler",
        "secs",
        "ejections",
        "wait max ms",
        "run delay ms",
        "RSS KiB",
        "RSS end",
        "CPU %"
    );
    for (sched, s) in &samples {
        let (Some(first), Some(last)) = (s.first(), s.last()) else {
            continue;
        };
        let secs = last.t.saturating_sub(first.t).max(1);
        let cpu = (last.cpu_ms.saturating_sub(first.cpu_ms)) as f64 / (secs as f64 * 1000.0)
            * 100.0
            / 2.0;
        let wait = s.iter().map(|x| x.wait_max_us).max().unwrap_or(0);
        let delay = s.iter().map(|x| x.delay_max_us).max().unwrap_or(0);
        // The first sample is taken right after attaching: growth is judged after warm-up.
        let warm = s.get(1).unwrap_or(first);
        let _ = writeln!(
            out,
            "{:<14} {:>5} {:>9} {:>14.1} {:>15.1} {:>12} {:>10} {:>8.1}",
            sched,
            secs,
            ejections.get(sched).copied().unwrap_or(0),
            wait as f64 / 1000.0,
            delay as f64 / 1000.0,
            warm.rss_kb,
            last.rss_kb,
            cpu
        );
    }
    out
}

/// `cargo xtask soak`: prints the table per kernel; returns the number of failed checks
/// (ejections, a scheduler that did not exit cleanly, RSS that grew after warm-up).
pub fn soak(args: &SoakArgs) -> Result<usize> {
    check_names(&args.common)?;
    let cmdline = vec![
        "SCX_TORTURE_MODE=soak".to_string(),
        format!("SCX_TORTURE_MINUTES={}", args.minutes),
    ];
    let per_sched = u64::from(args.minutes) * 60 + u64::from(args.common.mix_secs) * 3 + 60;
    let consoles = boot(&args.common, cmdline, per_sched)?;
    let mut checks = Vec::new();
    for console in &consoles {
        println!();
        println!(
            "==> soak on {} (console log {})",
            console.kernel.kver,
            console.log.display()
        );
        print!("{}", soak_table(console));
        checks.extend(checks_of(console, "soak"));
        let mut by_sched: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
        for line in &console.lines {
            if let Some((sched, s)) = parse_sample(line) {
                by_sched.entry(sched).or_default().push(s);
            }
        }
        for (sched, s) in by_sched {
            if sched == "eevdf" {
                continue;
            }
            if let (Some(warm), Some(last)) = (s.get(1), s.last()) {
                // Growth beyond a page-cache wobble (1 MiB) is a leak in a loop that must not
                // allocate.
                let grew = last.rss_kb > warm.rss_kb + 1024;
                checks.push(Check {
                    name: format!("soak RSS {sched} [{}]", console.kernel.kver),
                    passed: !grew,
                    detail: format!("{} -> {} KiB", warm.rss_kb, last.rss_kb),
                });
            }
        }
    }
    Ok(scenario::report(&checks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_shares_run_every_step_once_and_both_kinds_on_each_kernel() {
        let shares = suite_shares(2);
        let mut all: Vec<&String> = shares.iter().flatten().collect();
        all.sort();
        let mut want: Vec<String> = STRESSORS
            .iter()
            .chain(MIXES)
            .map(|s| s.to_string())
            .collect();
        want.sort();
        assert_eq!(all, want.iter().collect::<Vec<_>>());
        for share in &shares {
            assert!(share.iter().any(|s| s.starts_with("mix-")), "{share:?}");
            assert!(share.iter().any(|s| !s.starts_with("mix-")), "{share:?}");
            assert!(
                share
                    .len()
                    .abs_diff(STRESSORS.len().div_ceil(2) + MIXES.len() / 2)
                    <= 1
            );
        }
        assert_eq!(suite_shares(1)[0].len(), STRESSORS.len() + MIXES.len());
    }

    #[test]
    fn parses_step_lines() {
        let s = parse_step("[7.3] torture: scx_bpfland mix-affinity FAIL secs=21 rc=0 state=x")
            .expect("a step line");
        assert_eq!(s.sched, "scx_bpfland");
        assert_eq!(s.step, "mix-affinity");
        assert!(!s.ok);
        assert_eq!(s.rest, "secs=21 rc=0 state=x");
        assert!(parse_step("torture: eevdf fork ok secs=2 rc=0").is_some_and(|s| s.ok));
        assert!(parse_step("torture: done").is_none());
        assert!(parse_step("torture-log begin eevdf").is_none());
    }

    #[test]
    fn parses_soak_samples() {
        let (sched, s) =
            parse_sample("soak: scx_rustland t=60 rss_kb=15000 cpu_ms=900 wait_max_us=40")
                .expect("a sample");
        assert_eq!(sched, "scx_rustland");
        assert_eq!(s.t, 60);
        assert_eq!(s.rss_kb, 15000);
        assert_eq!(s.wait_max_us, 40);
        assert!(parse_sample("soak: scx_rustland t=x").is_none());
    }

    #[test]
    fn step_names_are_checked() {
        let common = CommonArgs {
            kernel: "all".into(),
            scheds: vec![],
            steps: vec!["forks".into()],
            mix_secs: 1,
            no_control: false,
            tcg: vm::TcgThreads::Single,
            no_build: true,
            offline: true,
        };
        let err = check_names(&common).expect_err("unknown step");
        assert!(err.to_string().contains("no torture step \"forks\""));
    }
}
