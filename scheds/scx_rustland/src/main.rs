//! scx_rustland: a user-space deadline scheduler that keeps a loaded machine responsive — every
//! decision made in Rust on scx_core's dispatch channel.
//!
//! Policy:
//! - each task carries a weighted virtual runtime (time run × 100 / weight, so a nice 10 task's
//!   clock runs ~10× faster than a nice 0 one's); a task may be at most one maximum slice behind
//!   the scheduler's clock, so a long sleep (or a CPU shared with this scheduler) buys a bounded
//!   head start, not a monopoly;
//! - tasks wait ordered by deadline: its vruntime plus the (weighted) time it ran in its current
//!   burst, capped at [`RUNTIME_CREDIT_SLICES`] slice (for a wakeup, the burst that ended in its
//!   sleep), so tasks that sleep after short bursts (interactive, I/O bound) come first and a
//!   CPU hog at the end of its slice goes behind them; hogs all carry the same capped term, so
//!   they share CPUs by weight; a task that waited [`MAX_WAIT_SLICES`] maximum slices goes first;
//! - a wakeup that finds an idle CPU runs there at once, decided in BPF (previous CPU, then an
//!   idle core, then any idle CPU); everything else comes here;
//! - a task that may run on more than one CPU and finds none free is handed out at once to the
//!   shared queue, which the kernel keeps in deadline order: a later task with an earlier
//!   deadline still overtakes the ones waiting there, and no CPU idles until this scheduler
//!   wakes up while tasks wait; a task pinned to one CPU waits here until that CPU is free;
//! - a task whose slice ends while nothing waits runs on with a new slice (renewed in BPF);
//! - a waking task whose last burst was shorter than the shortest slice preempts a task that has
//!   run a shortest slice or more of its own burst, its previous CPU's first: that is where
//!   wakeup latency is won against a CPU hog. The BPF side applies this rule itself (the channel's
//!   `wake_preempt_ns`), without the round trip that was most of such a wakeup's latency, and
//!   gives the task the shortest slice; there, when its previous CPU runs no such task, it first
//!   waits behind its waker if the waker is still short of a shortest slice (likely to sleep
//!   soon; its slice is cut to that), before preempting another CPU. A wakeup BPF finds no place
//!   for comes here, and may still preempt the task on its previous CPU (its only CPU, if it is
//!   pinned): at most one such preemption per CPU and round, and none once a task with an earlier
//!   deadline had to wait for a CPU;
//! - the slice shrinks from `--slice-us` towards `--slice-us-min` as more tasks wait.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, ValueEnum};
use scx_core::profile::Explicit;
use scx_core::usersched::SCX_ENQ_WAKEUP;
use scx_core::{CommonOpts, DispatchedTask, Policy, QueuedTask, SliceOpts, UserSched, CPU_ANY};

const NAME: &str = "scx_rustland";
/// How many maximum slices of recent runtime can push a task's deadline back.
const RUNTIME_CREDIT_SLICES: u64 = 1;
/// A task that waited this many maximum slices goes ahead of every deadline: a bound on
/// starvation when newer wakeups keep arriving with earlier deadlines.
const MAX_WAIT_SLICES: u64 = 5;
/// Room reserved for waiting tasks, so the scheduling loop never allocates.
const QUEUE_CAPACITY: usize = 32768;

/// A user-space sched_ext scheduler that favours interactive tasks.
///
/// Tasks are ordered by a deadline derived from their weighted virtual runtime and their recent
/// CPU use, so tasks that sleep often run first and a machine under heavy background load stays
/// responsive.
#[derive(Debug, Parser)]
#[command(name = NAME, version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    slice: SliceOpts,

    /// Waking tasks never preempt the task on their CPU: they wait for a free one in deadline
    /// order like every other task.
    #[arg(long)]
    no_wakeup_preempt: bool,

    /// A set of the tunables above for one kind of work; options given explicitly override it.
    #[arg(long, value_enum, value_name = "PROFILE")]
    profile: Option<Profile>,

    #[command(flatten)]
    common: CommonOpts,
}

