# stall.sh - a stopped user-space scheduler holds tasks; the kernel's watchdog ejects it, and
# once resumed it reports the stall and exits non-zero.
. /scenarios/lib.sh
. /scenarios/sched.inc

start_sched scx_rlfifo
wait_attached scx_rlfifo 5 || { sched_log scx_rlfifo; fail "scx_rlfifo did not attach"; }
start_load /tmp/load
sleep 1
kill -STOP "$SX_PID"
wait_disabled 30 || fail "the watchdog did not eject the stopped scheduler within 30 s"
kill -CONT "$SX_PID"
wait "$SX_PID"
rc=$?
stop_load
sched_log scx_rlfifo
expect_eq "$rc" 11 "exit code after a stall (EJECTED_STALL)"
grep -q "ejected by the kernel (exit kind=error-stall" /tmp/scx_rlfifo.log \
    || fail "the stall was not reported as one"
ok "stall reported"
