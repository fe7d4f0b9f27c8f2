//! The suite's work queue: independent tasks (a guest, a package build) run as many at a time
//! as the host has cores for them, each as soon as a slot is free and the tasks it needs have
//! ended, so neither core waits for the slower of a pair.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use anyhow::Result;

use crate::progress;
use crate::scenario::Check;

/// The work of one task: its checks, or an error that becomes one failed check under its name.
pub type Work<'a> = Box<dyn FnOnce() -> Result<Vec<Check>> + Send + 'a>;

/// One unit of work. A single-threaded TCG guest keeps one host core busy; a build that would
/// take more runs at `nice` 19, so the guest beside it keeps its core and its timing, and only
/// one build runs at a time: two would share the cores and leave no guest running.
pub struct Task<'a> {
    pub name: String,
    /// Names of the tasks whose results this one reads (through state both closures share);
    /// it starts once they have ended, passed or not. Names of no task in the queue are ignored.
    pub after: Vec<String>,
    pub nice: bool,
    pub work: Work<'a>,
}

impl<'a> Task<'a> {
    pub fn new(name: impl Into<String>, work: Work<'a>) -> Self {
        Task {
            name: name.into(),
            after: Vec::new(),
            nice: false,
            work,
        }
    }

    pub fn after(mut self, names: &[&str]) -> Self {
        self.after = names.iter().map(|n| n.to_string()).collect();
        self
    }

    pub fn niced(mut self) -> Self {
        self.nice = true;
        self
    }
}

struct Board<'a> {
    waiting: Vec<Option<Task<'a>>>,
    ended: Vec<String>,
    results: Vec<Vec<Check>>,
    /// Whether a niced task (a build) runs now.
    building: bool,
}

impl<'a> Board<'a> {
    /// The first waiting task whose predecessors have ended (and, for a build, with no other
    /// build running), taken off the board.
    fn next_ready(&mut self) -> Option<(usize, Task<'a>)> {
        let (ended, building) = (&self.ended, self.building);
        let i = self.waiting.iter().position(|slot| {
            slot.as_ref()
                .is_some_and(|t| !(t.nice && building) && t.after.iter().all(|a| ended.contains(a)))
        })?;
        let task = self.waiting[i].take()?;
        self.building |= task.nice;
        Some((i, task))
    }
}

/// The value behind a mutex, also when a thread that held it panicked.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `tasks` with at most `slots` at once, picking in list order among the ready ones, and
/// prints a line as each ends; returns every task's checks in list order.
pub fn run(tasks: Vec<Task<'_>>, slots: usize) -> Vec<Check> {
    let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
    let tasks: Vec<Option<Task>> = tasks
        .into_iter()
        .map(|mut t| {
            t.after.retain(|a| names.contains(a) && *a != t.name);
            Some(t)
        })
        .collect();
    let count = tasks.len();
    let board = Mutex::new(Board {
        waiting: tasks,
        ended: Vec::new(),
        results: vec![Vec::new(); count],
        building: false,
    });
    let changed = Condvar::new();
    std::thread::scope(|scope| {
        for _ in 0..slots.max(1) {
            scope.spawn(|| loop {
                let mut b = lock(&board);
                let (i, task) = loop {
                    if let Some((i, task)) = b.next_ready() {
                        break (i, task);
                    }
                    if b.waiting.iter().all(Option::is_none) {
                        return;
                    }
                    b = changed.wait(b).unwrap_or_else(|e| e.into_inner());
                };
                drop(b);
                let (name, nice) = (task.name.clone(), task.nice);
                let checks = run_one(task);
                let mut b = lock(&board);
                b.results[i] = checks;
                b.ended.push(name);
                if nice {
                    b.building = false;
                }
                changed.notify_all();
            });
        }
    });
    let board = board.into_inner().unwrap_or_else(|e| e.into_inner());
    board.results.into_iter().flatten().collect()
}

