/* SPDX-License-Identifier: GPL-2.0 */
/*
 * user_exit_info.bpf.h - record why the scheduler stopped, for user space.
 *
 * ops.exit() copies the kernel's scx_exit_info into a global that user space
 * reads through the skeleton once the scheduler is gone: the exit kind
 * (enum scx_exit_kind), the exit code (carrying SCX_ECODE_* flags such as
 * "restart me"), the reason the kernel gives, the scheduler's message, and the
 * kernel's state dump (every CPU and runnable task, with what the scheduler's
 * ops.dump*() callbacks add), which the kernel writes for an error exit.
 * The layout must match struct user_exit_info in scx_core's Rust code.
 */
#ifndef __SCX_USER_EXIT_INFO_BPF_H
#define __SCX_USER_EXIT_INFO_BPF_H

#define UEI_REASON_LEN	128
#define UEI_MSG_LEN	1024
/* Also the schedulers' sched_ext_ops.exit_dump_len. */
#define UEI_DUMP_LEN	16384

struct user_exit_info {
	s32 kind;
	u32 __pad;
	s64 exit_code;
	char reason[UEI_REASON_LEN];
	char msg[UEI_MSG_LEN];
	char dump[UEI_DUMP_LEN];
};

#define UEI_DEFINE(__name)						\
	struct user_exit_info __name SEC(".data")

/*
 * exit_code appeared in 6.9, before sched_ext was merged, so every kernel we
 * load on has it. kind is written last: user space treats a non-zero kind as
 * "the record is complete".
 */
#define UEI_RECORD(__uei_name, __ei)					\
({									\
	bpf_probe_read_kernel_str(__uei_name.reason,			\
				  sizeof(__uei_name.reason), (__ei)->reason); \
	bpf_probe_read_kernel_str(__uei_name.msg,			\
				  sizeof(__uei_name.msg), (__ei)->msg);	\
	if ((__ei)->dump)						\
		bpf_probe_read_kernel_str(__uei_name.dump,		\
					  sizeof(__uei_name.dump), (__ei)->dump); \
	__uei_name.exit_code = (__ei)->exit_code;			\
	barrier();							\
	__uei_name.kind = (__ei)->kind;					\
})

#endif /* __SCX_USER_EXIT_INFO_BPF_H */
