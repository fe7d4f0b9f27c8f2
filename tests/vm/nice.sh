# nice.sh - two CPU hogs pinned to one CPU at nice 0 and nice 10 share it in the ratio of their
# kernel weights (1024:110 = 9.3), within 20%, on each scheduler that claims to honour nice.
. /scenarios/lib/sched.sh

measure() {
    taskset -c 0 sh -c 'while :; do :; done' &
    a=$!
    taskset -c 0 sh -c 'while :; do :; done' &
    b=$!
    renice -n 10 -p "$b" > /dev/null
    sleep 1
    a0=$(cpu_ms "$a")
    b0=$(cpu_ms "$b")
    sleep 6
    a1=$(cpu_ms "$a")
    b1=$(cpu_ms "$b")
    echo "schedstat (run_ns wait_ns slices): nice 0: $(cat /proc/$a/schedstat) nice 10: $(cat /proc/$b/schedstat)"
    kill "$a" "$b"
    wait "$a" "$b" 2>/dev/null
    da=$((a1 - a0))
    db=$((b1 - b0))
    [ "$db" -gt 0 ] || db=1
    ratio=$((da * 100 / db))
    echo "$1: nice 0 ran $da ms, nice 10 ran $db ms: ratio $((ratio / 100)).$(printf %02d $((ratio % 100)))"
}

measure EEVDF

check() {
    S=$1
    attach_or_fail "$S" --stats 2
    measure "$S"
    [ "$(sx_ops)" = "$S" ] || { sched_log "$S"; fail "$S was ejected during the measurement"; }
    [ "$ratio" -ge 745 ] && [ "$ratio" -le 1117 ] \
        || { signal_sched INT; sched_log "$S"; fail "$S: ratio $ratio/100 outside 7.45..11.17"; }
    ok "$S honours nice 10 against nice 0"
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code"
}

for_each_sched check $SX_FAIR_SCHEDULERS
