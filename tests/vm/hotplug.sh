# hotplug.sh - a CPU goes offline and back while each scheduler runs under load: the kernel
# unloads it asking for a restart, and it is attached again within 5 s each time (the bound
# of a first attach: a restart loads and attaches the whole scheduler again), with the restart
# reported. Needs at least 3 vCPUs: cargo xtask test boots it with 4.
# vm-smp: 4
. /scenarios/lib/sched.sh

cpu=$(( $(nproc) - 1 ))
[ "$cpu" -ge 2 ] || fail "hotplug needs at least 3 CPUs, this VM has $(nproc): boot it with --smp 4"
online=/sys/devices/system/cpu/cpu$cpu/online

# reattached SEQ: wait up to 5 s for enable_seq to pass SEQ with $S attached again
reattached() {
    _t=0
    while [ $_t -lt 250 ]; do
        _sx_read "$SX_SYSFS/enable_seq"
        _seq=$_sx_val
        if [ "$_seq" -gt "$1" ] && [ "$(sx_state)" = enabled ] && [ "$(sx_ops)" = "$S" ]; then
            echo "reattach_ms=$((_t * 20))"
            return 0
        fi
        usleep 20000
        _t=$((_t + 1))
    done
    return 1
}

check() {
    S=$1
    attach_or_fail "$S"
    start_load /tmp/load
    sleep 1
    for v in 0 1; do
        seq=$(cat "$SX_SYSFS/enable_seq")
        echo "$v" > "$online" || fail "could not write $v to $online"
        reattached "$seq" || { stop_load; sched_log "$S"; fail "$S not attached again within 5 s of cpu$cpu online=$v"; }
        kill -0 "$SX_PID" || fail "$S exited instead of restarting"
        sleep 1
    done
    stop_load
    signal_sched INT
    sched_log "$S"
    expect_eq "$SX_RC" 0 "$S exit code after SIGINT"
    n=$(grep -c "the kernel asked for a restart" "/tmp/$S.log")
    expect_eq "$n" 2 "restarts reported"
}

for_each_sched check $SX_SCHEDULERS
