//! The statistics: one sample per scheduler and round, the metrics read from it, medians over
//! the valid rounds and ratios against EEVDF in the same boot, and the problems that fail a run.

use std::collections::BTreeMap;

use super::parse::{
    key_values, number, parse_frames, parse_hackbench, parse_histogram, parse_requests,
    parse_stress_ng, Frames, Histogram, Percentile, Records, Requests, StressMetrics,
};
use super::profiles::{self, Duty};
use super::EEVDF;

/// What one run of one scheduler (or EEVDF) measured.
#[derive(Debug, Clone, Default)]
pub(super) struct Sample {
    pub(super) sched: String,
    pub(super) run: u32,
    pub(super) hackbench_secs: Option<f64>,
    pub(super) hackbench_wall_ms: Option<f64>,
    pub(super) sched_cpu_ms: Option<f64>,
    pub(super) stress: Option<StressMetrics>,
    pub(super) latency: Option<Histogram>,
    pub(super) frames: Option<Frames>,
    /// One per load level, in the guest's order.
    pub(super) requests: Vec<Requests>,
    /// `--profiles`: powersave's duty cycle, hpc's matrix throughput and migrations.
    pub(super) duty: Option<Duty>,
    pub(super) matrix_ops: Option<f64>,
    pub(super) migrations_per_s: Option<f64>,
    pub(super) attach_ms: Option<f64>,
    pub(super) attach_log_ms: Option<f64>,
    pub(super) rss_kib: Option<f64>,
    pub(super) hwm_kib: Option<f64>,
    pub(super) exit_rc: Option<i64>,
    pub(super) ejected: Option<String>,
    pub(super) errors: Vec<String>,
    /// The scheduler's output, kept when something went wrong.
    pub(super) sched_log: Vec<String>,
    pub(super) ended: bool,
}

impl Sample {
    pub(super) fn is_eevdf(&self) -> bool {
        self.sched == EEVDF
    }

    pub(super) fn valid(&self) -> bool {
        self.ejected.is_none() && self.errors.is_empty() && self.ended
    }

    pub(super) fn sched_cpu_pct(&self) -> Option<f64> {
        let cpu = self.sched_cpu_ms?;
        let wall = self.hackbench_wall_ms.filter(|w| *w > 0.0)?;
        Some(cpu / wall * 100.0)
    }

    pub(super) fn latency_us(&self, p: f64) -> Option<f64> {
        match self.latency.as_ref()?.percentile(p)? {
            Percentile::Us(us) => Some(us as f64),
            Percentile::Overflow => Some(f64::INFINITY),
        }
    }

    pub(super) fn latency_max_us(&self) -> Option<f64> {
        self.latency.as_ref()?.max_us.map(|v| v as f64)
    }

    pub(super) fn requests_at(&self, load_pct: u32) -> Option<&Requests> {
        self.requests.iter().find(|r| r.load_pct == load_pct)
    }
}

/// The load levels of the requests workload, in % of the CPUs (the guest's `RQ_LOADS`).
pub(super) const REQUEST_LOADS: [u32; 2] = [50, 100];

/// What the requests workload reports at each load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReqStat {
    WakeP50,
    WakeP99,
    WakeP999,
    ReqP99,
    Rps,
    /// The share of the machine's CPU time that was busy while it ran.
    Busy,
}

impl ReqStat {
    pub(super) const ALL: [ReqStat; 6] = [
        ReqStat::WakeP50,
        ReqStat::WakeP99,
        ReqStat::WakeP999,
        ReqStat::ReqP99,
        ReqStat::Rps,
        ReqStat::Busy,
    ];

    fn key(self) -> &'static str {
        match self {
            ReqStat::WakeP50 => "wake_p50_us",
            ReqStat::WakeP99 => "wake_p99_us",
            ReqStat::WakeP999 => "wake_p999_us",
            ReqStat::ReqP99 => "request_p99_us",
            ReqStat::Rps => "rps",
            ReqStat::Busy => "cpu_busy_pct",
        }
    }

    pub(super) fn header(self) -> &'static str {
        match self {
            ReqStat::WakeP50 => "wake p50 us",
            ReqStat::WakeP99 => "wake p99 us",
            ReqStat::WakeP999 => "wake p99.9 us",
            ReqStat::ReqP99 => "request p99 us",
            ReqStat::Rps => "requests/s",
            ReqStat::Busy => "CPU busy %",
        }
    }

    fn of(self, r: &Requests) -> f64 {
        match self {
            ReqStat::WakeP50 => r.wake_p50_us,
            ReqStat::WakeP99 => r.wake_p99_us,
            ReqStat::WakeP999 => r.wake_p999_us,
            ReqStat::ReqP99 => r.req_p99_us,
            ReqStat::Rps => r.rps,
            ReqStat::Busy => r.busy_pct,
        }
    }
}

