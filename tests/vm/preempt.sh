# preempt.sh - scx_bpfland's wakeup preemption for per-CPU kthreads, with one CPU hog per CPU:
# each write to /proc/sys/vm/stat_refresh wakes a bound kworker on every CPU and waits for them
# all; a kworker takes its CPU from the hog there rather than wait in the local queue for the
# rest of the hog's slice, so kthread_preempt rises by about one per write (at least one per
# two: a kworker that finds an interactive task on its CPU waits behind it). With
# --no-wakeup-preempt (the server profile's setting) neither kthread_preempt nor preempt (the
# interactive wakeups, here the writing shell's) rises.
. /scenarios/lib/sched.sh

S=scx_bpfland
WRITES=20

# next_stats: wait for the scheduler's next stats line; its line count into _lines
next_stats() {
    _lines=$(wc -l < "/tmp/$S.log")
    _n=0
    until [ "$(wc -l < "/tmp/$S.log")" -gt "$_lines" ]; do
        [ $_n -lt 100 ] || { sched_log "$S"; fail "$S: no stats line within 5 s"; }
        usleep 50000
        _n=$((_n + 1))
    done
    _lines=$(wc -l < "/tmp/$S.log")
}

# run MIN MAX ARGS...: kthread_preempt rises by MIN..MAX over the writes; preempt rises too
# unless MAX is 0
run() {
    min=$1 max=$2
    shift 2
    args="$*"
    attach_fresh "$S" --stats 1 "$@"
    start_hogs
    sleep 1
    # The line due next still counts what happened before the writes: start after it.
    next_stats
    from=$_lines
    w=0
    while [ $w -lt $WRITES ]; do
        echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null
        w=$((w + 1))
    done
    next_stats
    stats_sum "$S" kthread_preempt "$from"
    kthread=$_sum
    stats_sum "$S" preempt "$from"
    preempt=$_sum
    stop_hogs
    expect_eq "$(sx_ops)" "$S" "attached scheduler after the writes"
    echo "$S${args:+ $args}: $WRITES writes to stat_refresh beside $(nproc) hogs:" \
        "kthread_preempt +$kthread, preempt +$preempt"
    [ "$kthread" -ge "$min" ] && [ "$kthread" -le "$max" ] \
        || { sched_log "$S"; fail "$S: kthread_preempt rose by $kthread, not $min..$max"; }
    [ "$max" -gt 0 ] || [ "$preempt" -eq 0 ] \
        || { sched_log "$S"; fail "$S: preempt rose by $preempt with $args"; }
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code after SIGINT"
}

run $((WRITES / 2)) 100000
ok "$S: per-CPU kworkers take a hog's CPU when they wake"
run 0 0 --no-wakeup-preempt
ok "$S --no-wakeup-preempt: no wakeup preempts"
