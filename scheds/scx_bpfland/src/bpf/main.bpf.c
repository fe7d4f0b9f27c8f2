/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_bpfland - a vruntime scheduler that decides everything in BPF.
 *
 * Policy:
 *
 *  - One vruntime-ordered DSQ per last-level cache (LLC). A task's virtual
 *    runtime advances by the time it runs scaled by 100 / weight, so nice
 *    levels translate into CPU shares. It waits ordered by a deadline: its
 *    vruntime plus the (weighted) time it ran in its last burst (for a
 *    wakeup, the burst that ended in the sleep), capped at slice_lag. Tasks
 *    that switch voluntarily often (interactive, I/O bound; the rate is
 *    measured here, per task, as an average of voluntary context switches
 *    per second; a new task's from its first sleeps on) have that term
 *    divided by four, so they go first.
 *    No task may lag its LLC's clock by more than slice_lag, checked at every
 *    enqueue and whenever a running task is weighed against the queue: a
 *    waking sleeper gets a bounded head start, never a monopoly, and a task
 *    that stayed runnable on a crowded CPU (pinned there with others) cannot
 *    fall seconds behind the clock and then hold its CPU, or keep the tasks
 *    that ran elsewhere waiting, until it has caught up.
 *    A task waking up may lag by no more than its sleep credit, either: a
 *    sleep raises the credit to the time slept, and running drains it, so
 *    lag left from long ago does not survive short sleeps. Among interactive
 *    tasks (ordered by vruntime alone, once their short bursts are weighed
 *    in) a group that had run less a while ago went before every later
 *    wakeup for as long: under a request load with all CPUs busy (vmtool
 *    requests: two groups of workers, each woken by its own message thread,
 *    sleeping about a millisecond between requests), a worker of the other
 *    group waited while three whole requests of the first ran. A frame loop
 *    keeps the head start of its long sleep through the short waits within
 *    a frame.
 *
 *  - ops.select_cpu() looks for an idle CPU in this order: the previous CPU,
 *    an idle full core (SMT-aware, skipped with --no-smt-aware), an idle CPU
 *    in the previous CPU's LLC, any idle CPU the task may use. A wakeup that
 *    finds one is dispatched straight to that CPU's local DSQ: no queueing.
 *    A synchronous wakeup that finds none (a pipe or socket hand-off: the
 *    waker is about to sleep) runs next on the waker's CPU, in the same LLC,
 *    if nothing is queued there yet.
 *
 *  - ops.enqueue() puts everything else in the LLC queue of the CPU the task
 *    was placed on and kicks an idle CPU that may run it. An interactive
 *    wakeup that found no idle CPU preempts the task on its CPU instead, if
 *    that task is not interactive: that is what keeps wakeup latency low
 *    while hogs keep every CPU busy, without interactive tasks preempting
 *    each other. A per-CPU kthread's wakeup preempts such a task too, so
 *    that it does not hold the CPU's local queue for the rest of a hog's
 *    slice. --no-wakeup-preempt (the server profile) turns both off.
 *
 *  - ops.dispatch() first compares the task whose slice just ended with the
 *    head of its LLC queue: if its deadline is still the earliest, it runs on
 *    for another slice (this is what makes CPU shares follow the weights
 *    between tasks competing for one CPU). Otherwise it takes the earliest
 *    deadline from the CPU's own LLC queue, then from the other LLCs (work
 *    stealing, counted as cross-LLC), and otherwise lets the previous task
 *    run on.
 *
 *  - With --pack (the powersave profile) only the first nr_active_cpus CPUs
 *    of a fill order (the slowest first, then by LLC and core) take work:
 *    wakeups look for an idle CPU among them, the queue kicks only them, and
 *    the other CPUs take from the queue only what waited STARVE_NS. User
 *    space sets nr_active_cpus from how busy the CPUs are and how many tasks
 *    waited over PACK_WAIT_NS: more when the active ones are nearly saturated
 *    or tasks keep waiting that long, as few as the work fits on once it has
 *    fitted on fewer for a second, so the same work runs on as few CPUs as
 *    keep up and the others stay idle. A task that may run on none of the
 *    active CPUs (pinned) is queued on its own CPU instead.
 *
 *  - With --sticky (the hpc profile) a task that was preempted or used up its
 *    slice goes back to its own CPU's local queue instead of the LLC queue,
 *    behind at most one task: no migration while it keeps its CPU busy, and
 *    its cache stays warm. It does so while nothing waits in its LLC queue,
 *    or when ops.dispatch() has just taken the task in front of it from that
 *    queue: then each slice that ends on a CPU still serves one waiting task
 *    there, and the task it interrupted resumes on the same CPU. Otherwise
 *    (tasks wait and the CPU's local queue already held the next task, as
 *    when two of them take turns there) it queues like any other, so an
 *    overloaded LLC still shares its CPUs by deadline and the queue is never
 *    left waiting behind local queues that refill themselves. A task of a
 *    CPU that went to the LLC queue all the same (or was queued again when
 *    a higher class took its CPU for a moment, see bpfland_cpu_release()) is
 *    the first its CPU takes back, and for a slice (or while a higher
 *    class still holds its CPU) the other CPUs take it only if their own
 *    task cannot run on (sticky_dispatch()). Two tasks that would take
 *    turns on one CPU, each kept behind the other, split up while a CPU of
 *    their LLC idles (sticky_spread()).
 *
 *  - The slice is slice_max divided by the number of waiting tasks in the
 *    LLC, never below slice_min.
 *
 *  - No task waits in an LLC queue longer than STARVE_NS: about every
 *    RESCUE_SCAN_NS, a CPU that dispatches looks at the back of its LLC
 *    queue (where the latest deadlines wait) and runs a task that waited
 *    that long first. Deadline order alone does not bound a wait in wall
 *    time: a low-weight task (a nice 19 kernel thread such as khugepaged)
 *    jumps far ahead in vruntime with every slice it runs, and waits until
 *    every other task caught up, which takes longer the more tasks compete;
 *    under CPU hogs and fork storms that exceeded the kernel's watchdog
 *    timeout.
 *
 * The topology (CPU to LLC) comes from user space before load. CPU hotplug
 * is not handled here: the kernel then unloads the scheduler asking for a
 * restart, and the Rust side loads it again with the new topology.
 */