/// Which table shows a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Main,
    Frames,
    Requests,
    Profiles,
}

/// The metrics of the tables, in their column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Metric {
    Hackbench,
    BogoOps,
    LatP50,
    LatP99,
    LatMax,
    SchedCpu,
    Rss,
    AttachLog,
    AttachSeen,
    FramesMissed,
    FramesLateP99,
    FramesLateMax,
    FramesBackground,
    /// A figure of the requests workload at a load level (% of the CPUs).
    Req(u32, ReqStat),
    /// powersave: the idle share of the idlest half of the CPUs, and the work done meanwhile.
    DutyIdle,
    DutyWork,
    /// hpc: stress-ng --matrix throughput and its workers' migrations per second.
    MatrixOps,
    Migrations,
}

impl Metric {
    pub(super) fn all() -> Vec<Metric> {
        let mut all = vec![
            Metric::Hackbench,
            Metric::BogoOps,
            Metric::LatP50,
            Metric::LatP99,
            Metric::LatMax,
            Metric::SchedCpu,
            Metric::Rss,
            Metric::AttachLog,
            Metric::AttachSeen,
            Metric::FramesMissed,
            Metric::FramesLateP99,
            Metric::FramesLateMax,
            Metric::FramesBackground,
        ];
        for load in REQUEST_LOADS {
            all.extend(ReqStat::ALL.map(|stat| Metric::Req(load, stat)));
        }
        all.extend([
            Metric::DutyIdle,
            Metric::DutyWork,
            Metric::MatrixOps,
            Metric::Migrations,
        ]);
        all
    }

    pub(super) fn key(self) -> String {
        match self {
            Metric::Hackbench => "hackbench_s".into(),
            Metric::BogoOps => "stress_ng_bogo_ops".into(),
            Metric::LatP50 => "latency_p50_us".into(),
            Metric::LatP99 => "latency_p99_us".into(),
            Metric::LatMax => "latency_max_us".into(),
            Metric::SchedCpu => "sched_cpu_pct".into(),
            Metric::Rss => "sched_rss_mib".into(),
            Metric::AttachLog => "attach_ms".into(),
            Metric::AttachSeen => "attach_seen_ms".into(),
            Metric::FramesMissed => "frames_missed_pct".into(),
            Metric::FramesLateP99 => "frames_late_p99_ms".into(),
            Metric::FramesLateMax => "frames_late_max_ms".into(),
            Metric::FramesBackground => "frames_background_work_ms".into(),
            Metric::Req(load, stat) => format!("requests{load}_{}", stat.key()),
            Metric::DutyIdle => "duty_idle_half_pct".into(),
            Metric::DutyWork => "duty_periods".into(),
            Metric::MatrixOps => "matrix_bogo_ops".into(),
            Metric::Migrations => "matrix_migrations_per_s".into(),
        }
    }

    pub(super) fn table(self) -> Table {
        match self {
            Metric::FramesMissed
            | Metric::FramesLateP99
            | Metric::FramesLateMax
            | Metric::FramesBackground => Table::Frames,
            Metric::Req(..) => Table::Requests,
            Metric::DutyIdle | Metric::DutyWork | Metric::MatrixOps | Metric::Migrations => {
                Table::Profiles
            }
            _ => Table::Main,
        }
    }

    /// Whether the table shows the ratio against EEVDF.
    pub(super) fn has_ratio(self) -> bool {
        !matches!(
            self,
            Metric::SchedCpu
                | Metric::Rss
                | Metric::AttachLog
                | Metric::AttachSeen
                | Metric::Req(_, ReqStat::Busy)
        )
    }

    /// Whether a smaller value is the better one.
    pub(super) fn lower_is_better(self) -> bool {
        !matches!(
            self,
            Metric::BogoOps
                | Metric::FramesBackground
                | Metric::Req(_, ReqStat::Rps)
                | Metric::DutyIdle
                | Metric::DutyWork
                | Metric::MatrixOps
        )
    }

    pub(super) fn of(self, s: &Sample) -> Option<f64> {
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
            Metric::FramesMissed => s.frames.map(|f| f.missed_pct),
            Metric::FramesLateP99 => s.frames.map(|f| f.late_p99_us / 1000.0),
            Metric::FramesLateMax => s.frames.map(|f| f.late_max_us / 1000.0),
            Metric::FramesBackground => s.frames.map(|f| f.background_ms),
            Metric::Req(load, stat) => s.requests_at(load).map(|r| stat.of(r)),
            Metric::DutyIdle => s.duty.map(|d| d.idle_half_pct),
            Metric::DutyWork => s.duty.map(|d| d.periods),
            Metric::MatrixOps => s.matrix_ops,
            Metric::Migrations => s.migrations_per_s,
        }
    }
}

