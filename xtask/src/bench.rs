//! `cargo xtask bench`: each sched_ext scheduler against EEVDF, in one VM boot per kernel.
//!
//! The guest half is `tests/vm/bench/run.sh`. It runs rounds of workloads (hackbench, stress-ng,
//! cyclictest under CPU hogs), each round once per scheduler and once on EEVDF, and prints the
//! tools' own output as records between the VM runner's data markers. This side parses
//! them, prints a table of medians and ratios against EEVDF, and writes everything as JSON.
//! The numbers never fail the command; a tool that did not run, or a scheduler that was ejected,
//! does.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use crate::initramfs::marker;
use crate::kernel::Fetch;
use crate::util;
use crate::vm;

/// The guest script, relative to tests/vm and without `.sh`.
const SCRIPT: &str = "bench/run";

/// Marks the record block in the guest's console output.
const BLOCK_BEGIN: &str = marker::DATA_BEGIN;
const BLOCK_END: &str = marker::DATA_END;

/// The name the guest gives runs without a sched_ext scheduler.
const EEVDF: &str = "eevdf";

/// Command-line options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Kernel to boot: `all`, a suite (trixie-backports, sid) or a kernel release
    #[arg(long, default_value = "trixie-backports")]
    kernel: String,
    /// Rounds per scheduler, each with one run of EEVDF (default: 3, or 1 with --quick)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=50))]
    runs: Option<u32>,
    /// Schedulers to compare, comma-separated (default: every scx_* binary in the image)
    #[arg(long, value_delimiter = ',')]
    scheds: Vec<String>,
    /// Where to write the JSON results (default: target/bench/bench[-quick]-<kernel release>.json)
    #[arg(long)]
    json: Option<PathBuf>,
    /// One round with shorter workloads
    #[arg(long)]
    quick: bool,
    /// TCG threading: one host thread per vCPU, or all vCPUs on one thread
    #[arg(long, value_enum, default_value = "single")]
    tcg: vm::TcgThreads,
    /// Do not build; use the executables already in target/release
    #[arg(long)]
    no_build: bool,
    /// Refresh the Debian package lists even if they are recent
    #[arg(long, conflicts_with = "offline")]
    refresh: bool,
    /// Use only kernels already in the cache
    #[arg(long)]
    offline: bool,
}

impl BenchArgs {
    /// The quick benchmark of `cargo xtask test`: one round on the primary kernel.
    pub fn quick_for_test(tcg: vm::TcgThreads, fetch: Fetch, build: bool) -> Self {
        Self {
            kernel: crate::kernel::SUITES[0].to_string(),
            runs: None,
            scheds: Vec::new(),
            json: None,
            quick: true,
            tcg,
            no_build: !build,
            refresh: fetch == Fetch::Refresh,
            offline: fetch == Fetch::Offline,
        }
    }

    fn runs(&self) -> u32 {
        self.runs.unwrap_or(if self.quick { 1 } else { 3 })
    }

    fn fetch(&self) -> Fetch {
        if self.offline {
            Fetch::Offline
        } else if self.refresh {
            Fetch::Refresh
        } else {
            Fetch::Normal
        }
    }
}

/// Runs the benchmark, prints the tables and writes the JSON files; returns the number of
/// things that failed to run.
pub fn command(args: &BenchArgs) -> Result<usize> {
    for name in &args.scheds {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok || name == EEVDF {
            bail!("--scheds takes scheduler binary names such as scx_rlfifo, not {name:?}");
        }
    }
    let runs = args.runs();
    let mut cmdline = vec![
        format!("SCX_BENCH_RUNS={runs}"),
        format!("SCX_BENCH_QUICK={}", u8::from(args.quick)),
    ];
    if !args.scheds.is_empty() {
        cmdline.push(format!("SCX_BENCH_SCHEDS={}", args.scheds.join(",")));
    }
    let opts = vm::Options {
        kernel: args.kernel.clone(),
        smp: 2,
        tcg: args.tcg,
        mem_mb: 1024,
        timeout_secs: guest_time_limit(args, runs)?,
        build: !args.no_build,
        fetch: args.fetch(),
        scenarios: vec![SCRIPT.to_string()],
    };
    let consoles = vm::run_scripts(&opts, &cmdline)?;
    let several = consoles.len() > 1;
    let mut failures = 0;
    for console in &consoles {
        let kver = &console.kernel.kver;
        println!();
        println!(
            "==> bench on {kver} (console log {})",
            console.log.display()
        );
        // The VM runner's failures: the script's exit code, kernel warnings and Oopses.
        let vm_problems: Vec<String> = console
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        let Some(lines) = block(&console.lines) else {
            for problem in &vm_problems {
                println!("FAIL bench [{kver}]: {problem}");
            }
            println!("FAIL bench [{kver}]: no results in the console output (see the log)");
            failures += vm_problems.len() + 1;
            continue;
        };
        let mut report = Report::from_records(&parse_records(lines), runs);
        report.problems.splice(0..0, vm_problems);
        print!("{}", render_table(&report));
        for problem in &report.problems {
            println!("FAIL bench [{kver}]: {problem}");
        }
        failures += report.problems.len();
        let path = json_path(args.json.as_deref(), kver, several, args.quick)?;
        let json = report_json(&report, &console.kernel, args, &console.log, unix_now()?);
        util::write_atomic(&path, json.as_bytes())
            .with_context(|| format!("writing the results to {}", path.display()))?;
        println!("results: {}", path.display());
    }
    Ok(failures)
}

/// The guest's time limit for the whole script, generous for TCG.
fn guest_time_limit(args: &BenchArgs, runs: u32) -> Result<u64> {
    let scheds = if args.scheds.is_empty() {
        // The image holds whatever scx_* target/release has; assume a few more may appear.
        vm::image_scheduler_count(3)?
    } else {
        args.scheds.len() as u64
    };
    let per_set: u64 = if args.quick { 60 } else { 120 };
    Ok(120 + u64::from(runs) * (scheds + 1) * per_set)
}

