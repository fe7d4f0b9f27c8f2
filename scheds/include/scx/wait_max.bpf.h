/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wait_max.bpf.h - the longest time a runnable task waited before it ran.
 *
 * A task starts waiting when it becomes runnable (ops.runnable()) or when it
 * stops running but stays runnable (ops.stopping() with runnable set), and
 * stops waiting when it runs (ops.running()). The longest wait and its task
 * are kept in globals that user space reads and resets for each stats
 * interval: the scheduler's own measure of how close it came to the kernel's
 * stall watchdog. Include it once per BPF program.
 */
#ifndef __SCX_WAIT_MAX_BPF_H
#define __SCX_WAIT_MAX_BPF_H

u64 wait_max_ns;	/* reset to 0 by user space */
s32 wait_max_pid;

/* @ts: the task's own wait timestamp (0: not waiting). */
static inline void wait_begin(u64 *ts, u64 now)
{
	*ts = now;
}

static inline void wait_end(u64 *ts, u64 now, s32 pid)
{
	u64 waited;

	if (!*ts || time_before(now, *ts)) {
		*ts = 0;
		return;
	}
	waited = now - *ts;
	*ts = 0;
	/* A lost race only loses one maximum of one stats interval. */
	if (waited > READ_ONCE(wait_max_ns)) {
		WRITE_ONCE(wait_max_ns, waited);
		WRITE_ONCE(wait_max_pid, pid);
	}
}

#endif /* __SCX_WAIT_MAX_BPF_H */
