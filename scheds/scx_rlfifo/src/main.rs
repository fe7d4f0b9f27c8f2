//! scx_rlfifo: the smallest complete user-space scheduler — tasks run in the order they became
//! runnable, every decision made here in Rust on scx_core's dispatch channel.
//!
//! The policy, in full:
//! - every runnable task arrives from the kernel through the channel and waits in a FIFO queue;
//! - each round, all waiting tasks are dispatched in arrival order: to the task's previous CPU if
//!   it is idle (warm cache), else to another idle CPU, else to whichever CPU frees up first;
//! - the time slice shrinks as more tasks wait (`--slice-us` divided by the number waiting, never
//!   below `--slice-us-min`), so a long queue still cycles quickly.
//!
//! There is no priority, no fairness between nice levels and no preemption on wakeup: that is
//! what scx_rustland adds on the same channel. `cargo xtask new scx_NAME` starts a new policy
//! from this file (see README.md).

use std::collections::VecDeque;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use scx_core::{CommonOpts, DispatchedTask, Policy, QueuedTask, SliceOpts, UserSched};

const NAME: &str = "scx_rlfifo";

/// A FIFO sched_ext scheduler whose decisions are made in Rust user space.
///
/// Tasks run in the order they became runnable. A teaching example and a baseline: it keeps a
/// machine running, but favours nobody.
#[derive(Debug, Parser)]
#[command(name = NAME, version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    slice: SliceOpts,

    #[command(flatten)]
    common: CommonOpts,
}

/// The policy: a FIFO queue and the slice rule.
struct Fifo {
    queue: VecDeque<QueuedTask>,
    slice_ns: u64,
    slice_min_ns: u64,
}

impl Fifo {
    fn new(cli: &Cli) -> Self {
        Fifo {
            queue: VecDeque::with_capacity(16384),
            slice_ns: cli.slice.max_ns(),
            slice_min_ns: cli.slice.min_ns(),
        }
    }

    /// The slice for this round: the longest slice shared by everyone waiting.
    fn slice(&self) -> u64 {
        let waiting = self.queue.len().max(1) as u64;
        (self.slice_ns / waiting).max(self.slice_min_ns)
    }
}

impl Policy for Fifo {
    /// One round: take every task the kernel sent, dispatch them all in arrival order.
    fn schedule(&mut self, sched: &mut UserSched<'_>) -> scx_core::Result<()> {
        while let Some(task) = sched.dequeue_task() {
            self.queue.push_back(task);
        }
        let slice = self.slice();
        while let Some(task) = self.queue.pop_front() {
            let cpu = sched.select_cpu(&task);
            let decision = DispatchedTask::new(&task).cpu(cpu).slice_ns(slice);
            if !sched.dispatch(&decision)? {
                // Ring buffer full: keep the task at the head and retry next round.
                self.queue.push_front(task);
                break;
            }
        }
        Ok(())
    }

    fn held(&self) -> impl Iterator<Item = &QueuedTask> {
        self.queue.iter()
    }

    fn stats(&self) -> String {
        format!("waiting={}", self.queue.len())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let opts = scx_core::MainOpts {
        name: NAME,
        command: Cli::command(),
        slice: &cli.slice,
        common: &cli.common,
        direct_idle: false,
        wake_preempt_ns: 0,
        detail: String::new(),
    };
    scx_core::scheduler_main(opts, || Fifo::new(&cli))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once(NAME).chain(args.iter().copied())).expect("parses")
    }

    #[test]
    fn slice_shrinks_with_the_queue_but_not_below_the_minimum() {
        let mut fifo = Fifo::new(&cli(&["-s", "20000", "-S", "1000"]));
        assert_eq!(fifo.slice(), 20_000_000);
        fifo.queue.extend((0..4).map(|pid| QueuedTask {
            pid,
            ..Default::default()
        }));
        assert_eq!(fifo.slice(), 5_000_000);
        fifo.queue.extend((0..100).map(|pid| QueuedTask {
            pid,
            ..Default::default()
        }));
        assert_eq!(fifo.slice(), 1_000_000);
    }

    #[test]
    fn rejects_inverted_slices() {
        let err = cli(&["-s", "100", "-S", "200"])
            .slice
            .validate()
            .expect_err("rejected");
        assert!(err.to_string().contains("--slice-us-min (200) is larger"));
        assert!(cli(&["-s", "0"]).slice.validate().is_err());
    }
}
