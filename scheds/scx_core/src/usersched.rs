//! The user-space dispatch channel: loads `usersched.bpf.c` under a scheduler's name and gives
//! a Rust policy the tasks to schedule and a way to dispatch them.
//!
//! [`crate::scheduler_main`] runs the loop; a policy ([`crate::Policy`]) writes only the round:
//!
//! ```text
//! while running {
//!     sched.poll(timeout)?;                      // framework: wait for runnable tasks
//!     // policy.schedule(): the round
//!     while let Some(task) = sched.dequeue_task() { queue.push(task) }
//!     for task in queue.by_policy() {            // the policy's order
//!         let cpu = sched.select_cpu(&task);     // an idle CPU, or CPU_ANY
//!         sched.dispatch(&DispatchedTask::new(&task).cpu(cpu).slice_ns(s))?;
//!     }
//!     sched.publish_held(policy.held());         // framework: tasks kept for later
//! }
//! ```
//!
//! The loop allocates nothing once the channel is open: records are copied into a queue whose
//! capacity is reserved up front, decisions are written in place into the BPF ring buffer.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::mem::{size_of, MaybeUninit};
use std::rc::Rc;
use std::time::{Duration, Instant};

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{Link, OpenObject, RingBuffer, RingBufferBuilder, UserRingBuffer};

use crate::attach;
use crate::error::{Error, Result};
use crate::exit_info::ExitInfo;
use crate::kernel;
use crate::skel::{UserschedSkel, UserschedSkelBuilder};

/// A decision's CPU meaning "whichever CPU gets free first".
pub const CPU_ANY: i32 = -1;
/// Highest number of CPUs the channel tracks (`USERSCHED_MAX_CPUS`).
pub const MAX_CPUS: usize = 1024;
/// `pid` of a doorbell record (`USERSCHED_DOORBELL_PID`).
const DOORBELL_PID: i32 = 0;
/// `SCX_ENQ_WAKEUP`: the task woke up.
pub const SCX_ENQ_WAKEUP: u64 = 1;
/// `SCX_ENQ_LAST`: the task ended its slice and nothing else waited for its CPU.
pub const SCX_ENQ_LAST: u64 = 1 << 41;
/// `DISPATCH_F_PREEMPT`.
const DISPATCH_F_PREEMPT: u64 = 1;
/// Room for every record the kernel ring buffer can hold.
const QUEUE_CAPACITY: usize = 16384;

/// A runnable task waiting for a decision (`struct queued_task`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueuedTask {
    pub pid: i32,
    /// The CPU it was enqueued on (where it ran last, or where a wakeup placed it).
    pub cpu: i32,
    pub nr_cpus_allowed: u32,
    /// sched_ext weight: 100 for nice 0, higher for lower nice values.
    pub weight: u32,
    pub enq_flags: u64,
    pub seq: u64,
    pub enq_ts: u64,
    pub runnable_ts: u64,
    pub stop_ts: u64,
    /// Nanoseconds it ran: for a wakeup, in the burst that ended when it went to sleep;
    /// otherwise since it last woke up.
    pub exec_runtime: u64,
    pub sum_runtime: u64,
    /// Weighted virtual runtime kept by the BPF side.
    pub vtime: u64,
    /// CLOCK_MONOTONIC ns when it was sent to user space.
    pub queued_kt: u64,
}

/// A decision for a queued task (`struct dispatched_task`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchedTask {
    pub pid: i32,
    pub cpu: i32,
    pub seq: u64,
    pub slice_ns: u64,
    /// The task's new virtual runtime (0 keeps the one BPF has).
    pub vtime: u64,
    /// Its place in the shared queue when it goes to any CPU: lower runs first; 0 puts it where
    /// the queue is served now, so decisions without one are served in the order they came.
    pub deadline: u64,
    pub flags: u64,
    /// CLOCK_MONOTONIC ns when it was sent (set by [`UserSched::dispatch`]); times the round
    /// trip's stages.
    pub sent_kt: u64,
}

