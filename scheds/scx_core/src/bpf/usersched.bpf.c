/* SPDX-License-Identifier: GPL-2.0 */
/*
 * usersched.bpf.c - the kernel half of scx_core's user-space dispatch channel.
 *
 * Every user-space scheduler (scx_rlfifo, scx_rustland) loads this same
 * program under its own name; the policy lives entirely in Rust. The program
 * only moves tasks between the kernel and user space:
 *
 *  - ops.enqueue() sends each runnable task to user space as a queued_task
 *    record on the "queued" BPF_MAP_TYPE_RINGBUF. Nothing is dispatched: the
 *    task waits, in the kernel's eyes, in the BPF scheduler's custody.
 *
 *  - User space decides where, in which order and for how long tasks run and
 *    writes dispatched_task records to the "dispatched" USER_RINGBUF.
 *    ops.dispatch() drains them, inserting each task into the target CPU's
 *    local DSQ (kicking that CPU if it idles) or, for "any CPU", into a shared
 *    DSQ that every CPU consumes from.
 *
 *  - The shared DSQ is ordered by a key: the deadline a decision carries, or,
 *    for a decision without one and for every task that skips user space,
 *    the key of the last task that left the shared DSQ to run (shared_vclock):
 *    where the line is served now, behind the tasks waiting with that key or
 *    a lower one (equal keys keep their order). So a policy can hand out
 *    every task at once and a later task with an earlier deadline still
 *    overtakes the ones waiting, and a policy without deadlines (scx_rlfifo)
 *    gets a FIFO. The kernel then needs no answer from user space to keep a
 *    CPU busy while tasks wait. Since the key lives in p->scx.dsq_vtime, the
 *    task's own weighted vruntime lives in its task_ctx.
 *
 *  - The user-space scheduler's own threads and kernel threads never take
 *    the round trip: they go straight to a local DSQ, ahead of everything
 *    user space dispatched. Otherwise the scheduler would wait for itself, or
 *    for a kernel thread that holds a lock it needs, and the kernel's watchdog
 *    would eject it.
 *
 *  - A decision for the CPU that drains it runs next: that CPU does not take
 *    from the shared DSQ in the same ops.dispatch() (what it takes lands on
 *    the local DSQ at once, the drained inserts only when ops.dispatch()
 *    returns, so it would run first), unless the shared DSQ's oldest task
 *    has waited a whole slice: then that task goes first, so decisions and
 *    doorbells for pinned tasks never starve the shared DSQ.
 *
 *  - While a higher class (RT, deadline) holds a CPU, sched_ext tasks run
 *    there only in the turns of the kernel's deadline server, and a turn that
 *    finds nothing to run ends it. So nothing enqueued on a held CPU takes the
 *    round trip (it goes to the shared DSQ, or its local DSQ if pinned there),
 *    and a held CPU whose turn finds nothing else takes back the tasks it
 *    counts that wait in user space (see cpu_is_held()).
 *
 *  - If the ring buffer to user space is full, the task goes to the shared
 *    DSQ instead (counted as a fallback), so no task is ever lost.
 *
 *  - Every enqueue bumps a per-task sequence number that the record carries
 *    and the decision echoes. A decision whose sequence number no longer
 *    matches (the task was dequeued and enqueued again meanwhile, changed
 *    affinity, or exited) is dropped and counted.
 *
 *  - ops.update_idle() mirrors each CPU's idle state into a global array that
 *    user space reads through the skeleton's memory map, so choosing an idle
 *    CPU costs user space no system call.
 *
 *  - A scheduler that holds tasks back (to order them) publishes how many it
 *    holds: how many may run anywhere, and how many are pinned to each CPU. A
 *    CPU that runs out of work while some of them could run there rings a
 *    doorbell (a record with pid 0 naming the CPU) so user space wakes up and
 *    hands out more. A task that ends its slice with nothing else waiting for
 *    its CPU, while user space holds tasks, comes back to user space flagged
 *    SCX_ENQ_LAST, which tells user space the same: its CPU is free, and the
 *    task competes with the others.
 *
 *  - A task that ends its slice while nothing waits at all (nothing for its
 *    CPU in the kernel, nothing held or unread in user space) gets a new slice
 *    and runs on: there is nobody to weigh it against, and a round trip would
 *    leave its CPU idle until user space answered (see keep_prev()).
 *
 * SCX_OPS_ENQ_LAST is set: a task whose slice ends goes back to user space
 * even when nothing else waits for its CPU in the kernel, so the policy, not
 * the kernel, decides at every slice boundary who runs next, whenever there
 * is a choice to make.
 *
 * The cost is one ring-buffer round trip per scheduling decision, which is why
 * wakeups can optionally be dispatched directly to an idle CPU from
 * ops.select_cpu() (rodata direct_idle), bypassing user space for the common
 * case of a free machine, and why a policy that lets short wakeups preempt CPU
 * hogs can have that rule applied here (rodata wake_preempt_ns, see
 * wake_preempt(): a short wakeup also waits behind a short waker) for the
 * common case of a loaded one.
 */
#include <scx/common.bpf.h>
#include <scx/user_exit_info.bpf.h>
#include <scx/wait_max.bpf.h>
#include <scx/higher_class.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* Set by user space between open and load. */
const volatile s32 usersched_tgid;
const volatile u64 slice_ns = 5000000ULL;
const volatile bool direct_idle;
const volatile u64 wake_preempt_ns;

/* DSQ for "any CPU" decisions and ring-buffer overflow, ordered by key. */
#define SHARED_DSQ	0
/* The shared DSQ's key of a task that goes before everything there. */
#define SHARED_KEY_HEAD	0

UEI_DEFINE(uei);