fn unix_now() -> Result<u64> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_secs())
}

/// The JSON file of one kernel.
fn json_path(requested: Option<&Path>, kver: &str, several: bool, quick: bool) -> Result<PathBuf> {
    let Some(path) = requested else {
        let kind = if quick { "bench-quick" } else { "bench" };
        return Ok(vm::target_dir()?
            .join("bench")
            .join(format!("{kind}-{kver}.json")));
    };
    if !several {
        return Ok(path.to_path_buf());
    }
    // One file per kernel: the release goes before the extension.
    let stem = path
        .file_stem()
        .with_context(|| format!("--json {} has no file name", path.display()))?
        .to_string_lossy()
        .into_owned();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{kver}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{kver}"),
    };
    Ok(path.with_file_name(name))
}

/// The record lines between the block markers, if the block is complete.
fn block(lines: &[String]) -> Option<&[String]> {
    let begin = lines.iter().position(|l| l.contains(BLOCK_BEGIN))?;
    let len = lines[begin + 1..]
        .iter()
        .position(|l| l.contains(BLOCK_END))?;
    Some(&lines[begin + 1..begin + 1 + len])
}

/// One line the guest recorded: `TOOL SCHED RUN | TEXT`.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    tool: String,
    sched: String,
    run: u32,
    text: String,
}

/// Parses the record lines; lines of any other shape are returned as problems.
fn parse_records(lines: &[String]) -> Records {
    let mut records = Vec::new();
    let mut malformed = Vec::new();
    for line in lines {
        let parsed = line.split_once('|').and_then(|(head, text)| {
            let mut words = head.split_whitespace();
            let tool = words.next()?;
            let sched = words.next()?;
            let run = words.next()?.parse().ok()?;
            if words.next().is_some() {
                return None;
            }
            Some(Record {
                tool: tool.to_string(),
                sched: sched.to_string(),
                run,
                text: text.strip_prefix(' ').unwrap_or(text).to_string(),
            })
        });
        match parsed {
            Some(r) => records.push(r),
            None if line.trim().is_empty() => {}
            None => malformed.push(line.clone()),
        }
    }
    Records { records, malformed }
}

#[derive(Debug, Default)]
struct Records {
    records: Vec<Record>,
    malformed: Vec<String>,
}

/// `key=value` words of a record.
fn key_values(text: &str) -> BTreeMap<&str, &str> {
    text.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect()
}

/// hackbench's `Time: 1.234` in seconds.
fn parse_hackbench<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<f64> {
    lines.into_iter().find_map(|l| {
        let value = l.trim().strip_prefix("Time:")?.trim();
        value.parse::<f64>().ok().filter(|v| v.is_finite())
    })
}

/// stress-ng's `--metrics-brief` line for the cpu stressor.
#[derive(Debug, Clone, Copy, PartialEq)]
struct StressMetrics {
    bogo_ops: f64,
    real_secs: f64,
    bogo_ops_per_sec: f64,
}

/// Finds `stress-ng: metrc: [pid] cpu  OPS REAL USR SYS OPS/S OPS/S(cpu)` (older versions say
/// `info:` instead of `metrc:`).
fn parse_stress_ng<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<StressMetrics> {
    lines.into_iter().find_map(|l| {
        let after = &l[l.find("] ")? + 2..];
        let mut words = after.split_whitespace();
        if words.next()? != "cpu" {
            return None;
        }
        let numbers: Vec<f64> = words
            .map(|w| w.parse::<f64>().ok())
            .collect::<Option<_>>()?;
        if numbers.len() < 5 {
            return None;
        }
        Some(StressMetrics {
            bogo_ops: numbers[0],
            real_secs: numbers[1],
            bogo_ops_per_sec: numbers[4],
        })
    })
}

/// A cyclictest histogram of one thread (`--histfile`, one column), in whole microseconds.
#[derive(Debug, Clone, PartialEq, Default)]
struct Histogram {
    /// (latency in µs, samples), ascending, no empty bins.
    bins: Vec<(u64, u64)>,
    /// Samples at or above the histogram's range.
    overflows: u64,
    min_us: Option<u64>,
    avg_us: Option<u64>,
    max_us: Option<u64>,
}

/// A latency percentile: a bin of the histogram, or above its range.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Percentile {
    Us(u64),
    Overflow,
}

impl Histogram {
    fn samples(&self) -> u64 {
        self.bins.iter().map(|(_, n)| n).sum::<u64>() + self.overflows
    }

    /// Nearest-rank percentile `p` (0 < p <= 100) over every sample, overflows included.
    fn percentile(&self, p: f64) -> Option<Percentile> {
        let total = self.samples();
        if total == 0 {
            return None;
        }
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for &(us, n) in &self.bins {
            seen += n;
            if seen >= rank {
                return Some(Percentile::Us(us));
            }
        }
        Some(Percentile::Overflow)
    }
}

/// Parses cyclictest's histogram file; `text` may hold its lines joined by `;` or newlines.
fn parse_histogram(text: &str) -> Result<Histogram> {
    let mut hist = Histogram::default();
    let mut columns = None;
    for line in text.split([';', '\n']).map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let Some((key, value)) = comment.split_once(':') else {
                continue;
            };
            let first = value.split_whitespace().next();
            let number = first.and_then(|v| v.parse::<u64>().ok());
            match key.trim() {
                "Min Latencies" => hist.min_us = number,
                "Avg Latencies" => hist.avg_us = number,
                "Max Latencies" => hist.max_us = number,
                "Histogram Overflows" => {
                    hist.overflows =
                        number.with_context(|| format!("unreadable overflow count {line:?}"))?
                }
                _ => {}
            }
            continue;
        }
        let words: Vec<u64> = line
            .split_whitespace()
            .map(|w| w.parse::<u64>())
            .collect::<Result<_, _>>()
            .with_context(|| format!("unreadable histogram line {line:?}"))?;
        if words.len() != 2 {
            bail!("histogram line {line:?}: expected one thread's column");
        }
        if *columns.get_or_insert(words.len()) != words.len() {
            bail!("histogram lines with different column counts");
        }
        if let Some(&(last, _)) = hist.bins.last() {
            if words[0] <= last {
                bail!("histogram bins out of order at {line:?}");
            }
        }
        if words[1] > 0 {
            hist.bins.push((words[0], words[1]));
        }
    }
    if hist.max_us.is_none() {
        bail!("no \"# Max Latencies\" line in the histogram");
    }
    Ok(hist)
}

