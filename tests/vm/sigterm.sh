# sigterm.sh - SIGTERM detaches each scheduler cleanly while tasks run.
. /scenarios/lib.sh
. /scenarios/sched.inc

check() {
    S=$1
    start_sched "$S"
    wait_attached "$S" 5 || { sched_log "$S"; fail "$S did not attach"; }
    start_load /tmp/load
    sleep 2
    signal_sched TERM
    stop_load
    expect_eq "$SX_RC" 0 "exit code after SIGTERM"
    expect_eq "$(sx_state)" disabled "state after SIGTERM"
    sched_log "$S"
}

for s in $SX_SCHEDULERS; do
    echo "== $s"
    check "$s"
done