#include <scx/common.bpf.h>
#include <scx/user_exit_info.bpf.h>
#include <scx/wait_max.bpf.h>
#include <scx/higher_class.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* Set by user space between open and load. */
const volatile u64 slice_max_ns = 20000000ULL;
const volatile u64 slice_min_ns = 1000000ULL;
const volatile u64 slice_lag_ns = 20000000ULL;
const volatile bool smt_aware = true;
const volatile bool wakeup_preempt = true;
const volatile bool pack = false;
const volatile bool sticky = false;
const volatile u32 nr_online = 1;
/* --pack: the online CPUs in fill order, and each CPU's place in it. */
const volatile u32 fill_order[BPFLAND_MAX_CPUS];
const volatile u32 fill_rank[BPFLAND_MAX_CPUS];
const volatile u32 nr_llcs = 1;
const volatile u32 nr_cpus = 1;
const volatile u32 cpu_llc[BPFLAND_MAX_CPUS];

/* A task that waited this long in an LLC queue runs before the deadline order. */
#define STARVE_NS		1000000000ULL
/* How often (per LLC) a dispatching CPU looks for such a task, and how far. */
#define RESCUE_SCAN_NS		50000000ULL
#define RESCUE_SCAN_DEPTH	64
/* --sticky: how far into its LLC queue a CPU looks for a task preempted there. */
#define STICKY_SCAN_DEPTH	8

/* --pack: a wait for a CPU this long counts against the active CPUs keeping up. */
#define PACK_WAIT_NS		10000000ULL

/* Voluntary switches per second above which a task counts as interactive. */
#define INTERACTIVE_NVCSW	10
/* Window over which the switch rate is averaged. */
#define NVCSW_WINDOW_NS		100000000ULL
/* The shortest time a new task's switch rate is taken over (see rate_switches()). */
#define NVCSW_FIRST_NS		20000000ULL

UEI_DEFINE(uei);

/* --pack: how many CPUs of the fill order take work; set by user space. */
u32 nr_active_cpus = BPFLAND_MAX_CPUS;

/* Virtual clock of each LLC: the highest vruntime that started running there. */
u64 llc_vclock[BPFLAND_MAX_LLCS];

/* When a CPU of each LLC last looked for starving tasks. */
u64 llc_rescue_ts[BPFLAND_MAX_LLCS];

/* Whether the task each CPU runs is interactive (set in ops.running()). */
u8 cpu_runs_interactive[BPFLAND_MAX_CPUS];

/*
 * --sticky: whether ops.dispatch() on each CPU moved a queued task to its local
 * queue since that CPU last started a task.
 */
u8 cpu_took_queued[BPFLAND_MAX_CPUS];

/* --sticky: the task kept in each CPU's local queue that has not run since (0: none). */
s32 cpu_kept_pid[BPFLAND_MAX_CPUS];

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct cpu_stats);
} stats SEC(".maps");

