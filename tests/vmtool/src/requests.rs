//! `vmtool requests`: a request/response server in the style of schbench, measuring how long a
//! woken worker waits for a CPU, how long a request takes, and requests per second.
//!
//! One message thread per CPU, each with two workers. A message thread sleeps a think time,
//! then posts a request to each of its workers and waits until both have answered. A worker
//! sleeps until it gets a request, does a fixed piece of calibrated work and answers. The think
//! time sets the load: by default the one with which, if no request ever waited, the workers'
//! work would keep `--load-pct` of the CPUs busy; `--think-us` sets it directly. The loop is
//! closed, so a scheduler that serves requests sooner also serves more of them, and waits
//! lengthen every round: under TCG the default think time for 100 % kept the CPUs only about
//! 60 % busy, so the benchmark sets its levels' think times itself. `busy_pct` is the share of
//! the machine's CPU time that was busy meanwhile (the workload, the scheduler and everything
//! else): the load it really put.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::work::{work_us, CpuTimes, Latencies, Opts};

const WORKERS_PER_MESSAGE_THREAD: usize = 2;
const POISONED: &str = "a request lock is poisoned";

#[derive(Default)]
struct Slot {
    seq: u64,
    posted: Option<Instant>,
    quit: bool,
}

/// One message thread's workers and their answers.
struct Group {
    slots: Vec<(Mutex<Slot>, Condvar)>,
    answered: Mutex<usize>,
    answer: Condvar,
}

/// What a worker measured.
struct WorkerStats {
    wake: Latencies,
    request: Latencies,
}

fn worker(g: &Group, i: usize, us: u64, rate: f64, cap: usize) -> Result<WorkerStats, String> {
    let mut stats = WorkerStats {
        wake: Latencies::with_capacity(cap),
        request: Latencies::with_capacity(cap),
    };
    let (lock, cv) = &g.slots[i];
    let mut seen = 0;
    loop {
        let posted = {
            let mut s = lock.lock().map_err(|_| POISONED)?;
            while s.seq == seen && !s.quit {
                s = cv.wait(s).map_err(|_| POISONED)?;
            }
            if s.quit {
                return Ok(stats);
            }
            seen = s.seq;
            s.posted.ok_or("a request without a time")?
        };
        stats.wake.push(posted.elapsed());
        work_us(us, rate);
        stats.request.push(posted.elapsed());
        let mut n = g.answered.lock().map_err(|_| POISONED)?;
        *n += 1;
        g.answer.notify_one();
    }
}

/// Posts requests until `end`; returns how many were answered.
fn message_loop(g: &Group, think: Duration, end: Instant) -> Result<u64, String> {
    let mut requests = 0;
    while Instant::now() < end {
        std::thread::sleep(think);
        for (lock, cv) in &g.slots {
            let mut s = lock.lock().map_err(|_| POISONED)?;
            s.seq += 1;
            s.posted = Some(Instant::now());
            cv.notify_one();
        }
        let mut n = g.answered.lock().map_err(|_| POISONED)?;
        while *n < g.slots.len() {
            n = g.answer.wait(n).map_err(|_| POISONED)?;
        }
        *n = 0;
        requests += g.slots.len() as u64;
    }
    for (lock, cv) in &g.slots {
        lock.lock().map_err(|_| POISONED)?.quit = true;
        cv.notify_one();
    }
    Ok(requests)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let o = Opts::new(args);
    o.check(&[
        "rate",
        "secs",
        "work-us",
        "load-pct",
        "think-us",
        "message-threads",
    ])?;
    let rate: f64 = o.get("rate", 0.0)?;
    let secs: u64 = o.get("secs", 5)?;
    let work: u64 = o.get("work-us", 1000)?;
    let load: u64 = o.get("load-pct", 50)?;
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let nmsg: usize = o.get("message-threads", ncpu)?;
    if rate <= 0.0 {
        return Err("--rate STEPS_PER_US is needed (from `vmtool calibrate`)".into());
    }
    if !(1..=100).contains(&load) || nmsg == 0 || work == 0 {
        return Err("need --load-pct 1..100, --message-threads >= 1, --work-us >= 1".into());
    }
    // Busy CPUs = workers * work / (think + work) when nothing waits.
    let workers = (nmsg * WORKERS_PER_MESSAGE_THREAD) as f64;
    let busy = ncpu as f64 * load as f64 / 100.0;
    let nominal = (work as f64 * (workers / busy - 1.0)).max(0.0) as u64;
    let think = Duration::from_micros(o.get("think-us", nominal)?);
    // Room for every request the workers could answer without waiting.
    let cap = (secs * 1_000_000 / (think.as_micros() as u64 + work)) as usize + 16;

    let cpu_start = CpuTimes::now()?;
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut groups = Vec::new();
    let mut handles = Vec::new();
    for m in 0..nmsg {
        let g = Arc::new(Group {
            slots: (0..WORKERS_PER_MESSAGE_THREAD)
                .map(|_| (Mutex::new(Slot::default()), Condvar::new()))
                .collect(),
            answered: Mutex::new(0),
            answer: Condvar::new(),
        });
        for i in 0..WORKERS_PER_MESSAGE_THREAD {
            let gw = Arc::clone(&g);
            let h = std::thread::Builder::new()
                .name(format!("worker{m}.{i}"))
                .spawn(move || worker(&gw, i, work, rate, cap))
                .map_err(|e| format!("spawning a worker: {e}"))?;
            handles.push(h);
        }
        groups.push(g);
    }
    let mut messages = Vec::new();
    for (m, g) in groups.iter().enumerate() {
        let g = Arc::clone(g);
        let h = std::thread::Builder::new()
            .name(format!("message{m}"))
            .spawn(move || message_loop(&g, think, end))
            .map_err(|e| format!("spawning a message thread: {e}"))?;
        messages.push(h);
    }
    let mut requests = 0;
    for h in messages {
        requests += h.join().map_err(|_| "a message thread panicked")??;
    }
    let elapsed = start.elapsed();
    let busy = CpuTimes::now()?.busy_pct_since(&cpu_start);
    let mut wake = Latencies::with_capacity(requests as usize);
    let mut request = Latencies::with_capacity(requests as usize);
    for h in handles {
        let s = h.join().map_err(|_| "a worker panicked")??;
        wake.extend(s.wake);
        request.extend(s.request);
    }
    wake.sort();
    request.sort();
    println!(
        "load_pct={load} think_us={} work_us={work} requests={requests} rps={:.1} \
         wake_p50_us={} wake_p99_us={} wake_p999_us={} wake_max_us={} req_p50_us={} \
         req_p99_us={} busy_pct={busy:.1} secs={:.2} hist={}",
        think.as_micros(),
        requests as f64 / elapsed.as_secs_f64(),
        wake.pct(50.0),
        wake.pct(99.0),
        wake.pct(99.9),
        wake.max(),
        request.pct(50.0),
        request.pct(99.0),
        elapsed.as_secs_f64(),
        wake.histogram()
    );
    Ok(())
}
