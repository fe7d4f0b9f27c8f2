# attach.sh - scx_rlfifo attaches, the kernel runs every task on it, SIGINT detaches cleanly.
. /scenarios/lib.sh
. /scenarios/sched.inc

seq0=$(cat "$SX_SYSFS/enable_seq")
start_sched scx_rlfifo
wait_attached scx_rlfifo 5 || { sched_log scx_rlfifo; fail "scx_rlfifo did not attach within 5 s"; }
expect_eq "$(cat "$SX_SYSFS/switch_all")" 1 "switch_all"
expect_eq "$(cat "$SX_SYSFS/enable_seq")" $((seq0 + 1)) "enable_seq"
kill -0 "$SX_PID" || fail "scx_rlfifo exited after attaching"
echo "rss_kb=$(rss_kb "$SX_PID")"
ok "scx_rlfifo attached and running"

signal_sched INT
expect_eq "$SX_RC" 0 "exit code after SIGINT"
expect_eq "$(sx_state)" disabled "state after SIGINT"
expect_eq "$(sx_ops)" "" "attached scheduler after SIGINT"
grep -q "detached" /tmp/scx_rlfifo.log || { sched_log scx_rlfifo; fail "no detach line in the log"; }
sched_log scx_rlfifo