/* Counters, read by user space. */
u64 nr_queued;		/* records sent to user space */
u64 nr_user_dispatches;	/* decisions applied */
u64 nr_kernel_dispatches; /* scheduler threads and per-CPU kthreads */
u64 nr_direct_dispatches; /* wakeups dispatched to an idle CPU by select_cpu */
u64 nr_wake_preempts;	/* short-burst wakeups that preempted a CPU hog (see wake_preempt()) */
u64 nr_wake_affine;	/* short-burst wakeups queued behind a short-burst waker (see wake_preempt()) */
u64 nr_fallbacks;	/* ring buffer full: task went to the shared DSQ */
u64 nr_stale;		/* decisions dropped by the sequence check */
u64 nr_bad_cpu;		/* decisions for a CPU the task may not use */
u64 nr_kicks;		/* idle CPUs woken for dispatched work */
u64 nr_doorbells;	/* doorbells rung */
u64 nr_shared_queued;	/* tasks in the shared DSQ, as last seen by ops.dispatch() */
u64 nr_prev_kept;	/* slices renewed because nothing waited (see keep_prev()) */
u64 shared_vclock;	/* key of the last task that left the shared DSQ to run */

/* Round-trip stages (enum usersched_stage): sum and count; max is reset by user space. */
u64 stage_sum_ns[NR_STAGES];
u64 stage_nr[NR_STAGES];
u64 stage_max_ns[NR_STAGES];

/* Written by user space. */
u32 usersched_polling;	/* 1 while it waits for records on purpose (see usersched_blocked()) */
u64 nr_user_read;	/* records user space has read from the queued ring */
u64 nr_user_pending;	/* tasks user space holds back that may run anywhere */
u32 pinned_pending[USERSCHED_MAX_CPUS];	/* held tasks that can only run on that CPU */
u32 doorbell_rung[USERSCHED_MAX_CPUS];	/* set here, cleared by user space */

/* Idle state of each CPU (1 = idle), maintained by ops.update_idle(). */
u8 cpu_idle[USERSCHED_MAX_CPUS];

/* What each CPU runs, for wake_preempt(). */
struct cpu_run {
	u64 started;	/* when its task started running (0: none that a wakeup may preempt) */
	u64 burst;	/* what that task had run of its current burst before */
	u32 claimed;	/* a wakeup was sent to preempt it */
};
struct cpu_run cpu_run[USERSCHED_MAX_CPUS];

/* @cpu's entry of cpu_run, or NULL; none is kept while wake_preempt_ns is 0. */
static struct cpu_run *cpu_run_of(s32 cpu)
{
	if (!wake_preempt_ns || cpu < 0 || cpu >= USERSCHED_MAX_CPUS)
		return NULL;
	return &cpu_run[(u32)cpu & (USERSCHED_MAX_CPUS - 1)];
}

/*
 * How long @r's task has run of its current burst at @now, or -1 when it runs
 * none that a wakeup may preempt or wait behind.
 */
static s64 cpu_run_burst(const struct cpu_run *r, u64 now)
{
	u64 started = READ_ONCE(r->started);

	if (!started || time_before(now, started))
		return -1;
	return READ_ONCE(r->burst) + (now - started);
}

/* Tasks waiting for user space, by the CPU whose run queue counts them. */
u32 nr_in_user_on[USERSCHED_MAX_CPUS];
u64 nr_held_bypasses;	/* tasks kept from user space: a higher class held their CPU */
u64 nr_taken_back;	/* tasks a held CPU took back from user space (see take_back()) */
u64 nr_taken_back_blocked; /* of those, taken back while the scheduler was blocked */

/*
 * When the scheduler's main thread last went to sleep (0 while it runs or is
 * runnable) and the state it slept in; see usersched_blocked().
 */
u64 usersched_slept_at;
u32 usersched_slept_state;
u64 nr_in_user;		/* tasks in user space's custody, counted on a CPU or not */
u64 nr_blocked_bypasses; /* tasks kept from user space while it was blocked */

/* Wakes idle CPUs to take back tasks once the scheduler has slept too long. */
struct blocked_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct blocked_timer);
} blocked_timer SEC(".maps");

/* How long the scheduler may sleep before idle CPUs take back its tasks. */
#define USERSCHED_BLOCKED_NS	(50ULL * 1000 * 1000)

/* Task states from include/linux/sched.h and a clock id (macros, so not in vmlinux.h). */
#ifndef __TASK_STOPPED
#define __TASK_STOPPED		0x00000004
#define __TASK_TRACED		0x00000008
#endif
#ifndef CLOCK_MONOTONIC
#define CLOCK_MONOTONIC		1
#endif

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, USERSCHED_RING_ENTRIES * 128);
} queued SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, USERSCHED_RING_ENTRIES * 64);
} dispatched SEC(".maps");

