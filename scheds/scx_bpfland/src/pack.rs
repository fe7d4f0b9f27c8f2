//! `--pack`: how many CPUs of the fill order take work, decided from how busy the machine was.

/// Active CPUs busier than this on average get one more (or half as many more) beside them.
const GROW_AT: f64 = 0.9;
/// Fewer CPUs once the work fits on fewer at no more than this share each...
const SHRINK_AT: f64 = 0.85;
/// ...for this many periods in a row, so that a short lull does not shrink the set; then the
/// set shrinks to the fewest CPUs the work fits on, at once.
const SHRINK_AFTER: u32 = 5;
/// Tasks that waited long for a CPU (BPF counts waits over 10 ms) in each of two periods in a
/// row, from which on the active CPUs do not keep up, however idle the clock ticks say they
/// are. One period's worth is not enough: a vCPU its host stops running for a few tens of
/// milliseconds makes every task queued on it wait that long once, whatever the load.
pub const LONG_WAITS: u64 = 2;

/// The number of active CPUs, moved by the work of each period.
#[derive(Debug, Clone)]
pub struct Packer {
    online: u32,
    active: u32,
    calm: u32,
    /// The last period had LONG_WAITS or more long waits.
    waited: bool,
}

impl Packer {
    /// All `online` CPUs active: the set shrinks once the work is known.
    pub fn new(online: u32) -> Self {
        let online = online.max(1);
        Self {
            online,
            active: online,
            calm: 0,
            waited: false,
        }
    }

    pub fn active(&self) -> u32 {
        self.active
    }

    /// The active CPUs after a period in which `cpus` CPUs' worth of time was busy and
    /// `long_waits` tasks waited long for a CPU.
    ///
    /// Growing is immediate: tasks queue for the active CPUs once they are saturated, and the
    /// measured work cannot exceed what they can run, so a saturated set grows by half. Long
    /// waits in two periods in a row grow it too: busy time comes from clock ticks, and a CPU
    /// that misses ticks (a vCPU its host does not run) looks idle while its tasks wait.
    pub fn next(&mut self, cpus: f64, long_waits: u64) -> u32 {
        let active = f64::from(self.active);
        let waited = long_waits >= LONG_WAITS;
        let waiting = waited && self.waited;
        self.waited = waited;
        if cpus > active * GROW_AT || waiting {
            let step = if cpus > active * 0.95 || waiting {
                (self.active / 2).max(1)
            } else {
                1
            };
            self.active = (self.active + step).min(self.online);
            self.calm = 0;
        } else if self.active > 1 && cpus < (active - 1.0) * SHRINK_AT {
            self.calm += 1;
            if self.calm >= SHRINK_AFTER {
                // The fewest CPUs k with cpus < k * SHRINK_AT: fewer than now, by the test above.
                let fits = (cpus.max(0.0) / SHRINK_AT).floor() as u32 + 1;
                self.active = fits.clamp(1, self.active - 1);
                self.calm = 0;
            }
        } else {
            self.calm = 0;
        }
        self.active
    }
}

/// Busy and total clock ticks of all CPUs so far, from the first line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    busy: u64,
    total: u64,
}

impl CpuTicks {
    pub fn read() -> std::io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string("/proc/stat")?).unwrap_or_default())
    }

    fn parse(stat: &str) -> Option<Self> {
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        // user nice system idle iowait irq softirq steal; guest time is already in user.
        let ticks: Vec<u64> = line
            .split_whitespace()
            .take(8)
            .map_while(|f| f.parse().ok())
            .collect();
        let total = ticks.iter().sum();
        let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
        Some(Self {
            busy: total - idle,
            total,
        })
    }

    /// How many of `cpus` CPUs were busy, on average, since `earlier`.
    pub fn busy_cpus_since(&self, earlier: &CpuTicks, cpus: u32) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return 0.0;
        }
        self.busy.saturating_sub(earlier.busy) as f64 / total as f64 * f64::from(cpus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &mut Packer, busy_cpus: f64, periods: u32) -> u32 {
        for _ in 0..periods {
            p.next(busy_cpus, 0);
        }
        p.active()
    }

    #[test]
    fn tasks_that_wait_long_grow_the_set_whatever_the_ticks_say() {
        let mut p = Packer::new(8);
        assert_eq!(run(&mut p, 0.3, 5), 1);
        assert_eq!(
            p.next(0.3, LONG_WAITS - 1),
            1,
            "one long wait is not a trend"
        );
        assert_eq!(p.next(0.3, LONG_WAITS), 1, "nor is one period of them");
        assert_eq!(p.next(0.3, LONG_WAITS), 2);
        assert_eq!(p.next(0.3, 10), 3);
        assert_eq!(p.next(0.3, 10), 4);
        assert_eq!(run(&mut p, 0.3, 4), 4, "no shrinking right after");
    }

    #[test]
    fn long_waits_in_periods_apart_do_not_grow_the_set() {
        let mut p = Packer::new(4);
        assert_eq!(run(&mut p, 1.2, 5), 2);
        for _ in 0..10 {
            assert_eq!(p.next(1.2, 4), 2, "a host's hiccup");
            assert_eq!(p.next(1.2, 1), 2);
            assert_eq!(p.next(1.2, 0), 2);
        }
    }

    #[test]
    fn busy_cpus_from_proc_stat() {
        let a = CpuTicks::parse("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3\n").expect("parses");
        let b = CpuTicks::parse("cpu  200 0 150 950 100 0 100 0 0 0\n").expect("parses");
        assert_eq!(
            a,
            CpuTicks {
                busy: 200,
                total: 1000
            }
        );
        assert!((b.busy_cpus_since(&a, 4) - 2.0).abs() < 1e-9);
        assert_eq!(a.busy_cpus_since(&a, 4), 0.0);
        assert_eq!(CpuTicks::parse("intr 1\n"), None);
    }

    #[test]
    fn a_quarter_of_four_cpus_settles_on_two_and_a_lull_does_not_shrink() {
        let mut p = Packer::new(4);
        assert_eq!(
            run(&mut p, 1.0, 4),
            4,
            "shrinks only after five calm periods"
        );
        assert_eq!(
            run(&mut p, 1.0, 1),
            2,
            "then straight to the CPUs the work fits on"
        );
        assert_eq!(
            run(&mut p, 1.0, 50),
            2,
            "1.0 CPU of work does not fit on one at 85 %"
        );
        assert_eq!(run(&mut p, 0.7, 5), 1);
        let mut p = Packer::new(16);
        assert_eq!(run(&mut p, 5.0, 5), 6, "5 CPUs of work fit on 6 at 85 %");
        let mut p = Packer::new(4);
        run(&mut p, 0.1, 4);
        run(&mut p, 3.0, 1);
        assert_eq!(run(&mut p, 0.1, 4), 4, "the calm count starts over");
    }

    #[test]
    fn saturation_grows_at_once_and_never_past_the_online_cpus() {
        let mut p = Packer::new(8);
        assert_eq!(run(&mut p, 0.2, 5), 1);
        assert_eq!(
            run(&mut p, 1.0, 1),
            1 + 1,
            "saturated: half again, at least one"
        );
        assert_eq!(run(&mut p, 2.0, 1), 3);
        assert_eq!(run(&mut p, 2.9, 1), 4);
        assert_eq!(run(&mut p, 8.0, 10), 8);
        assert_eq!(Packer::new(0).active(), 1);
    }
}
