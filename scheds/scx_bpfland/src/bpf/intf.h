/* SPDX-License-Identifier: GPL-2.0 */
/*
 * intf.h - types shared by scx_bpfland's BPF code and its Rust front end.
 */
#ifndef __SCX_BPFLAND_INTF_H
#define __SCX_BPFLAND_INTF_H

#ifndef __VMLINUX_H__
typedef unsigned int u32;
typedef unsigned long long u64;
#endif

enum bpfland_consts {
	/* Highest number of CPUs and LLCs the scheduler handles. */
	BPFLAND_MAX_CPUS	= 1024,
	BPFLAND_MAX_LLCS	= 256,
};

/* Per-CPU counters, summed by user space. */
struct cpu_stats {
	u64 direct;		/* wakeups dispatched straight to an idle CPU */
	u64 preempt;		/* interactive wakeups that preempted their CPU */
	u64 llc_local;		/* tasks taken from the CPU's own LLC queue */
	u64 cross_llc;		/* tasks taken from another LLC's queue */
	u64 kicks;		/* idle CPUs woken for queued work */
	u64 sync;		/* synchronous wakeups run next on the waker's CPU */
	u64 rescued;		/* tasks run out of deadline order after waiting too long */
	u64 pinned;		/* --pack: tasks queued on their own CPU, allowed on no active one */
	u64 kept;		/* --sticky: preempted tasks put back on their own CPU */
	u64 long_waits;		/* --pack: tasks that waited over PACK_WAIT_NS for a CPU */
	u64 reenq;		/* tasks queued again: a higher class took their CPU */
	u64 spread;		/* --sticky: tasks moved off a shared CPU to an idle one */
	u64 kthread_preempt;	/* woken per-CPU kthreads that preempted their CPU */
};

#endif /* __SCX_BPFLAND_INTF_H */
