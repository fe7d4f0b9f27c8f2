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

use crate::work::{sleep_until, work_cpu_time, CpuTimes, Opts};

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
    let before = CpuTimes::per_cpu()?;
    let cpu_start = CpuTimes::now()?;
    let (mut periods, mut late) = (0, 0);
    for h in handles {
        let (p, l) = h.join().map_err(|_| "a worker panicked")?;
        periods += p;
        late += l;
    }
    let busy = CpuTimes::now()?.busy_pct_since(&cpu_start);
    let idle: Vec<String> = CpuTimes::per_cpu()?
        .iter()
        .zip(&before)
        .map(|(after, before)| after.idle_pct_since(before).to_string())
        .collect();
    println!(
        "duty workers={workers} periods={periods} late={late} busy_pct={busy:.1} idle_pct={}",
        idle.join(",")
    );
    Ok(())
}
