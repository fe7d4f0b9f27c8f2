//! `vmtool frames`: a game-like frame loop beside a compile-like background, measuring frames
//! that miss their deadline and how much background work got done meanwhile.
//!
//! The render thread wakes at every tick of a fixed frame period (a display's vsync), hands part
//! of the frame's CPU work to a helper thread, does the rest, and waits for the helper. A frame
//! is on time when both parts are done before the next tick. A late frame delays the next one to
//! the first tick after it finished, so the ticks it covered are missed too, as on a display.
//! The background: one CPU hog per CPU, and as many "compilers", each forking short-lived
//! children that do a fixed piece of work and exit. All work is calibrated steps, so every
//! scheduler is asked for the same work; `render_cpu_us` reports the CPU time the render
//! thread's own part of a frame really took, to check the calibration under load. Where a
//! frame's time went: `start_*` from the tick until the render thread ran, `work_wall_*` its own
//! part in wall time (its CPU time plus the time it was preempted), `helper_wait_*` waiting for
//! the helper after that; of which `helper_start_*` is from the post until the helper ran and
//! `render_wake_*` (frames where the render thread had to sleep) from the helper's answer until
//! the render thread ran again. `helper_short_wakes` counts the helper's wakeups after a burst
//! shorter than `--short-us` of its CPU time (a scheduler's rule for a latency-critical wakeup
//! sees the same burst, however much a slow host stretched it).

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::work::{fork_child, reap, sleep_until, work_us, Latencies, Opts, Shared};

/// Counters in the shared page.
const HOG_MS: usize = 0;
const COMPILE_MS: usize = 1;

/// The helper's job board: jobs posted and jobs done, and when.
#[derive(Default)]
struct Board {
    posted: u64,
    posted_at: Option<Instant>,
    done: u64,
    /// When the helper started and finished the last job it did.
    started_at: Option<Instant>,
    done_at: Option<Instant>,
    /// Wakeups of the helper after a burst shorter than `--short-us`.
    short_wakes: u64,
    quit: bool,
}

/// When a helper job was posted, started and done.
struct JobTimes {
    posted: Instant,
    started: Instant,
    done: Instant,
}

struct Helper {
    board: Mutex<Board>,
    job: Condvar,
    finished: Condvar,
}

const POISONED: &str = "the helper thread's lock is poisoned";

impl Helper {
    /// Posts a job; returns its number.
    fn post(&self) -> Result<u64, &'static str> {
        let mut b = self.board.lock().map_err(|_| POISONED)?;
        b.posted += 1;
        b.posted_at = Some(Instant::now());
        self.job.notify_one();
        Ok(b.posted)
    }

    fn wait_done(&self, job: u64) -> Result<JobTimes, &'static str> {
        let mut b = self.board.lock().map_err(|_| POISONED)?;
        while b.done < job {
            b = self.finished.wait(b).map_err(|_| POISONED)?;
        }
        match (b.posted_at, b.started_at, b.done_at) {
            (Some(posted), Some(started), Some(done)) => Ok(JobTimes {
                posted,
                started,
                done,
            }),
            _ => Err("a helper job without its times"),
        }
    }
}

fn helper_loop(h: &Helper, us: u64, rate: f64, short: Duration) {
    let mut seen = 0;
    // The CPU time of the helper's current burst (since it last woke) began at this reading.
    let mut burst_began = thread_cpu();
    loop {
        let Ok(mut b) = h.board.lock() else { return };
        let burst = thread_cpu().saturating_sub(burst_began);
        let mut slept = false;
        while b.posted == seen && !b.quit {
            slept = true;
            let Ok(next) = h.job.wait(b) else { return };
            b = next;
        }
        if b.quit {
            return;
        }
        if slept {
            burst_began = thread_cpu();
            if burst < short {
                b.short_wakes += 1;
            }
        }
        seen = b.posted;
        drop(b);
        let started = Instant::now();
        work_us(us, rate);
        let done = Instant::now();
        let Ok(mut b) = h.board.lock() else { return };
        b.done = seen;
        b.started_at = Some(started);
        b.done_at = Some(done);
        h.finished.notify_one();
    }
}

/// Stops the background and reaps it; true when every process exited with 0.
fn stop_background(shared: &Shared, pids: Vec<i32>) -> bool {
    shared.stop();
    let reaped: Vec<bool> = pids.into_iter().map(reap).collect();
    reaped.iter().all(|ok| *ok)
}

/// Starts the background; returns the pids to reap. On failure none is left running.
fn background(n: usize, job_us: u64, rate: f64, shared: &Shared) -> Result<Vec<i32>, String> {
    let mut pids = Vec::new();
    if let Err(e) = start_background(n, job_us, rate, shared, &mut pids) {
        stop_background(shared, pids);
        return Err(e);
    }
    Ok(pids)
}