struct task_ctx {
	u64 vruntime;		/* weighted virtual runtime */
	u64 exec_runtime;	/* ns run since the task last woke up */
	u64 last_burst;		/* ns it ran before it last went to sleep */
	u64 start_ts;		/* when it last started running */
	u64 nvcsw;		/* voluntary switches in the current window */
	u64 nvcsw_ts;		/* start of the current window */
	u64 avg_nvcsw;		/* voluntary switches per second, averaged */
	bool nvcsw_rated;	/* a whole window has been measured (see rate_switches()) */
	u64 wait_ts;		/* when it last started waiting to run (0: it runs) */
	u64 sleep_ts;		/* when it last went to sleep (0: it has not since it woke) */
	u64 credit;		/* how far it may lag on a wakeup, see wake_lag() */
	bool stopped_runnable;	/* it stopped running but stayed runnable (preempted) */
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

static struct cpu_stats *this_stats(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

#define STAT_INC(field)							\
	do {								\
		struct cpu_stats *__s = this_stats();			\
		if (__s)						\
			__s->field++;					\
	} while (0)

static u32 llc_of(s32 cpu)
{
	if (cpu < 0 || cpu >= BPFLAND_MAX_CPUS)
		return 0;
	return cpu_llc[(u32)cpu & (BPFLAND_MAX_CPUS - 1)] & (BPFLAND_MAX_LLCS - 1);
}

/* The LLC DSQ ids are the LLC indices. */
static u64 llc_dsq(u32 llc)
{
	return llc;
}

static bool is_interactive(const struct task_ctx *tctx)
{
	return tctx->avg_nvcsw >= INTERACTIVE_NVCSW;
}

static u64 task_slice(u32 llc)
{
	s32 waiting = scx_bpf_dsq_nr_queued(llc_dsq(llc));

	if (waiting < 0)
		waiting = 0;
	return MAX(slice_max_ns / (waiting + 1), slice_min_ns);
}

/*
 * Deadline: vruntime plus the weighted recent runtime (shorter for interactive
 * tasks): for a wakeup, the burst that ended in its sleep; otherwise what it
 * ran since it woke up.
 */
static u64 task_deadline(struct task_struct *p, struct task_ctx *tctx)
{
	u64 ran = tctx->exec_runtime ? tctx->exec_runtime : tctx->last_burst;
	u64 runtime = MIN(ran, slice_lag_ns);

	/* Bounded after weighting too, or a nice 19 task could wait for seconds. */
	runtime = MIN(scale_by_task_weight_inverse(p, runtime), slice_lag_ns);
	if (is_interactive(tctx))
		runtime /= 4;
	return tctx->vruntime + runtime;
}

/*
 * A task may lag its LLC's clock by at most @lag (slice_lag; on a wakeup, no
 * more than its sleep credit, see wake_lag()). The clock is the
 * highest vruntime that started running in the LLC, so it advances with the
 * least contended CPU: with tasks pinned several to one CPU and one to the
 * other (affinity churn, taskset), the crowded CPU's tasks fall behind it by
 * the second. Unbounded, the gap starved every task at the clock (on either
 * CPU) for as long as the crowd took to catch up: the kernel ejected the
 * scheduler for a runnable task stall within 20 s of stress-ng --affinity
 * --affinity-pin with CPU hogs and forks. Bounded, the longest wait is a few
 * slices.
 */
static void clamp_lag(struct task_ctx *tctx, u32 llc, u64 lag)
{
	u64 vclock = llc_vclock[llc & (BPFLAND_MAX_LLCS - 1)];

	if (vclock > lag && time_before(tctx->vruntime, vclock - lag))
		tctx->vruntime = vclock - lag;
}

/*
 * How far a task enqueued with @enq_flags may lag: on a wakeup, no more than
 * its sleep credit, which a sleep raises to at least the time slept and
 * running drains (see bpfland_runnable()).
 */
static u64 wake_lag(const struct task_ctx *tctx, u64 enq_flags)
{
	if (enq_flags & SCX_ENQ_WAKEUP)
		return MIN(tctx->credit, slice_lag_ns);
	return slice_lag_ns;
}

/* Whether @cpu takes work: always, unless --pack left it out of the active CPUs. */
static bool cpu_active(s32 cpu)
{
	if (!pack)
		return true;
	if (cpu < 0 || cpu >= BPFLAND_MAX_CPUS)
		return false;
	return fill_rank[cpu & (BPFLAND_MAX_CPUS - 1)] < nr_active_cpus;
}

static u32 nr_active(void)
{
	return MIN(MIN(nr_active_cpus, nr_online), (u32)BPFLAND_MAX_CPUS);
}

/* --pack: the first active CPU @p may use, or -ENOENT (it is pinned elsewhere). */
static s32 first_active_allowed(struct task_struct *p)
{
	u32 i, n = nr_active();
	s32 cpu;

	bpf_for(i, 0, n) {
		cpu = fill_order[i & (BPFLAND_MAX_CPUS - 1)];
		if (bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			return cpu;
	}
	return -ENOENT;
}

/* --pack: an idle active CPU that @p may use, @prev_cpu first, claimed; or -EBUSY. */
static s32 pick_idle_active(struct task_struct *p, s32 prev_cpu)
{
	u32 i, n = nr_active();
	s32 cpu;

	if (cpu_active(prev_cpu) && bpf_cpumask_test_cpu(prev_cpu, p->cpus_ptr) &&
	    scx_bpf_test_and_clear_cpu_idle(prev_cpu))
		return prev_cpu;
	bpf_for(i, 0, n) {
		cpu = fill_order[i & (BPFLAND_MAX_CPUS - 1)];
		if (bpf_cpumask_test_cpu(cpu, p->cpus_ptr) &&
		    scx_bpf_test_and_clear_cpu_idle(cpu))
			return cpu;
	}
	return -EBUSY;
}

/* An idle CPU in @prev_cpu's LLC that @p may use, claimed; or -EBUSY. */
static s32 pick_idle_in_llc(struct task_struct *p, s32 prev_cpu)
{
	u32 llc = llc_of(prev_cpu), n = MIN(nr_cpus, (u32)BPFLAND_MAX_CPUS);
	s32 cpu;

	bpf_for(cpu, 0, n) {
		if (cpu_llc[cpu & (BPFLAND_MAX_CPUS - 1)] != llc)
			continue;
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		if (scx_bpf_test_and_clear_cpu_idle(cpu))
			return cpu;
	}
	return -EBUSY;
}

static s32 pick_idle_cpu(struct task_struct *p, s32 prev_cpu)
{
	s32 cpu;

	if (bpf_cpumask_test_cpu(prev_cpu, p->cpus_ptr) &&
	    scx_bpf_test_and_clear_cpu_idle(prev_cpu))
		return prev_cpu;

	if (smt_aware) {
		cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, SCX_PICK_IDLE_CORE);
		if (cpu >= 0)
			return cpu;
	}

	cpu = pick_idle_in_llc(p, prev_cpu);
	if (cpu >= 0)
		return cpu;

	return scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
}

s32 BPF_STRUCT_OPS(bpfland_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	s32 cpu, active = pack ? first_active_allowed(p) : -ENOENT;

	if (active >= 0) {
		cpu = pick_idle_active(p, prev_cpu);
		if (cpu >= 0) {
			scx_dsq_insert(p, SCX_DSQ_LOCAL, task_slice(llc_of(cpu)), 0);
			STAT_INC(direct);
			return cpu;
		}
		/* All active CPUs are busy: wait in the queue, placed on one of them. */
		return cpu_active(prev_cpu) && bpf_cpumask_test_cpu(prev_cpu, p->cpus_ptr) ?
		       prev_cpu : active;
	}

	cpu = pick_idle_cpu(p, prev_cpu);

	if (cpu >= 0) {
		scx_dsq_insert(p, SCX_DSQ_LOCAL, task_slice(llc_of(cpu)), 0);
		STAT_INC(direct);
		return cpu;
	}

	/*
	 * A synchronous wakeup (the waker is about to sleep: a pipe or socket
	 * hand-off) with nothing else queued on the waker's CPU runs there next,
	 * on a warm cache, instead of queueing behind the whole LLC.
	 */
	cpu = bpf_get_smp_processor_id();
	if ((wake_flags & SCX_WAKE_SYNC) && bpf_cpumask_test_cpu(cpu, p->cpus_ptr) &&
	    llc_of(cpu) == llc_of(prev_cpu) &&
	    scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu) == 0) {
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_min_ns, 0);
		STAT_INC(sync);
		return cpu;
	}
	return prev_cpu;
}

