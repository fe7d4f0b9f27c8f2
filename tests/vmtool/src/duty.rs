//! `vmtool duty`: a fixed amount of periodic work (each worker runs for the same CPU time in
//! every period and sleeps for the rest), and how idle each CPU stayed meanwhile.
//!
//! It measures packing: the work is the same whatever the scheduler, so the CPUs a scheduler
//! leaves idle show in the per-CPU idle shares, and the periods that finished late show
//! whether the CPUs it used kept up. The work is measured in the thread's own CPU time, not
//! in calibrated steps: under single-threaded TCG a vCPU runs faster the fewer vCPUs are
//! busy, and steps calibrated on a busy machine would leave the load at a few per cent.
//! `--warmup-secs` runs the work that long before measuring, so that a scheduler that adapts
//! to the load is measured once it has. Prints one line:
//! `duty workers=N periods=P late=L busy_pct=B idle_pct=I0,I1,...`.

use std::time::{Duration, Instant};

use crate::work::{sleep_until, work_cpu_time, Opts};

/// Idle and total clock ticks of each CPU so far, from the `cpuN` lines of `/proc/stat`.
fn per_cpu_idle() -> Result<Vec<(u64, u64)>, String> {
    let stat =
        std::fs::read_to_string("/proc/stat").map_err(|e| format!("reading /proc/stat: {e}"))?;
    Ok(parse_per_cpu(&stat))
}

fn parse_per_cpu(stat: &str) -> Vec<(u64, u64)> {
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            // cpuN user nice system idle iowait irq softirq steal
            let ticks: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .take(8)
                .map_while(|f| f.parse().ok())
                .collect();
            let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
            (idle, ticks.iter().sum())
        })
        .collect()
}

/// Each CPU's idle share between two readings, in whole percent.
fn idle_pcts(before: &[(u64, u64)], after: &[(u64, u64)]) -> Vec<u64> {
    before
        .iter()
        .zip(after)
        .map(|(&(i0, t0), &(i1, t1))| {
            let total = t1.saturating_sub(t0);
            (i1.saturating_sub(i0) * 100)
                .checked_div(total)
                .unwrap_or(0)
        })
        .collect()
}

/// One worker: `work` of CPU time per `period` until `end`; returns the periods that began at
/// `from` or later, and how many of those finished late.
fn worker(work: Duration, period: Duration, from: Instant, end: Instant) -> (u64, u64) {
    let (mut periods, mut late) = (0, 0);
    let mut next = Instant::now();
    while next < end {
        let counted = next >= from;
        work_cpu_time(work);
        periods += u64::from(counted);
        next += period;
        let now = Instant::now();
        if now > next {
            // Finished after its period ended: start the next one now, without catching up.
            late += u64::from(counted);
            next = now;
        } else {
            sleep_until(next);
        }
    }
    (periods, late)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let o = Opts::new(args);
    o.check(&["secs", "warmup-secs", "workers", "work-us", "period-us"])?;
    let secs: u64 = o.get("secs", 5)?;
    let warmup: u64 = o.get("warmup-secs", 0)?;
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers: usize = o.get("workers", ncpu)?;
    let work: u64 = o.get("work-us", 5_000)?;
    let period: u64 = o.get("period-us", 20_000)?;
    if workers == 0 || work == 0 || period <= work {
        return Err("need --workers >= 1 and 1 <= --work-us < --period-us".into());
    }
    let (work, period) = (Duration::from_micros(work), Duration::from_micros(period));
    let from = Instant::now() + Duration::from_secs(warmup);
    let end = from + Duration::from_secs(secs);
    let handles: Vec<_> = (0..workers)
        .map(|i| {
            std::thread::Builder::new()
                .name(format!("duty{i}"))
                .spawn(move || worker(work, period, from, end))
                .map_err(|e| format!("spawning a worker: {e}"))
        })
        .collect::<Result<_, _>>()?;
    sleep_until(from);
    let before = per_cpu_idle()?;
    let cpu_start = crate::work::CpuTimes::now()?;
    let (mut periods, mut late) = (0, 0);
    for h in handles {
        let (p, l) = h.join().map_err(|_| "a worker panicked")?;
        periods += p;
        late += l;
    }
    let busy = crate::work::CpuTimes::now()?.busy_pct_since(&cpu_start);
    let idle = idle_pcts(&before, &per_cpu_idle()?);
    let idle: Vec<String> = idle.iter().map(u64::to_string).collect();
    println!(
        "duty workers={workers} periods={periods} late={late} busy_pct={busy:.1} idle_pct={}",
        idle.join(",")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_cpu_idle_shares() {
        let a =
            "cpu  10 0 10 80 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 40 0 0 0 0\nintr 1\n";
        let b =
            "cpu  40 0 10 150 0 0 0 0\ncpu0 35 0 5 60 0 0 0 0 0 0\ncpu1 5 0 5 85 5 0 0 0\nintr 2\n";
        let (x, y) = (parse_per_cpu(a), parse_per_cpu(b));
        assert_eq!(x, [(40, 50), (40, 50)]);
        assert_eq!(idle_pcts(&x, &y), [40, 100]);
    }
}
