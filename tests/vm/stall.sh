# stall.sh - a stopped user-space scheduler holds tasks; the kernel's watchdog ejects it, and
# once resumed it reports the stall and exits non-zero.
. /scenarios/lib/sched.sh

check() {
    S=$1
    attach_loaded "$S"
    kill -STOP "$SX_PID"
    wait_disabled 30 || fail "the watchdog did not eject the stopped scheduler within 30 s"
    kill -CONT "$SX_PID"
    wait "$SX_PID"
    rc=$?
    stop_load
    sched_log "$S"
    expect_eq "$rc" 11 "exit code after a stall (EJECTED_STALL)"
    grep -q "ejected by the kernel (exit kind=error-stall" "/tmp/$S.log" \
        || fail "the stall was not reported as one"
    ok "stall reported"
}

for_each_sched check $SX_USERSPACE_SCHEDULERS