/// Workload profiles (see scx(5)); each sets the tunables it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Profile {
    /// --slice-us 10000 --slice-us-min 2000: a frame loop's bursts of up to 2 ms count as short,
    /// so its wakeups preempt CPU hogs or wait behind the thread that woke them, decided in BPF
    Gaming,
    /// --slice-us 2000 --slice-us-min 250: every task runs within a few ms, at the cost of
    /// more context switches and more of this scheduler's own CPU time
    Lowlatency,
    /// --slice-us 20000 --slice-us-min 2000 --no-wakeup-preempt: long slices and no
    /// preemption, for throughput with a bounded wait
    Server,
}

impl Cli {
    /// The profile and the preemption setting, for the attach line.
    fn detail(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.profile.and_then(|p| p.to_possible_value()) {
            parts.push(format!("profile {}", p.get_name()));
        }
        if self.no_wakeup_preempt {
            parts.push("no wakeup preemption".to_string());
        }
        parts.join(", ")
    }

    /// Sets the chosen profile's tunables, except those given on the command line.
    fn apply_profile(&mut self, explicit: &Explicit) {
        let (slice, slice_min, no_preempt) = match self.profile {
            None => return,
            Some(Profile::Gaming) => (10_000, 2_000, false),
            Some(Profile::Lowlatency) => (2_000, 250, false),
            Some(Profile::Server) => (20_000, 2_000, true),
        };
        explicit.tune("slice_us", &mut self.slice.slice_us, slice);
        explicit.tune("slice_us_min", &mut self.slice.slice_us_min, slice_min);
        explicit.tune("no_wakeup_preempt", &mut self.no_wakeup_preempt, no_preempt);
    }
}

/// A task waiting in user space.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    deadline: u64,
    /// Arrival order, to break deadline ties first-come first-served.
    order: u64,
    vtime: u64,
    task: QueuedTask,
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Waiting {}
impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.deadline, self.order).cmp(&(other.deadline, other.order))
    }
}

/// The deadline policy.
struct Deadline {
    queue: BinaryHeap<Reverse<Waiting>>,
    /// The scheduler's virtual clock: the vruntime of the last task handed out.
    vclock: u64,
    order: u64,
    slice_ns: u64,
    slice_min_ns: u64,
    /// Whether latency-critical wakeups may take their CPU over.
    wakeup_preempt: bool,
    dispatched: u64,
    preempted: u64,
    /// Tasks popped this round that could not be placed yet.
    held: Vec<Waiting>,
    /// CPUs given a task this round.
    claimed: Vec<bool>,
}

fn weighted(ns: u64, weight: u32) -> u64 {
    ns.saturating_mul(100) / u64::from(weight.max(1))
}

impl Deadline {
    fn new(slice_ns: u64, slice_min_ns: u64, wakeup_preempt: bool) -> Self {
        Deadline {
            queue: BinaryHeap::with_capacity(QUEUE_CAPACITY),
            vclock: 0,
            order: 0,
            slice_ns,
            slice_min_ns,
            wakeup_preempt,
            dispatched: 0,
            preempted: 0,
            held: Vec::with_capacity(QUEUE_CAPACITY),
            claimed: vec![false; scx_core::usersched::MAX_CPUS],
        }
    }

    /// Puts a task in line.
    fn enqueue(&mut self, task: QueuedTask) {
        // A task may be at most one slice behind the clock, and its deadline adds the
        // (weighted) time it ran in its current burst, capped at a slice: for a wakeup, the
        // burst that ended in its sleep; for a task that stayed runnable, what it ran since it
        // last woke. Short sleepers go first, and a CPU hog at the end of its slice goes behind
        // a waking task: hogs compared with each other all carry the same capped term, so
        // their CPU shares still follow their vruntimes, and so their weights. Without the
        // bound and the term, a hog that fell behind the clock (it shared its CPU with this
        // scheduler) went ahead of every wakeup, and a periodic task waited behind it for up to
        // MAX_WAIT_SLICES slices.
        //
        // A task that never ran under this scheduler (a new child, or one that was there before
        // it attached) starts at the clock: the kernel gives it a vruntime of 0, which would put
        // every child of a fork-heavy build ahead of every task that has run, for its whole
        // life.
        let (vtime, deadline) = if task.sum_runtime == 0 {
            (self.vclock, self.vclock)
        } else {
            let vtime = task.vtime.max(self.vclock.saturating_sub(self.slice_ns));
            let credit = task.exec_runtime.min(RUNTIME_CREDIT_SLICES * self.slice_ns);
            (vtime, vtime.saturating_add(weighted(credit, task.weight)))
        };
        self.order += 1;
        self.queue.push(Reverse(Waiting {
            deadline,
            order: self.order,
            vtime,
            task,
        }));
    }