/// Runs one task on a thread of its own (its nice value stays there and passes to the children
/// it starts; a panic becomes an error) and reports it.
fn run_one(task: Task<'_>) -> Vec<Check> {
    let start = Instant::now();
    let Task {
        name, nice, work, ..
    } = task;
    let result = std::thread::scope(|scope| {
        scope
            .spawn(move || {
                if nice {
                    // SAFETY: setpriority() takes plain integers; `who` 0 is the calling
                    // thread on Linux. A failure leaves the priority as it was.
                    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
                }
                work()
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("its thread panicked")))
    });
    let secs = start.elapsed().as_secs_f64();
    let checks = match result {
        Ok(checks) => checks,
        Err(err) => {
            eprintln!("xtask: {name}: {err:#}");
            vec![Check {
                name: name.clone(),
                passed: false,
                detail: format!("{err:#} ({secs:.1} s)"),
            }]
        }
    };
    let failed = checks.iter().filter(|c| !c.passed).count();
    let verdict = if failed == 0 { "ok  " } else { "FAIL" };
    let what = match failed {
        0 => String::new(),
        n => format!(" ({n} failed)"),
    };
    progress::say(&format!("     {verdict} {secs:6.1} s  {name}{what}"));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn passed(name: &str) -> Vec<Check> {
        vec![Check {
            name: name.to_string(),
            passed: true,
            detail: String::new(),
        }]
    }

    #[test]
    fn runs_at_most_slots_at_once_waits_for_predecessors_and_keeps_list_order() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let order = Mutex::new(Vec::new());
        let b_started = std::sync::atomic::AtomicBool::new(false);
        let task = |name: &'static str| {
            let (running, most, order, b_started) = (&running, &most, &order, &b_started);
            Task::new(
                name,
                Box::new(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    lock(order).push(format!("start {name}"));
                    match name {
                        // Ends only once the other slot got to guest b: the free slot must
                        // take the next ready task instead of waiting for the build.
                        "build" => {
                            let waited = Instant::now();
                            while !b_started.load(Ordering::SeqCst) {
                                if waited.elapsed() > Duration::from_secs(10) {
                                    anyhow::bail!("guest b did not start beside the build");
                                }
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                        "guest b" => b_started.store(true, Ordering::SeqCst),
                        _ => {}
                    }
                    lock(order).push(format!("end {name}"));
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(passed(name))
                }),
            )
        };
        let tasks = vec![
            task("build"),
            task("guest a"),
            task("needs build").after(&["build", "not in the queue"]),
            task("guest b"),
        ];
        let checks = run(tasks, 2);
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["build", "guest a", "needs build", "guest b"]);
        assert!(most.load(Ordering::SeqCst) <= 2);
        let order = lock(&order).clone();
        let at = |what: &str| order.iter().position(|o| o == what).unwrap();
        assert!(at("start needs build") > at("end build"), "{order:?}");
        // The build ended only after guest b had started: they ran at the same time.
        assert!(at("start guest b") < at("end build"), "{order:?}");
    }

    #[test]
    fn builds_run_one_at_a_time_beside_the_guests() {
        let order = Mutex::new(Vec::new());
        let guest_started = std::sync::atomic::AtomicBool::new(false);
        let (order, guest_started) = (&order, &guest_started);
        let record = move |what: String| lock(order).push(what);
        let deb = Task::new(
            "deb",
            Box::new(move || {
                record("start deb".to_string());
                // The second build must wait, so the free slot runs the guest meanwhile.
                let waited = Instant::now();
                while !guest_started.load(Ordering::SeqCst) {
                    if waited.elapsed() > Duration::from_secs(10) {
                        anyhow::bail!("the guest did not start beside the first build");
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                record("end deb".to_string());
                Ok(passed("deb"))
            }),
        )
        .niced();
        let new = Task::new(
            "new",
            Box::new(move || {
                record("start new".to_string());
                Ok(passed("new"))
            }),
        )
        .niced();
        let guest = Task::new(
            "guest",
            Box::new(move || {
                record("start guest".to_string());
                guest_started.store(true, Ordering::SeqCst);
                Ok(passed("guest"))
            }),
        );
        let checks = run(vec![deb, new, guest], 2);
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        let order = lock(order).clone();
        let at = |what: &str| order.iter().position(|o| o == what).unwrap();
        assert!(at("start new") > at("end deb"), "{order:?}");
    }

    #[test]
    fn an_error_or_a_panic_is_one_failed_check_and_successors_still_run() {
        let tasks = vec![
            Task::new("fails", Box::new(|| anyhow::bail!("on purpose"))),
            Task::new("panics", Box::new(|| panic!("on purpose (self-test)"))),
            Task::new("after both", Box::new(|| Ok(passed("after both"))))
                .after(&["fails", "panics"]),
        ];
        let checks = run(tasks, 1);
        assert_eq!(checks.len(), 3);
        assert!(!checks[0].passed && checks[0].detail.contains("on purpose"));
        assert!(!checks[1].passed && checks[1].detail.contains("panicked"));
        assert!(checks[2].passed);
    }
}
