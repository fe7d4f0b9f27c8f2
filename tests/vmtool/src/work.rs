//! The pieces the workloads share: calibrated CPU work, counters shared across fork, clocks,
//! option parsing, and latency summaries (percentiles and a log-binned histogram).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One step of busy work: a few multiply-adds the compiler cannot drop.
#[inline(never)]
fn spin_steps(n: u64, seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
    std::hint::black_box(x)
}

/// Steps per microsecond of one CPU while every CPU is busy: one thread per CPU measures at
/// once, each taking the median of a few runs of 100 ms (neither a preempted run nor one after the
/// others finished decides it), and the median thread's rate is the result. Under single-threaded TCG the vCPUs share one host
/// thread, so a busy machine's CPU is slower than an idle one's; the workloads run on a busy
/// machine. Run it once per boot, before any workload; every workload of the boot then asks
/// for the same work.
pub fn calibrate() -> f64 {
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: Vec<_> = (0..ncpu)
        .map(|_| {
            std::thread::spawn(|| {
                let rate = |n: u64| {
                    let t = Instant::now();
                    spin_steps(n, 7);
                    n as f64 / (t.elapsed().as_secs_f64() * 1e6).max(1e-3)
                };
                // Runs of about 100 ms: longer than the slices in which single-threaded TCG
                // takes turns between vCPUs, so a run pays for the other CPUs being busy.
                let n = (rate(2_000_000) * 100_000.0) as u64;
                let mut runs: Vec<f64> = (0..5).map(|_| rate(n)).collect();
                runs.sort_by(f64::total_cmp);
                runs[runs.len() / 2]
            })
        })
        .collect();
    let mut rates: Vec<f64> = threads.into_iter().filter_map(|t| t.join().ok()).collect();
    rates.sort_by(f64::total_cmp);
    rates.get(rates.len() / 2).copied().unwrap_or(0.0)
}

/// CPU work worth `us` microseconds of an idle CPU, at `rate` steps per µs.
pub fn work_us(us: u64, rate: f64) {
    spin_steps((us as f64 * rate) as u64, us);
}

/// The calling thread's CPU time so far.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec that we own; the clock id is valid on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Busy work until the calling thread has run for `cpu` more of CPU time, however fast the
/// CPU is and however often it is preempted.
pub fn work_cpu_time(cpu: Duration) {
    let end = thread_cpu_time() + cpu;
    let mut seed = 1;
    while thread_cpu_time() < end {
        seed = spin_steps(1_000, seed);
    }
}

/// Counters and a stop flag in memory that forked processes share.
pub struct Shared {
    ptr: *mut u8,
    len: usize,
}

/// The counters' layout: word 0 is the stop flag, the rest are counters.
impl Shared {
    pub fn new(counters: usize) -> Result<Shared, String> {
        let len = (counters + 1) * std::mem::size_of::<u64>();
        // SAFETY: anonymous shared mapping; the result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(format!(
                "mmap of shared counters: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(Shared {
            ptr: ptr.cast(),
            len,
        })
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        assert!((i + 1) * 8 <= self.len);
        // SAFETY: in bounds of a page-aligned mapping that lives as long as self; AtomicU64
        // has the layout of u64 and the mapping starts zeroed.
        unsafe { &*(self.ptr.add(i * 8) as *const AtomicU64) }
    }

    pub fn stopped(&self) -> bool {
        self.word(0).load(Ordering::Relaxed) != 0
    }

    pub fn stop(&self) {
        self.word(0).store(1, Ordering::Relaxed);
    }

    pub fn add(&self, counter: usize, n: u64) {
        self.word(counter + 1).fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self, counter: usize) -> u64 {
        self.word(counter + 1).load(Ordering::Relaxed)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new(), unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Forks a child that runs `f` and exits with its code; returns the child's pid.
pub fn fork_child(f: impl FnOnce() -> i32) -> Result<libc::pid_t, String> {
    // SAFETY: called before this process starts any thread, so the child is a full copy.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        let code = f();
        // SAFETY: leave the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    Ok(pid)
}

/// Waits for a child; true when it exited with 0.
pub fn reap(pid: libc::pid_t) -> bool {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        }
        if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}