// The same sizes are asserted on the C side, in intf.h.
const _: () = assert!(size_of::<QueuedTask>() == 88);
const _: () = assert!(size_of::<DispatchedTask>() == 56);

impl DispatchedTask {
    /// A decision for `task` on any CPU with the default slice.
    pub fn new(task: &QueuedTask) -> Self {
        DispatchedTask {
            pid: task.pid,
            cpu: CPU_ANY,
            seq: task.seq,
            slice_ns: 0,
            vtime: 0,
            deadline: 0,
            flags: 0,
            sent_kt: 0,
        }
    }

    /// Set the task's virtual runtime (what the next enqueue reports as `vtime`).
    pub fn vtime(mut self, vtime: u64) -> Self {
        self.vtime = vtime;
        self
    }

    /// Its place among the tasks waiting for any CPU: lower runs first.
    pub fn deadline(mut self, deadline: u64) -> Self {
        self.deadline = deadline;
        self
    }

    /// Run it on `cpu` ([`CPU_ANY`]: the first CPU that gets free).
    pub fn cpu(mut self, cpu: i32) -> Self {
        self.cpu = cpu;
        self
    }

    /// Run it for `slice_ns` before it goes back to the policy (0: default slice).
    pub fn slice_ns(mut self, slice_ns: u64) -> Self {
        self.slice_ns = slice_ns;
        self
    }

    /// Preempt whatever runs on the target CPU.
    pub fn preempt(mut self) -> Self {
        self.flags |= DISPATCH_F_PREEMPT;
        self
    }
}

/// How to load the channel.
#[derive(Debug, Clone)]
pub struct UserSchedOpts {
    /// The scheduler's name, as the kernel will report it in `root/ops`.
    pub name: String,
    /// Default time slice for dispatched tasks.
    pub slice_ns: u64,
    /// Only tasks that opted in with SCHED_EXT are scheduled; the rest stay on EEVDF.
    pub partial: bool,
    /// Wakeups that find an idle CPU run there at once, without a round trip to user space.
    pub direct_idle: bool,
    /// A wakeup whose last burst was shorter than this takes over a CPU that runs a task past
    /// it, or waits behind a waker still short of it, without a round trip to user space (0:
    /// never).
    pub wake_preempt_ns: u64,
    /// How long the kernel lets a runnable task wait before ejecting the scheduler.
    pub timeout_ms: u32,
}

impl UserSchedOpts {
    pub fn new(name: impl Into<String>) -> Self {
        UserSchedOpts {
            name: name.into(),
            slice_ns: 5_000_000,
            partial: false,
            direct_idle: false,
            wake_preempt_ns: 0,
            timeout_ms: 5000,
        }
    }
}

/// Counters of the BPF side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Tasks sent to user space.
    pub queued: u64,
    /// Decisions applied by the BPF side.
    pub user_dispatches: u64,
    /// The scheduler's own threads and per-CPU kthreads, dispatched without a round trip.
    pub kernel_dispatches: u64,
    /// Wakeups dispatched straight to an idle CPU.
    pub direct_dispatches: u64,
    /// Short-burst wakeups that took over a CPU hog's CPU without a round trip.
    pub wake_preempts: u64,
    /// Short-burst wakeups queued behind a short-burst waker on its CPU, without a round trip.
    pub wake_affine: u64,
    /// Tasks that went to the shared queue because the ring buffer was full.
    pub fallbacks: u64,
    /// Decisions dropped because the task had been enqueued again or was gone.
    pub stale: u64,
    /// Decisions for a CPU outside the task's affinity (sent to any CPU instead).
    pub bad_cpu: u64,
    /// Idle CPUs kicked.
    pub kicks: u64,
    /// Doorbells rung (a CPU ran out of work while user space held tasks).
    pub doorbells: u64,
    /// Tasks waiting in the shared queue (a snapshot).
    pub shared_queued: u64,
    /// Slices renewed because nothing waited when they ended.
    pub prev_kept: u64,
    /// Tasks kept from user space because a higher scheduling class held their CPU.
    pub held_bypasses: u64,
    /// Tasks a held CPU took back from user space, so its sched_ext turn had work.
    pub taken_back: u64,
    /// A wakeup's round trip: from the enqueue until user space read it (`read`) and until it
    /// sent the decision (`sent`, which includes `read`), then in the ring until BPF applied the
    /// decision (`ring`), then on the CPU's queue until the task ran (`queue`).
    pub stages: [Stage; NR_STAGES],
    /// The longest any task waited runnable before it ran, and that task, since the last
    /// [`UserSched::reset_stage_max`].
    pub wait_max_ns: u64,
    pub wait_max_pid: i32,
}

