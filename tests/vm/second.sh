# second.sh - starting a second scheduler while one runs fails with a clear error naming the
# running one, and leaves the first attached.
. /scenarios/lib/sched.sh

start_sched scx_rlfifo
wait_attached scx_rlfifo 5 || { sched_log scx_rlfifo; fail "scx_rlfifo did not attach"; }
scx_rlfifo > /tmp/second.log 2>&1
rc=$?
cat /tmp/second.log
expect_eq "$rc" 5 "exit code of the second scheduler (BUSY)"
grep -q "another sched_ext scheduler (scx_rlfifo) is already attached" /tmp/second.log \
    || fail "the error does not name the running scheduler"
expect_eq "$(sx_ops)" scx_rlfifo "the first scheduler is still attached"
signal_sched INT
expect_eq "$SX_RC" 0 "exit code of the first scheduler"
