# attach.sh - each scheduler attaches, the kernel runs every task on it, SIGINT detaches cleanly.
. /scenarios/lib/sched.sh

check() {
    S=$1
    seq0=$(cat "$SX_SYSFS/enable_seq")
    attach_or_fail "$S"
    expect_eq "$(cat "$SX_SYSFS/switch_all")" 1 "switch_all"
    wait_enable_seq $((seq0 + 1)) 2
    expect_eq "$(cat "$SX_SYSFS/enable_seq")" $((seq0 + 1)) "enable_seq"
    kill -0 "$SX_PID" || fail "$S exited after attaching"
    echo "rss_kb=$(rss_kb "$SX_PID")"
    ok "$S attached and running"

    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code after SIGINT"
    expect_eq "$(sx_state)" disabled "state after SIGINT"
    expect_eq "$(sx_ops)" "" "attached scheduler after SIGINT"
    grep -q "detached" "/tmp/$S.log" || { sched_log "$S"; fail "no detach line in the log"; }
    sched_log "$S"
}

for_each_sched check $SX_SCHEDULERS

# From Linux 6.19 on the kernel deprecates ops.cpu_release() and says so at every load of a
# scheduler that has it; ours use the sched_switch hook there (higher_class.bpf.h).
if dmesg | grep -q "cpu_acquire/release() are deprecated"; then
    dmesg | grep "deprecated"
    fail "the kernel warned that a scheduler uses a deprecated callback"
fi
ok "no deprecation warning from the kernel"