/// Number of timed stages of a round trip.
pub const NR_STAGES: usize = 4;
/// The stages' names, in [`Counters::stages`] order.
pub const STAGE_NAMES: [&str; NR_STAGES] = ["read", "sent", "ring", "queue"];

/// One stage of the round trip: total and count since attach, maximum since the last
/// [`UserSched::reset_stage_max`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stage {
    pub sum_ns: u64,
    pub nr: u64,
    pub max_ns: u64,
}

impl Stage {
    fn add(&mut self, ns: u64) {
        self.sum_ns = self.sum_ns.saturating_add(ns);
        self.nr += 1;
        self.max_ns = self.max_ns.max(ns);
    }

    /// The mean over what happened since `before` was read, in µs.
    pub fn mean_us_since(&self, before: &Stage) -> u64 {
        let nr = self.nr.saturating_sub(before.nr);
        if nr == 0 {
            return 0;
        }
        self.sum_ns.saturating_sub(before.sum_ns) / nr / 1000
    }
}

/// `name=mean/max` in µs for each stage, since `before`: where a task's wait went.
pub fn describe_stages(now: &Counters, before: &Counters) -> String {
    STAGE_NAMES
        .iter()
        .zip(now.stages.iter().zip(before.stages.iter()))
        .map(|(name, (n, b))| format!("{name}={}/{}us", n.mean_us_since(b), n.max_ns / 1000))
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "queued={} user_dispatched={} kernel_dispatched={} direct={} wake_preempts={} \
             wake_affine={} fallbacks={} stale={} \
             bad_cpu={} kicks={} doorbells={} shared_queued={} prev_kept={} held_bypasses={} \
             taken_back={}",
            self.queued,
            self.user_dispatches,
            self.kernel_dispatches,
            self.direct_dispatches,
            self.wake_preempts,
            self.wake_affine,
            self.fallbacks,
            self.stale,
            self.bad_cpu,
            self.kicks,
            self.doorbells,
            self.shared_queued,
            self.prev_kept,
            self.held_bypasses,
            self.taken_back
        )
    }
}

fn read_u64(v: &u64) -> u64 {
    // SAFETY: `v` points into the BPF program's mmapped global data; BPF updates it
    // concurrently, so it must be read with a volatile load.
    unsafe { std::ptr::read_volatile(v) }
}

fn write_u64(v: &mut u64, value: u64) {
    // SAFETY: as in `read_u64`; an aligned u64 store is atomic on every supported architecture.
    unsafe { std::ptr::write_volatile(v, value) }
}

/// A loaded and attached user-space scheduler channel. Dropping it detaches the scheduler.
pub struct UserSched<'obj> {
    // Field order is drop order: the ring buffers go before the object that owns their maps.
    ringbuf: RingBuffer<'static>,
    user_ringbuf: UserRingBuffer,
    /// The sched_switch hook of [`attach::HigherClassHook`], where the kernel needs it.
    switch_link: Option<Link>,
    link: Option<Link>,
    skel: UserschedSkel<'obj>,
    incoming: Rc<RefCell<VecDeque<QueuedTask>>>,
    claimed: Vec<bool>,
    freed: Vec<bool>,
    /// Held tasks pinned to each CPU (scratch of [`Self::publish_held`]), and the counts the
    /// BPF side last saw.
    pinned_count: Vec<u32>,
    pinned_published: Vec<u32>,
    /// Wakeups: from enqueue until user space read them.
    wake: Stage,
    /// Records read from the ring, doorbells included.
    nr_read: u64,
    nr_cpus: usize,
    name: String,
    attach_time: Duration,
}

