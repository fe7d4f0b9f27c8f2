# burst.sh - 1,000 short-lived threads spawned at once all finish, without an ejection.
. /scenarios/lib/sched.sh

check() {
    S=$1
    attach_fresh "$S" --stats 5
    timeout 60 vmtool threads 1000 || { sched_log "$S"; fail "$S: the burst did not finish"; }
    expect_eq "$(sx_ops)" "$S" "still attached"
    [ "$(cat "$SX_SYSFS/enable_seq")" = "$SX_ATTACH_SEQ" ] || { sched_log "$S"; fail "$S: enable_seq changed from $SX_ATTACH_SEQ to $(cat "$SX_SYSFS/enable_seq") (ejected and re-attached)"; }
    ok "enable_seq unchanged (no ejection)"
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code"
    sched_log "$S"
}

for_each_sched check $SX_SCHEDULERS