struct task_ctx {
	u64 seq;
	u64 sent_ts;		/* when its last record went to user space */
	u64 queued_kt;
	u64 applied_kt;
	u64 runnable_ts;
	u64 start_ts;
	u64 stop_ts;
	u64 exec_runtime;
	u64 last_burst;
	u64 sum_runtime;
	u64 wait_ts;		/* when it last started waiting to run (0: it runs) */
	u64 shared_ts;		/* when it was put in the shared DSQ (0: first in line) */
	u64 shared_key;		/* its key there */
	u64 vtime;		/* weighted vruntime (p->scx.dsq_vtime is the shared key) */
	s32 waker_cpu;		/* CPU + 1 of its last waker, or 0 */
	bool waker_sync;	/* that waker sleeps next (SCX_WAKE_SYNC) */
	u32 in_user;		/* 0, or user space holds it: see custody_of() */
	bool in_shared;		/* inserted into the shared DSQ since it last ran */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx_stor SEC(".maps");

static struct task_ctx *lookup_task_ctx(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
}

static bool is_usersched_task(const struct task_struct *p)
{
	return p->tgid == usersched_tgid;
}

/*
 * Kernel threads never wait for user space: one may hold a lock the scheduler
 * itself needs (khugepaged holding its mmap_lock, a kworker flushing its
 * writes), and holding that thread back would deadlock the scheduler.
 */
static bool bypasses_user(const struct task_struct *p)
{
	return is_usersched_task(p) || (p->flags & PF_KTHREAD);
}

static void stage_add(u32 stage, u64 ns)
{
	if (stage >= NR_STAGES)
		return;
	__sync_fetch_and_add(&stage_sum_ns[stage], ns);
	__sync_fetch_and_add(&stage_nr[stage], 1);
	/* A lost race only loses a maximum for one stats interval. */
	if (ns > READ_ONCE(stage_max_ns[stage]))
		WRITE_ONCE(stage_max_ns[stage], ns);
}

/*
 * Whether a higher class (RT, deadline) holds @cpu (scx_cpu_held()). Its
 * sched_ext tasks then run only in the turns of the CPU's sched_ext deadline
 * server (50 ms a second), and a turn that finds nothing to run ends there and
 * then: the server yields, and with RT hogs on every CPU it never came back
 * while its CPU counted tasks that waited in user space (nothing to run, in
 * the kernel's eyes). The scheduler itself, the watchdog's worker and every
 * other task then waited until the kernel ejected the scheduler. So while a
 * CPU is held, nothing enqueued there goes to user space, and a turn that
 * finds nothing else takes back what waits there (take_back()).
 */
static bool cpu_is_held(s32 cpu)
{
	return cpu >= 0 && cpu < USERSCHED_MAX_CPUS && scx_cpu_held(cpu);
}

/*
 * While user space holds a task, its in_user word says so and names the CPU
 * whose run queue counts it (CPU + 1; CUSTODY_UNCOUNTED if its record named
 * none). One word, swapped atomically: a take-back runs without the task's
 * run-queue lock and can race with a decision or a dequeue for the same task,
 * and only the caller whose swap took the word owns the task and lowers that
 * CPU's count, so the counts stay exact.
 */
#define CUSTODY_UNCOUNTED (USERSCHED_MAX_CPUS + 1)

static u32 custody_of(s32 cpu)
{
	return cpu >= 0 && cpu < USERSCHED_MAX_CPUS ? (u32)cpu + 1 : CUSTODY_UNCOUNTED;
}

/* Lowers the count that a custody word taken out of a task_ctx stood for. */
static void release_custody(u32 custody)
{
	if (custody)
		__sync_fetch_and_sub(&nr_in_user, 1);
	if (custody && custody < CUSTODY_UNCOUNTED)
		__sync_fetch_and_sub(&nr_in_user_on[(custody - 1) & (USERSCHED_MAX_CPUS - 1)], 1);
}

/* The task leaves user space's custody (a decision, a dequeue). Returns whether it was held. */
static bool leave_user(struct task_ctx *tctx)
{
	u32 custody = __sync_lock_test_and_set(&tctx->in_user, 0);

	release_custody(custody);
	return custody != 0;
}

/* The task enters user space's custody, counted on the CPU its record names. */
static void enter_user(struct task_ctx *tctx, s32 cpu)
{
	u32 custody = custody_of(cpu);

	/* Counted before it is published, so a racing take-back never lowers it below zero. */
	__sync_fetch_and_add(&nr_in_user, 1);
	if (custody < CUSTODY_UNCOUNTED)
		__sync_fetch_and_add(&nr_in_user_on[(custody - 1) & (USERSCHED_MAX_CPUS - 1)], 1);
	release_custody(__sync_lock_test_and_set(&tctx->in_user, custody));
}

/*
 * Whether the scheduler's main thread is blocked in the kernel: asleep for
 * longer than USERSCHED_BLOCKED_NS while tasks wait in its custody. It then
 * waits for something it cannot schedule: a log record to journald whose
 * socket queue is full, a pipe to a reader, a page fault, a lock. The task it
 * waits for may be one of those it holds, and until the watchdog ejected the
 * scheduler nothing ran them (systemd-journal "failed to run for 7.5s" once
 * the scheduler logged into a full journal socket). Waiting for records on
 * purpose (usersched_polling, for a doorbell of the CPU its held tasks may
 * use) is not being blocked, and neither is being stopped or traced: nobody
 * runs such a scheduler, and the kernel ejects it.
 */
static bool usersched_blocked(void)
{
	u64 slept = READ_ONCE(usersched_slept_at);

	if (!slept || !READ_ONCE(nr_in_user) || READ_ONCE(usersched_polling))
		return false;
	if (READ_ONCE(usersched_slept_state) & (__TASK_STOPPED | __TASK_TRACED))
		return false;
	return !time_before(scx_now(), slept + USERSCHED_BLOCKED_NS);
}

static void kick_idle_cpu(s32 cpu)
{
	scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	__sync_fetch_and_add(&nr_kicks, 1);
}

s32 BPF_STRUCT_OPS(usersched_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx = wake_preempt_ns ? lookup_task_ctx(p) : NULL;
	bool is_idle = false;
	s32 cpu;

	if (tctx) {
		tctx->waker_cpu = bpf_get_smp_processor_id() + 1;
		tctx->waker_sync = wake_flags & SCX_WAKE_SYNC;
	}
	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle && (direct_idle || bypasses_user(p))) {
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
		__sync_fetch_and_add(&nr_direct_dispatches, 1);
	}
	return cpu;
}

/* The key of a task without a deadline: where the shared DSQ is served now. */
static u64 shared_key_tail(void)
{
	return READ_ONCE(shared_vclock) ?: 1;
}

/*
 * Inserts @p into the shared DSQ at @key (SHARED_KEY_HEAD: first in line,
 * which shared_head_overdue() never counts as late), and wakes an idle CPU it
 * may use, if there is one.
 */
static void insert_shared(struct task_struct *p, struct task_ctx *tctx, u64 slice, u64 key,
			  u64 enq_flags)
{
	s32 idle;

	if (tctx) {
		tctx->shared_ts = key == SHARED_KEY_HEAD ? 0 : scx_now();
		tctx->shared_key = key;
		tctx->in_shared = true;
	}
	/* A keyed DSQ has no head and tail: the key says where the task goes. */
	scx_dsq_insert_vtime(p, SHARED_DSQ, slice, key, enq_flags & ~SCX_ENQ_HEAD);
	idle = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (idle >= 0)
		kick_idle_cpu(idle);
}

