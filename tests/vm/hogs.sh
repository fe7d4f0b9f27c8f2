# hogs.sh - one CPU hog per CPU and nothing else to run, under each user-space scheduler: a slice
# that ends while nothing waits is renewed in BPF, without the round trip through user space that
# left the CPU idle until the scheduler answered: the kernel switches the hogs in fewer times than
# their slices were renewed (/proc/PID/schedstat), where each slice cost a switch. Then eight
# loops that fork short-lived children join them: a new task's deadline is the policy's clock,
# ahead of a hog's at the end of its slice in the shared queue, yet each hog keeps a share.
. /scenarios/lib/sched.sh

NCPU=$(nproc)
SECS=4

# hog_slices: the hogs' switch-in counts summed, into _slices
hog_slices() {
    _slices=0
    for _p in $HOG_PIDS; do _slices=$((_slices + $(cpu_slices "$_p"))); done
}

check() {
    S=$1
    attach_fresh "$S" --stats 1
    start_hogs
    sleep 2
    stats_counter "$S" prev_kept
    kept0=$_n
    hog_slices
    slices0=$_slices
    sleep "$SECS"
    stats_counter "$S" prev_kept
    kept=$((_n - kept0))
    hog_slices
    switched=$((_slices - slices0))
    echo "$S: about $SECS s with $NCPU hogs: slices renewed in BPF $kept, hogs switched in by the kernel $switched times"

    forks=
    for _i in 1 2 3 4 5 6 7 8; do
        sh -c 'while :; do /bin/true; done' &
        forks="$forks $!"
    done
    sleep 1
    ran0=
    for _p in $HOG_PIDS; do ran0="$ran0 $(cpu_ms "$_p")"; done
    _sx_now
    t0=$_sx_cs
    sleep "$SECS"
    _sx_now
    wall_ms=$(((_sx_cs - t0) * 10))
    ran=
    least=
    set -- $ran0
    for _p in $HOG_PIDS; do
        _d=$(($(cpu_ms "$_p") - $1))
        shift
        ran="$ran $_d"
        [ -z "$least" ] || [ "$_d" -lt "$least" ] && least=$_d
    done
    # shellcheck disable=SC2086
    kill $forks
    # shellcheck disable=SC2086
    wait $forks 2>/dev/null
    stop_hogs
    echo "$S: $wall_ms ms with 8 fork loops beside the hogs: the hogs ran$ran ms"
    expect_eq "$(sx_ops)" "$S" "attached scheduler after the hogs"
    # A 20 ms slice ends 50 times a second; a fifth of them is plenty for the check.
    [ "$kept" -ge $((NCPU * SECS * 10)) ] \
        || { sched_log "$S"; fail "$S renewed only $kept slices of $NCPU hogs in $SECS s"; }
    [ "$switched" -lt "$kept" ] \
        || { sched_log "$S"; fail "$S: the hogs were switched in $switched times for $kept renewed slices"; }
    ok "$S renews a hog's slice when nothing waits"
    # A hog's fair share of the wall time is NCPU / (NCPU + 8), a fifth on 2 vCPUs; the floor is
    # half of that.
    [ "$least" -ge $((wall_ms / 10)) ] \
        || { sched_log "$S"; fail "$S: a hog ran only $least ms in $wall_ms ms beside fork loops"; }
    ok "$S: every hog keeps running beside fork loops"
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code after SIGINT"
}

for_each_sched check $SX_USERSPACE_SCHEDULERS
