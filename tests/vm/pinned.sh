# pinned.sh - a task pinned to one CPU only ever runs there, while CPU hogs keep every CPU busy.
. /scenarios/lib/sched.sh

check() {
    S=$1
    attach_or_fail "$S"
    start_load /tmp/load
    # Sample field 39 (the CPU it last ran on) of its own stat, with builtins only.
    taskset -c 1 sh -c '
        n=0; bad=0
        while [ $n -lt 1000 ]; do
            read -r l < /proc/self/stat
            l=${l##*) }
            set -- $l
            [ "${37}" = 1 ] || bad=$((bad + 1))
            n=$((n + 1))
        done
        echo "samples=$n elsewhere=$bad"
        [ $bad -eq 0 ]'
    rc=$?
    stop_load
    expect_eq "$rc" 0 "$S: the pinned task ran only on CPU 1"
    [ "$(sx_ops)" = "$S" ] || { sched_log "$S"; fail "$S was ejected"; }
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code"
}

for_each_sched check $SX_FAIR_SCHEDULERS
