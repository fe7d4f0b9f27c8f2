# attach.sh - each scheduler attaches, the kernel runs every task on it, SIGINT detaches cleanly.
. /scenarios/lib.sh
. /scenarios/sched.inc

check() {
    S=$1
    seq0=$(cat "$SX_SYSFS/enable_seq")
    start_sched "$S"
    wait_attached "$S" 5 || { sched_log "$S"; fail "$S did not attach within 5 s"; }
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

for s in $SX_SCHEDULERS; do
    echo "== $s"
    check "$s"
done