fn start_background(
    n: usize,
    job_us: u64,
    rate: f64,
    shared: &Shared,
    pids: &mut Vec<i32>,
) -> Result<(), String> {
    for _ in 0..n {
        pids.push(fork_child(|| {
            while !shared.stopped() {
                work_us(1000, rate);
                shared.add(HOG_MS, 1);
            }
            0
        })?);
    }
    for _ in 0..n {
        pids.push(fork_child(|| {
            while !shared.stopped() {
                let job = fork_child(|| {
                    work_us(job_us, rate);
                    shared.add(COMPILE_MS, job_us / 1000);
                    0
                });
                match job {
                    Ok(pid) if reap(pid) => {}
                    _ => return 1,
                }
            }
            0
        })?);
    }
    Ok(())
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime with a valid clock id and pointer; on failure ts stays zero.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let o = Opts::new(args);
    o.check(&[
        "rate",
        "secs",
        "period-us",
        "work-us",
        "helper-us",
        "background",
        "job-us",
        "short-us",
    ])?;
    let rate: f64 = o.get("rate", 0.0)?;
    let secs: u64 = o.get("secs", 10)?;
    let period = Duration::from_micros(o.get("period-us", 16_667)?);
    let work: u64 = o.get("work-us", 2000)?;
    let helper_us: u64 = o.get("helper-us", 500)?;
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let nbg: usize = o.get("background", ncpu)?;
    let job_us: u64 = o.get("job-us", 3000)?;
    let short = Duration::from_micros(o.get("short-us", 1000)?);
    if rate <= 0.0 {
        return Err("--rate STEPS_PER_US is needed (from `vmtool calibrate`)".into());
    }
    if helper_us > work || period.is_zero() || job_us < 1000 {
        return Err("need --helper-us <= --work-us, a period, and --job-us >= 1000".into());
    }

    let shared = Shared::new(2)?;
    let pids = background(nbg, job_us, rate, &shared)?;
    let helper = Arc::new(Helper {
        board: Mutex::new(Board::default()),
        job: Condvar::new(),
        finished: Condvar::new(),
    });
    let h = Arc::clone(&helper);
    let thread = match std::thread::Builder::new()
        .name("helper".into())
        .spawn(move || helper_loop(&h, helper_us, rate, short))
    {
        Ok(t) => t,
        Err(e) => {
            stop_background(&shared, pids);
            return Err(format!("spawning the helper thread: {e}"));
        }
    };

    // Let the background fill the CPUs first.
    std::thread::sleep(Duration::from_millis(500));
    let bg0 = (shared.get(HOG_MS), shared.get(COMPILE_MS));
    let ticks = (secs * 1_000_000 / period.as_micros() as u64).max(1);
    let mut lateness = Latencies::with_capacity(ticks as usize);
    let mut on_time = 0u64;
    let t0 = Instant::now();
    let mut k = 0u64;
    let mut failed = None;
    let mut render_cpu = Duration::ZERO;
    let mut start = Latencies::with_capacity(ticks as usize);
    let mut work_wall = Latencies::with_capacity(ticks as usize);
    let mut helper_wait = Latencies::with_capacity(ticks as usize);
    let mut helper_start = Latencies::with_capacity(ticks as usize);
    let mut render_wake = Latencies::with_capacity(ticks as usize);
    while k < ticks {
        let tick = t0 + period * k as u32;
        sleep_until(tick);
        let woke = Instant::now();
        start.push(woke.saturating_duration_since(tick));
        let posted = match helper.post() {
            Ok(n) => n,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        let cpu0 = thread_cpu();
        work_us(work - helper_us, rate);
        render_cpu += thread_cpu().saturating_sub(cpu0);
        let worked = Instant::now();
        work_wall.push(worked - woke);
        let job = match helper.wait_done(posted) {
            Ok(job) => job,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        let done = Instant::now();
        helper_wait.push(done - worked);
        helper_start.push(job.started.saturating_duration_since(job.posted));
        if job.done > worked {
            // The render thread slept until the helper was done: how long its wakeup took.
            render_wake.push(done.saturating_duration_since(job.done));
        }
        let deadline = tick + period;
        lateness.push(done.saturating_duration_since(deadline));
        if done <= deadline {
            on_time += 1;
        }
        // The next frame starts at the first tick after this one finished.
        let since = done.duration_since(t0).as_micros() as u64;
        let period_us = period.as_micros() as u64;
        k = (k + 1).max(since.div_ceil(period_us));
    }
    let elapsed = t0.elapsed();
    let bg1 = (shared.get(HOG_MS), shared.get(COMPILE_MS));
    let bg_ok = stop_background(&shared, pids);
    let mut short_wakes = 0;
    if let Ok(mut b) = helper.board.lock() {
        short_wakes = b.short_wakes;
        b.quit = true;
        helper.job.notify_one();
    }
    let _ = thread.join();
    if let Some(why) = failed {
        return Err(why.into());
    }
    if !bg_ok {
        return Err("a background process failed".into());
    }
    let frames = lateness.len() as u64;
    let late = frames - on_time;
    lateness.sort();
    start.sort();
    work_wall.sort();
    helper_wait.sort();
    helper_start.sort();
    render_wake.sort();
    let (hog, compile) = (bg1.0 - bg0.0, bg1.1 - bg0.1);
    println!(
        "ticks={ticks} frames={frames} on_time={on_time} late={late} missed={} \
         missed_pct={:.2} late_p99_us={} late_max_us={} bg_hog_ms={hog} bg_compile_ms={compile} \
         bg_ms={} render_cpu_us={} start_p50_us={} start_p99_us={} work_wall_p50_us={} \
         work_wall_p99_us={} helper_wait_p50_us={} helper_wait_p99_us={} helper_start_p50_us={} \
         helper_start_p99_us={} render_wake_p50_us={} render_wake_p99_us={} \
         helper_short_wakes={short_wakes} secs={:.2}",
        ticks - on_time,
        (ticks - on_time) as f64 * 100.0 / ticks as f64,
        lateness.pct(99.0),
        lateness.max(),
        hog + compile,
        render_cpu.as_micros() as u64 / frames.max(1),
        start.pct(50.0),
        start.pct(99.0),
        work_wall.pct(50.0),
        work_wall.pct(99.0),
        helper_wait.pct(50.0),
        helper_wait.pct(99.0),
        helper_start.pct(50.0),
        helper_start.pct(99.0),
        render_wake.pct(50.0),
        render_wake.pct(99.0),
        elapsed.as_secs_f64()
    );
    Ok(())
}
