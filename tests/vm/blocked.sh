# blocked.sh - a user-space scheduler that blocks in the kernel while it holds tasks (here:
# logging into a full pipe whose reader only it can schedule, as a full journald socket does)
# must not stall them: once it has slept 50 ms, idle CPUs take its tasks back and the reader
# runs, which unblocks it. A stopped scheduler is still ejected (stall.sh).
. /scenarios/lib/sched.sh

check() {
    S=$1
    _sx_read "$SX_SYSFS/enable_seq"
    seq=$((_sx_val + 1))
    rm -f /tmp/logpipe
    mkfifo /tmp/logpipe
    # 64 bytes every 100 ms against a stats line every 10 ms: the one-page pipe stays full.
    vmtool drain 64 100 < /tmp/logpipe > "/tmp/$S.log" &
    reader=$!
    "$S" --stats 0.01 > /dev/null 2> /tmp/logpipe &
    SX_PID=$!
    wait_attached "$S" 5 || fail "$S did not attach within 5 s"
    wait_enable_seq "$seq" 2 || fail "enable_seq did not reach $seq after attaching"
    start_load /tmp/load
    blocked=0
    # 7 s: longer than the kernel's 5 s watchdog, which ejects a scheduler whose tasks wait.
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do
        usleep 500000
        w=$(cat "/proc/$SX_PID/wchan" 2>/dev/null)
        case "$w" in
            *pipe_write*) blocked=$((blocked + 1)) ;;
        esac
    done
    stop_load
    if ! still_attached "$S" "$seq"; then
        wait "$SX_PID"
        wait "$reader"
        sched_log "$S"
        fail "$S lost its attachment while blocked: $SX_ST"
    fi
    [ "$blocked" -gt 0 ] || fail "the scheduler never blocked writing its log (the test's premise)"
    ok "the scheduler was blocked writing its log in $blocked of 14 samples"
    ok "still attached after 7 s of blocking on its log"
    kill -INT "$SX_PID"
    wait "$SX_PID"
    rc=$?
    # The slow reader would take seconds to drain the full pipe; its log is not needed now.
    kill "$reader" 2>/dev/null
    wait "$reader"
    expect_eq "$rc" 0 "exit code"
}

for_each_sched check $SX_USERSPACE_SCHEDULERS