/*
 * A task that does not go through user space waits in the shared DSQ, where
 * the next sched_ext turn of any CPU it may use finds it: in line where the
 * DSQ is served now, or first if SCX_ENQ_HEAD.
 */
static void to_shared(struct task_struct *p, u64 enq_flags)
{
	u64 key = (enq_flags & SCX_ENQ_HEAD) ? SHARED_KEY_HEAD : shared_key_tail();

	insert_shared(p, lookup_task_ctx(p), slice_ns, key, enq_flags);
}

/*
 * A task enqueued on a held CPU (see cpu_is_held()) goes to the shared DSQ
 * (the scheduler itself at the head); one that may run only there waits in
 * the CPU's local DSQ for its turn.
 */
static void place_on_held(struct task_struct *p, u64 enq_flags)
{
	if (p->nr_cpus_allowed == 1) {
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, enq_flags);
		return;
	}
	to_shared(p, enq_flags);
}

/*
 * Claims @cpu for a short-burst wakeup, so one wakeup at a time takes it, if
 * @p may run there, no higher class holds it, and its task has run (@hog)
 * wake_preempt_ns or more since it last woke, or (!@hog) less. A hog may be
 * preempted, but not a waker about to sleep (a sync wakeup's CPU: a pipe
 * writer preempted by each reader it woke took a round trip through user
 * space per message, and hackbench ran eight times longer). A short-burst
 * waker is likely to sleep soon: the wakeup may wait behind it instead.
 */
static bool claim_cpu(struct task_struct *p, s32 cpu, bool hog, s32 sync_waker_cpu, u64 now)
{
	struct cpu_run *r = cpu_run_of(cpu);
	s64 ran;

	if (!r || cpu + 1 == sync_waker_cpu)
		return false;
	ran = cpu_run_burst(r, now);
	if (ran < 0 || ((u64)ran >= wake_preempt_ns) != hog)
		return false;
	if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr) || cpu_is_held(cpu))
		return false;
	return __sync_val_compare_and_swap(&r->claimed, 0, 1) == 0;
}

/*
 * A wakeup that waits behind the task running on this CPU, @cpu, waits no
 * longer than that task's burst takes to reach wake_preempt_ns: its slice is
 * cut to what is left of that. A sync waker is left alone: it sleeps next.
 * Only the current task's slice can be cut: a wakeup the kernel enqueued on
 * another CPU than its waker's (it may queue a wakeup on the CPU it targets)
 * waits for the rest of the waker's slice, or until the waker sleeps.
 */
static void trim_waker(s32 cpu, u64 now)
{
	struct cpu_run *r = cpu_run_of(cpu);
	struct task_struct *cur = bpf_get_current_task_btf();
	s64 ran;

	if (!r)
		return;
	ran = cpu_run_burst(r, now);
	if (ran >= 0 && (u64)ran < wake_preempt_ns && cur->scx.slice > wake_preempt_ns - ran)
		scx_task_set_slice(cur, wake_preempt_ns - ran);
}

/*
 * A wakeup whose last burst was shorter than wake_preempt_ns (the policy's
 * rule for a latency-critical wakeup, set by user space; 0: never) runs
 * without the round trip: that round trip, the scheduler's wakeup on another
 * CPU and the preemption IPI after its decision, was most of such a wakeup's
 * latency. In order:
 *  - it preempts a CPU hog on its previous CPU;
 *  - or it waits behind its waker, if the waker is in a short burst too and so
 *    likely to sleep soon (a frame loop's thread and its helper handing work
 *    to each other, a request and its answer), as a rule for no longer than
 *    the rest of the waker's short burst (trim_waker()): the other CPUs' hogs
 *    keep running, and no IPI is needed;
 *  - or it preempts a CPU hog anywhere.
 * It runs for wake_preempt_ns; past that it is no longer short and goes to
 * user space.
 */
static bool wake_preempt(struct task_struct *p, struct task_ctx *tctx, u64 enq_flags)
{
	u32 cpu, nr = scx_bpf_nr_cpu_ids();
	s32 prev = scx_bpf_task_cpu(p), target = -1, waker = tctx->waker_cpu;
	s32 sync = tctx->waker_sync ? waker : 0;
	u64 now = scx_now(), flags = SCX_ENQ_PREEMPT;

	tctx->waker_cpu = 0;

	/* A task that never ran here starts where the policy says (at its clock). */
	if (!wake_preempt_ns || !(enq_flags & SCX_ENQ_WAKEUP) || !tctx->sum_runtime ||
	    tctx->last_burst >= wake_preempt_ns)
		return false;
	if (claim_cpu(p, prev, true, sync, now)) {
		target = prev;
	} else if (waker > 0 && claim_cpu(p, waker - 1, false, 0, now)) {
		target = waker - 1;
		flags = 0;
	} else {
		bpf_for(cpu, 0, nr) {
			if (cpu >= USERSCHED_MAX_CPUS)
				break;
			if ((s32)cpu != prev && claim_cpu(p, cpu, true, sync, now)) {
				target = cpu;
				break;
			}
		}
	}
	if (target < 0)
		return false;
	if (!flags && !sync && target == bpf_get_smp_processor_id())
		trim_waker(target, now);
	scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | target, wake_preempt_ns, flags);
	if (flags)
		__sync_fetch_and_add(&nr_wake_preempts, 1);
	else
		__sync_fetch_and_add(&nr_wake_affine, 1);
	return true;
}

