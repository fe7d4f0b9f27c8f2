# sigterm.sh - SIGTERM detaches scx_rlfifo cleanly while tasks run.
. /scenarios/lib.sh
. /scenarios/sched.inc

start_sched scx_rlfifo
wait_attached scx_rlfifo 5 || { sched_log scx_rlfifo; fail "scx_rlfifo did not attach"; }
start_load /tmp/load
sleep 2
signal_sched TERM
stop_load
expect_eq "$SX_RC" 0 "exit code after SIGTERM"
expect_eq "$(sx_state)" disabled "state after SIGTERM"
sched_log scx_rlfifo
