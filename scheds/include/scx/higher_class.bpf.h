/* SPDX-License-Identifier: GPL-2.0 */
/*
 * higher_class.bpf.h - when a higher scheduling class (stop, deadline, RT)
 * takes a CPU, the tasks waiting in that CPU's local DSQ go through
 * ops.enqueue() again, flagged SCX_ENQ_REENQ, instead of waiting for as long
 * as that class keeps the CPU; the scheduler's ops.enqueue() queues them
 * where other CPUs find them.
 *
 * 6.12-6.18: only ops.cpu_release() may re-enqueue them; the scheduler names
 *            a cpu_release callback that calls scx_reenqueue_local().
 * 6.19 on:   scx_bpf_reenqueue_local___v2() may be called from anywhere, and
 *            the kernel warns at every load of a scheduler that still has
 *            ops.cpu_release() (deprecated). User space then clears that
 *            callback before load and loads scx_higher_class_switch below,
 *            which re-enqueues at the context switch to the higher class
 *            (scx_core::attach::HigherClassHook).
 * scx_cpu_held() says whether such a class holds a CPU now.
 * Include it once per BPF program, after compat.bpf.h.
 */
#ifndef __SCX_HIGHER_CLASS_BPF_H
#define __SCX_HIGHER_CLASS_BPF_H

struct task_struct *scx_bpf_cpu_curr(s32 cpu) __ksym __weak;
extern const struct rq runqueues __ksym __weak;

/*
 * Whether a higher class holds @cpu: RT tasks are queued on it, or its current
 * task is a deadline (or stop) task that runs. A sched_ext task then runs
 * there only in the turns of the CPU's sched_ext deadline server.
 */
static bool scx_cpu_held(s32 cpu)
{
	struct task_struct *curr;

	if (cpu < 0 || (u32)cpu >= scx_bpf_nr_cpu_ids())
		return false;
	if (bpf_ksym_exists(&runqueues)) {
		struct rq *rq = bpf_per_cpu_ptr(&runqueues, cpu);

		if (rq && rq->rt.rt_nr_running)
			return true;
	}
	if (!bpf_ksym_exists(scx_bpf_cpu_curr))
		return false;
	curr = scx_bpf_cpu_curr(cpu);
	return curr && curr->prio < MAX_RT_PRIO && curr->__state == TASK_RUNNING;
}

SEC("?tp_btf/sched_switch")
int BPF_PROG(scx_higher_class_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	if (next->prio >= MAX_RT_PRIO || prev->prio < MAX_RT_PRIO)
		return 0;
	scx_reenqueue_local_anywhere();
	return 0;
}

#endif /* __SCX_HIGHER_CLASS_BPF_H */
