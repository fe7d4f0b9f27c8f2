//! The table `cargo xtask bench` prints: medians and ratios per scheduler and metric.

use std::fmt::Write as _;

use super::report::Report;
use super::sample::{Metric, ReqStat, Table, REQUEST_LOADS};
use super::EEVDF;

pub(super) fn fmt_value(metric: Metric, v: Option<f64>, hist_max: Option<&str>) -> String {
    let Some(v) = v else {
        return "-".to_string();
    };
    if v.is_infinite() {
        return format!(">{}", hist_max.unwrap_or("max"));
    }
    match metric {
        Metric::Hackbench | Metric::FramesMissed => format!("{v:.2}"),
        Metric::SchedCpu
        | Metric::Rss
        | Metric::FramesLateP99
        | Metric::FramesLateMax
        | Metric::Migrations => {
            format!("{v:.1}")
        }
        _ => format!("{v:.0}"),
    }
}

/// A median with its ratio against EEVDF, as the tables show it.
pub(super) fn cell(report: &Report, sched: &str, metric: Metric) -> String {
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
    cell
}

pub(super) fn display_name(sched: &str) -> String {
    if sched == EEVDF {
        "EEVDF".to_string()
    } else {
        sched.to_string()
    }
}

/// Rows under a header, columns padded to line up (the first left-aligned).
pub(super) fn grid(headers: &[&str], rows: &[Vec<String>], out: &mut String) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for cells in std::iter::once(&header).chain(rows) {
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
        let mut row = vec![display_name(sched), format!("{valid}/{total}")];
        for metric in Metric::all() {
            if metric.table() != Table::Main || metric == Metric::AttachSeen {
                continue;
            }
            let mut c = cell(report, sched, metric);
            if metric == Metric::AttachLog && sched != EEVDF {
                let seen = report.median(sched, Metric::AttachSeen);
                c = format!("{c}/{}", fmt_value(Metric::AttachSeen, seen, None));
            }
            row.push(c);
        }
        rows.push(row);
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
        ("frames", "frames"),
        ("requests", "requests"),
    ] {
        if let Some(cmd) = report.meta.get(key) {
            let _ = writeln!(out, "  {name}: {cmd}");
        }
    }
    grid(&headers, &rows, &mut out);
    let _ = writeln!(
        out,
        "hackbench: lower is better; bogo ops: higher is better; latency: cyclictest wakeups of a \
         SCHED_OTHER task with every CPU busy;\nsched CPU %: the scheduler process's own CPU time \
         during hackbench, in % of one CPU (BPF code runs in other tasks and is not counted);\
         \nattach ms: logged by the scheduler / seen by the script"
    );
    out.push('\n');
    frames_table(report, &mut out);
    out.push('\n');
    requests_table(report, &mut out);
    profiles_table(report, &mut out);
    out
}

fn frames_table(report: &Report, out: &mut String) {
    let headers = [
        "scheduler",
        "frames missed %",
        "late p99 ms",
        "late max ms",
        "background work ms",
    ];
    let metrics = [
        Metric::FramesMissed,
        Metric::FramesLateP99,
        Metric::FramesLateMax,
        Metric::FramesBackground,
    ];
    let rows: Vec<Vec<String>> = report
        .scheds
        .iter()
        .map(|sched| {
            std::iter::once(display_name(sched))
                .chain(metrics.iter().map(|m| cell(report, sched, *m)))
                .collect()
        })
        .collect();
    grid(&headers, &rows, out);
    let _ = writeln!(
        out,
        "frames: share of frame ticks without a frame done in time (lower is better), how late \
         the frames were;\nbackground work: the build's work done meanwhile (higher is better: \
         no winning by starving it)"
    );
}

fn requests_table(report: &Report, out: &mut String) {
    let mut headers = vec!["scheduler", "load %"];
    headers.extend(ReqStat::ALL.map(ReqStat::header));
    let mut rows = Vec::new();
    for load in REQUEST_LOADS {
        for sched in &report.scheds {
            let mut row = vec![display_name(sched), load.to_string()];
            row.extend(
                ReqStat::ALL
                    .iter()
                    .map(|stat| cell(report, sched, Metric::Req(load, *stat))),
            );
            rows.push(row);
        }
    }
    grid(&headers, &rows, out);
    let _ = writeln!(
        out,
        "requests: a woken worker's wait for a CPU (wake), post to answer (request): lower is \
         better; requests/s: higher is better"
    );
}

/// `--profiles`: each profile's own metric, and the table's columns: what it is, and its metrics.
const PROFILE_COLUMNS: [(&str, Metric); 7] = [
    ("gaming: frames missed %", Metric::FramesMissed),
    ("lowlatency: lat p99 us", Metric::LatP99),
    ("server: hackbench s", Metric::Hackbench),
    ("powersave: idlest half idle %", Metric::DutyIdle),
    ("powersave: periods done", Metric::DutyWork),
    ("hpc: matrix bogo ops", Metric::MatrixOps),
    ("hpc: migrations/s", Metric::Migrations),
];

/// The table of `--profiles`: each profile (a row per scheduler and profile) on the metrics of
/// its kind, EEVDF on all of them.
fn profiles_table(report: &Report, out: &mut String) {
    if report.meta.get("profiles").map(String::as_str) != Some("1") {
        return;
    }
    let mut headers = vec!["scheduler+profile"];
    headers.extend(PROFILE_COLUMNS.iter().map(|(h, _)| *h));
    let rows: Vec<Vec<String>> = report
        .scheds
        .iter()
        .map(|sched| {
            std::iter::once(display_name(sched))
                .chain(PROFILE_COLUMNS.iter().map(|(_, m)| cell(report, sched, *m)))
                .collect()
        })
        .collect();
    out.push('\n');
    grid(&headers, &rows, out);
    for key in ["duty", "matrix"] {
        if let Some(cmd) = report.meta.get(key) {
            let _ = writeln!(out, "  {key}: {cmd}");
        }
    }
    let _ = writeln!(
        out,
        "each profile runs only the workloads of its metric; powersave: the mean idle share of \
         the most idle half of the CPUs\n(higher is better) with the same periodic work done; \
         hpc: throughput (higher is better) and migrations of its workers (lower is better)"
    );
}