/// CLOCK_MONOTONIC in ns: the clock of `bpf_ktime_get_ns()` and [`QueuedTask::queued_kt`].
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes a timespec into the one we pass; CLOCK_MONOTONIC always
    // exists, so it cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

fn nr_possible_cpus() -> Result<usize> {
    libbpf_rs::num_possible_cpus()
        .map_err(|e| Error::bpf("counting the possible CPUs", e))
        .map(|n| n.min(MAX_CPUS))
}

impl<'obj> UserSched<'obj> {
    /// Checks that the machine can run a scheduler, loads the channel under `opts.name`, locks
    /// the process's memory and attaches; returns once the kernel reports it running.
    pub fn attach(object: &'obj mut MaybeUninit<OpenObject>, opts: &UserSchedOpts) -> Result<Self> {
        kernel::check_can_attach()?;
        let start = Instant::now();

        let mut open = UserschedSkelBuilder::default()
            .open(object)
            .map_err(|e| Error::bpf("opening the BPF object", e))?;

        {
            let rodata = open
                .maps
                .rodata_data
                .as_deref_mut()
                .ok_or_else(|| Error::InvalidArgument("BPF object has no rodata".into()))?;
            rodata.usersched_tgid = std::process::id() as i32;
            rodata.slice_ns = opts.slice_ns;
            rodata.direct_idle = opts.direct_idle;
            rodata.wake_preempt_ns = opts.wake_preempt_ns;
        }
        let higher_class = attach::HigherClassHook::probe();
        {
            let ops = open.struct_ops.usersched_ops_mut();
            attach::set_ops_name(&mut ops.name, &opts.name)?;
            if opts.partial {
                ops.flags |= attach::SCX_OPS_SWITCH_PARTIAL;
            }
            ops.timeout_ms = opts.timeout_ms;
            higher_class.prepare(
                &mut ops.cpu_release,
                &mut open.progs.scx_higher_class_switch,
            );
        }

        let mut skel = open.load().map_err(|e| attach::load_error(&opts.name, e))?;

        attach::lock_memory()?;

        let link = attach::attach_ops(&mut skel.maps.usersched_ops, &opts.name)?;
        let switch_link = higher_class.attach(&mut skel.progs.scx_higher_class_switch)?;
        let attach_time = start.elapsed();

        let incoming = Rc::new(RefCell::new(VecDeque::with_capacity(QUEUE_CAPACITY)));
        let sink = Rc::clone(&incoming);
        let mut builder = RingBufferBuilder::new();
        builder
            .add(&skel.maps.queued, move |data: &[u8]| {
                if data.len() >= size_of::<QueuedTask>() {
                    // SAFETY: the record is a `struct queued_task` written by BPF (length
                    // checked); it may be unaligned in the ring, hence read_unaligned.
                    let task =
                        unsafe { std::ptr::read_unaligned(data.as_ptr() as *const QueuedTask) };
                    sink.borrow_mut().push_back(task);
                }
                0
            })
            .map_err(|e| Error::bpf("setting up the task ring buffer", e))?;
        let ringbuf = builder
            .build()
            .map_err(|e| Error::bpf("setting up the task ring buffer", e))?;
        let user_ringbuf = UserRingBuffer::new(&skel.maps.dispatched)
            .map_err(|e| Error::bpf("setting up the dispatch ring buffer", e))?;

        let nr_cpus = nr_possible_cpus()?;
        Ok(UserSched {
            ringbuf,
            user_ringbuf,
            switch_link,
            link: Some(link),
            skel,
            incoming,
            claimed: vec![false; nr_cpus],
            freed: vec![false; nr_cpus],
            pinned_count: vec![0; nr_cpus],
            pinned_published: vec![0; nr_cpus],
            wake: Stage::default(),
            nr_read: 0,
            nr_cpus,
            name: opts.name.clone(),
            attach_time,
        })
    }