/// What one run of one scheduler (or EEVDF) measured.
#[derive(Debug, Clone, Default)]
struct Sample {
    sched: String,
    run: u32,
    hackbench_secs: Option<f64>,
    hackbench_wall_ms: Option<f64>,
    sched_cpu_ms: Option<f64>,
    stress: Option<StressMetrics>,
    latency: Option<Histogram>,
    attach_ms: Option<f64>,
    attach_log_ms: Option<f64>,
    rss_kib: Option<f64>,
    hwm_kib: Option<f64>,
    exit_rc: Option<i64>,
    ejected: Option<String>,
    errors: Vec<String>,
    /// The scheduler's output, kept when something went wrong.
    sched_log: Vec<String>,
    ended: bool,
}

impl Sample {
    fn is_eevdf(&self) -> bool {
        self.sched == EEVDF
    }

    fn valid(&self) -> bool {
        self.ejected.is_none() && self.errors.is_empty() && self.ended
    }

    fn sched_cpu_pct(&self) -> Option<f64> {
        let cpu = self.sched_cpu_ms?;
        let wall = self.hackbench_wall_ms.filter(|w| *w > 0.0)?;
        Some(cpu / wall * 100.0)
    }

    fn latency_us(&self, p: f64) -> Option<f64> {
        match self.latency.as_ref()?.percentile(p)? {
            Percentile::Us(us) => Some(us as f64),
            Percentile::Overflow => Some(f64::INFINITY),
        }
    }

    fn latency_max_us(&self) -> Option<f64> {
        self.latency.as_ref()?.max_us.map(|v| v as f64)
    }
}

/// The metrics of the table, in its column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Hackbench,
    BogoOps,
    LatP50,
    LatP99,
    LatMax,
    SchedCpu,
    Rss,
    AttachLog,
    AttachSeen,
}

impl Metric {
    const ALL: [Metric; 9] = [
        Metric::Hackbench,
        Metric::BogoOps,
        Metric::LatP50,
        Metric::LatP99,
        Metric::LatMax,
        Metric::SchedCpu,
        Metric::Rss,
        Metric::AttachLog,
        Metric::AttachSeen,
    ];

    fn key(self) -> &'static str {
        match self {
            Metric::Hackbench => "hackbench_s",
            Metric::BogoOps => "stress_ng_bogo_ops",
            Metric::LatP50 => "latency_p50_us",
            Metric::LatP99 => "latency_p99_us",
            Metric::LatMax => "latency_max_us",
            Metric::SchedCpu => "sched_cpu_pct",
            Metric::Rss => "sched_rss_mib",
            Metric::AttachLog => "attach_ms",
            Metric::AttachSeen => "attach_seen_ms",
        }
    }

    /// Whether the table shows the ratio against EEVDF.
    fn has_ratio(self) -> bool {
        matches!(
            self,
            Metric::Hackbench | Metric::BogoOps | Metric::LatP50 | Metric::LatP99 | Metric::LatMax
        )
    }

    fn of(self, s: &Sample) -> Option<f64> {
        match self {
            Metric::Hackbench => s.hackbench_secs,
            Metric::BogoOps => s.stress.map(|m| m.bogo_ops),
            Metric::LatP50 => s.latency_us(50.0),
            Metric::LatP99 => s.latency_us(99.0),
            Metric::LatMax => s.latency_max_us(),
            Metric::SchedCpu => s.sched_cpu_pct(),
            Metric::Rss => s.rss_kib.map(|k| k / 1024.0),
            Metric::AttachLog => s.attach_log_ms,
            Metric::AttachSeen => s.attach_ms,
        }
    }
}

/// Everything one boot measured.
#[derive(Debug, Default)]
struct Report {
    meta: BTreeMap<String, String>,
    /// EEVDF first, then the schedulers in the guest's order.
    scheds: Vec<String>,
    samples: Vec<Sample>,
    /// Things that failed to run, ejections included.
    problems: Vec<String>,
    runs: u32,
}

/// The median; even counts take the mean of the middle two.
fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