    /// The slice while `waiting` tasks wait.
    fn slice(&self, waiting: u64) -> u64 {
        (self.slice_ns / waiting.max(1)).max(self.slice_min_ns)
    }

    /// Whether a task is a latency-critical wakeup: it woke up and ran less than the shortest
    /// slice since it last slept.
    fn is_interactive(&self, task: &QueuedTask) -> bool {
        task.enq_flags & SCX_ENQ_WAKEUP != 0 && task.exec_runtime < self.slice_min_ns
    }

    /// Whether `task` may take its CPU over now: a latency-critical wakeup, preemption on,
    /// and no other task given that CPU this round.
    fn may_preempt(&self, task: &QueuedTask) -> bool {
        self.wakeup_preempt && self.is_interactive(task) && task.cpu >= 0 && !self.claimed(task.cpu)
    }

    fn claimed(&self, cpu: i32) -> bool {
        usize::try_from(cpu)
            .ok()
            .and_then(|c| self.claimed.get(c).copied())
            .unwrap_or(true)
    }

    fn claim(&mut self, cpu: i32) {
        if let Some(c) = usize::try_from(cpu)
            .ok()
            .and_then(|c| self.claimed.get_mut(c))
        {
            *c = true;
        }
    }
}

impl Policy for Deadline {
    /// One round: hand out tasks in deadline order. A task pinned to one CPU goes there only
    /// when that CPU is free (idle, or the one this loop runs on), so tasks sharing a CPU are
    /// compared at every slice boundary; other tasks go to a free CPU, or wait in the shared
    /// queue by their deadline.
    fn schedule(&mut self, sched: &mut UserSched<'_>) -> scx_core::Result<()> {
        while let Some(task) = sched.dequeue_task() {
            self.enqueue(task);
        }
        let shared = sched.counters().shared_queued;
        // How many more tasks the shared queue holds before one of them waits for a slice to
        // end rather than for a CPU to get free.
        let mut budget = (sched.nr_cpus() as u64).saturating_sub(shared);
        let slice = self.slice(self.queue.len() as u64 + shared);

        // Once a task has to wait for lack of CPUs, no later one (by deadline) may preempt.
        let mut blocked = false;
        while let Some(Reverse(next)) = self.queue.pop() {
            let task = &next.task;
            let mut decision = DispatchedTask::new(task)
                .slice_ns(slice)
                .vtime(next.vtime.max(1));
            // A latency-critical wakeup takes its CPU over, one per CPU and round.
            let may_preempt = !blocked && self.may_preempt(task);
            if task.nr_cpus_allowed == 1 {
                if sched.is_free(task.cpu) && !self.claimed(task.cpu) {
                    decision = decision.cpu(task.cpu);
                } else if may_preempt {
                    decision = decision.cpu(task.cpu).preempt();
                    self.preempted += 1;
                } else {
                    self.held.push(next);
                    continue;
                }
                self.claim(task.cpu);
            } else {
                let cpu = sched.select_cpu(task);
                if cpu == CPU_ANY && may_preempt {
                    decision = decision.cpu(task.cpu).preempt();
                    self.claim(task.cpu);
                    self.preempted += 1;
                } else if cpu == CPU_ANY {
                    // It waits in the shared queue, in deadline order.
                    if budget == 0 {
                        blocked = true;
                    }
                    budget = budget.saturating_sub(1);
                    decision = decision.deadline(next.deadline.max(1));
                } else {
                    self.claim(cpu);
                    decision = decision.cpu(cpu);
                }
            }
            if !sched.dispatch(&decision)? {
                self.held.push(next);
                break;
            }
            self.vclock = self.vclock.max(next.vtime);
            self.dispatched += 1;
        }
        // What is held waits for the next round; a task that has waited too long is first in
        // line from now on.
        let now = scx_core::usersched::monotonic_ns();
        let max_wait = MAX_WAIT_SLICES * self.slice_ns;
        for mut w in self.held.drain(..) {
            if now.saturating_sub(w.task.queued_kt) > max_wait {
                w.deadline = 0;
            }
            self.queue.push(Reverse(w));
        }
        self.claimed.iter_mut().for_each(|c| *c = false);
        Ok(())
    }