/// Sleeps until `deadline` on the monotonic clock (no drift from relative sleeps).
pub fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

/// CPU time so far, from a `cpu` line of `/proc/stat` (the machine's, or one CPU's), in clock
/// ticks.
#[derive(Debug, Clone, Copy)]
pub struct CpuTimes {
    busy: u64,
    total: u64,
}

impl CpuTimes {
    pub fn now() -> Result<CpuTimes, String> {
        let stat = std::fs::read_to_string("/proc/stat")
            .map_err(|e| format!("reading /proc/stat: {e}"))?;
        Self::parse(&stat)
    }

    fn parse(stat: &str) -> Result<CpuTimes, String> {
        let line = stat.lines().next().unwrap_or_default();
        if line.split_whitespace().next() != Some("cpu") {
            return Err(format!("/proc/stat starts with {line:?}, not the cpu line"));
        }
        Self::from_line(line).ok_or_else(|| format!("unreadable /proc/stat cpu line {line:?}"))
    }

    /// Each CPU's time so far, from the `cpuN` lines, in their order.
    pub fn per_cpu() -> Result<Vec<CpuTimes>, String> {
        let stat = std::fs::read_to_string("/proc/stat")
            .map_err(|e| format!("reading /proc/stat: {e}"))?;
        Ok(Self::parse_per_cpu(&stat))
    }

    fn parse_per_cpu(stat: &str) -> Vec<CpuTimes> {
        stat.lines()
            .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
            .filter_map(Self::from_line)
            .collect()
    }

    /// One `cpu` line: user nice system idle iowait irq softirq steal (guest time is inside
    /// user).
    fn from_line(line: &str) -> Option<CpuTimes> {
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map_while(|f| f.parse().ok())
            .collect();
        if ticks.len() < 5 {
            return None;
        }
        let total: u64 = ticks.iter().sum();
        Some(CpuTimes {
            busy: total - ticks[3] - ticks[4],
            total,
        })
    }

    /// The share of CPU time that was idle since `earlier`, in whole percent.
    pub fn idle_pct_since(&self, earlier: &CpuTimes) -> u64 {
        let total = self.total.saturating_sub(earlier.total);
        let busy = self.busy.saturating_sub(earlier.busy);
        (total.saturating_sub(busy) * 100)
            .checked_div(total)
            .unwrap_or(0)
    }

    /// The share of CPU time that was busy since `earlier`, in %.
    pub fn busy_pct_since(&self, earlier: &CpuTimes) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        let busy = self.busy.saturating_sub(earlier.busy);
        if total == 0 {
            return 0.0;
        }
        busy as f64 * 100.0 / total as f64
    }
}

/// `--name VALUE` options of a workload, with defaults.
pub struct Opts<'a> {
    args: &'a [String],
}

impl<'a> Opts<'a> {
    pub fn new(args: &'a [String]) -> Opts<'a> {
        Opts { args }
    }

    /// The value of `--name`, or `default`; an unreadable value is an error.
    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        let flag = format!("--{name}");
        match self.args.iter().position(|a| *a == flag) {
            None => Ok(default),
            Some(i) => self
                .args
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{flag} needs a number")),
        }
    }

    /// Options not in `known`, so a typo fails rather than being ignored.
    pub fn check(&self, known: &[&str]) -> Result<(), String> {
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            match a.strip_prefix("--") {
                Some(n) if known.contains(&n) => {
                    it.next();
                }
                _ => return Err(format!("unknown option {a:?}")),
            }
        }
        Ok(())
    }
}

/// Latencies of one kind, in microseconds.
pub struct Latencies {
    us: Vec<u64>,
}

/// Histogram bins per decade; a bin's value is its upper bound.
const BINS_PER_DECADE: f64 = 20.0;

impl Latencies {
    pub fn with_capacity(n: usize) -> Latencies {
        Latencies {
            us: Vec::with_capacity(n),
        }
    }

