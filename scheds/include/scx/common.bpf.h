/* SPDX-License-Identifier: GPL-2.0 */
/*
 * common.bpf.h - what every scx BPF scheduler includes first.
 *
 * Pulls in the kernel types (vmlinux.h) and libbpf's helper macros, declares
 * the sched_ext kfuncs that kept their name and signature from 6.12 on, and
 * provides the struct_ops and error-reporting macros. Kfuncs that were renamed
 * or changed signature live in compat.bpf.h, which this header includes last.
 */
#ifndef __SCX_COMMON_BPF_H
#define __SCX_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/* Errors visible to BPF; vmlinux.h has no macros. */
#define EINVAL		22
#define ENOMEM		12
#define ENOENT		2
#define EBUSY		16

#ifndef PF_KTHREAD
#define PF_KTHREAD	0x00200000
#endif
#ifndef PF_EXITING
#define PF_EXITING	0x00000004
#endif
/* Priorities below this are RT or deadline tasks (include/linux/sched/prio.h). */
#define MAX_RT_PRIO	100
#define TASK_RUNNING	0

#define BPF_STRUCT_OPS(name, args...)					\
	SEC("struct_ops/" #name) BPF_PROG(name, ##args)

#define BPF_STRUCT_OPS_SLEEPABLE(name, args...)				\
	SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define READ_ONCE(x)		(*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, val)	((*(volatile typeof(x) *)&(x)) = (val))

/* clang-19's BPF backend cannot lower __sync_synchronize(). */
#define barrier()	asm volatile("" ::: "memory")

#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/* Kfuncs with the same name and signature on every kernel from 6.12 on. */
s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
			   bool *is_idle) __ksym;
u32 scx_bpf_dispatch_nr_slots(void) __ksym;
void scx_bpf_kick_cpu(s32 cpu, u64 flags) __ksym;
s32 scx_bpf_dsq_nr_queued(u64 dsq_id) __ksym;
bool scx_bpf_test_and_clear_cpu_idle(s32 cpu) __ksym;
s32 scx_bpf_pick_idle_cpu(const cpumask_t *cpus_allowed, u64 flags) __ksym;
s32 scx_bpf_pick_any_cpu(const cpumask_t *cpus_allowed, u64 flags) __ksym;
const struct cpumask *scx_bpf_get_idle_cpumask(void) __ksym;
const struct cpumask *scx_bpf_get_idle_smtmask(void) __ksym;
const struct cpumask *scx_bpf_get_possible_cpumask(void) __ksym;
const struct cpumask *scx_bpf_get_online_cpumask(void) __ksym;
void scx_bpf_put_idle_cpumask(const struct cpumask *cpumask) __ksym;
void scx_bpf_put_cpumask(const struct cpumask *cpumask) __ksym;
u32 scx_bpf_nr_cpu_ids(void) __ksym;
s32 scx_bpf_task_cpu(const struct task_struct *p) __ksym;
bool scx_bpf_task_running(const struct task_struct *p) __ksym;
void scx_bpf_exit_bstr(s64 exit_code, char *fmt, unsigned long long *data,
		       u32 data__sz) __ksym;
void scx_bpf_error_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym;
void scx_bpf_dump_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym;

int bpf_iter_scx_dsq_new(struct bpf_iter_scx_dsq *it, u64 dsq_id, u64 flags) __ksym __weak;
struct task_struct *bpf_iter_scx_dsq_next(struct bpf_iter_scx_dsq *it) __ksym __weak;
void bpf_iter_scx_dsq_destroy(struct bpf_iter_scx_dsq *it) __ksym __weak;
int bpf_iter_task_new(struct bpf_iter_task *it, struct task_struct *task,
		      unsigned int flags) __ksym __weak;
struct task_struct *bpf_iter_task_next(struct bpf_iter_task *it) __ksym __weak;
void bpf_iter_task_destroy(struct bpf_iter_task *it) __ksym __weak;

struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
void bpf_task_release(struct task_struct *p) __ksym;
bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) __ksym;
u32 bpf_cpumask_weight(const struct cpumask *cpumask) __ksym;
u32 bpf_cpumask_first(const struct cpumask *cpumask) __ksym;
u32 bpf_cpumask_any_and_distribute(const struct cpumask *src1,
				   const struct cpumask *src2) __ksym;
void bpf_rcu_read_lock(void) __ksym;
void bpf_rcu_read_unlock(void) __ksym;

/*
 * Formatted exit and error reporting. The format string and its arguments are
 * packed into an array of u64 the way bpf_snprintf() expects them.
 */
#define ___scx_bstr_prep(fmt, args...)					\
	static char ___scx_fmt[] = fmt;					\
	unsigned long long ___scx_param[___bpf_narg(args)];		\
									\
	_Pragma("GCC diagnostic push")					\
	_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")		\
	___bpf_fill(___scx_param, args);				\
	_Pragma("GCC diagnostic pop")

/* Report an error: the kernel ejects the scheduler with SCX_EXIT_ERROR_BPF. */
#define scx_bpf_error(fmt, args...)					\
({									\
	___scx_bstr_prep(fmt, ##args)					\
	scx_bpf_error_bstr(___scx_fmt, ___scx_param, sizeof(___scx_param)); \
})

/* Ask the kernel to unload the scheduler with @code (SCX_EXIT_UNREG_BPF). */
#define scx_bpf_exit(code, fmt, args...)				\
({									\
	___scx_bstr_prep(fmt, ##args)					\
	scx_bpf_exit_bstr((code), ___scx_fmt, ___scx_param,		\
			  sizeof(___scx_param));			\
})

/*
 * Add a line to the kernel's exit dump; only from ops.dump(), ops.dump_cpu()
 * and ops.dump_task(). Lines accumulate until one ends in a newline.
 */
#define scx_bpf_dump(fmt, args...)					\
({									\
	___scx_bstr_prep(fmt, ##args)					\
	scx_bpf_dump_bstr(___scx_fmt, ___scx_param, sizeof(___scx_param)); \
})

static inline bool is_percpu_kthread(const struct task_struct *p)
{
	return (p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1;
}

/* Scale @value by the task's weight (100 = nice 0). */
static inline u64 scale_by_task_weight(const struct task_struct *p, u64 value)
{
	return value * p->scx.weight / 100;
}

static inline u64 scale_by_task_weight_inverse(const struct task_struct *p, u64 value)
{
	return value * 100 / (p->scx.weight ? p->scx.weight : 1);
}

static inline bool time_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

#include "compat.bpf.h"

#endif /* __SCX_COMMON_BPF_H */