    /// From opening the BPF object to the kernel reporting the scheduler enabled.
    pub fn attach_time(&self) -> Duration {
        self.attach_time
    }

    /// Number of possible CPUs (CPU ids are below this).
    pub fn nr_cpus(&self) -> usize {
        self.nr_cpus
    }

    /// Waits up to `timeout` for runnable tasks (returns at once if some are pending) and
    /// starts a new batch: CPUs handed out by [`Self::select_cpu`] count as free again.
    pub fn poll(&mut self, timeout: Duration) -> Result<()> {
        self.claimed.iter_mut().for_each(|c| *c = false);
        self.freed.iter_mut().for_each(|c| *c = false);
        if !self.incoming.borrow().is_empty() {
            return self.consume();
        }
        // While it waits here on purpose, BPF does not take it for blocked (usersched_blocked()).
        self.set_polling(1);
        let ret = self.ringbuf.poll_raw(timeout);
        self.set_polling(0);
        if ret < 0 && ret != -libc::EINTR {
            return Err(Error::io(
                "waiting for tasks on the ring buffer",
                std::io::Error::from_raw_os_error(-ret),
            ));
        }
        Ok(())
    }

    fn set_polling(&mut self, polling: u32) {
        if let Some(bss) = self.skel.maps.bss_data.as_deref_mut() {
            // SAFETY: a u32 of the mmapped BPF data that only user space writes.
            unsafe { std::ptr::write_volatile(&mut bss.usersched_polling, polling) };
        }
    }

    fn consume(&mut self) -> Result<()> {
        let ret = self.ringbuf.consume_raw();
        if ret < 0 && ret != -libc::EINTR {
            return Err(Error::io(
                "reading tasks from the ring buffer",
                std::io::Error::from_raw_os_error(-ret),
            ));
        }
        Ok(())
    }

    /// The next task waiting for a decision, if any.
    pub fn dequeue_task(&mut self) -> Option<QueuedTask> {
        loop {
            if self.incoming.borrow().is_empty() {
                // A failed read leaves the queue empty; the next poll reports the error.
                let _ = self.consume();
            }
            let task = self.incoming.borrow_mut().pop_front()?;
            self.nr_read += 1;
            if let Some(bss) = self.skel.maps.bss_data.as_deref_mut() {
                // For the exit dump: how far behind the ring user space is.
                write_u64(&mut bss.nr_user_read, self.nr_read);
            }
            if task.pid == DOORBELL_PID || task.enq_flags & SCX_ENQ_LAST != 0 {
                self.mark_freed(task.cpu);
            }
            if task.enq_flags & SCX_ENQ_WAKEUP != 0 && task.queued_kt != 0 {
                self.wake.add(monotonic_ns().saturating_sub(task.queued_kt));
            }
            if task.pid == DOORBELL_PID {
                if let (Some(bss), Ok(cpu)) = (
                    self.skel.maps.bss_data.as_deref_mut(),
                    usize::try_from(task.cpu),
                ) {
                    if let Some(rung) = bss.doorbell_rung.get_mut(cpu) {
                        // SAFETY: a u32 of the mmapped BPF data that BPF sets with cmpxchg.
                        unsafe { std::ptr::write_volatile(rung, 0) };
                    }
                }
                continue;
            }
            return Some(task);
        }
    }

    fn mark_freed(&mut self, cpu: i32) {
        if let Some(f) = usize::try_from(cpu)
            .ok()
            .and_then(|c| self.freed.get_mut(c))
        {
            *f = true;
        }
    }

    /// Whether `cpu` can take a task now: it is idle, or in this batch the kernel said it ran
    /// out of work (a doorbell, or a task that ended its slice with nothing else waiting).
    pub fn is_free(&self, cpu: i32) -> bool {
        let freed = usize::try_from(cpu)
            .ok()
            .and_then(|c| self.freed.get(c).copied())
            .unwrap_or(false);
        freed || self.is_idle(cpu)
    }

