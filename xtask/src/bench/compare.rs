//! `cargo xtask bench --compare OLD.json NEW.json`: two runs' ratios against EEVDF side by
//! side, flagging each metric that got worse by more than the round-to-round noise measured.
//!
//! Ratios, not raw values, are compared: each run's EEVDF rounds ran in the same boot as its
//! schedulers, so a slower or busier machine moves both sides. The noise of a ratio in one run is
//! how far its farthest round lies from the median of its rounds; a change is flagged when it
//! is larger than the noise of either run. With single-round runs no noise is known, and nothing
//! is flagged (the table says so).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use super::report::median;
use super::sample::Metric;
use super::table::grid;

fn load(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (a results file of `cargo xtask bench`)",
            path.display()
        )
    })?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a results file: not JSON", path.display()))?;
    if !v["ratios_vs_eevdf"].is_object() {
        anyhow::bail!(
            "{} has no \"ratios_vs_eevdf\": not a results file of `cargo xtask bench`",
            path.display()
        );
    }
    Ok(v)
}

/// The largest relative distance of a round's ratio from the median ratio; None under 2 rounds.
pub(super) fn noise(rounds: &[f64]) -> Option<f64> {
    if rounds.len() < 2 {
        return None;
    }
    let mid = median(rounds)?;
    (mid > 0.0).then(|| {
        rounds
            .iter()
            .map(|r| (r / mid - 1.0).abs())
            .fold(0.0, f64::max)
    })
}

/// Whether going from ratio `old` to `new` is worse than `noise` allows.
pub(super) fn worse(metric: Metric, old: f64, new: f64, noise: f64) -> bool {
    let change = new / old - 1.0;
    if metric.lower_is_better() {
        change > noise
    } else {
        -change > noise
    }
}

fn rounds(v: &Value, sched: &str, key: &str) -> Vec<f64> {
    v["round_ratios_vs_eevdf"][sched][key]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// Prints the comparison; returns how many metrics got worse beyond the noise.
pub fn command(old_path: &Path, new_path: &Path) -> Result<usize> {
    let old = load(old_path)?;
    let new = load(new_path)?;
    let mut out = String::new();
    for (name, v, p) in [("old", &old, old_path), ("new", &new, new_path)] {
        let _ = writeln!(
            out,
            "{name}: {} (kernel {}, {} rounds, {})",
            p.display(),
            v["kernel"].as_str().unwrap_or("?"),
            v["runs"],
            v["timestamp"].as_str().unwrap_or("?")
        );
    }
    if old["kernel"] != new["kernel"] {
        out.push_str("note: the two runs booted different kernels\n");
    }
    if old["workloads"] != new["workloads"] {
        out.push_str(
            "note: the two runs ran different workloads; their ratios measure different things\n",
        );
    }
    let headers = [
        "scheduler",
        "metric",
        "old ratio",
        "new ratio",
        "change",
        "noise",
        "",
    ];
    let mut rows = Vec::new();
    let mut flagged = 0;
    let scheds: Vec<&String> = new["ratios_vs_eevdf"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    for sched in scheds {
        if !old["ratios_vs_eevdf"][sched].is_object() {
            let _ = writeln!(out, "{sched}: only in the new run");
            continue;
        }
        for metric in Metric::all().into_iter().filter(|m| m.has_ratio()) {
            let key = metric.key();
            let (Some(o), Some(n)) = (
                old["ratios_vs_eevdf"][sched][&key].as_f64(),
                new["ratios_vs_eevdf"][sched][&key].as_f64(),
            ) else {
                continue;
            };
            if o <= 0.0 {
                continue;
            }
            let noise = [
                noise(&rounds(&old, sched, &key)),
                noise(&rounds(&new, sched, &key)),
            ]
            .into_iter()
            .flatten()
            .reduce(f64::max);
            let flag = match noise {
                Some(noise) if worse(metric, o, n, noise) => {
                    flagged += 1;
                    "WORSE"
                }
                Some(_) => "",
                None => "noise unknown",
            };
            rows.push(vec![
                sched.clone(),
                key,
                format!("{o:.2}x"),
                format!("{n:.2}x"),
                format!("{:+.0}%", (n / o - 1.0) * 100.0),
                noise.map_or("-".into(), |v| format!("{:.0}%", v * 100.0)),
                flag.to_string(),
            ]);
        }
    }
    grid(&headers, &rows, &mut out);
    let _ = writeln!(
        out,
        "ratio = scheduler / EEVDF in the same boot; change = new / old; noise = the farthest \
         round from the median, the larger of the two runs'\n{flagged} metrics worse beyond the noise"
    );
    print!("{out}");
    Ok(flagged)
}