/*
 * --sticky: @p, about to be kept on @cpu, would wait there behind another task
 * kept there (two tasks that take turns on one CPU, as when two threads of a
 * new job started on one CPU, or a CPU took another's task): while a CPU of
 * @llc idles, @p runs there instead. Without this, nothing else moved either
 * of them, as neither went through the LLC queue again: the pair shared one
 * CPU for seconds while another stayed idle. A task kept behind a per-CPU
 * kthread or a task that woke up stays on its CPU.
 */
static bool sticky_spread(struct task_struct *p, s32 cpu, u32 llc)
{
	s32 ahead = cpu_kept_pid[cpu & (BPFLAND_MAX_CPUS - 1)], idle;

	if (!ahead || ahead == p->pid || scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu) == 0)
		return false;
	idle = pick_idle_in_llc(p, cpu);
	if (idle < 0)
		return false;
	scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | idle, task_slice(llc), 0);
	scx_bpf_kick_cpu(idle, SCX_KICK_IDLE);
	STAT_INC(spread);
	return true;
}

/*
 * Whether a wakeup (@enq_flags) may take @cpu from the task running there: only
 * with wakeup preemption on and only from a task that is not interactive.
 */
static bool wakeup_may_preempt(s32 cpu, u64 enq_flags)
{
	return wakeup_preempt && (enq_flags & SCX_ENQ_WAKEUP) &&
	       cpu >= 0 && cpu < BPFLAND_MAX_CPUS &&
	       !cpu_runs_interactive[cpu & (BPFLAND_MAX_CPUS - 1)];
}