    /// Whether `cpu` is idle right now (as the kernel last reported it).
    pub fn is_idle(&self, cpu: i32) -> bool {
        let Some(bss) = self.skel.maps.bss_data.as_deref() else {
            return false;
        };
        usize::try_from(cpu)
            .ok()
            .filter(|&c| c < self.nr_cpus)
            // SAFETY: reading a byte of the mmapped BPF global data that BPF updates.
            .map(|c| unsafe { std::ptr::read_volatile(&bss.cpu_idle[c]) } != 0)
            .unwrap_or(false)
    }

    /// Picks a CPU for `task`: its own CPU if it is pinned to one, its previous CPU if idle,
    /// else (if it may run anywhere) another idle CPU, else [`CPU_ANY`]. An idle CPU handed out
    /// is not handed out again in this batch.
    pub fn select_cpu(&mut self, task: &QueuedTask) -> i32 {
        let prev = task.cpu;
        if task.nr_cpus_allowed == 1 {
            return prev;
        }
        if let Ok(p) = usize::try_from(prev) {
            if p < self.nr_cpus && !self.claimed[p] && self.is_free(prev) {
                self.claimed[p] = true;
                return prev;
            }
        }
        if task.nr_cpus_allowed as usize >= self.nr_cpus {
            for cpu in 0..self.nr_cpus {
                if !self.claimed[cpu] && self.is_free(cpu as i32) {
                    self.claimed[cpu] = true;
                    return cpu as i32;
                }
            }
        }
        CPU_ANY
    }

    /// Sends a decision to the kernel. Returns `false` if the ring buffer is full: keep the task
    /// and try again after the next poll.
    pub fn dispatch(&mut self, decision: &DispatchedTask) -> Result<bool> {
        let Ok(mut sample) = self.user_ringbuf.reserve(size_of::<DispatchedTask>()) else {
            return Ok(false);
        };
        let decision = DispatchedTask {
            sent_kt: monotonic_ns(),
            ..*decision
        };
        // SAFETY: the sample is at least size_of::<DispatchedTask>() bytes of ring-buffer memory
        // reserved for us; unaligned write because the ring gives no alignment guarantee.
        unsafe {
            std::ptr::write_unaligned(sample.as_mut_ptr() as *mut DispatchedTask, decision);
        }
        self.user_ringbuf
            .submit(sample)
            .map_err(|e| Error::bpf("submitting a decision", e))?;
        Ok(true)
    }

