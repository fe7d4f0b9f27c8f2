//! `cargo xtask bench`: each sched_ext scheduler against EEVDF, in one VM boot per kernel.
//!
//! The guest half is `tests/vm/bench/run.sh`. It runs rounds of workloads (hackbench, stress-ng,
//! cyclictest under CPU hogs, vmtool's frames and requests), each round once per scheduler and
//! once on EEVDF, and prints the tools' own output as records between the VM runner's data
//! markers. This side parses them, prints tables of medians and ratios against EEVDF, writes
//! everything as JSON and the wakeup-latency distributions as SVG. `--compare` reads two
//! JSON files instead of running anything.
//! The numbers never fail the command; a tool that did not run, or a scheduler that was ejected,
//! does.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;

mod compare;
mod json;
mod parse;
mod report;
mod sample;
mod svg;
mod table;

use json::{json_path, report_json};
use parse::{block, parse_records};
use report::Report;
use table::render_table;

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
    /// Each profile of each scheduler (`--list-profiles`) on the workloads of its own metric,
    /// and EEVDF on all of them, on 4 vCPUs (powersave's duty cycle needs them)
    #[arg(long, conflicts_with = "compare")]
    profiles: bool,
    /// Only these workloads, comma-separated (throughput, latency, frames, requests, duty,
    /// matrix): a shorter run while tuning for one of them
    #[arg(long, value_delimiter = ',', value_enum, conflicts_with = "compare")]
    workloads: Vec<Workload>,
    /// Compare two results files instead of running: ratios side by side, regressions flagged
    #[arg(long, num_args = 2, value_names = ["OLD.json", "NEW.json"])]
    compare: Vec<PathBuf>,
}

/// The workloads of the guest script (its `wl_*` functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// hackbench (with the scheduler's own CPU time) and stress-ng
    Throughput,
    /// cyclictest under CPU hogs
    Latency,
    /// vmtool frames beside a build
    Frames,
    /// vmtool requests at each load level
    Requests,
    /// vmtool duty (powersave's metric)
    Duty,
    /// stress-ng matrix and its migrations (hpc's metric)
    Matrix,
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
            profiles: false,
            workloads: Vec::new(),
            compare: Vec::new(),
        }
    }

    /// The suite's smoke run: [`Self::quick_for_test`] with the first registered scheduler of
    /// each kind, since it fails only when something does not run.
    pub fn smoke_for_test(tcg: vm::TcgThreads, fetch: Fetch) -> Result<Self> {
        let mut args = Self::quick_for_test(tcg, fetch, false);
        let mut kinds = Vec::new();
        for s in crate::registry::schedulers(&crate::util::repo_root()?)? {
            if !kinds.contains(&s.kind) {
                kinds.push(s.kind);
                args.scheds.push(s.name);
            }
        }
        Ok(args)
    }

    /// The names of the workloads `--workloads` selected (none: all of them).
    fn selected_workloads(&self) -> Vec<String> {
        self.workloads
            .iter()
            .filter_map(|w| w.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect()
    }

    fn runs(&self) -> u32 {
        self.runs.unwrap_or(if self.quick { 1 } else { 3 })
    }

    /// The default results file's name: bench, bench-quick, bench-profiles(-quick).
    fn kind(&self) -> &'static str {
        match (self.profiles, self.quick) {
            (false, false) => "bench",
            (false, true) => "bench-quick",
            (true, false) => "bench-profiles",
            (true, true) => "bench-profiles-quick",
        }
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
    if let [old, new] = args.compare.as_slice() {
        return compare::command(old, new);
    }
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
        format!("SCX_BENCH_PROFILES={}", u8::from(args.profiles)),
    ];
    if !args.scheds.is_empty() {
        cmdline.push(format!("SCX_BENCH_SCHEDS={}", args.scheds.join(",")));
    }
    if !args.workloads.is_empty() {
        cmdline.push(format!(
            "SCX_BENCH_WORKLOADS={}",
            args.selected_workloads().join(",")
        ));
    }
    let opts = vm::Options {
        kernel: args.kernel.clone(),
        smp: if args.profiles { 4 } else { 2 },
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
        let path = json_path(args.json.as_deref(), kver, several, args.kind())?;
        let json = report_json(&report, &console.kernel, args, &console.log, unix_now()?)?;
        util::write_atomic(&path, json.as_bytes())
            .with_context(|| format!("writing the results to {}", path.display()))?;
        let picture = path.with_extension("svg");
        util::write_atomic(&picture, svg::render(&report).as_bytes())
            .with_context(|| format!("writing the latency chart to {}", picture.display()))?;
        println!("results: {}", path.display());
        println!("latency distributions: {}", picture.display());
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
    let per_set: u64 = if args.quick { 90 } else { 150 };
    if args.profiles {
        // Up to five profiles a scheduler, each a part of the set; EEVDF runs all six parts, on
        // twice the vCPUs of one host thread.
        return Ok(120 + u64::from(runs) * (scheds * 5 + 3) * per_set);
    }
    Ok(120 + u64::from(runs) * (scheds + 1) * per_set)
}