void BPF_STRUCT_OPS(bpfland_enqueue, struct task_struct *p, u64 enq_flags)
{
	s32 cpu = scx_bpf_task_cpu(p), idle;
	u32 llc = llc_of(cpu);
	struct task_ctx *tctx;

	tctx = lookup_task_ctx(p);
	if (!tctx) {
		scx_bpf_error("task %d (%s) has no context", p->pid, p->comm);
		return;
	}

	if (enq_flags & SCX_ENQ_REENQ)
		STAT_INC(reenq);

	/*
	 * Per-CPU kthreads can run nowhere else: they don't queue behind others.
	 * Woken, they take the CPU from a task that is not interactive, as an
	 * interactive wakeup does (below): otherwise a kworker waited in the
	 * local queue for the rest of a CPU hog's slice, and every interactive
	 * wakeup on that CPU meanwhile, finding the local queue taken, waited
	 * in the LLC queue behind both.
	 */
	if (is_percpu_kthread(p)) {
		if (wakeup_may_preempt(cpu, enq_flags)) {
			enq_flags |= SCX_ENQ_PREEMPT;
			STAT_INC(kthread_preempt);
		}
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_min_ns, enq_flags);
		return;
	}

	/*
	 * An interactive wakeup that found no idle CPU takes its CPU now, for a
	 * short slice, rather than waiting behind a CPU hog; but only a CPU that
	 * runs a task that is not interactive itself, and only if nothing else
	 * already jumped the queue there: a crowd of interactive tasks waking
	 * each other (a message-passing workload) would otherwise preempt each
	 * other at every message and keep the LLC queue from ever running.
	 */
	if (wakeup_may_preempt(cpu, enq_flags) && !(enq_flags & SCX_ENQ_REENQ) &&
	    is_interactive(tctx) &&
	    !(p->flags & PF_KTHREAD) && bpf_cpumask_test_cpu(cpu, p->cpus_ptr) &&
	    scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu) == 0) {
		scx_dsq_insert(p, SCX_DSQ_LOCAL, slice_min_ns, enq_flags | SCX_ENQ_PREEMPT);
		STAT_INC(preempt);
		return;
	}

	clamp_lag(tctx, llc, wake_lag(tctx, enq_flags));

	/*
	 * --sticky: preempted or out of slice, it stays on its CPU, behind at
	 * most the one task that took the CPU from it, while nothing waits or
	 * when ops.dispatch() has just served the queue on this CPU.
	 */
	if (sticky && tctx->stopped_runnable &&
	    !(enq_flags & (SCX_ENQ_WAKEUP | SCX_ENQ_REENQ)) &&
	    cpu >= 0 && cpu < BPFLAND_MAX_CPUS && bpf_cpumask_test_cpu(cpu, p->cpus_ptr) &&
	    (scx_bpf_dsq_nr_queued(llc_dsq(llc)) == 0 ||
	     cpu_took_queued[cpu & (BPFLAND_MAX_CPUS - 1)]) &&
	    scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu) <= 1) {
		cpu_took_queued[cpu & (BPFLAND_MAX_CPUS - 1)] = 0;
		if (sticky_spread(p, cpu, llc))
			return;
		scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, task_slice(llc), enq_flags);
		cpu_kept_pid[cpu & (BPFLAND_MAX_CPUS - 1)] = p->pid;
		STAT_INC(kept);
		return;
	}

	/* --pack: a task that may use no active CPU waits on its own CPU, not in the queue. */
	if (pack && first_active_allowed(p) < 0 && cpu >= 0 &&
	    bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
		scx_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, task_slice(llc), enq_flags);
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		STAT_INC(pinned);
		return;
	}

	scx_dsq_insert_vtime(p, llc_dsq(llc), task_slice(llc), task_deadline(p, tctx), enq_flags);

	if (pack) {
		idle = pick_idle_active(p, cpu);
		if (idle >= 0) {
			scx_bpf_kick_cpu(idle, SCX_KICK_IDLE);
			STAT_INC(kicks);
		}
		return;
	}
	idle = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (idle >= 0) {
		scx_bpf_kick_cpu(idle, SCX_KICK_IDLE);
		STAT_INC(kicks);
	}
}

/* Account the time @p ran since it last started (or was last charged). */
static void charge(struct task_struct *p, struct task_ctx *tctx, u64 now)
{
	u64 delta;

	if (!tctx->start_ts || time_before(now, tctx->start_ts))
		return;
	delta = now - tctx->start_ts;
	tctx->exec_runtime += delta;
	tctx->vruntime += scale_by_task_weight_inverse(p, delta);
	tctx->start_ts = now;
}

