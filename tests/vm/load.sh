# load.sh - 10 s of CPU hogs, forks and sleepers on each scheduler: every task makes progress in
# each half and the kernel never ejects the scheduler.
. /scenarios/lib/sched.sh

check() {
    S=$1
    attach_fresh "$S" --stats 5
    start_load /tmp/load
    sleep 1
    c0=$(load_counts /tmp/load)
    sleep 5
    c1=$(load_counts /tmp/load)
    sleep 5
    c2=$(load_counts /tmp/load)
    stop_load
    echo "counts hog0 hog1 forks sleeps: t=1s [$c0] t=6s [$c1] t=11s [$c2]"
    progressed "$c0" "$c1"
    progressed "$c1" "$c2"
    ok "every task made progress in both halves"
    expect_eq "$(sx_state)" enabled "state after the load"
    expect_eq "$(sx_ops)" "$S" "attached scheduler after the load"
    expect_eq "$(cat "$SX_SYSFS/enable_seq")" "$SX_ATTACH_SEQ" "enable_seq (no ejection and re-attach)"
    kill -0 "$SX_PID" || fail "$S died under load"
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code after SIGINT"
    sched_log "$S"
}

for_each_sched check $SX_SCHEDULERS
