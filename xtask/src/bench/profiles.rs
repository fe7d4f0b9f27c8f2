//! `cargo xtask bench --profiles`: the figures only the profile runs have (vmtool duty for
//! powersave, stress-ng --matrix and its migrations for hpc), read from the records, and the
//! table that judges each profile by its own metric.

use std::fmt::Write as _;

use anyhow::{Context, Result};

use super::parse::{key_values, number, parse_stress_ng};
use super::report::{Metric, Report, Sample};
use super::table::{cell, display_name, grid};

/// What `vmtool duty` printed: the fixed periodic work and each CPU's idle share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Duty {
    pub(super) periods: f64,
    pub(super) late: f64,
    /// The mean idle share of the most idle half of the CPUs, in %: what packing leaves idle.
    pub(super) idle_half_pct: f64,
}

pub(super) fn parse_duty(text: &str) -> Result<Duty> {
    let kv = key_values(text);
    let mut idle: Vec<f64> = kv
        .get("idle_pct")
        .context("no idle_pct= in the line")?
        .split(',')
        .map(|v| {
            v.parse::<f64>()
                .with_context(|| format!("idle share {v:?}"))
        })
        .collect::<Result<_>>()?;
    idle.sort_by(|a, b| b.total_cmp(a));
    let half = (idle.len() / 2).max(1);
    let idlest = idle.get(..half).context("no CPUs in idle_pct=")?;
    Ok(Duty {
        periods: number(&kv, "periods")?,
        late: number(&kv, "late")?,
        idle_half_pct: idlest.iter().sum::<f64>() / half as f64,
    })
}

/// Reads the duty and matrix records of one sample; `get` gives the texts of a tool's records.
pub(super) fn read(sample: &mut Sample, get: &dyn Fn(&str) -> Vec<String>) {
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

/// Each profile's own metric, and the table's columns: what it is, and its metrics.
const COLUMNS: [(&str, Metric); 7] = [
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
pub(super) fn table(report: &Report, out: &mut String) {
    if report.meta.get("profiles").map(String::as_str) != Some("1") {
        return;
    }
    let mut headers = vec!["scheduler+profile"];
    headers.extend(COLUMNS.iter().map(|(h, _)| *h));
    let rows: Vec<Vec<String>> = report
        .scheds
        .iter()
        .map(|sched| {
            std::iter::once(display_name(sched))
                .chain(COLUMNS.iter().map(|(_, m)| cell(report, sched, *m)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duty_lines_give_the_idlest_half() {
        let d =
            parse_duty("duty workers=4 periods=1468 late=43 busy_pct=29.0 idle_pct=45,48,85,99")
                .expect("parses");
        assert_eq!((d.periods, d.late, d.idle_half_pct), (1468.0, 43.0, 92.0));
        let d = parse_duty("duty periods=10 late=0 idle_pct=70").expect("one CPU");
        assert_eq!(d.idle_half_pct, 70.0);
        assert!(parse_duty("duty periods=10 late=0").is_err());
        assert!(parse_duty("duty periods=10 late=0 idle_pct=5,x").is_err());
    }

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
        read(&mut s, &texts);
        assert_eq!(
            (s.matrix_ops, s.migrations_per_s),
            (Some(4000.0), Some(10.0))
        );
        assert_eq!(s.errors, ["vmtool duty exited with 1: oops"]);
        let mut s = Sample::default();
        read(&mut s, &|tool: &str| match tool {
            "matrix-rc" => vec!["0".to_string()],
            "migrations" => vec!["migrations=0 workers=0 secs=5".to_string()],
            _ => Vec::new(),
        });
        assert_eq!(s.errors.len(), 2, "{:?}", s.errors);
    }
}
