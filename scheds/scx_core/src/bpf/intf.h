/* SPDX-License-Identifier: GPL-2.0 */
/*
 * intf.h - the messages of the user-space dispatch channel.
 *
 * Shared by usersched.bpf.c and scx_core's Rust code, which mirrors the two
 * records as #[repr(C)] structs in usersched.rs. Fixed-size fields only,
 * naturally aligned, no padding; both sides assert the same record sizes
 * (here and in usersched.rs), so a field added on one side only fails the
 * build.
 */
#ifndef __SCX_USERSCHED_INTF_H
#define __SCX_USERSCHED_INTF_H

#ifndef __VMLINUX_H__
typedef int s32;
typedef unsigned int u32;
typedef unsigned long long u64;
#endif

enum usersched_consts {
	/* Highest number of CPUs the channel tracks (idle map, counters). */
	USERSCHED_MAX_CPUS	= 1024,
	/* Entries in each ring buffer (rounded to a power-of-two size). */
	USERSCHED_RING_ENTRIES	= 8192,
	/* A decision's cpu field: let the first free CPU take the task. */
	USERSCHED_CPU_ANY	= -1,
	/* A queued_task with this pid is a doorbell: a CPU ran out of work. */
	USERSCHED_DOORBELL_PID	= 0,
};

/* Kernel -> user space: a task became runnable and waits for a decision. */
struct queued_task {
	s32 pid;
	s32 cpu;		/* CPU the task was enqueued on (its previous CPU) */
	u32 nr_cpus_allowed;	/* size of its affinity mask */
	u32 weight;		/* sched_ext weight, 100 = nice 0 */
	u64 enq_flags;		/* SCX_ENQ_* flags of this enqueue */
	u64 seq;		/* enqueue generation, echoed in the decision */
	u64 enq_ts;		/* when it was enqueued (ns) */
	u64 runnable_ts;	/* when it last woke up (ns) */
	u64 stop_ts;		/* when it last stopped running (ns) */
	u64 exec_runtime;	/* ns it ran: on a wakeup, before it went to sleep;
				 * otherwise since it woke up */
	u64 sum_runtime;	/* ns it ran under this scheduler in total */
	u64 vtime;		/* weighted virtual runtime kept by BPF */
	u64 queued_kt;		/* CLOCK_MONOTONIC ns when it was sent to user space */
};

/* User space -> kernel: where and how to run a queued task. */
struct dispatched_task {
	s32 pid;
	s32 cpu;		/* target CPU, or USERSCHED_CPU_ANY */
	u64 seq;		/* the queued_task's seq; stale decisions are dropped */
	u64 slice_ns;		/* 0: the scheduler's default slice */
	u64 vtime;		/* 0: keep; else the task's new vruntime */
	u64 deadline;		/* its place in the shared DSQ (USERSCHED_CPU_ANY):
				 * lower runs first; 0: where it is served now */
	u64 flags;		/* DISPATCH_F_* */
	u64 sent_kt;		/* CLOCK_MONOTONIC ns when user space sent it; 0: untimed */
};

/*
 * The stages of a wakeup's round trip, timed on CLOCK_MONOTONIC for every
 * applied decision for a waking task that carries sent_kt: in user space (enqueue -> decision sent),
 * in the ring (sent -> applied by ops.dispatch()), and on the CPU's queue
 * (applied -> running).
 */
enum usersched_stage {
	STAGE_USER,
	STAGE_RING,
	STAGE_QUEUE,
	NR_STAGES,
};

enum dispatch_flags {
	/* Preempt the target CPU's current task (latency-critical wakeups). */
	DISPATCH_F_PREEMPT	= 1,
};

_Static_assert(sizeof(struct queued_task) == 88,
	       "struct queued_task must match QueuedTask in usersched.rs");
_Static_assert(sizeof(struct dispatched_task) == 56,
	       "struct dispatched_task must match DispatchedTask in usersched.rs");

#endif /* __SCX_USERSCHED_INTF_H */
