# sigterm.sh - SIGTERM detaches each scheduler cleanly while tasks run.
. /scenarios/lib/sched.sh

check() {
    S=$1
    attach_loaded "$S"
    signal_sched TERM
    stop_load
    expect_eq "$SX_RC" 0 "exit code after SIGTERM"
    expect_eq "$(sx_state)" disabled "state after SIGTERM"
    sched_log "$S"
}

for_each_sched check $SX_SCHEDULERS