impl Report {
    fn from_records(records: &Records, runs: u32) -> Report {
        let mut report = Report {
            runs,
            ..Report::default()
        };
        for line in &records.malformed {
            report
                .problems
                .push(format!("unreadable record line {line:?}"));
        }
        let mut samples: BTreeMap<(String, u32), Sample> = BTreeMap::new();
        let mut texts: BTreeMap<(String, String, u32), Vec<&str>> = BTreeMap::new();
        for r in &records.records {
            if r.tool == "meta" {
                if let Some((k, v)) = r.text.split_once('=') {
                    report.meta.insert(k.to_string(), v.to_string());
                }
                continue;
            }
            if r.sched == "-" {
                if r.tool == "error" {
                    report.problems.push(r.text.clone());
                }
                continue;
            }
            if !report.scheds.contains(&r.sched) {
                report.scheds.push(r.sched.clone());
            }
            samples
                .entry((r.sched.clone(), r.run))
                .or_insert_with(|| Sample {
                    sched: r.sched.clone(),
                    run: r.run,
                    ..Sample::default()
                });
            texts
                .entry((r.tool.clone(), r.sched.clone(), r.run))
                .or_default()
                .push(&r.text);
        }
        // EEVDF first, the schedulers in the order the guest named them.
        let named: Vec<String> = report
            .meta
            .get("scheds")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let mut order = vec![EEVDF.to_string()];
        order.extend(named);
        for s in &report.scheds {
            if !order.contains(s) {
                order.push(s.clone());
            }
        }
        report.scheds = order;

        for ((sched, run), sample) in samples.iter_mut() {
            let get = |tool: &str| -> Vec<&str> {
                texts
                    .get(&(tool.to_string(), sched.clone(), *run))
                    .cloned()
                    .unwrap_or_default()
            };
            let first_kv = |tool: &str, key: &str| -> Option<f64> {
                get(tool)
                    .iter()
                    .find_map(|t| key_values(t).get(key).and_then(|v| v.parse::<f64>().ok()))
            };
            let rc_of =
                |tool: &str| -> Option<String> { get(tool).first().map(|t| t.trim().to_string()) };
            sample
                .errors
                .extend(get("error").iter().map(|t| t.to_string()));
            sample.ejected = get("eject").first().map(|t| t.to_string());
            sample.sched_log = get("sched-log").iter().map(|t| t.to_string()).collect();
            sample.ended = !get("end").is_empty();

            if let Some(rc) = rc_of("hackbench-rc") {
                sample.hackbench_secs = parse_hackbench(get("hackbench"));
                if rc != "0" {
                    sample.errors.push(format!("hackbench exited with {rc}"));
                } else if sample.hackbench_secs.is_none() {
                    sample
                        .errors
                        .push("no \"Time:\" in hackbench's output".to_string());
                }
            }
            sample.hackbench_wall_ms = first_kv("cost", "wall_ms");
            sample.sched_cpu_ms = first_kv("cost", "cpu_ns").map(|ns| ns / 1e6);
            if let Some(rc) = rc_of("stress-ng-rc") {
                sample.stress = parse_stress_ng(get("stress-ng"));
                if rc != "0" {
                    sample.errors.push(format!("stress-ng exited with {rc}"));
                } else if sample.stress.is_none() {
                    sample
                        .errors
                        .push("no cpu metrics in stress-ng's output".to_string());
                }
            }
            if let Some(rc) = rc_of("cyclictest-rc") {
                if rc != "0" {
                    let out = get("cyclictest-out").join(" / ");
                    sample
                        .errors
                        .push(format!("cyclictest exited with {rc}: {out}"));
                }
                // The main thread and the measuring one.
                let policies = get("cyclictest-policy").join(" ");
                let threads = policies.split_whitespace().count();
                if policies.split_whitespace().any(|p| p != "0") || threads < 2 {
                    sample.errors.push(format!(
                        "cyclictest's threads did not all run as SCHED_OTHER (policies: {policies:?})"
                    ));
                }
                match get("cyclictest").first().map(|t| parse_histogram(t)) {
                    Some(Ok(hist)) => {
                        let loops = report.meta.get("loops").and_then(|l| l.parse::<u64>().ok());
                        if loops.is_some_and(|l| l != hist.samples()) {
                            sample.errors.push(format!(
                                "cyclictest's histogram holds {} samples, not {}",
                                hist.samples(),
                                loops.unwrap_or_default()
                            ));
                        }
                        sample.latency = Some(hist);
                    }
                    Some(Err(err)) => sample.errors.push(format!("cyclictest: {err:#}")),
                    None => sample.errors.push("no cyclictest histogram".to_string()),
                }
            }
            sample.attach_ms = first_kv("sched", "attach_ms");
            sample.attach_log_ms = first_kv("sched", "attach_log_ms");
            sample.rss_kib = first_kv("sched", "rss_kb");
            sample.hwm_kib = first_kv("sched", "hwm_kb");
            sample.exit_rc = first_kv("sched", "exit_rc").map(|v| v as i64);
            if let Some(end) = get("end").first() {
                let rc = key_values(end).get("rc").map(|v| v.to_string());
                if rc.as_deref() != Some("0")
                    && sample.errors.is_empty()
                    && sample.ejected.is_none()
                {
                    sample
                        .errors
                        .push(format!("the workloads stopped early ({end})"));
                }
            }
            if !sample.is_eevdf() && sample.ejected.is_none() {
                match sample.exit_rc {
                    Some(0) => {}
                    Some(rc) => sample
                        .errors
                        .push(format!("exited with {rc} after SIGINT, not 0")),
                    None if sample.errors.is_empty() => {
                        sample.errors.push("no exit code after SIGINT".to_string())
                    }
                    None => {}
                }
            }
        }
        report.samples = samples.into_values().collect();

        for sample in &report.samples {
            let who = format!("{} round {}", sample.sched, sample.run);
            if let Some(how) = &sample.ejected {
                let rc = sample
                    .exit_rc
                    .map(|rc| format!(", exit code {rc}"))
                    .unwrap_or_default();
                report
                    .problems
                    .push(format!("{who}: ejected ({how}{rc}); the round is left out"));
            }
            for err in &sample.errors {
                report.problems.push(format!("{who}: {err}"));
            }
            if !sample.ended && sample.errors.is_empty() && sample.ejected.is_none() {
                report.problems.push(format!("{who}: never finished"));
            }
            if !sample.valid() && !sample.sched_log.is_empty() {
                let tail: Vec<&str> = sample
                    .sched_log
                    .iter()
                    .rev()
                    .take(8)
                    .rev()
                    .map(String::as_str)
                    .collect();
                report.problems.push(format!(
                    "{who}: end of its output:\n    | {}",
                    tail.join("\n    | ")
                ));
            }
        }
        for sched in &report.scheds {
            let done = report
                .samples
                .iter()
                .filter(|s| &s.sched == sched && s.valid())
                .count();
            if (done as u32) < runs
                && !report
                    .samples
                    .iter()
                    .any(|s| &s.sched == sched && !s.valid())
            {
                report
                    .problems
                    .push(format!("{sched}: {done} of {runs} rounds recorded"));
            }
        }
        report
    }

