//! The loop every user-space scheduler runs: attach the channel, hand each batch of runnable
//! tasks to the policy, report stats (the channel's counters and where the round trip's time
//! goes), detach with the kernel's exit record.

use std::mem::MaybeUninit;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::cli::{CommonOpts, SliceOpts};
use crate::error::Result;
use crate::lifecycle::{RunEnd, Ticker};
use crate::signals::Shutdown;
use crate::usersched::{describe_stages, QueuedTask, UserSched, UserSchedOpts};

/// How long one wait for tasks may last before the loop checks for shutdown and the kernel's
/// exit record.
const POLL: Duration = Duration::from_millis(100);

/// A scheduling policy in user space. The framework ([`scheduler_main`]) owns everything
/// around it: attaching, waiting for tasks, stats, detaching, restarting.
pub trait Policy {
    /// One round: take the tasks the kernel sent ([`UserSched::dequeue_task`]) and dispatch
    /// those that should run now, in the policy's order ([`UserSched::dispatch`]). A task the
    /// policy keeps for a later round stays in its own queue and is listed by [`Self::held`].
    fn schedule(&mut self, sched: &mut UserSched<'_>) -> Result<()>;

    /// The tasks the policy holds after a round. The framework tells the BPF side about them
    /// after every round, so a CPU that runs out of work asks for them.
    fn held(&self) -> impl Iterator<Item = &QueuedTask>;

    /// The policy's own part of a stats line.
    fn stats(&self) -> String;
}

/// Attaches the channel with `opts`, logs `name attached in N ms (describe)`, runs `policy`
/// until `shutdown` or until the kernel unloads the scheduler, logging a stats line every
/// `stats` interval, then detaches.
pub fn run_policy(
    opts: &UserSchedOpts,
    describe: &str,
    stats: Option<Duration>,
    shutdown: &Shutdown,
    policy: &mut impl Policy,
) -> Result<RunEnd> {
    let mut object = MaybeUninit::uninit();
    let mut sched = UserSched::attach(&mut object, opts)?;
    let attached = Instant::now();
    log::info!(
        "{} attached in {} ms ({describe})",
        opts.name,
        sched.attach_time().as_millis()
    );
    let mut ticker = Ticker::new(stats);
    let mut before = sched.counters();
    let (mut rounds, mut round_ns, mut round_max_ns) = (0u64, 0u64, 0u64);
    while !shutdown.requested() && sched.exit_info().is_none() {
        sched.poll(POLL)?;
        let start = Instant::now();
        policy.schedule(&mut sched)?;
        sched.publish_held(policy.held());
        let ns = start.elapsed().as_nanos() as u64;
        rounds += 1;
        round_ns += ns;
        round_max_ns = round_max_ns.max(ns);
        if ticker.due() {
            let now = sched.counters();
            log::info!(
                "stats: {} {now} wait_us(mean/max): {} task_wait_max={}us(pid {}) round={}/{}us rounds={rounds} uptime={}s",
                policy.stats(),
                describe_stages(&now, &before),
                now.wait_max_ns / 1000,
                now.wait_max_pid,
                round_ns / rounds.max(1) / 1000,
                round_max_ns / 1000,
                attached.elapsed().as_secs()
            );
            sched.reset_stage_max();
            before = now;
            (rounds, round_ns, round_max_ns) = (0, 0, 0);
        }
    }
    let requested = shutdown.requested() && sched.exit_info().is_none();
    let info = sched.detach();
    Ok(RunEnd { requested, info })
}

/// What [`scheduler_main`] needs from a scheduler's command line.
pub struct MainOpts<'a> {
    /// The scheduler's name, as the kernel and the logs show it.
    pub name: &'static str,
    /// Its clap definition, for `--generate` (man page, completions).
    pub command: clap::Command,
    pub slice: &'a SliceOpts,
    pub common: &'a CommonOpts,
    /// Wakeups that find an idle CPU run there at once, without a round trip to user space.
    pub direct_idle: bool,
    /// A wakeup whose last burst was shorter than this preempts a CPU hog, or waits behind a
    /// waker whose burst is still shorter, without a round trip (0: every such decision is the
    /// policy's).
    pub wake_preempt_ns: u64,
    /// The scheduler's own settings for its attach line (its profile, its options), or empty.
    pub detail: String,
}

/// The whole of a user-space scheduler's `main` once its command line is parsed: validate the
/// options, attach the channel, run a fresh `new_policy()` per attach, restart when the kernel
/// asks, map the end to an exit code.
pub fn scheduler_main<P: Policy>(opts: MainOpts<'_>, new_policy: impl Fn() -> P) -> ExitCode {
    let MainOpts {
        name,
        command,
        slice,
        common,
        direct_idle,
        wake_preempt_ns,
        detail,
    } = opts;
    crate::lifecycle::main(name, command, common, || {
        crate::lifecycle::run_scheduler(
            name,
            common,
            || slice.validate(),
            |shutdown| {
                let opts = UserSchedOpts {
                    slice_ns: slice.max_ns(),
                    partial: common.partial,
                    direct_idle,
                    wake_preempt_ns,
                    ..UserSchedOpts::new(name)
                };
                let describe = format!(
                    "{}{}{}",
                    slice.describe(),
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(", {detail}")
                    },
                    if common.partial { ", partial" } else { "" }
                );
                let mut policy = new_policy();
                Ok(run_policy(
                    &opts,
                    &describe,
                    common.stats_interval(),
                    shutdown,
                    &mut policy,
                )?)
            },
        )
    })
}
