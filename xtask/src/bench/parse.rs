//! The guest's records: the block between the data markers, one record per tool run, and the
//! parsers of each tool's own output (hackbench, stress-ng, cyclictest's histogram, vmtool's frames,
//! requests and duty).

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

use super::{BLOCK_BEGIN, BLOCK_END};

/// The record lines between the block markers, if the block is complete.
pub(super) fn block(lines: &[String]) -> Option<&[String]> {
    let begin = lines.iter().position(|l| l.contains(BLOCK_BEGIN))?;
    let len = lines[begin + 1..]
        .iter()
        .position(|l| l.contains(BLOCK_END))?;
    Some(&lines[begin + 1..begin + 1 + len])
}

/// One line the guest recorded: `TOOL SCHED RUN | TEXT`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Record {
    pub(super) tool: String,
    pub(super) sched: String,
    pub(super) run: u32,
    pub(super) text: String,
}

/// Parses the record lines; lines of any other shape are returned as problems.
pub(super) fn parse_records(lines: &[String]) -> Records {
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
pub(super) struct Records {
    pub(super) records: Vec<Record>,
    pub(super) malformed: Vec<String>,
}

/// `key=value` words of a record.
pub(super) fn key_values(text: &str) -> BTreeMap<&str, &str> {
    text.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect()
}

/// hackbench's `Time: 1.234` in seconds.
pub(super) fn parse_hackbench<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<f64> {
    lines.into_iter().find_map(|l| {
        let value = l.trim().strip_prefix("Time:")?.trim();
        value.parse::<f64>().ok().filter(|v| v.is_finite())
    })
}

/// stress-ng's `--metrics-brief` line for the cpu stressor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct StressMetrics {
    pub(super) bogo_ops: f64,
    pub(super) real_secs: f64,
    pub(super) bogo_ops_per_sec: f64,
}

/// Finds `stress-ng: metrc: [pid] STRESSOR  OPS REAL USR SYS OPS/S OPS/S(cpu)` (older versions
/// say `info:` instead of `metrc:`) for `stressor` (cpu, matrix).
pub(super) fn parse_stress_ng<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    stressor: &str,
) -> Option<StressMetrics> {
    lines.into_iter().find_map(|l| {
        let after = &l[l.find("] ")? + 2..];
        let mut words = after.split_whitespace();
        if words.next()? != stressor {
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
pub(super) struct Histogram {
    /// (latency in µs, samples), ascending, no empty bins.
    pub(super) bins: Vec<(u64, u64)>,
    /// Samples at or above the histogram's range.
    pub(super) overflows: u64,
    pub(super) min_us: Option<u64>,
    pub(super) avg_us: Option<u64>,
    pub(super) max_us: Option<u64>,
}

/// A latency percentile: a bin of the histogram, or above its range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Percentile {
    Us(u64),
    Overflow,
}

impl Histogram {
    pub(super) fn samples(&self) -> u64 {
        self.bins.iter().map(|(_, n)| n).sum::<u64>() + self.overflows
    }

    /// Nearest-rank percentile `p` (0 < p <= 100) over every sample, overflows included.
    pub(super) fn percentile(&self, p: f64) -> Option<Percentile> {
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
pub(super) fn parse_histogram(text: &str) -> Result<Histogram> {
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

/// What `vmtool frames` printed: one line of `key=value` words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Frames {
    pub(super) ticks: f64,
    pub(super) frames: f64,
    pub(super) missed_pct: f64,
    pub(super) late_p99_us: f64,
    pub(super) late_max_us: f64,
    /// Background work done while the frames ran, in ms of calibrated work.
    pub(super) background_ms: f64,
    /// CPU time the render thread's own part of a frame took (the sizing check).
    pub(super) render_cpu_us: Option<f64>,
    /// Where a frame's time went, in [`FRAME_BREAKDOWN`] order.
    pub(super) breakdown_us: [Option<f64>; FRAME_BREAKDOWN.len()],
}

/// The figures of `vmtool frames` that say where a frame's time went (µs).
pub(super) const FRAME_BREAKDOWN: [&str; 10] = [
    "start_p50_us",
    "start_p99_us",
    "work_wall_p50_us",
    "work_wall_p99_us",
    "helper_wait_p50_us",
    "helper_wait_p99_us",
    "helper_start_p50_us",
    "helper_start_p99_us",
    "render_wake_p50_us",
    "render_wake_p99_us",
];

/// The finite number a `key=value` word gives `key`.
pub(super) fn number(kv: &BTreeMap<&str, &str>, key: &str) -> Result<f64> {
    kv.get(key)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .with_context(|| format!("no number {key}= in the line"))
}

pub(super) fn parse_frames(text: &str) -> Result<Frames> {
    let kv = key_values(text);
    Ok(Frames {
        ticks: number(&kv, "ticks")?,
        frames: number(&kv, "frames")?,
        missed_pct: number(&kv, "missed_pct")?,
        late_p99_us: number(&kv, "late_p99_us")?,
        late_max_us: number(&kv, "late_max_us")?,
        background_ms: number(&kv, "bg_ms")?,
        render_cpu_us: number(&kv, "render_cpu_us").ok(),
        breakdown_us: FRAME_BREAKDOWN.map(|key| number(&kv, key).ok()),
    })
}

/// What `vmtool requests` printed for one load level.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Requests {
    pub(super) load_pct: u32,
    pub(super) rps: f64,
    pub(super) wake_p50_us: f64,
    pub(super) wake_p99_us: f64,
    pub(super) wake_p999_us: f64,
    pub(super) wake_max_us: f64,
    pub(super) req_p99_us: f64,
    /// The share of the machine's CPU time that was busy, in %.
    pub(super) busy_pct: f64,
    /// Wakeup latencies: (upper bound of the bin in µs, samples), ascending.
    pub(super) wake_hist: Vec<(u64, u64)>,
}

pub(super) fn parse_requests(text: &str) -> Result<Requests> {
    let kv = key_values(text);
    let mut wake_hist = Vec::new();
    for bin in kv.get("hist").copied().unwrap_or_default().split(',') {
        if bin.is_empty() {
            continue;
        }
        let parsed = bin
            .split_once(':')
            .and_then(|(us, n)| Some((us.parse::<u64>().ok()?, n.parse::<u64>().ok()?)));
        let (us, n) = parsed.with_context(|| format!("unreadable histogram bin {bin:?}"))?;
        if wake_hist.last().is_some_and(|&(last, _)| last >= us) {
            bail!("histogram bins out of order at {bin:?}");
        }
        wake_hist.push((us, n));
    }
    Ok(Requests {
        load_pct: number(&kv, "load_pct")? as u32,
        rps: number(&kv, "rps")?,
        wake_p50_us: number(&kv, "wake_p50_us")?,
        wake_p99_us: number(&kv, "wake_p99_us")?,
        wake_p999_us: number(&kv, "wake_p999_us")?,
        wake_max_us: number(&kv, "wake_max_us")?,
        req_p99_us: number(&kv, "req_p99_us")?,
        busy_pct: number(&kv, "busy_pct")?,
        wake_hist,
    })
}

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
}
