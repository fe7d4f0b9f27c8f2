# burst.sh - 1,000 short-lived threads spawned at once all finish, without an ejection.
. /scenarios/lib/vm.sh
. /scenarios/lib/sched.sh

check() {
    S=$1
    seq=$(( $(cat "$SX_SYSFS/enable_seq") + 1 ))
    attach_or_fail "$S" --stats 5
    wait_enable_seq "$seq" 2 || fail "enable_seq did not reach $seq after attaching"
    timeout 60 vmtool threads 1000 || { sched_log "$S"; fail "$S: the burst did not finish"; }
    expect_eq "$(sx_ops)" "$S" "still attached"
    [ "$(cat "$SX_SYSFS/enable_seq")" = "$seq" ] || { sched_log "$S"; fail "$S: enable_seq changed from $seq to $(cat "$SX_SYSFS/enable_seq") (ejected and re-attached)"; }
    ok "enable_seq unchanged (no ejection)"
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code"
    sched_log "$S"
}

for_each_sched check $SX_SCHEDULERS