/* Whether @prev, whose slice ended, still has the earliest deadline of its LLC queue. */
static bool prev_goes_first(struct task_struct *prev, u32 llc)
{
	struct task_ctx *tctx;
	struct task_struct *head;
	u64 deadline;
	bool first = true;

	if (!prev || !(prev->scx.flags & SCX_TASK_QUEUED))
		return false;
	if (!bpf_ksym_exists(bpf_iter_scx_dsq_new))
		return false;
	tctx = lookup_task_ctx(prev);
	if (!tctx)
		return false;
	/* prev keeps running without ops.stopping(): charge the slice it just used. */
	charge(prev, tctx, scx_now());
	/* And it may not run on for longer than the lag bound allows any task to be behind. */
	clamp_lag(tctx, llc, slice_lag_ns);
	deadline = task_deadline(prev, tctx);
	bpf_for_each(scx_dsq, head, llc_dsq(llc), 0) {
		first = !time_before(head->scx.dsq_vtime, deadline);
		break;
	}
	return first;
}

/*
 * Runs on @cpu a task of @llc's queue that waited longer than STARVE_NS, if the
 * back of the queue holds one; at most one look per RESCUE_SCAN_NS and LLC.
 */
static bool rescue_starving(s32 cpu, u32 llc)
{
	u64 now = scx_now(), *last = &llc_rescue_ts[llc & (BPFLAND_MAX_LLCS - 1)];
	struct task_struct *p;
	struct task_ctx *tctx;
	u32 seen = 0;

	if (!bpf_ksym_exists(bpf_iter_scx_dsq_new))
		return false;
	if (!time_before(*last + RESCUE_SCAN_NS, now) || cpu < 0)
		return false;
	*last = now;
	bpf_for_each(scx_dsq, p, llc_dsq(llc), SCX_DSQ_ITER_REV) {
		if (++seen > RESCUE_SCAN_DEPTH)
			break;
		tctx = lookup_task_ctx(p);
		if (!tctx || !tctx->wait_ts || time_before(now, tctx->wait_ts + STARVE_NS))
			continue;
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		if (scx_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL, 0)) {
			STAT_INC(rescued);
			return true;
		}
	}
	return false;
}

/*
 * --sticky: whether @p, queued in an LLC queue, was preempted on a CPU other
 * than @cpu, less than a slice ago or by a higher class that still holds that
 * CPU: that CPU takes it back (sticky_dispatch()). Taken by @cpu instead, it
 * would share @cpu with @cpu's own task while its own CPU found nothing to run
 * once the higher class was done, as when a busy host stretches a real-time
 * task's few milliseconds past a slice.
 */
static bool preempted_elsewhere(struct task_struct *p, s32 cpu, u64 now)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	s32 home = scx_bpf_task_cpu(p);

	if (!tctx || !tctx->stopped_runnable || home == cpu || !tctx->wait_ts)
		return false;
	return time_before(now, tctx->wait_ts + slice_max_ns) || scx_cpu_held(home);
}

/*
 * --sticky: what a CPU takes from @llc's queue, among its first
 * STICKY_SCAN_DEPTH tasks: a task preempted on this CPU (its slice ended
 * while others waited, or a higher class took the CPU and it was queued
 * again) first; then, while @prev can run on, the first task that was not
 * just preempted on another CPU, or else @prev runs on. Without this, the first
 * CPU to dispatch took whatever came first, often another CPU's task: that
 * CPU's own task then stayed behind it, and the CPU the task came from went
 * idle once its higher-class task was done (beside a real-time task that ran
 * 3 ms in every 50 on one CPU, that CPU was 67-86 % idle, and stress-ng
 * --matrix workers migrated twice a second). Returns false when the usual
 * order applies: nothing of the above, and @prev cannot run on.
 */
static bool sticky_dispatch(s32 cpu, u32 llc, struct task_struct *prev)
{
	bool prev_runs = prev && (prev->scx.flags & SCX_TASK_QUEUED);
	struct task_struct *p;
	u64 now = scx_now();
	u32 seen = 0;

	if (!sticky || !bpf_ksym_exists(bpf_iter_scx_dsq_new))
		return false;
	bpf_for_each(scx_dsq, p, llc_dsq(llc), 0) {
		struct task_ctx *tctx = lookup_task_ctx(p);

		if (++seen > STICKY_SCAN_DEPTH)
			break;
		if (!tctx || !tctx->stopped_runnable || scx_bpf_task_cpu(p) != cpu ||
		    !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		if (scx_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL, 0)) {
			STAT_INC(kept);
			return true;
		}
	}
	if (!prev_runs)
		return false;
	seen = 0;
	bpf_for_each(scx_dsq, p, llc_dsq(llc), 0) {
		if (++seen > STICKY_SCAN_DEPTH)
			break;
		if (preempted_elsewhere(p, cpu, now) || !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		if (scx_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL, 0)) {
			if (cpu >= 0 && cpu < BPFLAND_MAX_CPUS)
				cpu_took_queued[cpu & (BPFLAND_MAX_CPUS - 1)] = 1;
			STAT_INC(llc_local);
			return true;
		}
	}
	if (seen > STICKY_SCAN_DEPTH)
		return false;
	scx_task_set_slice(prev, task_slice(llc));
	STAT_INC(kept);
	return true;
}