fn unix_now() -> Result<u64> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_secs())
}

#[cfg(test)]
mod tests {
    use super::json::*;
    use super::parse::*;
    use super::report::*;
    use super::sample::*;
    use super::table::*;
    use super::*;
    use std::path::Path;

    const HIST: &str = "# Histogram\n000000 000000\n000001 000000\n000072 000001\n000073 000002\n\
        000080 000005\n000081 000000\n000141 000001\n# Total: 000000009\n# Min Latencies: 00072\n\
        # Avg Latencies: 00086\n# Max Latencies: 00141\n# Histogram Overflows: 00001\n\
        # Histogram Overflow at cycle number:\n# Thread 0: 00004\n";

    #[test]
    fn every_workload_option_names_a_workload_of_the_guest_script() {
        let root = crate::util::repo_root().expect("repo root");
        let script = std::fs::read_to_string(root.join("tests/vm").join(format!("{SCRIPT}.sh")))
            .expect("guest script");
        for w in Workload::value_variants() {
            let name = w.to_possible_value().expect("named").get_name().to_string();
            assert!(
                script.contains(&format!("\nwl_{name}() {{")),
                "no wl_{name} in {SCRIPT}.sh"
            );
        }
    }

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
        let m = parse_stress_ng(out, "cpu").unwrap();
        assert_eq!(m.bogo_ops, 3702.0);
        assert_eq!(m.real_secs, 2.0);
        assert_eq!(m.bogo_ops_per_sec, 1848.88);
        let old = ["stress-ng: info:  [12] cpu   120  5.01  9.90  0.02  23.95  12.10"];
        assert_eq!(parse_stress_ng(old, "cpu").unwrap().bogo_ops, 120.0);
        assert!(
            parse_stress_ng(["stress-ng: info:  [1] dispatching hogs: 2 cpu"], "cpu").is_none()
        );
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
    fn results_file_is_json_with_medians_ratios_and_samples() {
        let report = sample_report();
        let kernel = crate::kernel::Kernel {
            suite: "sid".into(),
            kver: "7.2".into(),
            version: "7.2-1".into(),
            dir: PathBuf::from("/k"),
        };
        let args = BenchArgs::quick_for_test(vm::TcgThreads::Single, Fetch::Offline, false);
        let text = report_json(&report, &kernel, &args, Path::new("/log"), 0).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["kernel"], "7.2");
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00Z");
        assert_eq!(v["medians"]["scx_a"]["hackbench_s"], 2.75);
        assert!(v["ratios_vs_eevdf"]["scx_a"].is_object());
        assert!(v["ratios_vs_eevdf"].get(EEVDF).is_none());
        assert_eq!(v["samples"].as_array().unwrap().len(), report.samples.len());
        // The histogram travels with each sample, as [us, count] pairs.
        assert!(v["samples"][0]["latency_us"]["histogram"].is_array());
    }

    fn responsiveness(sched: &str, run: u32, missed: &str, rps: &str) -> String {
        format!(
            "frames {sched} {run} | ticks=240 frames=230 on_time=220 late=10 missed=20 \
             missed_pct={missed} late_p99_us=9000 late_max_us=20000 bg_hog_ms=5000 \
             bg_compile_ms=3000 bg_ms=8000 render_cpu_us=2100 start_p50_us=1800 \
             helper_wait_p99_us=900 secs=4.0\nframes-rc {sched} {run} | 0\n\
             requests {sched} {run} | load_pct=50 think_us=3000 work_us=1000 requests=900 \
             rps={rps} wake_p50_us=30 wake_p99_us=4000 wake_p999_us=8000 wake_max_us=9000 \
             req_p50_us=1100 req_p99_us=6000 busy_pct=48.5 secs=2.0 hist=20:500,40:399,8000:1\n\
             requests-rc {sched} {run} | load_pct=50 rc=0\n\
             requests {sched} {run} | vmtool requests: spawning a worker: EAGAIN\n\
             requests-rc {sched} {run} | load_pct=100 rc=1\n"
        )
    }

    #[test]
    fn frames_and_requests_are_read_and_failures_reported() {
        let mut text = String::from("meta - 0 | scheds=scx_a\nmeta - 0 | request_loads=50,100\n");
        text.push_str(&responsiveness(EEVDF, 1, "25.00", "450.0"));
        text.push_str(&responsiveness("scx_a", 1, "5.00", "900.0"));
        let r = Report::from_records(&parse_records(&lines(&text)), 1);
        let a = r.samples.iter().find(|s| s.sched == "scx_a").unwrap();
        assert_eq!(a.frames.unwrap().missed_pct, 5.0);
        assert_eq!(a.frames.unwrap().background_ms, 8000.0);
        assert_eq!(a.frames.unwrap().render_cpu_us, Some(2100.0));
        let breakdown = a.frames.unwrap().breakdown_us;
        assert_eq!(breakdown[0], Some(1800.0), "start_p50_us");
        assert_eq!(breakdown[5], Some(900.0), "helper_wait_p99_us");
        assert_eq!(breakdown[1], None, "start_p99_us was not printed");
        let req = a.requests_at(50).unwrap();
        assert_eq!(req.wake_hist, vec![(20, 500), (40, 399), (8000, 1)]);
        assert_eq!(req.req_p99_us, 6000.0);
        // The failed load is the sample's error, with what the tool said.
        assert!(a.requests_at(100).is_none());
        assert!(a
            .errors
            .iter()
            .any(|e| e.contains("at 100% exited with 1") && e.contains("EAGAIN")));
        assert!(!a.valid());
        // Ratios and per-round ratios come from valid samples only: none here.
        assert!(r.round_ratios("scx_a", Metric::FramesMissed).is_empty());
    }

    #[test]
    fn frames_and_requests_have_medians_ratios_tables_and_a_chart() {
        let mut text = String::from("meta - 0 | scheds=scx_a\nmeta - 0 | request_loads=50,100\n");
        for run in 1..=3 {
            for (sched, missed, rps) in [(EEVDF, "20.00", "400.0"), ("scx_a", "5.00", "600.0")] {
                let block = responsiveness(sched, run, missed, rps);
                // Both loads succeed here.
                let ok = block.replace(
                    "vmtool requests: spawning a worker: EAGAIN",
                    "load_pct=100 rps=1.0 wake_p50_us=1 wake_p99_us=2 wake_p999_us=3 \
                     wake_max_us=4 req_p99_us=5 busy_pct=10 hist=2:10",
                );
                text.push_str(&ok.replace("load_pct=100 rc=1", "load_pct=100 rc=0"));
                text.push_str(&format!("end {sched} {run} | rc=0\n"));
                if sched != EEVDF {
                    text.push_str(&format!("sched {sched} {run} | exit_rc=0\n"));
                }
            }
        }
        let r = Report::from_records(&parse_records(&lines(&text)), 3);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.ratio("scx_a", Metric::FramesMissed), Some(0.25));
        assert_eq!(r.ratio("scx_a", Metric::Req(50, ReqStat::Rps)), Some(1.5));
        assert_eq!(
            r.round_ratios("scx_a", Metric::FramesMissed),
            vec![0.25, 0.25, 0.25]
        );
        let table = render_table(&r);
        assert!(table.contains("5.00 (0.25x)"), "{table}");
        assert!(table.contains("600 (1.50x)"), "{table}");
        let chart = svg::render(&r);
        assert!(chart.starts_with("<svg") && chart.trim_end().ends_with("</svg>"));
        // One panel per requests load (no cyclictest here), a line per scheduler in each.
        assert_eq!(chart.matches("<path ").count(), 4);
        assert!(chart.contains("requests at 100 % load"));
    }

    #[test]
    fn compare_flags_only_what_got_worse_beyond_the_noise() {
        use super::compare::{noise, worse};
        assert_eq!(noise(&[1.0]), None);
        let n = noise(&[0.9, 1.0, 1.1]).unwrap();
        assert!((n - 0.1).abs() < 1e-9);
        // Latency: higher is worse; throughput: lower is worse.
        assert!(worse(Metric::LatP99, 1.0, 1.2, 0.1));
        assert!(!worse(Metric::LatP99, 1.0, 1.05, 0.1));
        assert!(!worse(Metric::LatP99, 1.0, 0.5, 0.1));
        assert!(worse(Metric::BogoOps, 1.0, 0.8, 0.1));
        assert!(!worse(Metric::BogoOps, 1.0, 1.3, 0.1));
        assert!(worse(Metric::Req(50, ReqStat::Rps), 1.0, 0.8, 0.1));
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
            json_path(Some(Path::new("/x/out.json")), "7.3", true, "bench").unwrap(),
            PathBuf::from("/x/out-7.3.json")
        );
        assert_eq!(
            json_path(Some(Path::new("/x/out.json")), "7.3", false, "bench-quick").unwrap(),
            PathBuf::from("/x/out.json")
        );
    }
}