void BPF_STRUCT_OPS(usersched_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct queued_task *qt;
	struct task_ctx *tctx;
	bool held;

	held = cpu_is_held(scx_bpf_task_cpu(p)) || (enq_flags & SCX_ENQ_REENQ);
	if (bypasses_user(p)) {
		if (held) {
			place_on_held(p, enq_flags | (is_usersched_task(p) ? SCX_ENQ_HEAD : 0));
			__sync_fetch_and_add(&nr_kernel_dispatches, 1);
			return;
		}
		/*
		 * The scheduler itself must run as soon as it can: it holds
		 * every other task. Per-CPU kthreads can only run here anyway.
		 */
		if (is_usersched_task(p))
			enq_flags |= SCX_ENQ_PREEMPT;
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, enq_flags);
		__sync_fetch_and_add(&nr_kernel_dispatches, 1);
		return;
	}

	tctx = lookup_task_ctx(p);
	if (!tctx) {
		scx_bpf_error("task %d (%s) has no context", p->pid, p->comm);
		return;
	}
	tctx->seq++;
	tctx->in_shared = false;

	/* Its CPU is held by a higher class: not to user space (see cpu_is_held()). */
	if (held) {
		leave_user(tctx);
		place_on_held(p, enq_flags);
		__sync_fetch_and_add(&nr_held_bypasses, 1);
		return;
	}
	/* Nor while user space is blocked (see usersched_blocked()). */
	if (usersched_blocked()) {
		leave_user(tctx);
		place_on_held(p, enq_flags);
		__sync_fetch_and_add(&nr_blocked_bypasses, 1);
		return;
	}

	if (wake_preempt(p, tctx, enq_flags)) {
		leave_user(tctx);
		return;
	}

	qt = bpf_ringbuf_reserve(&queued, sizeof(*qt), 0);
	if (!qt) {
		leave_user(tctx);
		to_shared(p, enq_flags);
		__sync_fetch_and_add(&nr_fallbacks, 1);
		return;
	}
	qt->pid = p->pid;
	qt->cpu = scx_bpf_task_cpu(p);
	qt->nr_cpus_allowed = p->nr_cpus_allowed;
	qt->weight = p->scx.weight;
	qt->enq_flags = enq_flags;
	qt->seq = tctx->seq;
	qt->enq_ts = scx_now();
	qt->runnable_ts = tctx->runnable_ts;
	qt->stop_ts = tctx->stop_ts;
	qt->exec_runtime = (enq_flags & SCX_ENQ_WAKEUP) ? tctx->last_burst : tctx->exec_runtime;
	qt->sum_runtime = tctx->sum_runtime;
	qt->vtime = tctx->vtime;
	qt->queued_kt = bpf_ktime_get_ns();
	/* Only wakeups are timed: that is the latency a user feels. */
	tctx->queued_kt = (enq_flags & SCX_ENQ_WAKEUP) ? qt->queued_kt : 0;
	tctx->applied_kt = 0;
	enter_user(tctx, qt->cpu);
	tctx->sent_ts = qt->enq_ts;
	bpf_ringbuf_submit(qt, 0);
	__sync_fetch_and_add(&nr_queued, 1);
}

void BPF_STRUCT_OPS(usersched_dequeue, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	/* Whatever user space decides for the old enqueue is now stale. */
	if (tctx) {
		tctx->seq++;
		leave_user(tctx);
	}
}

/* What one ops.dispatch() call drains decisions for. */
struct drain_ctx {
	s32 cpu;	/* the CPU running ops.dispatch() */
	bool local;	/* a decision targeted it: no need to take from the shared DSQ */
};

static long apply_decision(struct bpf_dynptr *dynptr, void *ctx)
{
	struct drain_ctx *dctx = ctx;
	struct dispatched_task d;
	struct task_struct *p;
	struct task_ctx *tctx;
	u64 slice;

	if (bpf_dynptr_read(&d, sizeof(d), dynptr, 0, 0))
		return 0;

	p = bpf_task_from_pid(d.pid);
	if (!p) {
		__sync_fetch_and_add(&nr_stale, 1);
		return 0;
	}
	tctx = lookup_task_ctx(p);
	/* A decision for an older enqueue, or one a take-back overtook, is stale. */
	if (!tctx || tctx->seq != d.seq || !leave_user(tctx)) {
		__sync_fetch_and_add(&nr_stale, 1);
		goto out;
	}
	if (d.vtime)
		tctx->vtime = d.vtime;
	if (d.sent_kt && tctx->queued_kt && d.sent_kt >= tctx->queued_kt) {
		u64 now = bpf_ktime_get_ns();

		if (now >= d.sent_kt) {
			stage_add(STAGE_USER, d.sent_kt - tctx->queued_kt);
			stage_add(STAGE_RING, now - d.sent_kt);
			tctx->applied_kt = now;
		}
	}

	slice = d.slice_ns ? d.slice_ns : slice_ns;
	if (d.cpu >= 0) {
		/* A held CPU runs it only in its sched_ext turns: any CPU may, if it can move. */
		if (cpu_is_held(d.cpu) && p->nr_cpus_allowed > 1)
			goto shared;
		if (d.cpu < USERSCHED_MAX_CPUS && bpf_cpumask_test_cpu(d.cpu, p->cpus_ptr)) {
			/*
			 * Not to the head: kernel threads already queued there
			 * (the watchdog's worker among them) must not be
			 * overtaken by a stream of preempting wakeups.
			 */
			u64 flags = (d.flags & DISPATCH_F_PREEMPT) ? SCX_ENQ_PREEMPT : 0;

			scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | d.cpu, slice, flags);
			if (d.cpu == dctx->cpu)
				dctx->local = true;
			else
				kick_idle_cpu(d.cpu);
			__sync_fetch_and_add(&nr_user_dispatches, 1);
			goto out;
		}
		__sync_fetch_and_add(&nr_bad_cpu, 1);
	}

shared:
	insert_shared(p, tctx, slice, d.deadline ?: shared_key_tail(), 0);
	__sync_fetch_and_add(&nr_user_dispatches, 1);
out:
	bpf_task_release(p);
	/* Stop before the dispatch buffer overflows; the rest waits in the ring. */
	return scx_bpf_dispatch_nr_slots() == 0;
}

