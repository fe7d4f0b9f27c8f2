# sysrq.sh - the administrator stops sched_ext through the kernel (SysRq-S): each scheduler
# reports it and exits with its own code (12), so a supervisor does not restart it.
. /scenarios/lib/sched.sh

echo 1 > /proc/sys/kernel/sysrq

check() {
    S=$1
    attach_or_fail "$S"
    echo S > /proc/sysrq-trigger
    wait_disabled 5 || fail "SysRq-S did not disable sched_ext"
    wait "$SX_PID"
    rc=$?
    sched_log "$S"
    expect_eq "$rc" 12 "$S exit code after SysRq-S (SYSRQ)"
    grep -q "stopped by the administrator through the kernel (exit kind=sysrq" "/tmp/$S.log" \
        || fail "$S did not report the SysRq stop"
}

for_each_sched check $SX_SCHEDULERS