    fn valid_samples<'a>(&'a self, sched: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples
            .iter()
            .filter(move |s| s.sched == sched && s.valid())
    }

    fn median(&self, sched: &str, metric: Metric) -> Option<f64> {
        let values: Vec<f64> = self
            .valid_samples(sched)
            .filter_map(|s| metric.of(s))
            .collect();
        median(&values)
    }

    /// The scheduler's median over EEVDF's, when both are finite.
    fn ratio(&self, sched: &str, metric: Metric) -> Option<f64> {
        let ours = self.median(sched, metric)?;
        let base = self.median(EEVDF, metric)?;
        let r = ours / base;
        (base > 0.0 && r.is_finite()).then_some(r)
    }

    /// When the scheduler's median is above the histogram's range: the least the ratio can be.
    fn ratio_at_least(&self, sched: &str, metric: Metric) -> Option<f64> {
        let ours = self.median(sched, metric)?;
        let base = self.median(EEVDF, metric)?;
        let range = self.hist_max()?.parse::<f64>().ok()?;
        (ours.is_infinite() && base.is_finite() && base > 0.0).then_some(range / base)
    }

    fn hist_max(&self) -> Option<&str> {
        self.meta.get("hist_max_us").map(String::as_str)
    }
}

fn fmt_value(metric: Metric, v: Option<f64>, hist_max: Option<&str>) -> String {
    let Some(v) = v else {
        return "-".to_string();
    };
    if v.is_infinite() {
        return format!(">{}", hist_max.unwrap_or("max"));
    }
    match metric {
        Metric::Hackbench => format!("{v:.2}"),
        Metric::SchedCpu | Metric::Rss => format!("{v:.1}"),
        _ => format!("{v:.0}"),
    }
}

