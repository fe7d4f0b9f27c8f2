# burst.sh - 1,000 short-lived threads spawned at once all finish, without an ejection.
. /scenarios/lib.sh
. /scenarios/sched.inc

check() {
    S=$1
    start_sched "$S" --stats 5
    wait_attached "$S" 5 || { sched_log "$S"; fail "$S did not attach"; }
    seq=$(cat "$SX_SYSFS/enable_seq")
    timeout 60 vmtool threads 1000 || { sched_log "$S"; fail "$S: the burst did not finish"; }
    expect_eq "$(sx_ops)" "$S" "still attached"
    expect_eq "$(cat "$SX_SYSFS/enable_seq")" "$seq" "enable_seq (no ejection)"
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code"
    sched_log "$S"
}

for s in $SX_SCHEDULERS; do
    echo "== $s"
    check "$s"
done