void BPF_STRUCT_OPS(bpfland_dispatch, s32 cpu, struct task_struct *prev)
{
	u32 llc = llc_of(cpu), i, n = MIN(nr_llcs, (u32)BPFLAND_MAX_LLCS);

	if (rescue_starving(cpu, llc))
		return;
	/* --pack: a CPU left out lets the previous task run on and takes nothing new. */
	if (!cpu_active(cpu))
		return;
	if (prev_goes_first(prev, llc)) {
		scx_task_set_slice(prev, task_slice(llc));
		return;
	}
	if (sticky_dispatch(cpu, llc, prev))
		return;
	if (scx_dsq_move_to_local(llc_dsq(llc))) {
		if (sticky && cpu >= 0 && cpu < BPFLAND_MAX_CPUS)
			cpu_took_queued[cpu & (BPFLAND_MAX_CPUS - 1)] = 1;
		STAT_INC(llc_local);
		return;
	}
	bpf_for(i, 0, n) {
		if (i == llc)
			continue;
		if (scx_dsq_move_to_local(llc_dsq(i))) {
			STAT_INC(cross_llc);
			return;
		}
	}
	/* Nothing waits: the previous task, if still runnable, runs on. */
}

void BPF_STRUCT_OPS(bpfland_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	u64 now = scx_now();

	if (!tctx)
		return;
	tctx->last_burst = tctx->exec_runtime;
	tctx->exec_runtime = 0;
	/*
	 * The sleep credit: what is left of it after the burst that ended in
	 * this sleep, or the sleep itself if that is longer. A frame loop keeps
	 * the head start of its long sleep through the short waits within a
	 * frame; a worker that sleeps a millisecond between requests has a
	 * millisecond.
	 */
	if (tctx->sleep_ts && !time_before(now, tctx->sleep_ts)) {
		u64 left = tctx->credit > tctx->last_burst ? tctx->credit - tctx->last_burst : 0;

		tctx->credit = MAX(now - tctx->sleep_ts, left);
	}
	tctx->sleep_ts = 0;
	wait_begin(&tctx->wait_ts, now);
}

void BPF_STRUCT_OPS(bpfland_running, struct task_struct *p)
{
	s32 cpu = scx_bpf_task_cpu(p);
	u32 llc = llc_of(cpu) & (BPFLAND_MAX_LLCS - 1);
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (!tctx)
		return;
	tctx->start_ts = scx_now();
	/* --pack: a long wait means the active CPUs do not keep up. */
	if (pack && tctx->wait_ts && time_before(tctx->wait_ts + PACK_WAIT_NS, tctx->start_ts))
		STAT_INC(long_waits);
	wait_end(&tctx->wait_ts, tctx->start_ts, p->pid);
	tctx->stopped_runnable = false;
	if (cpu >= 0 && cpu < BPFLAND_MAX_CPUS) {
		cpu_runs_interactive[cpu & (BPFLAND_MAX_CPUS - 1)] = is_interactive(tctx);
		cpu_took_queued[cpu & (BPFLAND_MAX_CPUS - 1)] = 0;
		if (cpu_kept_pid[cpu & (BPFLAND_MAX_CPUS - 1)] == p->pid)
			cpu_kept_pid[cpu & (BPFLAND_MAX_CPUS - 1)] = 0;
	}
	if (time_before(llc_vclock[llc], tctx->vruntime))
		llc_vclock[llc] = tctx->vruntime;
}

/*
 * Updates @tctx's voluntary switch rate at @now: an average over windows of
 * NVCSW_WINDOW_NS. Until its first window is over, a task is rated by what it
 * did so far (over no less than NVCSW_FIRST_NS), not by an average that starts
 * at zero: a new thread that sleeps every few milliseconds (a frame loop, a
 * timer-driven task) would otherwise count as a CPU hog for its first tenth
 * of a second and wait behind the hogs' slices at every wakeup.
 */
static void rate_switches(struct task_ctx *tctx, u64 now)
{
	u64 window = now - tctx->nvcsw_ts, rate;

	if (time_before(now, tctx->nvcsw_ts))
		return;
	if (window < NVCSW_WINDOW_NS) {
		if (!tctx->nvcsw_rated)
			tctx->avg_nvcsw = tctx->nvcsw * 1000000000ULL / MAX(window, NVCSW_FIRST_NS);
		return;
	}
	rate = tctx->nvcsw * 1000000000ULL / window;
	tctx->avg_nvcsw = tctx->nvcsw_rated ? (tctx->avg_nvcsw * 3 + rate) / 4 : rate;
	tctx->nvcsw_rated = true;
	tctx->nvcsw = 0;
	tctx->nvcsw_ts = now;
}