/// Everything one boot measured.
#[derive(Debug, Default)]
pub(super) struct Report {
    pub(super) meta: BTreeMap<String, String>,
    /// EEVDF first, then the schedulers in the guest's order.
    pub(super) scheds: Vec<String>,
    pub(super) samples: Vec<Sample>,
    /// Things that failed to run, ejections included.
    pub(super) problems: Vec<String>,
    pub(super) runs: u32,
}

/// The median; even counts take the mean of the middle two.
pub(super) fn median(values: &[f64]) -> Option<f64> {
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
    pub(super) fn from_records(records: &Records, runs: u32) -> Report {
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
        let loads: Vec<String> = REQUEST_LOADS.iter().map(u32::to_string).collect();
        match report.meta.get("request_loads") {
            Some(l) if *l != loads.join(",") => report.problems.push(format!(
                "the guest ran the requests workload at {l} % load, this side reads {}",
                loads.join(",")
            )),
            _ => {}
        }

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
                    .find_map(|t| number(&key_values(t), key).ok())
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
                sample.stress = parse_stress_ng(get("stress-ng"), "cpu");
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
            if let Some(rc) = rc_of("frames-rc") {
                let line = get("frames").first().copied().unwrap_or_default();
                if rc != "0" {
                    sample
                        .errors
                        .push(format!("vmtool frames exited with {rc}: {line}"));
                } else {
                    match parse_frames(line) {
                        Ok(f) => sample.frames = Some(f),
                        Err(err) => sample.errors.push(format!("vmtool frames: {err:#}")),
                    }
                }
            }
            let lines = get("requests");
            for (i, rc) in get("requests-rc").iter().enumerate() {
                let kv = key_values(rc);
                let load = kv.get("load_pct").copied().unwrap_or("?");
                let line = lines.get(i).copied().unwrap_or_default();
                if kv.get("rc") != Some(&"0") {
                    sample.errors.push(format!(
                        "vmtool requests at {load}% exited with {}: {line}",
                        kv.get("rc").unwrap_or(&"?")
                    ));
                    continue;
                }
                match parse_requests(line) {
                    Ok(r) => sample.requests.push(r),
                    Err(err) => sample
                        .errors
                        .push(format!("vmtool requests at {load}%: {err:#}")),
                }
            }
            profiles::read(sample, &|tool: &str| {
                get(tool).iter().map(|t| t.to_string()).collect()
            });
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

    pub(super) fn valid_samples<'a>(
        &'a self,
        sched: &'a str,
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples
            .iter()
            .filter(move |s| s.sched == sched && s.valid())
    }

    pub(super) fn median(&self, sched: &str, metric: Metric) -> Option<f64> {
        let values: Vec<f64> = self
            .valid_samples(sched)
            .filter_map(|s| metric.of(s))
            .collect();
        median(&values)
    }

    /// The scheduler's median over EEVDF's, when both are finite.
    pub(super) fn ratio(&self, sched: &str, metric: Metric) -> Option<f64> {
        let ours = self.median(sched, metric)?;
        let base = self.median(EEVDF, metric)?;
        let r = ours / base;
        (base > 0.0 && r.is_finite()).then_some(r)
    }

    /// When the scheduler's median is above the histogram's range: the least the ratio can be.
    pub(super) fn ratio_at_least(&self, sched: &str, metric: Metric) -> Option<f64> {
        let ours = self.median(sched, metric)?;
        let base = self.median(EEVDF, metric)?;
        let range = self.hist_max()?.parse::<f64>().ok()?;
        (ours.is_infinite() && base.is_finite() && base > 0.0).then_some(range / base)
    }

    /// Each round's ratio against EEVDF's run in the same round, in round order.
    pub(super) fn round_ratios(&self, sched: &str, metric: Metric) -> Vec<f64> {
        let mut out = Vec::new();
        for s in self.valid_samples(sched) {
            let base = self
                .valid_samples(EEVDF)
                .find(|e| e.run == s.run)
                .and_then(|e| metric.of(e));
            if let (Some(ours), Some(base)) = (metric.of(s), base) {
                let r = ours / base;
                if base > 0.0 && r.is_finite() {
                    out.push(r);
                }
            }
        }
        out
    }

    pub(super) fn hist_max(&self) -> Option<&str> {
        self.meta.get("hist_max_us").map(String::as_str)
    }
}
