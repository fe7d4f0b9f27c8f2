//! The statistics: the samples of one boot read from its records, medians over the valid
//! rounds and ratios against EEVDF in the same boot, and the problems that fail a run.

use std::collections::BTreeMap;

use super::parse::{
    key_values, number, parse_duty, parse_frames, parse_hackbench, parse_histogram, parse_requests,
    parse_stress_ng, Records,
};
use super::sample::{Metric, Sample, REQUEST_LOADS};
use super::EEVDF;

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
            read_profiles(sample, &|tool: &str| {
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

/// Reads the duty and matrix records of one sample (`--profiles`); `get` gives the texts of a tool's records.
fn read_profiles(sample: &mut Sample, get: &dyn Fn(&str) -> Vec<String>) {
    if let Some(rc) = get("duty-rc").first() {
        let line = get("duty").first().cloned().unwrap_or_default();
        if rc.trim() != "0" {
            let rc = rc.trim();
            sample
                .errors
                .push(format!("vmtool duty exited with {rc}: {line}"));
        } else {
            match parse_duty(&line) {
                Ok(d) => sample.duty = Some(d),
                Err(err) => sample.errors.push(format!("vmtool duty: {err:#}")),
            }
        }
    }
    if let Some(rc) = get("matrix-rc").first() {
        let lines = get("matrix");
        sample.matrix_ops =
            parse_stress_ng(lines.iter().map(String::as_str), "matrix").map(|m| m.bogo_ops);
        if rc.trim() != "0" {
            let rc = rc.trim();
            sample
                .errors
                .push(format!("stress-ng --matrix exited with {rc}"));
        } else if sample.matrix_ops.is_none() {
            sample
                .errors
                .push("no matrix metrics in stress-ng's output".to_string());
        }
        let migrations = get("migrations").first().map(|t| {
            let kv = key_values(t);
            let secs = number(&kv, "secs").ok().filter(|s| *s > 0.0);
            match (number(&kv, "migrations"), number(&kv, "workers"), secs) {
                (Ok(m), Ok(w), Some(s)) if w > 0.0 => Some(m / s),
                _ => None,
            }
        });
        match migrations {
            Some(Some(per_sec)) => sample.migrations_per_s = Some(per_sec),
            _ => sample.errors.push(
                "no migration count of stress-ng's matrix workers (/proc/PID/sched)".to_string(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_and_migrations_records() {
        let texts = |tool: &str| -> Vec<String> {
            match tool {
                "matrix-rc" => vec!["0".into()],
                "matrix" => {
                    vec!["stress-ng: metrc: [12] matrix  4000 5.01 9.8 0.1 798.4 404.0".into()]
                }
                "migrations" => vec!["migrations=50 workers=2 secs=5".into()],
                "duty-rc" => vec!["1".into()],
                "duty" => vec!["oops".into()],
                _ => Vec::new(),
            }
        };
        let mut s = Sample::default();
        read_profiles(&mut s, &texts);
        assert_eq!(
            (s.matrix_ops, s.migrations_per_s),
            (Some(4000.0), Some(10.0))
        );
        assert_eq!(s.errors, ["vmtool duty exited with 1: oops"]);
        let mut s = Sample::default();
        read_profiles(&mut s, &|tool: &str| match tool {
            "matrix-rc" => vec!["0".to_string()],
            "migrations" => vec!["migrations=0 workers=0 secs=5".to_string()],
            _ => Vec::new(),
        });
        assert_eq!(s.errors.len(), 2, "{:?}", s.errors);
    }
}
