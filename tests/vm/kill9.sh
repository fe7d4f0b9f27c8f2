# kill9.sh - kill -9 of a scheduler: the kernel falls back to EEVDF and the system keeps running.
. /scenarios/lib/sched.sh

check() {
    S=$1
    attach_loaded "$S"
    kill -9 "$SX_PID"
    wait "$SX_PID"
    expect_eq "$?" 137 "exit status of the killed scheduler"
    wait_disabled 5 || fail "sched_ext not disabled after kill -9"
    c0=$(load_counts /tmp/load)
    sleep 2
    c1=$(load_counts /tmp/load)
    stop_load
    progressed "$c0" "$c1"
    ok "tasks keep running on the default scheduler after kill -9"
}

for_each_sched check $SX_SCHEDULERS
