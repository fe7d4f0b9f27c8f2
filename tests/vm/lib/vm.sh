# lib/vm.sh - helpers for the VM scenarios; source it with `. /scenarios/lib/vm.sh`.
#
# Runs under busybox sh inside the test VM. Polling helpers use shell builtins only
# (`read` from sysfs and /proc/uptime), because every fork is slow under TCG.
# Time comes from /proc/uptime, so durations have a 10 ms resolution (busybox `date`
# has no %N).
#
#   sx_state                  print /sys/kernel/sched_ext/state
#   sx_ops                    print the attached scheduler's name (empty when none)
#   sx_now_ms                 print milliseconds since boot
#   wait_attached NAME SECS   wait until NAME is attached; prints attach_ms=<n>; 1 on timeout
#   wait_disabled SECS        wait until no scheduler is attached; prints detach_ms=<n>
#   wait_enable_seq N SECS    wait until enable_seq reaches N (it lags "enabled" a little)
#   ok MSG                    print "ok: MSG"
#   fail MSG                  print "FAIL: MSG" and the sched_ext state, then exit 1
#   expect_eq ACTUAL EXPECTED WHAT
#   sx_dump                   print every /sys/kernel/sched_ext file and the end of dmesg
#   selected WORD LIST        0 when LIST (space-separated) is empty or holds WORD

SX_SYSFS=/sys/kernel/sched_ext

selected() {
    [ -z "$2" ] && return 0
    for _sx_w in $2; do
        [ "$_sx_w" = "$1" ] && return 0
    done
    return 1
}

# _sx_read FILE: set _sx_val to the first line of FILE (empty if unreadable), no fork.
_sx_read() {
    _sx_val=
    if [ -r "$1" ]; then
        read -r _sx_val < "$1" || true
    fi
}

# _sx_now: set _sx_cs to centiseconds since boot, no fork.
_sx_now() {
    read -r _sx_up _sx_idle < /proc/uptime
    # "12.05" -> 12 * 100 + (105 - 100); the leading 1 keeps "05" from reading as octal.
    _sx_cs=$(( ${_sx_up%.*} * 100 + 1${_sx_up#*.} - 100 ))
}

sx_now_ms() {
    _sx_now
    echo $(( _sx_cs * 10 ))
}

sx_state() {
    _sx_read "$SX_SYSFS/state"
    echo "$_sx_val"
}

sx_ops() {
    _sx_read "$SX_SYSFS/root/ops"
    echo "$_sx_val"
}

ok() {
    echo "ok: $*"
}

sx_dump() {
    echo "--- sched_ext state ---"
    for _sx_f in "$SX_SYSFS"/* "$SX_SYSFS"/root/*; do
        [ -f "$_sx_f" ] || continue
        echo "$_sx_f:"
        sed 's/^/    /' "$_sx_f" 2>/dev/null
    done
    echo "--- dmesg | tail -30 ---"
    dmesg | tail -30
    echo "---"
}

fail() {
    echo "FAIL: $*"
    sx_dump
    exit 1
}

expect_eq() {
    if [ "$1" = "$2" ]; then
        ok "$3 = '$1'"
    else
        fail "$3: expected '$2', got '$1'"
    fi
}

# wait_attached NAME TIMEOUT_SECS
wait_attached() {
    _sx_now
    _sx_start=$_sx_cs
    _sx_limit=$(( ${2:-10} * 100 ))
    while :; do
        _sx_read "$SX_SYSFS/state"
        _sx_st=$_sx_val
        _sx_read "$SX_SYSFS/root/ops"
        _sx_now
        if [ "$_sx_st" = enabled ] && [ "$_sx_val" = "$1" ]; then
            echo "attach_ms=$(( (_sx_cs - _sx_start) * 10 ))"
            return 0
        fi
        if [ $(( _sx_cs - _sx_start )) -ge "$_sx_limit" ]; then
            echo "wait_attached: '$1' not attached after ${2:-10} s (state=$_sx_st ops=$_sx_val)"
            return 1
        fi
        usleep 20000
    done
}

# wait_enable_seq N TIMEOUT_SECS: wait until enable_seq reaches N. The kernel bumps it only
# after it reports the scheduler enabled, so right after wait_attached it may still be behind.
wait_enable_seq() {
    _sx_n=0
    while :; do
        _sx_read "$SX_SYSFS/enable_seq"
        [ "$_sx_val" -ge "$1" ] && return 0
        [ "$_sx_n" -ge $(( ${2:-2} * 50 )) ] && return 1
        usleep 20000
        _sx_n=$((_sx_n + 1))
    done
}

# wait_disabled TIMEOUT_SECS
wait_disabled() {
    _sx_now
    _sx_start=$_sx_cs
    _sx_limit=$(( ${1:-10} * 100 ))
    while :; do
        _sx_read "$SX_SYSFS/state"
        _sx_now
        if [ "$_sx_val" = disabled ]; then
            echo "detach_ms=$(( (_sx_cs - _sx_start) * 10 ))"
            return 0
        fi
        if [ $(( _sx_cs - _sx_start )) -ge "$_sx_limit" ]; then
            echo "wait_disabled: still '$_sx_val' after ${1:-10} s"
            return 1
        fi
        usleep 20000
    done
}
