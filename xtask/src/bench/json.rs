//! The results file: every sample, the medians and the ratios, as JSON.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

use super::parse::{Percentile, FRAME_BREAKDOWN};
use super::report::Report;
use super::sample::{Metric, Sample};
use super::{BenchArgs, EEVDF};
use crate::vm;

/// Seconds since the epoch as an RFC 3339 UTC time.
pub(super) fn rfc3339(secs: u64) -> String {
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

/// A number, or null when there is none (or it is not finite: JSON has no infinity).
fn num(v: Option<f64>) -> Value {
    v.filter(|v| v.is_finite()).map_or(Value::Null, Value::from)
}

fn sample_json(s: &Sample) -> Value {
    let latency = s.latency.as_ref().map(|h| {
        let pct = |p: f64| match h.percentile(p) {
            Some(Percentile::Us(us)) => Value::from(us),
            _ => Value::Null,
        };
        json!({
            "samples": h.samples(),
            "overflows": h.overflows,
            "p50": pct(50.0),
            "p90": pct(90.0),
            "p99": pct(99.0),
            "min": h.min_us,
            "avg": h.avg_us,
            "max": h.max_us,
            "histogram": h.bins,
        })
    });
    json!({
        "sched": s.sched,
        "round": s.run,
        "valid": s.valid(),
        "ejected": s.ejected,
        "errors": s.errors,
        "hackbench_s": num(s.hackbench_secs),
        "hackbench_wall_ms": num(s.hackbench_wall_ms),
        "sched_cpu_ms": num(s.sched_cpu_ms),
        "sched_cpu_pct": num(s.sched_cpu_pct()),
        "stress_ng_bogo_ops": num(s.stress.map(|m| m.bogo_ops)),
        "stress_ng_bogo_ops_per_s": num(s.stress.map(|m| m.bogo_ops_per_sec)),
        "stress_ng_real_s": num(s.stress.map(|m| m.real_secs)),
        "latency_us": latency,
        "frames": s.frames.map(|f| json!({
            "ticks": f.ticks,
            "frames": f.frames,
            "missed_pct": f.missed_pct,
            "late_p99_us": f.late_p99_us,
            "late_max_us": f.late_max_us,
            "background_work_ms": f.background_ms,
            "render_cpu_us": num(f.render_cpu_us),
            "breakdown_us": FRAME_BREAKDOWN
                .iter()
                .zip(f.breakdown_us)
                .map(|(key, v)| (key.to_string(), num(v)))
                .collect::<Map<String, Value>>(),
        })),
        "requests": s.requests.iter().map(|r| json!({
            "load_pct": r.load_pct,
            "rps": r.rps,
            "wake_p50_us": r.wake_p50_us,
            "wake_p99_us": r.wake_p99_us,
            "wake_p999_us": r.wake_p999_us,
            "wake_max_us": r.wake_max_us,
            "request_p99_us": r.req_p99_us,
            "cpu_busy_pct": r.busy_pct,
            "wake_histogram": r.wake_hist,
        })).collect::<Vec<_>>(),
        "attach_ms": num(s.attach_log_ms),
        "attach_seen_ms": num(s.attach_ms),
        "rss_kib": num(s.rss_kib),
        "rss_peak_kib": num(s.hwm_kib),
        "exit_code": s.exit_rc,
    })
}

/// The results file of one kernel's run, pretty-printed.
pub(super) fn report_json(
    report: &Report,
    kernel: &crate::kernel::Kernel,
    args: &BenchArgs,
    log: &Path,
    now: u64,
) -> Result<String> {
    let mut medians = Map::new();
    for sched in &report.scheds {
        let mut fields = Map::new();
        fields.insert(
            "valid_rounds".into(),
            report.valid_samples(sched).count().into(),
        );
        for metric in Metric::all() {
            let v = report.median(sched, metric);
            fields.insert(metric.key(), num(v));
            if v.is_some_and(f64::is_infinite) {
                fields.insert(format!("{}_above_histogram", metric.key()), true.into());
            }
        }
        medians.insert(sched.clone(), fields.into());
    }
    let mut ratios = Map::new();
    let mut by_round = Map::new();
    for sched in report.scheds.iter().filter(|s| s.as_str() != EEVDF) {
        let mut fields = Map::new();
        let mut rounds = Map::new();
        for m in Metric::all().into_iter().filter(|m| m.has_ratio()) {
            fields.insert(m.key(), num(report.ratio(sched, m)));
            if let Some(least) = report.ratio_at_least(sched, m) {
                fields.insert(format!("{}_at_least", m.key()), num(Some(least)));
            }
            rounds.insert(m.key(), report.round_ratios(sched, m).into());
        }
        ratios.insert(sched.clone(), fields.into());
        by_round.insert(sched.clone(), rounds.into());
    }
    let workloads: Map<String, Value> = ["hackbench", "stress", "latency", "frames", "requests"]
        .iter()
        .filter_map(|k| Some((k.to_string(), report.meta.get(*k)?.as_str().into())))
        .collect();
    let nproc: Option<u64> = report.meta.get("nproc").and_then(|n| n.parse().ok());
    let value = json!({
        "kernel": kernel.kver,
        "suite": kernel.suite,
        "timestamp": rfc3339(now),
        "runs": report.runs,
        "quick": args.quick,
        // What --workloads left in; every workload of the run when empty.
        "selected_workloads": args.selected_workloads(),
        "vm": {
            "smp": 2,
            "nproc": nproc,
            "tcg": match args.tcg {
                vm::TcgThreads::Single => "single",
                vm::TcgThreads::Multi => "multi",
            },
            "console_log": log.display().to_string(),
        },
        "workloads": workloads,
        "schedulers": report.scheds,
        "medians": medians,
        "ratios_vs_eevdf": ratios,
        "round_ratios_vs_eevdf": by_round,
        "problems": report.problems,
        "samples": report.samples.iter().map(sample_json).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&value).context("writing the results as JSON")?;
    text.push('\n');
    Ok(text)
}
/// The JSON file of one kernel; `kind` names the default one (bench, bench-quick, ...).
pub(super) fn json_path(
    requested: Option<&Path>,
    kver: &str,
    several: bool,
    kind: &str,
) -> Result<PathBuf> {
    let Some(path) = requested else {
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
