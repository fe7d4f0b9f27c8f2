/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.bpf.h - one BPF source for every kernel with sched_ext (6.12 on).
 *
 * Kfuncs that were renamed or changed signature are declared here under every
 * name they ever had, as weak ksyms. libbpf resolves a ksym by the part of its
 * name before the last "___", so "foo___v2___scx" binds to the kernel's
 * "foo___v2" and "foo___scx" binds to "foo"; the names a kernel lacks resolve
 * to NULL and bpf_ksym_exists() picks the branch the running kernel supports
 * (the verifier drops the others). Schedulers call only the scx_*() wrappers
 * below, never the versioned names, and never test kernel versions.
 */
#ifndef __SCX_COMPAT_BPF_H
#define __SCX_COMPAT_BPF_H

/*
 * Inserting a task into a DSQ.
 * 6.12:      scx_bpf_dispatch(), scx_bpf_dispatch_vtime()
 * 6.13-7.x:  scx_bpf_dsq_insert(), scx_bpf_dsq_insert_vtime()
 * 7.x:       scx_bpf_dsq_insert___v2() returns whether the insert was accepted
 */
bool scx_bpf_dsq_insert___v2___scx(struct task_struct *p, u64 dsq_id, u64 slice,
				   u64 enq_flags) __ksym __weak;
void scx_bpf_dsq_insert___scx(struct task_struct *p, u64 dsq_id, u64 slice,
			      u64 enq_flags) __ksym __weak;
void scx_bpf_dispatch___scx(struct task_struct *p, u64 dsq_id, u64 slice,
			    u64 enq_flags) __ksym __weak;

void scx_bpf_dsq_insert_vtime___scx(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				    u64 enq_flags) __ksym __weak;
void scx_bpf_dispatch_vtime___scx(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				  u64 enq_flags) __ksym __weak;

static inline void scx_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert___v2___scx))
		scx_bpf_dsq_insert___v2___scx(p, dsq_id, slice, enq_flags);
	else if (bpf_ksym_exists(scx_bpf_dsq_insert___scx))
		scx_bpf_dsq_insert___scx(p, dsq_id, slice, enq_flags);
	else
		scx_bpf_dispatch___scx(p, dsq_id, slice, enq_flags);
}

static inline void scx_dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
					u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert_vtime___scx))
		scx_bpf_dsq_insert_vtime___scx(p, dsq_id, slice, vtime, enq_flags);
	else
		scx_bpf_dispatch_vtime___scx(p, dsq_id, slice, vtime, enq_flags);
}

/*
 * Moving the first task of a DSQ to the local DSQ, from ops.dispatch().
 * 6.12:      scx_bpf_consume()
 * 6.13-7.x:  scx_bpf_dsq_move_to_local()
 * 7.x:       scx_bpf_dsq_move_to_local___v2() takes enqueue flags
 */
bool scx_bpf_dsq_move_to_local___v2___scx(u64 dsq_id, u64 enq_flags) __ksym __weak;
bool scx_bpf_dsq_move_to_local___scx(u64 dsq_id) __ksym __weak;
bool scx_bpf_consume___scx(u64 dsq_id) __ksym __weak;

static inline bool scx_dsq_move_to_local(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local___v2___scx))
		return scx_bpf_dsq_move_to_local___v2___scx(dsq_id, 0);
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local___scx))
		return scx_bpf_dsq_move_to_local___scx(dsq_id);
	return scx_bpf_consume___scx(dsq_id);
}

/*
 * Moving the task an iterator is at from its DSQ to another, from ops.dispatch().
 * 6.12:      scx_bpf_dispatch_from_dsq()
 * 6.13-7.x:  scx_bpf_dsq_move()
 * Inside bpf_for_each(scx_dsq, ...), BPF_FOR_EACH_ITER names the iterator.
 */
#define BPF_FOR_EACH_ITER	(&___it)

bool scx_bpf_dsq_move___scx(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p,
			    u64 dsq_id, u64 enq_flags) __ksym __weak;
bool scx_bpf_dispatch_from_dsq___scx(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p,
				     u64 dsq_id, u64 enq_flags) __ksym __weak;

static inline bool scx_dsq_move(struct bpf_iter_scx_dsq *it, struct task_struct *p,
				u64 dsq_id, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move___scx))
		return scx_bpf_dsq_move___scx(it, p, dsq_id, enq_flags);
	if (bpf_ksym_exists(scx_bpf_dispatch_from_dsq___scx))
		return scx_bpf_dispatch_from_dsq___scx(it, p, dsq_id, enq_flags);
	return false;
}

/*
 * Re-enqueueing every task of this CPU's local DSQ.
 * 6.12-7.x:  scx_bpf_reenqueue_local() (returns how many), from
 *            ops.cpu_release() only
 * 6.19 on:   scx_bpf_reenqueue_local___v2(), from anywhere (a tracepoint too)
 */
void scx_bpf_reenqueue_local___v2___scx(void) __ksym __weak;
u32 scx_bpf_reenqueue_local___scx(void) __ksym __weak;

static inline void scx_reenqueue_local(void)
{
	if (bpf_ksym_exists(scx_bpf_reenqueue_local___v2___scx))
		scx_bpf_reenqueue_local___v2___scx();
	else if (bpf_ksym_exists(scx_bpf_reenqueue_local___scx))
		scx_bpf_reenqueue_local___scx();
}

/* Outside ops.cpu_release(): only where the 6.19 kfunc exists, else nothing. */
static inline void scx_reenqueue_local_anywhere(void)
{
	if (bpf_ksym_exists(scx_bpf_reenqueue_local___v2___scx))
		scx_bpf_reenqueue_local___v2___scx();
}

/*
 * A clock that is cheap and monotonic per CPU.
 * 6.12-6.13: none; bpf_ktime_get_ns()
 * 6.14 on:   scx_bpf_now() (the rq clock when it is valid)
 */
u64 scx_bpf_now___scx(void) __ksym __weak;

static inline u64 scx_now(void)
{
	if (bpf_ksym_exists(scx_bpf_now___scx))
		return scx_bpf_now___scx();
	return bpf_ktime_get_ns();
}

/*
 * Setting a task's virtual time.
 * 6.12-7.x:  write p->scx.dsq_vtime (7.x still allows it, with a warning)
 * 7.x:       scx_bpf_task_set_dsq_vtime()
 */
bool scx_bpf_task_set_dsq_vtime___scx(struct task_struct *p, u64 vtime) __ksym __weak;

static inline void scx_task_set_vtime(struct task_struct *p, u64 vtime)
{
	if (bpf_ksym_exists(scx_bpf_task_set_dsq_vtime___scx))
		scx_bpf_task_set_dsq_vtime___scx(p, vtime);
	else
		p->scx.dsq_vtime = vtime;
}

/*
 * Setting a task's remaining slice.
 * 6.12-7.x:  write p->scx.slice (7.x still allows it, with a warning)
 * 7.x:       scx_bpf_task_set_slice()
 */
bool scx_bpf_task_set_slice___scx(struct task_struct *p, u64 slice) __ksym __weak;

static inline void scx_task_set_slice(struct task_struct *p, u64 slice)
{
	if (bpf_ksym_exists(scx_bpf_task_set_slice___scx))
		scx_bpf_task_set_slice___scx(p, slice);
	else
		p->scx.slice = slice;
}

#endif /* __SCX_COMPAT_BPF_H */