    pub fn push(&mut self, d: Duration) {
        self.us.push(d.as_micros() as u64);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.us.extend(other.us);
    }

    pub fn len(&self) -> usize {
        self.us.len()
    }

    pub fn sort(&mut self) {
        self.us.sort_unstable();
    }

    /// Nearest-rank percentile of sorted latencies (0 when there are none).
    pub fn pct(&self, p: f64) -> u64 {
        if self.us.is_empty() {
            return 0;
        }
        let rank = ((p / 100.0) * self.us.len() as f64).ceil().max(1.0) as usize;
        self.us[rank.min(self.us.len()) - 1]
    }

    pub fn max(&self) -> u64 {
        self.us.last().copied().unwrap_or(0)
    }

    /// `us:count,...` with log-spaced bins (exact below 10 µs), ascending, empty bins left out.
    pub fn histogram(&self) -> String {
        let mut bins: Vec<(u64, u64)> = Vec::new();
        for &v in &self.us {
            let top = if v < 10 {
                v
            } else {
                let k = ((v as f64).log10() * BINS_PER_DECADE).ceil();
                (10f64.powf(k / BINS_PER_DECADE)).round() as u64
            };
            let top = top.max(v);
            match bins.last_mut() {
                Some((t, n)) if *t == top => *n += 1,
                _ => bins.push((top, 1)),
            }
        }
        let words: Vec<String> = bins.iter().map(|(t, n)| format!("{t}:{n}")).collect();
        words.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_busy_share_leaves_out_idle_and_iowait() {
        let a = CpuTimes::parse("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n").expect("parses");
        let b = CpuTimes::parse("cpu  200 0 100 900 50 0 0 0 0 0\n").expect("parses");
        assert_eq!(b.busy_pct_since(&a), 60.0);
        assert!(CpuTimes::parse("intr 1 2 3\n").is_err());
        assert!(CpuTimes::parse("cpu  1 2\n").is_err());
    }

    #[test]
    fn percentiles_and_histogram() {
        let mut l = Latencies::with_capacity(8);
        for us in [5, 128, 3, 135, 1000, 7] {
            l.push(Duration::from_micros(us));
        }
        l.sort();
        assert_eq!(l.pct(50.0), 7);
        assert_eq!(l.pct(100.0), 1000);
        assert_eq!(l.max(), 1000);
        let h = l.histogram();
        let bins: Vec<(u64, u64)> = h
            .split(',')
            .map(|b| {
                let (t, n) = b.split_once(':').unwrap();
                (t.parse().unwrap(), n.parse().unwrap())
            })
            .collect();
        assert_eq!(bins.iter().map(|b| b.1).sum::<u64>(), 6);
        assert_eq!(bins[0], (3, 1));
        assert!(bins.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(bins.last(), Some(&(1000, 1)));
        // 128 and 135 share a bin whose top holds them both.
        assert!(bins.iter().any(|&(t, n)| n == 2 && (135..150).contains(&t)));
    }

    #[test]
    fn options() {
        let args: Vec<String> = ["--secs", "3", "--work", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = Opts::new(&args);
        assert_eq!(o.get("secs", 1u64), Ok(3));
        assert_eq!(o.get("other", 9u64), Ok(9));
        assert!(o.get::<u64>("work", 1).is_err());
        assert!(o.check(&["secs", "work"]).is_ok());
        assert!(o.check(&["secs"]).is_err());
    }

    #[test]
    fn per_cpu_idle_shares() {
        let a =
            "cpu  10 0 10 80 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 40 0 0 0 0\nintr 1\n";
        let b =
            "cpu  40 0 10 150 0 0 0 0\ncpu0 35 0 5 60 0 0 0 0 0 0\ncpu1 5 0 5 85 5 0 0 0\nintr 2\n";
        let (x, y) = (CpuTimes::parse_per_cpu(a), CpuTimes::parse_per_cpu(b));
        assert_eq!(x.len(), 2);
        let idle: Vec<u64> = y.iter().zip(&x).map(|(b, a)| b.idle_pct_since(a)).collect();
        assert_eq!(idle, [40, 100]);
    }
}
