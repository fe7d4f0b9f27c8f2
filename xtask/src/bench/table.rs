//! The table `cargo xtask bench` prints: medians and ratios per scheduler and metric.

use std::fmt::Write as _;

use super::report::{Metric, Report};
use super::EEVDF;

pub(super) fn fmt_value(metric: Metric, v: Option<f64>, hist_max: Option<&str>) -> String {
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
pub(super) fn render_table(report: &Report) -> String {
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