    /// Tells the BPF side which tasks the policy still holds after a round (the framework calls
    /// this after every [`crate::Policy::schedule`]): how many may run on any CPU, and per CPU
    /// how many can run only there. While either count is non-zero, a CPU that runs out of
    /// work rings the doorbell, so [`Self::poll`] returns and a held task is not forgotten.
    pub fn publish_held<'t>(&mut self, held: impl Iterator<Item = &'t QueuedTask>) {
        let mut anywhere = 0u64;
        for task in held {
            let pinned = usize::try_from(task.cpu)
                .ok()
                .filter(|_| task.nr_cpus_allowed == 1)
                .and_then(|c| self.pinned_count.get_mut(c));
            match pinned {
                Some(n) => *n += 1,
                None => anywhere += 1,
            }
        }
        let Some(bss) = self.skel.maps.bss_data.as_deref_mut() else {
            return;
        };
        write_u64(&mut bss.nr_user_pending, anywhere);
        let counts = self
            .pinned_count
            .iter_mut()
            .zip(self.pinned_published.iter_mut());
        for ((n, published), slot) in counts.zip(bss.pinned_pending.iter_mut()) {
            // Only changes are written: most CPUs hold nothing, round after round.
            if *n != *published {
                // SAFETY: a u32 of the mmapped BPF data that BPF reads concurrently.
                unsafe { std::ptr::write_volatile(slot, *n) };
                *published = *n;
            }
            *n = 0;
        }
    }

    /// The BPF side's counters.
    pub fn counters(&self) -> Counters {
        let Some(b) = self.skel.maps.bss_data.as_deref() else {
            return Counters::default();
        };
        Counters {
            queued: read_u64(&b.nr_queued),
            user_dispatches: read_u64(&b.nr_user_dispatches),
            kernel_dispatches: read_u64(&b.nr_kernel_dispatches),
            direct_dispatches: read_u64(&b.nr_direct_dispatches),
            wake_preempts: read_u64(&b.nr_wake_preempts),
            wake_affine: read_u64(&b.nr_wake_affine),
            fallbacks: read_u64(&b.nr_fallbacks),
            stale: read_u64(&b.nr_stale),
            bad_cpu: read_u64(&b.nr_bad_cpu),
            kicks: read_u64(&b.nr_kicks),
            doorbells: read_u64(&b.nr_doorbells),
            shared_queued: read_u64(&b.nr_shared_queued),
            prev_kept: read_u64(&b.nr_prev_kept),
            held_bypasses: read_u64(&b.nr_held_bypasses),
            taken_back: read_u64(&b.nr_taken_back),
            stages: {
                let bpf: [Stage; 3] = std::array::from_fn(|i| Stage {
                    sum_ns: read_u64(&b.stage_sum_ns[i]),
                    nr: read_u64(&b.stage_nr[i]),
                    max_ns: read_u64(&b.stage_max_ns[i]),
                });
                [self.wake, bpf[0], bpf[1], bpf[2]]
            },
            wait_max_ns: read_u64(&b.wait_max_ns),
            // SAFETY: an aligned i32 of the mmapped BPF data, written by BPF.
            wait_max_pid: unsafe { std::ptr::read_volatile(&b.wait_max_pid) },
        }
    }

    /// Starts a new interval for the stages' maxima and the longest task wait.
    pub fn reset_stage_max(&mut self) {
        self.wake.max_ns = 0;
        if let Some(bss) = self.skel.maps.bss_data.as_deref_mut() {
            for m in bss.stage_max_ns.iter_mut() {
                write_u64(m, 0);
            }
            write_u64(&mut bss.wait_max_ns, 0);
        }
    }

    /// The exit record, once the kernel has unloaded the scheduler.
    pub fn exit_info(&self) -> Option<ExitInfo> {
        self.skel
            .maps
            .data_data
            .as_deref()
            .and_then(|d| ExitInfo::read(&d.uei))
    }

    /// Detaches the scheduler, waits for the kernel to report sched_ext disabled and returns the
    /// exit record.
    pub fn detach(mut self) -> Option<ExitInfo> {
        drop(self.switch_link.take());
        drop(self.link.take());
        if !kernel::wait_disabled(Duration::from_secs(5)) {
            log::warn!(
                "sched_ext still not disabled 5 s after detaching {}",
                self.name
            );
        }
        self.exit_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_builder() {
        let task = QueuedTask {
            pid: 42,
            seq: 7,
            ..Default::default()
        };
        let d = DispatchedTask::new(&task).cpu(3).slice_ns(1000).preempt();
        assert_eq!(
            d,
            DispatchedTask {
                pid: 42,
                cpu: 3,
                seq: 7,
                slice_ns: 1000,
                vtime: 0,
                deadline: 0,
                flags: DISPATCH_F_PREEMPT,
                sent_kt: 0,
            }
        );
        assert_eq!(DispatchedTask::new(&task).cpu, CPU_ANY);
    }

    #[test]
    fn counters_line() {
        let c = Counters {
            queued: 5,
            ..Default::default()
        };
        assert!(c.to_string().starts_with("queued=5 user_dispatched=0"));
    }

    #[test]
    fn stage_means_over_an_interval() {
        let stage = |sum_ns, nr, max_ns| Stage { sum_ns, nr, max_ns };
        let mut before = Counters::default();
        before.stages[0] = stage(1_000_000, 10, 0);
        let mut now = before;
        now.stages[0] = stage(4_000_000, 13, 2_500_000);
        now.stages[3] = stage(600_000, 3, 300_000);
        assert_eq!(
            describe_stages(&now, &before),
            "read=1000/2500us sent=0/0us ring=0/0us queue=200/300us"
        );
    }
}