/// The table of medians and ratios against EEVDF.
fn render_table(report: &Report) -> String {
    let headers = [
        "scheduler",
        "rounds",
        "hackbench s",
        "stress-ng bogo ops",
        "lat p50 us",
        "lat p99 us",
        "lat max us",
        "sched CPU %",
        "RSS MiB",
        "attach ms",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for sched in &report.scheds {
        let total = report.samples.iter().filter(|s| &s.sched == sched).count();
        let valid = report.valid_samples(sched).count();
        let mut row = vec![
            if sched == EEVDF {
                "EEVDF".to_string()
            } else {
                sched.clone()
            },
            format!("{valid}/{total}"),
        ];
        for metric in Metric::ALL {
            if metric == Metric::AttachSeen {
                continue;
            }
            let value = report.median(sched, metric);
            let mut cell = fmt_value(metric, value, report.hist_max());
            if sched != EEVDF && metric.has_ratio() && value.is_some() {
                match (
                    report.ratio(sched, metric),
                    report.ratio_at_least(sched, metric),
                ) {
                    (Some(r), _) => {
                        let _ = write!(cell, " ({r:.2}x)");
                    }
                    (None, Some(r)) => {
                        let _ = write!(cell, " (>{r:.2}x)");
                    }
                    (None, None) => cell.push_str(" (-)"),
                }
            }
            if metric == Metric::AttachLog && sched != EEVDF {
                let seen = report.median(sched, Metric::AttachSeen);
                cell = format!("{cell}/{}", fmt_value(Metric::AttachSeen, seen, None));
            }
            row.push(cell);
        }
        rows.push(row);
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let kernel = report.meta.get("kernel").map(String::as_str).unwrap_or("?");
    let nproc = report.meta.get("nproc").map(String::as_str).unwrap_or("?");
    let _ = writeln!(
        out,
        "kernel {kernel}, {nproc} CPUs, medians of valid rounds; (x) = scheduler / EEVDF"
    );
    for (name, key) in [
        ("throughput", "hackbench"),
        ("throughput", "stress"),
        ("latency", "latency"),
    ] {
        if let Some(cmd) = report.meta.get(key) {
            let _ = writeln!(out, "  {name}: {cmd}");
        }
    }
    let line = |cells: &[String], out: &mut String| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    line(&header, &mut out);
    for row in &rows {
        line(row, &mut out);
    }
    let _ = writeln!(
        out,
        "hackbench: lower is better; bogo ops: higher is better; latency: cyclictest wakeups of a \
         SCHED_OTHER task with every CPU busy;\nsched CPU %: the scheduler process's own CPU time \
         during hackbench, in % of one CPU (BPF code runs in other tasks and is not counted);\
         \nattach ms: logged by the scheduler / seen by the script"
    );
    out
}

/// A JSON value, enough for the results file.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn num(v: Option<f64>) -> Json {
        match v {
            Some(v) if v.is_finite() => Json::Num(v),
            _ => Json::Null,
        }
    }

    fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    fn obj<const N: usize>(fields: [(&str, Json); N]) -> Json {
        Json::Obj(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    fn write(&self, out: &mut String, indent: usize) {
        let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(v) => {
                // Four decimals are more than any of these measurements resolve.
                let text = format!("{v:.4}");
                let text = text.trim_end_matches('0').trim_end_matches('.');
                out.push_str(if text == "-0" { "0" } else { text });
            }
            Json::Str(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        '\r' => out.push_str("\\r"),
                        c if (c as u32) < 0x20 => {
                            let _ = write!(out, "\\u{:04x}", c as u32);
                        }
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            Json::Arr(items) => {
                // Short arrays of plain values stay on one line.
                let flat = items
                    .iter()
                    .all(|i| !matches!(i, Json::Arr(_) | Json::Obj(_)))
                    || items
                        .iter()
                        .all(|i| matches!(i, Json::Arr(a) if a.len() <= 2));
                if items.is_empty() {
                    out.push_str("[]");
                } else if flat {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        item.write(out, indent);
                    }
                    out.push(']');
                } else {
                    out.push_str("[\n");
                    for (i, item) in items.iter().enumerate() {
                        pad(out, indent + 2);
                        item.write(out, indent + 2);
                        out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                    }
                    pad(out, indent);
                    out.push(']');
                }
            }
            Json::Obj(fields) => {
                if fields.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push_str("{\n");
                for (i, (k, v)) in fields.iter().enumerate() {
                    pad(out, indent + 2);
                    Json::Str(k.clone()).write(out, indent + 2);
                    out.push_str(": ");
                    v.write(out, indent + 2);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push('}');
            }
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }
}

/// Seconds since the epoch as an RFC 3339 UTC time.
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to a civil date (proleptic Gregorian), eras of 400 years.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    )
}

fn sample_json(s: &Sample) -> Json {
    let latency = s.latency.as_ref().map(|h| {
        let pct = |p: f64| match h.percentile(p) {
            Some(Percentile::Us(us)) => Json::Num(us as f64),
            _ => Json::Null,
        };
        Json::obj([
            ("samples", Json::Num(h.samples() as f64)),
            ("overflows", Json::Num(h.overflows as f64)),
            ("p50", pct(50.0)),
            ("p90", pct(90.0)),
            ("p99", pct(99.0)),
            ("min", Json::num(h.min_us.map(|v| v as f64))),
            ("avg", Json::num(h.avg_us.map(|v| v as f64))),
            ("max", Json::num(h.max_us.map(|v| v as f64))),
            (
                "histogram",
                Json::Arr(
                    h.bins
                        .iter()
                        .map(|&(us, n)| Json::Arr(vec![Json::Num(us as f64), Json::Num(n as f64)]))
                        .collect(),
                ),
            ),
        ])
    });
    Json::obj([
        ("sched", Json::str(&s.sched)),
        ("round", Json::Num(f64::from(s.run))),
        ("valid", Json::Bool(s.valid())),
        (
            "ejected",
            s.ejected.clone().map(Json::Str).unwrap_or(Json::Null),
        ),
        (
            "errors",
            Json::Arr(s.errors.iter().map(|e| Json::str(e.as_str())).collect()),
        ),
        ("hackbench_s", Json::num(s.hackbench_secs)),
        ("hackbench_wall_ms", Json::num(s.hackbench_wall_ms)),
        ("sched_cpu_ms", Json::num(s.sched_cpu_ms)),
        ("sched_cpu_pct", Json::num(s.sched_cpu_pct())),
        (
            "stress_ng_bogo_ops",
            Json::num(s.stress.map(|m| m.bogo_ops)),
        ),
        (
            "stress_ng_bogo_ops_per_s",
            Json::num(s.stress.map(|m| m.bogo_ops_per_sec)),
        ),
        ("stress_ng_real_s", Json::num(s.stress.map(|m| m.real_secs))),
        ("latency_us", latency.unwrap_or(Json::Null)),
        ("attach_ms", Json::num(s.attach_log_ms)),
        ("attach_seen_ms", Json::num(s.attach_ms)),
        ("rss_kib", Json::num(s.rss_kib)),
        ("rss_peak_kib", Json::num(s.hwm_kib)),
        ("exit_code", Json::num(s.exit_rc.map(|v| v as f64))),
    ])
}

fn report_json(
    report: &Report,
    kernel: &crate::kernel::Kernel,
    args: &BenchArgs,
    log: &Path,
    now: u64,
) -> String {
    let medians = report
        .scheds
        .iter()
        .map(|sched| {
            let mut fields: Vec<(String, Json)> = vec![(
                "valid_rounds".to_string(),
                Json::Num(report.valid_samples(sched).count() as f64),
            )];
            for metric in Metric::ALL {
                let v = report.median(sched, metric);
                fields.push((metric.key().to_string(), Json::num(v)));
                if v.is_some_and(f64::is_infinite) {
                    fields.push((
                        format!("{}_above_histogram", metric.key()),
                        Json::Bool(true),
                    ));
                }
            }
            (sched.clone(), Json::Obj(fields))
        })
        .collect();
    let ratios = report
        .scheds
        .iter()
        .filter(|s| s.as_str() != EEVDF)
        .map(|sched| {
            let mut fields = Vec::new();
            for m in Metric::ALL.iter().filter(|m| m.has_ratio()) {
                fields.push((m.key().to_string(), Json::num(report.ratio(sched, *m))));
                if let Some(least) = report.ratio_at_least(sched, *m) {
                    fields.push((format!("{}_at_least", m.key()), Json::Num(least)));
                }
            }
            (sched.clone(), Json::Obj(fields))
        })
        .collect();
    let workloads = ["hackbench", "stress", "latency"]
        .iter()
        .filter_map(|k| Some((k.to_string(), Json::str(report.meta.get(*k)?.as_str()))))
        .collect();
    Json::obj([
        ("kernel", Json::str(&kernel.kver)),
        ("suite", Json::str(&kernel.suite)),
        ("timestamp", Json::str(rfc3339(now))),
        ("runs", Json::Num(f64::from(report.runs))),
        ("quick", Json::Bool(args.quick)),
        (
            "vm",
            Json::obj([
                ("smp", Json::Num(2.0)),
                (
                    "nproc",
                    Json::num(report.meta.get("nproc").and_then(|n| n.parse().ok())),
                ),
                (
                    "tcg",
                    Json::str(match args.tcg {
                        vm::TcgThreads::Single => "single",
                        vm::TcgThreads::Multi => "multi",
                    }),
                ),
                ("console_log", Json::str(log.display().to_string())),
            ]),
        ),
        ("workloads", Json::Obj(workloads)),
        (
            "schedulers",
            Json::Arr(
                report
                    .scheds
                    .iter()
                    .map(|s| Json::str(s.as_str()))
                    .collect(),
            ),
        ),
        ("medians", Json::Obj(medians)),
        ("ratios_vs_eevdf", Json::Obj(ratios)),
        (
            "problems",
            Json::Arr(
                report
                    .problems
                    .iter()
                    .map(|p| Json::str(p.as_str()))
                    .collect(),
            ),
        ),
        (
            "samples",
            Json::Arr(report.samples.iter().map(sample_json).collect()),
        ),
    ])
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIST: &str = "# Histogram\n000000 000000\n000001 000000\n000072 000001\n000073 000002\n\
        000080 000005\n000081 000000\n000141 000001\n# Total: 000000009\n# Min Latencies: 00072\n\
        # Avg Latencies: 00086\n# Max Latencies: 00141\n# Histogram Overflows: 00001\n\
        # Histogram Overflow at cycle number:\n# Thread 0: 00004\n";

    #[test]
    fn histogram_percentiles_count_every_sample() {
        let h = parse_histogram(HIST).unwrap();
        assert_eq!(h.bins, vec![(72, 1), (73, 2), (80, 5), (141, 1)]);
        assert_eq!(h.overflows, 1);
        assert_eq!(h.samples(), 10);
        assert_eq!(h.max_us, Some(141));
        // Ranks: 1 -> 72, 2..3 -> 73, 4..8 -> 80, 9 -> 141, 10 -> overflow.
        assert_eq!(h.percentile(10.0), Some(Percentile::Us(72)));
        assert_eq!(h.percentile(30.0), Some(Percentile::Us(73)));
        assert_eq!(h.percentile(50.0), Some(Percentile::Us(80)));
        assert_eq!(h.percentile(80.0), Some(Percentile::Us(80)));
        assert_eq!(h.percentile(90.0), Some(Percentile::Us(141)));
        assert_eq!(h.percentile(99.0), Some(Percentile::Overflow));
    }

    #[test]
    fn histogram_from_one_joined_line() {
        let joined = "# Histogram;000010 000099;000500 000001;# Total: 000000100;\
            # Min Latencies: 00010;# Avg Latencies: 00014;# Max Latencies: 00500;\
            # Histogram Overflows: 00000;# Histogram Overflow at cycle number:;";
        let h = parse_histogram(joined).unwrap();
        assert_eq!(h.samples(), 100);
        assert_eq!(h.percentile(50.0), Some(Percentile::Us(10)));
        assert_eq!(h.percentile(99.0), Some(Percentile::Us(10)));
        assert_eq!(h.percentile(100.0), Some(Percentile::Us(500)));
        assert!(parse_histogram("000001 000002 000003\n# Max Latencies: 1").is_err());
        assert!(parse_histogram("000001 000002\n").is_err());
        assert!(parse_histogram("000002 000001;000001 000001;# Max Latencies: 2").is_err());
        assert_eq!(
            parse_histogram("# Max Latencies: 9")
                .unwrap()
                .percentile(50.0),
            None
        );
    }

    #[test]
    fn stress_ng_bogo_ops() {
        let out = [
            "stress-ng: info:  [6319] setting to a 2 second run per stressor",
            "stress-ng: info:  [6319] dispatching hogs: 2 cpu",
            "stress-ng: metrc: [6319] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s",
            "stress-ng: metrc: [6319]                           (secs)    (secs)    (secs)   (real time) (usr+sys time)",
            "stress-ng: metrc: [6319] cpu                3702      2.00      2.16      0.00      1848.88        1717.84",
            "stress-ng: info:  [6319] successful run completed in 2.00s",
        ];
        let m = parse_stress_ng(out).unwrap();
        assert_eq!(m.bogo_ops, 3702.0);
        assert_eq!(m.real_secs, 2.0);
        assert_eq!(m.bogo_ops_per_sec, 1848.88);
        let old = ["stress-ng: info:  [12] cpu   120  5.01  9.90  0.02  23.95  12.10"];
        assert_eq!(parse_stress_ng(old).unwrap().bogo_ops, 120.0);
        assert!(parse_stress_ng(["stress-ng: info:  [1] dispatching hogs: 2 cpu"]).is_none());
    }

    #[test]
    fn hackbench_time() {
        let out = [
            "Running in process mode with 4 groups using 40 file descriptors each (== 160 tasks)",
            "Each sender will pass 200 messages of 100 bytes",
            "Time: 2.345",
        ];
        assert_eq!(parse_hackbench(out), Some(2.345));
        assert_eq!(parse_hackbench(["Time: nan"]), None);
    }

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    fn round(sched: &str, run: u32, hb: &str, ops: u32, hist: &str) -> String {
        let mut s = format!(
            "hackbench {sched} {run} | Time: {hb}\nhackbench-rc {sched} {run} | 0\n\
             stress-ng {sched} {run} | stress-ng: metrc: [9] cpu  {ops}  5.00  9.9  0.0  {ops}.0  1.0\n\
             stress-ng-rc {sched} {run} | 0\ncyclictest-policy {sched} {run} |  0 0\n\
             cyclictest-rc {sched} {run} | 0\ncyclictest {sched} {run} | {hist}\n"
        );
        if sched == EEVDF {
            s.push_str(&format!("cost {sched} {run} | wall_ms=3000\n"));
        } else {
            s.push_str(&format!(
                "sched {sched} {run} | attach_ms=600 attach_log_ms=400\n\
                 cost {sched} {run} | wall_ms=3000 cpu_ns=300000000\n\
                 sched {sched} {run} | rss_kb=20480 hwm_kb=21000\nsched {sched} {run} | exit_rc=0\n"
            ));
        }
        s.push_str(&format!("end {sched} {run} | rc=0\n"));
        s
    }

    fn sample_report() -> Report {
        let fast =
            "000010 000003;000020 000001;# Max Latencies: 00025;# Histogram Overflows: 00000";
        let slow =
            "000100 000002;000900 000002;# Max Latencies: 00950;# Histogram Overflows: 00000";
        let mut text = String::from(
            "meta - 0 | kernel=7.3.4+deb13-cloud-amd64\nmeta - 0 | nproc=2\n\
             meta - 0 | scheds=scx_a\nmeta - 0 | loops=4\nmeta - 0 | hackbench=hackbench -g 4 -l 150\n",
        );
        text.push_str(&round(EEVDF, 1, "2.00", 1000, fast));
        text.push_str(&round("scx_a", 1, "3.00", 900, slow));
        text.push_str(&round("scx_a", 2, "2.50", 950, slow));
        text.push_str(&round(EEVDF, 2, "2.20", 1100, fast));
        text.push_str(&round(EEVDF, 3, "2.10", 1050, fast));
        text.push_str("sched scx_a 3 | attach_ms=700 attach_log_ms=500\n");
        text.push_str("hackbench scx_a 3 | Time: 9.99\nhackbench-rc scx_a 3 | 0\n");
        text.push_str("eject scx_a 3 | during=hackbench state=disabled ops= enable_seq=3->3\n");
        text.push_str("sched scx_a 3 | exit_rc=11\nend scx_a 3 | rc=1\n");
        let records = parse_records(&lines(&text));
        assert!(records.malformed.is_empty(), "{:?}", records.malformed);
        Report::from_records(&records, 3)
    }

    #[test]
    fn report_medians_ratios_and_ejections() {
        let r = sample_report();
        assert_eq!(r.scheds, vec![EEVDF.to_string(), "scx_a".to_string()]);
        assert_eq!(r.median(EEVDF, Metric::Hackbench), Some(2.1));
        assert_eq!(r.median("scx_a", Metric::Hackbench), Some(2.75));
        assert_eq!(r.median("scx_a", Metric::LatP50), Some(100.0));
        assert_eq!(r.median("scx_a", Metric::LatP99), Some(900.0));
        assert_eq!(r.median(EEVDF, Metric::LatP99), Some(20.0));
        assert_eq!(r.ratio("scx_a", Metric::LatP50), Some(10.0));
        assert_eq!(r.median("scx_a", Metric::SchedCpu), Some(10.0));
        assert_eq!(r.median("scx_a", Metric::Rss), Some(20.0));
        // The ejected round is kept as a sample, left out of the medians and reported.
        assert_eq!(r.samples.len(), 6);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].contains("scx_a round 3: ejected"));
        assert!(r.problems[0].contains("exit code 11"));
    }

    #[test]
    fn table_shows_medians_and_ratios() {
        let table = render_table(&sample_report());
        let rows: Vec<&str> = table.lines().collect();
        let header = rows
            .iter()
            .position(|l| l.starts_with("scheduler"))
            .unwrap();
        let eevdf: Vec<&str> = rows[header + 1].split_whitespace().collect();
        assert_eq!(
            eevdf,
            ["EEVDF", "3/3", "2.10", "1050", "10", "20", "25", "-", "-", "-"]
        );
        let a = rows[header + 2];
        assert!(a.starts_with("scx_a "));
        for cell in [
            "2/3",
            "2.75 (1.31x)",
            "925 (0.88x)",
            "100 (10.00x)",
            "900 (45.00x)",
            "950 (38.00x)",
            "10.0",
            "20.0",
            "400/600",
        ] {
            assert!(a.contains(cell), "{cell:?} missing from {a:?}");
        }
        // Columns line up: every row is as wide as the header or narrower.
        let width = rows[header].len();
        assert!(rows[header + 1].len() <= width && a.len() == width);
    }

    #[test]
    fn overflowing_latency_is_shown_as_above_the_range() {
        let mut r = sample_report();
        r.meta.insert("hist_max_us".into(), "100000".into());
        for s in r.samples.iter_mut().filter(|s| s.sched == "scx_a") {
            if let Some(h) = s.latency.as_mut() {
                h.overflows = 100;
            }
        }
        let table = render_table(&r);
        // EEVDF's p50 is 10 us: the ratio is at least 100000 / 10.
        assert!(table.contains(">100000 (>10000.00x)"), "{table}");
    }

    #[test]
    fn malformed_and_missing_records_are_problems() {
        let records = parse_records(&lines(
            "hackbench eevdf x | Time: 1\n[ 12.3] sched_ext: something\n\nerror - 0 | no hackbench\n",
        ));
        assert_eq!(records.malformed.len(), 2);
        let r = Report::from_records(&records, 1);
        assert!(r.problems.iter().any(|p| p == "no hackbench"));
        assert!(r.problems.iter().any(|p| p.contains("eevdf: 0 of 1")));
    }

    #[test]
    fn json_is_well_formed() {
        let v = Json::obj([
            ("a", Json::Num(1.0)),
            ("b", Json::Num(2.5)),
            ("g", Json::Num(1.0 / 3.0)),
            ("h", Json::Num(-0.00001)),
            ("c", Json::num(Some(f64::INFINITY))),
            ("d", Json::str("x\"y\n")),
            (
                "e",
                Json::Arr(vec![Json::Arr(vec![Json::Num(1.0), Json::Num(2.0)])]),
            ),
            ("f", Json::Obj(Vec::new())),
        ]);
        assert_eq!(
            v.render(),
            "{\n  \"a\": 1,\n  \"b\": 2.5,\n  \"g\": 0.3333,\n  \"h\": 0,\n  \"c\": null,\n  \"d\": \"x\\\"y\\n\",\n  \"e\": [[1, 2]],\n  \"f\": {}\n}\n"
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn record_block_and_json_paths() {
        let text = format!("boot\n{BLOCK_BEGIN}\nmeta - 0 | a=b\n{BLOCK_END}\nbye");
        let console = lines(&text);
        assert_eq!(block(&console).unwrap(), &console[2..3]);
        assert!(block(&console[..3]).is_none());
        assert_eq!(
            json_path(Some(Path::new("/x/out.json")), "7.3", true, false).unwrap(),
            PathBuf::from("/x/out-7.3.json")
        );
        assert_eq!(
            json_path(Some(Path::new("/x/out.json")), "7.3", false, true).unwrap(),
            PathBuf::from("/x/out.json")
        );
    }
}