    fn held(&self) -> impl Iterator<Item = &QueuedTask> {
        self.queue.iter().map(|Reverse(w)| &w.task)
    }

    fn stats(&self) -> String {
        format!(
            "waiting={} dispatched={} preempted={}",
            self.queue.len(),
            self.dispatched,
            self.preempted
        )
    }
}

fn main() -> ExitCode {
    let (mut cli, explicit) = scx_core::profile::parse::<Cli>();
    cli.apply_profile(&explicit);
    let opts = scx_core::MainOpts {
        name: NAME,
        command: Cli::command(),
        slice: &cli.slice,
        common: &cli.common,
        direct_idle: true,
        wake_preempt_ns: if cli.no_wakeup_preempt {
            0
        } else {
            cli.slice.min_ns()
        },
        detail: cli.detail(),
    };
    scx_core::scheduler_main(opts, || {
        Deadline::new(
            cli.slice.max_ns(),
            cli.slice.min_ns(),
            !cli.no_wakeup_preempt,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_set_their_tunables_and_explicit_options_win() {
        let cli = |args: &[&str]| {
            let (mut cli, explicit) = scx_core::profile::try_parse_from::<Cli, _, _>(
                std::iter::once(NAME).chain(args.iter().copied()),
            )
            .expect("parses");
            cli.apply_profile(&explicit);
            cli
        };
        let c = cli(&["--profile", "server"]);
        assert_eq!((c.slice.slice_us, c.slice.slice_us_min), (20_000, 2_000));
        assert!(c.no_wakeup_preempt);
        assert_eq!(c.detail(), "profile server, no wakeup preemption");
        let c = cli(&["--profile", "gaming", "-S", "800"]);
        assert_eq!((c.slice.slice_us, c.slice.slice_us_min), (10_000, 800));
        assert!(!c.no_wakeup_preempt && c.slice.validate().is_ok());
        assert_eq!(cli(&[]).detail(), "");
        for p in Profile::value_variants() {
            let name = p.to_possible_value().expect("named").get_name().to_string();
            assert!(scx_core::profile::NAMES.contains(&name.as_str()), "{name}");
            assert!(cli(&["--profile", &name]).slice.validate().is_ok());
        }
        assert!(
            scx_core::profile::try_parse_from::<Cli, _, _>([NAME, "--profile", "hpc"]).is_err()
        );
    }

    #[test]
    fn without_wakeup_preemption_a_latency_critical_wakeup_waits() {
        let mut t = task(1, 0, 500_000, 100);
        t.enq_flags = SCX_ENQ_WAKEUP;
        t.cpu = 1;
        let mut on = Deadline::new(20_000_000, 1_000_000, true);
        assert!(on.may_preempt(&t));
        on.claim(1);
        assert!(!on.may_preempt(&t), "its CPU was given out this round");
        let off = Deadline::new(20_000_000, 1_000_000, false);
        assert!(off.is_interactive(&t) && !off.may_preempt(&t));
    }

    fn task(pid: i32, vtime: u64, exec_runtime: u64, weight: u32) -> QueuedTask {
        QueuedTask {
            pid,
            vtime,
            exec_runtime,
            weight,
            // Has run before: a task that never ran starts at the clock.
            sum_runtime: 1,
            ..Default::default()
        }
    }

    fn new_child(pid: i32) -> QueuedTask {
        QueuedTask {
            pid,
            weight: 100,
            ..Default::default()
        }
    }

    fn order(policy: &mut Deadline) -> Vec<i32> {
        let mut out = Vec::new();
        while let Some(Reverse(w)) = policy.queue.pop() {
            out.push(w.task.pid);
        }
        out
    }

    fn wakeup(mut t: QueuedTask) -> QueuedTask {
        t.enq_flags = SCX_ENQ_WAKEUP;
        t
    }

    #[test]
    fn short_sleepers_go_before_long_runners_with_the_same_vruntime() {
        let mut p = Deadline::new(20_000_000, 1_000_000, true);
        p.enqueue(wakeup(task(1, 1_000, 30_000_000, 100))); // ran 30 ms before it slept
        p.enqueue(wakeup(task(2, 1_000, 100_000, 100))); // interactive: ran 0.1 ms
        assert_eq!(order(&mut p), vec![2, 1]);
    }

    #[test]
    fn a_waking_task_overtakes_a_hog_that_is_ahead_in_vruntime() {
        let mut p = Deadline::new(20_000_000, 1_000_000, true);
        p.vclock = 500_000_000;
        p.enqueue(task(1, 500_000_000, 80_000_000, 100)); // hog at the end of its slice
        p.enqueue(wakeup(task(2, 0, 200_000, 100)));
        assert_eq!(order(&mut p), vec![2, 1]);
    }

    #[test]
    fn sleep_credit_is_bounded_by_one_slice() {
        let mut p = Deadline::new(20_000_000, 1_000_000, true);
        p.vclock = 1_000_000_000;
        let mut sleeper = task(1, 5, 0, 100);
        sleeper.enq_flags = SCX_ENQ_WAKEUP;
        p.enqueue(sleeper);
        let Reverse(w) = p.queue.pop().expect("queued");
        assert_eq!(w.vtime, 1_000_000_000 - 20_000_000);
        // So may a task that stayed runnable, while one within the bound keeps its own.
        p.enqueue(task(2, 5, 0, 100));
        let Reverse(w) = p.queue.pop().expect("queued");
        assert_eq!(w.vtime, 1_000_000_000 - 20_000_000);
        p.enqueue(task(3, 990_000_000, 0, 100));
        let Reverse(w) = p.queue.pop().expect("queued");
        assert_eq!(w.vtime, 990_000_000);
    }

    #[test]
    fn a_periodic_wakeup_goes_before_a_hog_that_fell_behind_the_clock() {
        let mut p = Deadline::new(20_000_000, 1_000_000, true);
        p.vclock = 1_000_000_000;
        // A hog that shared its CPU with the scheduler: 300 ms behind, ran 3 s since it woke.
        p.enqueue(task(1, 700_000_000, 3_000_000_000, 100));
        // A periodic task that slept long after a 50 us burst.
        p.enqueue(wakeup(task(2, 0, 50_000, 100)));
        assert_eq!(order(&mut p), vec![2, 1]);
    }

    #[test]
    fn a_new_task_starts_at_the_clock_not_ahead_of_everyone() {
        let mut p = Deadline::new(20_000_000, 1_000_000, true);
        p.vclock = 1_000_000_000;
        // A task that has run, 10 ms behind the clock and still runnable.
        p.enqueue(task(1, 990_000_000, 0, 100));
        // A freshly forked child: the kernel's vruntime of 0, and it never ran.
        p.enqueue(new_child(2));
        assert_eq!(order(&mut p), vec![1, 2]);
        p.enqueue(new_child(3));
        let Reverse(w) = p.queue.pop().expect("queued");
        assert_eq!(w.vtime, 1_000_000_000);
    }

    #[test]
    fn weight_scales_the_runtime_penalty() {
        let mut p = Deadline::new(20_000_000, 1_000_000, true);
        // Same runtime: the nice 10 task (weight ~10) is pushed back 10x further.
        p.enqueue(wakeup(task(1, 0, 10_000_000, 10)));
        p.enqueue(wakeup(task(2, 0, 10_000_000, 100)));
        p.enqueue(wakeup(task(3, 0, 10_000_000, 1000)));
        assert_eq!(order(&mut p), vec![3, 2, 1]);
    }

    #[test]
    fn equal_deadlines_are_first_come_first_served() {
        let mut p = Deadline::new(20_000_000, 1_000_000, true);
        for pid in 1..=5 {
            p.enqueue(task(pid, 0, 0, 100));
        }
        assert_eq!(order(&mut p), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn slice_adapts_to_waiting_tasks() {
        let p = Deadline::new(20_000_000, 1_000_000, true);
        assert_eq!(p.slice(0), 20_000_000);
        assert_eq!(p.slice(4), 5_000_000);
        assert_eq!(p.slice(1000), 1_000_000);
    }

    #[test]
    fn interactive_wakeups() {
        let p = Deadline::new(20_000_000, 1_000_000, true);
        let mut t = task(1, 0, 500_000, 100);
        assert!(!p.is_interactive(&t), "not a wakeup");
        t.enq_flags = SCX_ENQ_WAKEUP;
        assert!(p.is_interactive(&t));
        t.exec_runtime = 2_000_000;
        assert!(!p.is_interactive(&t), "ran too long");
    }
}