void BPF_STRUCT_OPS(bpfland_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	u64 now = scx_now();

	if (!tctx)
		return;
	charge(p, tctx, now);
	tctx->start_ts = 0;
	tctx->stopped_runnable = runnable;
	if (runnable)
		wait_begin(&tctx->wait_ts, now);

	/* Going to sleep: a voluntary context switch. */
	if (!runnable) {
		tctx->nvcsw++;
		tctx->sleep_ts = now ?: 1;
	}
	rate_switches(tctx, now);
}

void BPF_STRUCT_OPS(bpfland_enable, struct task_struct *p)
{
	u32 llc = llc_of(scx_bpf_task_cpu(p)) & (BPFLAND_MAX_LLCS - 1);
	struct task_ctx *tctx = lookup_task_ctx(p);

	/* New tasks start at the clock of the LLC they start on. */
	if (tctx)
		tctx->vruntime = llc_vclock[llc];
}

s32 BPF_STRUCT_OPS(bpfland_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -ENOMEM;
	tctx->nvcsw_ts = scx_now();
	tctx->credit = slice_lag_ns;
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(bpfland_init)
{
	u32 i, n = MIN(nr_llcs, (u32)BPFLAND_MAX_LLCS);
	s32 err;

	bpf_for(i, 0, n) {
		err = scx_bpf_create_dsq(llc_dsq(i), -1);
		if (err) {
			scx_bpf_error("failed to create the queue of LLC %u: %d", i, err);
			return err;
		}
	}
	return 0;
}

/*
 * A higher scheduling class (RT, deadline) took this CPU: what waits in its
 * local DSQ goes through ops.enqueue() again, into the LLC queue, where the
 * other CPUs find it, instead of waiting for as long as that class keeps this
 * CPU. Per-CPU kthreads can only come back here. On 6.19 and later user space
 * clears this callback and loads scx_higher_class_switch instead
 * (higher_class.bpf.h).
 */
void BPF_STRUCT_OPS(bpfland_cpu_release, s32 cpu, struct scx_cpu_release_args *args)
{
	scx_reenqueue_local();
}

/* The exit dump: each LLC queue and its clock. */
void BPF_STRUCT_OPS(bpfland_dump, struct scx_dump_ctx *dctx)
{
	u32 i, n = MIN(nr_llcs, (u32)BPFLAND_MAX_LLCS);

	bpf_for(i, 0, n)
		scx_bpf_dump("bpfland: llc %u queued=%d vclock=%llu\n", i,
			     scx_bpf_dsq_nr_queued(llc_dsq(i)),
			     llc_vclock[i & (BPFLAND_MAX_LLCS - 1)]);
}

/* The exit dump, per CPU: its LLC and whether it runs an interactive task. */
void BPF_STRUCT_OPS(bpfland_dump_cpu, struct scx_dump_ctx *dctx, s32 cpu, bool idle)
{
	if (cpu < 0 || cpu >= BPFLAND_MAX_CPUS)
		return;
	scx_bpf_dump("bpfland: cpu %d llc=%u runs_interactive=%u idle=%d active=%d\n", cpu,
		     llc_of(cpu), cpu_runs_interactive[cpu & (BPFLAND_MAX_CPUS - 1)], idle,
		     cpu_active(cpu));
}

/*
 * The exit dump, per runnable task (the kernel already shows its DSQ, how long it
 * has been runnable and its allowed CPUs): the numbers that order it.
 */
void BPF_STRUCT_OPS(bpfland_dump_task, struct scx_dump_ctx *dctx, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (!tctx)
		return;
	scx_bpf_dump("bpfland: vruntime=%llu deadline=%llu exec_runtime=%llu last_burst=%llu nvcsw/s=%llu cpus=%u\n",
		     tctx->vruntime, task_deadline(p, tctx), tctx->exec_runtime,
		     tctx->last_burst, tctx->avg_nvcsw, p->nr_cpus_allowed);
}

void BPF_STRUCT_OPS(bpfland_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops bpfland_ops = {
	.select_cpu	= (void *)bpfland_select_cpu,
	.enqueue	= (void *)bpfland_enqueue,
	.dispatch	= (void *)bpfland_dispatch,
	.runnable	= (void *)bpfland_runnable,
	.running	= (void *)bpfland_running,
	.stopping	= (void *)bpfland_stopping,
	.enable		= (void *)bpfland_enable,
	.cpu_release	= (void *)bpfland_cpu_release,
	.init_task	= (void *)bpfland_init_task,
	.init		= (void *)bpfland_init,
	.exit		= (void *)bpfland_exit,
	.dump		= (void *)bpfland_dump,
	.dump_cpu	= (void *)bpfland_dump_cpu,
	.dump_task	= (void *)bpfland_dump_task,
	.exit_dump_len	= UEI_DUMP_LEN,
	.timeout_ms	= 5000,
	.name		= "scx_bpfland",
};