static void ring_doorbell(s32 cpu, struct task_struct *prev)
{
	struct queued_task *qt;
	u32 idx;

	if (cpu < 0 || cpu >= USERSCHED_MAX_CPUS)
		return;
	/* The mask restates the bound in a form the verifier tracks (the size is a power of 2). */
	idx = (u32)cpu & (USERSCHED_MAX_CPUS - 1);
	/* A runnable prev comes back to user space flagged SCX_ENQ_LAST instead. */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED) && !is_usersched_task(prev) &&
	    !(prev->flags & PF_KTHREAD))
		return;
	if (!READ_ONCE(nr_user_pending) && !READ_ONCE(pinned_pending[idx]))
		return;
	if (__sync_val_compare_and_swap(&doorbell_rung[idx], 0, 1) != 0)
		return;
	qt = bpf_ringbuf_reserve(&queued, sizeof(*qt), 0);
	if (!qt) {
		WRITE_ONCE(doorbell_rung[idx], 0);
		return;
	}
	__builtin_memset(qt, 0, sizeof(*qt));
	qt->pid = USERSCHED_DOORBELL_PID;
	qt->cpu = cpu;
	bpf_ringbuf_submit(qt, 0);
	__sync_fetch_and_add(&nr_doorbells, 1);
}

/*
 * Renews the slice of @prev, which used up its slice on @cpu and is still
 * runnable, when nothing waits for it to end: ops.dispatch() found nothing
 * for @cpu, and user space holds no task and has no record left to read.
 * The kernel then keeps running @prev. Otherwise @prev goes back to user
 * space flagged SCX_ENQ_LAST, and @cpu idles until a decision comes: for a
 * CPU-bound task alone on its CPU that was a round trip per slice, each
 * leaving the CPU idle for as long as user space took to wake up and answer.
 * A record sent meanwhile is decided as usual: preempting, or waiting for a
 * CPU in the shared DSQ.
 */
static bool keep_prev(struct task_struct *prev, s32 cpu)
{
	u64 sent, read;
	u32 idx;

	if (!prev || !(prev->scx.flags & SCX_TASK_QUEUED))
		return false;
	if (cpu < 0 || cpu >= USERSCHED_MAX_CPUS)
		return false;
	idx = (u32)cpu & (USERSCHED_MAX_CPUS - 1);
	if (READ_ONCE(nr_user_pending) || READ_ONCE(pinned_pending[idx]))
		return false;
	sent = READ_ONCE(nr_queued) + READ_ONCE(nr_doorbells);
	read = READ_ONCE(nr_user_read);
	if (sent != read)
		return false;
	scx_task_set_slice(prev, slice_ns);
	__sync_fetch_and_add(&nr_prev_kept, 1);
	return true;
}

/*
 * Whether the task first in line in the shared DSQ has waited there a whole
 * slice: then it goes before anything else this CPU might run. Without
 * iterators (older kernels) every task counts as overdue, which only costs
 * latency.
 */
static bool shared_head_overdue(void)
{
	struct task_struct *head;
	struct task_ctx *tctx;
	bool overdue = false;
	u64 now = scx_now();

	if (!bpf_ksym_exists(bpf_iter_scx_dsq_new))
		return true;
	bpf_for_each(scx_dsq, head, SHARED_DSQ, 0) {
		tctx = lookup_task_ctx(head);
		overdue = !tctx || !time_before(now, tctx->shared_ts + slice_ns);
		break;
	}
	return overdue;
}

/*
 * The scheduler went to sleep USERSCHED_BLOCKED_NS ago. If it is blocked
 * now, idle CPUs would stay idle (nothing else may wake them) while its tasks
 * wait: kick them, so that their dispatch takes the tasks back, and look
 * again in as long while it stays blocked.
 */
static int blocked_timer_fn(void *map, u32 *key, struct bpf_timer *timer)
{
	u32 cpu, nr = scx_bpf_nr_cpu_ids();

	if (!usersched_blocked())
		return 0;
	bpf_for(cpu, 0, nr) {
		if (cpu >= USERSCHED_MAX_CPUS)
			break;
		if (READ_ONCE(cpu_idle[cpu & (USERSCHED_MAX_CPUS - 1)]))
			kick_idle_cpu(cpu);
	}
	bpf_timer_start(timer, USERSCHED_BLOCKED_NS, 0);
	return 0;
}

static void arm_blocked_timer(void)
{
	struct blocked_timer *t;
	u32 zero = 0;

	t = bpf_map_lookup_elem(&blocked_timer, &zero);
	if (t)
		bpf_timer_start(&t->timer, USERSCHED_BLOCKED_NS, 0);
}

/*
 * Tasks that wait in user space run without it, by the kernel's order instead
 * of user space's (their late decisions fail the sequence check). A held CPU
 * (see cpu_is_held()) whose turn found nothing else to run takes the tasks its
 * run queue counts, without which the turn would end with nothing to run.
 * While the scheduler is blocked (see usersched_blocked()), a CPU about to
 * dispatch takes all of them, to the shared DSQ behind what already waits
 * there: taking them only when the shared DSQ ran dry was not enough, as
 * every wakeup then went to the shared DSQ and kept it full.
 */
static void take_back(s32 cpu, bool blocked)
{
	struct task_struct *p;
	struct task_ctx *tctx;
	u32 idx = (u32)cpu & (USERSCHED_MAX_CPUS - 1);
	u32 mine = custody_of(cpu), custody;

	if (cpu < 0 || cpu >= USERSCHED_MAX_CPUS)
		return;
	if (!blocked && !READ_ONCE(nr_in_user_on[idx]))
		return;
	bpf_for_each(task, p, NULL, BPF_TASK_ITER_ALL_THREADS) {
		if (!scx_bpf_dispatch_nr_slots())
			break;
		tctx = lookup_task_ctx(p);
		if (!tctx)
			continue;
		custody = READ_ONCE(tctx->in_user);
		if (!custody || (!blocked && custody != mine))
			continue;
		/* Only if user space still holds it: a decision may have just taken it. */
		if (__sync_val_compare_and_swap(&tctx->in_user, custody, 0) != custody)
			continue;
		release_custody(custody);
		/* Its decision, if user space still sends one, is now stale. */
		tctx->seq++;
		__sync_fetch_and_add(&nr_taken_back, 1);
		if (blocked) {
			__sync_fetch_and_add(&nr_taken_back_blocked, 1);
			to_shared(p, 0);
			continue;
		}
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
		if (!READ_ONCE(nr_in_user_on[idx]))
			break;
	}
}

