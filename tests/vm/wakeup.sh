# wakeup.sh - scx_rustland's wakeup preemption in BPF: with one CPU hog per CPU, a periodic task
# (cyclictest, 400 wakeups after 2 ms of sleep each, a few microseconds of work) takes a hog's CPU
# at each wakeup without the round trip through user space: the BPF side's wake_preempts counter
# rises by at least half the wakeups, the hogs keep most of their CPUs' time, and with
# --no-wakeup-preempt (the server profile's setting) the counter stays at 0 and every wakeup
# goes to user space. scx_rlfifo, whose policy does not preempt, never turns it on.
# Then a frame loop beside a build (vmtool frames: each frame's render thread, in a short burst,
# wakes a helper thread that runs short bursts too): BPF decides at least as many wakeups as the
# helper had after a short burst, and the helper waits behind the render thread on its CPU there
# (wake_affine) unless its previous CPU runs a hog to preempt; neither with --no-wakeup-preempt
# nor under scx_rlfifo.
. /scenarios/lib/sched.sh

NCPU=$(nproc)
LOOPS=400

# run S MIN MAX ARGS...: the wake_preempts counter rises by MIN..MAX while the periodic task runs
# beside the hogs, into _rise
run() {
    S=$1 min=$2 max=$3
    shift 3
    args="$*"
    attach_fresh "$S" --stats 1 "$@"
    start_hogs
    sleep 2
    stats_counter "$S" wake_preempts
    before=$_n
    ran0=
    for _p in $HOG_PIDS; do ran0="$ran0 $(cpu_ms "$_p")"; done
    _sx_now
    t0=$_sx_cs
    cyclictest -t1 -i 2000 -l "$LOOPS" -q > /tmp/cyclictest.out 2>&1 \
        || { cat /tmp/cyclictest.out; fail "$S: cyclictest failed"; }
    _sx_now
    wall_ms=$(((_sx_cs - t0) * 10))
    ran=0
    set -- $ran0
    for _p in $HOG_PIDS; do
        ran=$((ran + $(cpu_ms "$_p") - $1))
        shift
    done
    # The next stats line, a second later, counts every wakeup of the run.
    sleep 2
    stats_counter "$S" wake_preempts
    _rise=$((_n - before))
    stop_hogs
    expect_eq "$(sx_ops)" "$S" "attached scheduler after the periodic task"
    echo "$S${args:+ $args}: $LOOPS wakeups beside $NCPU hogs in $wall_ms ms: wake_preempts +$_rise, the hogs ran $ran ms"
    [ "$_rise" -ge "$min" ] && [ "$_rise" -le "$max" ] \
        || { sched_log "$S"; fail "$S: wake_preempts rose by $_rise, not $min..$max"; }
    # The periodic task needs a few percent of one CPU and the scheduler some more (a tenth of
    # one): the hogs keep at least half of their CPUs' time, which a wakeup that held on to a
    # hog's CPU would not leave them.
    [ "$ran" -ge $((wall_ms * NCPU / 2)) ] \
        || { sched_log "$S"; fail "$S: the hogs ran $ran ms of $NCPU x $wall_ms ms"; }
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code after SIGINT"
}

# frames S yes|no ARGS...: during 3 s of a frame loop, BPF decides at least as many wakeups
# (wake_preempts plus wake_affine) as the helper had after a burst shorter than the scheduler's
# 1 ms minimum slice, counted by vmtool from the helper's CPU time as the scheduler counts it,
# and some of them wait behind their waker (yes), or none is decided there (no). A frame has
# two short wakeups when the host runs the guest at full speed, the tick's and the helper's,
# and BPF decided 1.1-1.8 a frame; a busy host stretches the guest's bursts (the helper's 200 us
# of work past 1 ms in some frames: BPF decided 0.9 a frame in one suite run), so the floor is
# the short wakeups there were, not the frames. None at all fails: nothing was checked.
frames() {
    S=$1 want=$2
    shift 2
    args="$*"
    attach_fresh "$S" --stats 1 "$@"
    sleep 1
    stats_counter "$S" wake_affine
    affine0=$_n
    stats_counter "$S" wake_preempts
    preempts0=$_n
    vmtool frames --rate "$RATE" --secs 3 --helper-us 200 > /tmp/frames.out 2>&1 \
        || { cat /tmp/frames.out; fail "$S: vmtool frames failed"; }
    done=$(sed -n 's/.* frames=\([0-9]*\) .*/\1/p' /tmp/frames.out)
    short=$(sed -n 's/.* helper_short_wakes=\([0-9]*\) .*/\1/p' /tmp/frames.out)
    [ -n "$done" ] && [ -n "$short" ] \
        || { cat /tmp/frames.out; fail "$S: no frames= or helper_short_wakes= in vmtool's output"; }
    sleep 2
    stats_counter "$S" wake_affine
    affine=$((_n - affine0))
    stats_counter "$S" wake_preempts
    preempts=$((_n - preempts0))
    expect_eq "$(sx_ops)" "$S" "attached scheduler after the frame loop"
    echo "$S${args:+ $args}: $done frames beside a build, the helper woke $short times after a" \
        "short burst: wake_affine +$affine, wake_preempts +$preempts"
    if [ "$want" = no ]; then
        [ $((affine + preempts)) -eq 0 ] \
            || { sched_log "$S"; fail "$S: BPF decided $affine + $preempts wakeups, not 0"; }
    else
        [ "$short" -gt 0 ] \
            || { cat /tmp/frames.out; fail "$S: no helper burst was short: the rule went unchecked"; }
        [ "$affine" -gt 0 ] && [ $((affine + preempts)) -ge "$short" ] \
            || { sched_log "$S"; fail "$S: BPF decided $affine + $preempts wakeups for $short short ones"; }
    fi
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code after SIGINT"
}

RATE=$(vmtool calibrate) || fail "vmtool calibrate failed"

echo "== scx_rustland"
run scx_rustland $((LOOPS / 2)) $((LOOPS * 2))
ok "scx_rustland: short wakeups preempt a CPU hog in BPF"
run scx_rustland 0 0 --no-wakeup-preempt
ok "scx_rustland --no-wakeup-preempt: every wakeup goes to user space"
echo "== scx_rlfifo"
run scx_rlfifo 0 0
ok "scx_rlfifo: no wakeup preemption"
echo "== frames"
frames scx_rustland yes
ok "scx_rustland: a short wakeup waits behind its short waker, decided in BPF"
frames scx_rustland no --no-wakeup-preempt
ok "scx_rustland --no-wakeup-preempt: no wakeup waits behind its waker in BPF"
frames scx_rlfifo no
ok "scx_rlfifo: no wakeup waits behind its waker in BPF"