void BPF_STRUCT_OPS(usersched_dispatch, s32 cpu, struct task_struct *prev)
{
	struct drain_ctx dctx = { .cpu = cpu };
	bool overdue, pinned, held, blocked;

	if (scx_bpf_dispatch_nr_slots() > 0)
		bpf_user_ringbuf_drain(&dispatched, apply_decision, &dctx, 0);

	/*
	 * The decision for this CPU runs next, and user space holding tasks
	 * that can run only here is asked for them (a doorbell) before this CPU
	 * takes from the shared DSQ: otherwise a CPU that always found shared
	 * work would never report itself free, and they would wait forever.
	 *
	 * But neither may hold back the shared DSQ for long. Its tasks were
	 * already handed out, so user space no longer weighs them: with tasks
	 * pinned to every CPU (stress-ng --affinity-pin, taskset), each CPU went
	 * on serving its own decisions and doorbells, and a task of the shared
	 * DSQ starved until the kernel ejected the scheduler. Once the task
	 * first in line has waited a slice, a CPU takes it first.
	 */
	overdue = shared_head_overdue();
	pinned = cpu >= 0 && cpu < USERSCHED_MAX_CPUS &&
		 READ_ONCE(pinned_pending[(u32)cpu & (USERSCHED_MAX_CPUS - 1)]);
	held = cpu_is_held(cpu);
	blocked = usersched_blocked();
	if (pinned && !dctx.local && !held && !blocked)
		ring_doorbell(cpu, prev);
	if ((dctx.local || (pinned && !held && !blocked)) && !overdue)
		return;
	if (blocked)
		take_back(cpu, true);

	if (scx_dsq_move_to_local(SHARED_DSQ)) {
		WRITE_ONCE(nr_shared_queued, scx_bpf_dsq_nr_queued(SHARED_DSQ));
		return;
	}
	WRITE_ONCE(nr_shared_queued, 0);

	if (!dctx.local && held) {
		take_back(cpu, false);
		return;
	}
	if (pinned || dctx.local || keep_prev(prev, cpu))
		return;
	ring_doorbell(cpu, prev);
}

void BPF_STRUCT_OPS(usersched_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (p->pid == usersched_tgid)
		WRITE_ONCE(usersched_slept_at, 0);
	if (!tctx)
		return;
	tctx->runnable_ts = scx_now();
	wait_begin(&tctx->wait_ts, tctx->runnable_ts);
	/* The burst that ended in the sleep this wakeup ends; a new one starts. */
	tctx->last_burst = tctx->exec_runtime;
	tctx->exec_runtime = 0;
}

void BPF_STRUCT_OPS(usersched_running, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	struct cpu_run *r = cpu_run_of(scx_bpf_task_cpu(p));

	if (r) {
		WRITE_ONCE(r->started, 0);
		WRITE_ONCE(r->claimed, 0);
	}
	if (!tctx)
		return;
	tctx->start_ts = scx_now();
	if (r && !bypasses_user(p)) {
		WRITE_ONCE(r->burst, tctx->exec_runtime);
		WRITE_ONCE(r->started, tctx->start_ts ?: 1);
	}
	wait_end(&tctx->wait_ts, tctx->start_ts, p->pid);
	/* A lost race between two CPUs leaves the clock one key behind, for one task. */
	if (tctx->in_shared) {
		tctx->in_shared = false;
		if (tctx->shared_key > READ_ONCE(shared_vclock))
			WRITE_ONCE(shared_vclock, tctx->shared_key);
	}
	if (tctx->applied_kt) {
		u64 now = bpf_ktime_get_ns();

		if (now >= tctx->applied_kt)
			stage_add(STAGE_QUEUE, now - tctx->applied_kt);
		tctx->applied_kt = 0;
	}
}

void BPF_STRUCT_OPS(usersched_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	struct cpu_run *r = cpu_run_of(scx_bpf_task_cpu(p));
	u64 now = scx_now(), delta;

	if (r)
		WRITE_ONCE(r->started, 0);
	if (p->pid == usersched_tgid && !runnable) {
		WRITE_ONCE(usersched_slept_state, p->__state);
		WRITE_ONCE(usersched_slept_at, now ?: 1);
		if (READ_ONCE(nr_in_user))
			arm_blocked_timer();
	}
	if (!tctx)
		return;
	if (runnable)
		wait_begin(&tctx->wait_ts, now);
	if (!tctx->start_ts)
		return;
	delta = now - tctx->start_ts;
	tctx->exec_runtime += delta;
	tctx->sum_runtime += delta;
	tctx->stop_ts = now;
	tctx->vtime += scale_by_task_weight_inverse(p, delta);
}

void BPF_STRUCT_OPS(usersched_update_idle, s32 cpu, bool idle)
{
	if (cpu >= 0 && cpu < USERSCHED_MAX_CPUS)
		WRITE_ONCE(cpu_idle[(u32)cpu & (USERSCHED_MAX_CPUS - 1)], idle);
}

s32 BPF_STRUCT_OPS(usersched_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	if (!bpf_task_storage_get(&task_ctx_stor, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE))
		return -ENOMEM;
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(usersched_init)
{
	struct blocked_timer *t;
	u32 zero = 0;
	s32 ret;

	ret = scx_bpf_create_dsq(SHARED_DSQ, -1);
	if (ret)
		return ret;
	t = bpf_map_lookup_elem(&blocked_timer, &zero);
	if (!t)
		return -ENOENT;
	ret = bpf_timer_init(&t->timer, &blocked_timer, CLOCK_MONOTONIC);
	if (ret)
		return ret;
	return bpf_timer_set_callback(&t->timer, blocked_timer_fn);
}

/*
 * A higher scheduling class (RT, deadline) took this CPU. What waits in its
 * local DSQ would wait for as long as that class keeps it: under stress-ng's
 * mutex stressor (priority inheritance boosts to SCHED_FIFO) the RCU
 * grace-period kthread sat there for minutes, and with it the scheduler's own
 * threads and the sched_ext watchdog's worker, so the machine stalled without
 * even an ejection. Every task of the local DSQ goes through ops.enqueue()
 * again, flagged SCX_ENQ_REENQ, which place_on_held() handles: to the shared
 * DSQ (the scheduler first in line), where another CPU finds it. On 6.19 and
 * later user space clears this callback and loads scx_higher_class_switch
 * instead (higher_class.bpf.h).
 */
void BPF_STRUCT_OPS(usersched_cpu_release, s32 cpu, struct scx_cpu_release_args *args)
{
	scx_reenqueue_local();
}

/* The exit dump: whether user space keeps up with the ring and what it holds back. */
void BPF_STRUCT_OPS(usersched_dump, struct scx_dump_ctx *dctx)
{
	u64 sent = READ_ONCE(nr_queued) + READ_ONCE(nr_doorbells);
	u64 read = READ_ONCE(nr_user_read);

	scx_bpf_dump("usersched: records sent=%llu read by user space=%llu unread=%lld\n",
		     sent, read, (s64)(sent - read));
	scx_bpf_dump("usersched: held back for any CPU=%llu shared queue=%d (clock %llu) "
		     "applied=%llu stale=%llu\n",
		     READ_ONCE(nr_user_pending), scx_bpf_dsq_nr_queued(SHARED_DSQ),
		     READ_ONCE(shared_vclock), READ_ONCE(nr_user_dispatches), READ_ONCE(nr_stale));
	scx_bpf_dump("usersched: kept from user space on held CPUs=%llu taken back=%llu\n",
		     READ_ONCE(nr_held_bypasses), READ_ONCE(nr_taken_back));
	scx_bpf_dump("usersched: while the scheduler was blocked: kept from user space=%llu "
		     "taken back=%llu; in custody=%llu, asleep since=%llu state=%u\n",
		     READ_ONCE(nr_blocked_bypasses), READ_ONCE(nr_taken_back_blocked),
		     READ_ONCE(nr_in_user), READ_ONCE(usersched_slept_at),
		     READ_ONCE(usersched_slept_state));
}

/*
 * The exit dump, per CPU: the held tasks only it may run, its doorbell, its
 * idle flag, whether a higher class holds it, and its sched_ext deadline
 * server's state.
 */
void BPF_STRUCT_OPS(usersched_dump_cpu, struct scx_dump_ctx *dctx, s32 cpu, bool idle)
{
	u32 idx;

	if (cpu < 0 || cpu >= USERSCHED_MAX_CPUS)
		return;
	idx = (u32)cpu & (USERSCHED_MAX_CPUS - 1);
	scx_bpf_dump("usersched: cpu %d pinned_held=%u doorbell=%u idle=%u "
		     "held_by_higher_class=%d in_user=%u\n",
		     cpu, READ_ONCE(pinned_pending[idx]), READ_ONCE(doorbell_rung[idx]),
		     READ_ONCE(cpu_idle[idx]), cpu_is_held(cpu), READ_ONCE(nr_in_user_on[idx]));
	if (bpf_ksym_exists(&runqueues)) {
		struct rq *rq = bpf_per_cpu_ptr(&runqueues, cpu);
		struct sched_dl_entity *srv;

		if (!rq || !bpf_core_field_exists(rq->ext_server))
			return;
		srv = &rq->ext_server;
		scx_bpf_dump("usersched: cpu %d ext_server active=%llu throttled=%llu "
			     "defer_armed=%llu defer_running=%llu runtime=%lld "
			     "scx_nr=%u rt_nr=%u\n",
			     cpu, BPF_CORE_READ_BITFIELD_PROBED(srv, dl_server_active),
			     BPF_CORE_READ_BITFIELD_PROBED(srv, dl_throttled),
			     BPF_CORE_READ_BITFIELD_PROBED(srv, dl_defer_armed),
			     BPF_CORE_READ_BITFIELD_PROBED(srv, dl_defer_running),
			     srv->runtime, rq->scx.nr_running, rq->rt.rt_nr_running);
	}
}

/*
 * The exit dump, per runnable task: whether it waits for a decision from user
 * space (and since when), and the sequence number a decision must carry.
 */
void BPF_STRUCT_OPS(usersched_dump_task, struct scx_dump_ctx *dctx, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	u64 now = scx_now();

	if (!tctx)
		return;
	scx_bpf_dump("usersched: %s seq=%llu last record sent %llu us ago bypass=%d\n",
		     tctx->in_user ? "waits for user space" : "not in user space", tctx->seq,
		     tctx->sent_ts && !time_before(now, tctx->sent_ts) ?
			(now - tctx->sent_ts) / 1000 : 0,
		     bypasses_user(p));
}

void BPF_STRUCT_OPS(usersched_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops usersched_ops = {
	.select_cpu	= (void *)usersched_select_cpu,
	.enqueue	= (void *)usersched_enqueue,
	.dequeue	= (void *)usersched_dequeue,
	.dispatch	= (void *)usersched_dispatch,
	.runnable	= (void *)usersched_runnable,
	.running	= (void *)usersched_running,
	.stopping	= (void *)usersched_stopping,
	.update_idle	= (void *)usersched_update_idle,
	.cpu_release	= (void *)usersched_cpu_release,
	.init_task	= (void *)usersched_init_task,
	.init		= (void *)usersched_init,
	.exit		= (void *)usersched_exit,
	.dump		= (void *)usersched_dump,
	.dump_cpu	= (void *)usersched_dump_cpu,
	.dump_task	= (void *)usersched_dump_task,
	.exit_dump_len	= UEI_DUMP_LEN,
	.flags		= SCX_OPS_KEEP_BUILTIN_IDLE | SCX_OPS_ENQ_LAST,
	.timeout_ms	= 5000,
	.name		= "usersched",
};
