# hpc.sh - the hpc profile keeps CPU-bound workers on their CPUs and no CPU idle: one stress-ng
# --matrix worker per CPU while a real-time task pinned to CPU 0 runs 3 ms in every 50. Each
# time it runs, the worker it interrupted goes back to the scheduler (SCX_ENQ_REENQ, reenq= in
# the stats; ops.cpu_release() or, from Linux 6.19 on, the hook of higher_class.bpf.h), and
# under --profile hpc it must come back to CPU 0, which must stay busy (at most 20 % idle; a
# worker taken by another CPU left it idle up to 86 % of the time).
# vm-smp: 4
#
# The workers' migrations are shown, with EEVDF's from the same boot, not asserted on: the
# guest's own tasks (kworkers, the shell reading /proc) move workers now and then under either
# scheduler; their rate is a benchmark's figure (`cargo xtask bench --profiles`).
. /scenarios/lib/sched.sh

NCPU=$(nproc)
[ "$NCPU" -ge 4 ] || fail "hpc needs 4 CPUs, this VM has $NCPU: boot it with --smp 4"

# cpu0_ticks: CPU 0's idle and total ticks from /proc/stat, in _idle and _total
cpu0_ticks() {
    while read -r _cpu _u _n _s _i _w _rest; do
        [ "$_cpu" = cpu0 ] || continue
        _idle=$((_i + _w))
        _total=$((_u + _n + _s + _i + _w))
        for _t in $_rest; do _total=$((_total + _t)); done
        return
    done < /proc/stat
}

# measure LABEL: the workers beside the real-time task; sets MIGR, WORKERS, IDLE0 (CPU 0's idle %)
measure() {
    stress-ng --matrix "$NCPU" --timeout 10s > /tmp/matrix.out 2>&1 &
    mx=$!
    sleep 1
    chrt -f 50 taskset -c 0 vmtool duty --secs 8 --workers 1 --work-us 3000 --period-us 50000 \
        > /dev/null &
    rt=$!
    sleep 1
    migrations_of stress-ng-matri
    m0=$_migr w0=$_workers
    cpu0_ticks
    i0=$_idle t0=$_total
    sleep 6
    migrations_of stress-ng-matri
    cpu0_ticks
    wait "$rt" "$mx"
    MIGR=$((_migr - m0))
    WORKERS="$w0/$_workers"
    IDLE0=$(( (_idle - i0) * 100 / (_total - t0) ))
    echo "$1: $WORKERS workers, $MIGR migrations in 6 s, CPU 0 ${IDLE0}% idle"
}

measure eevdf

check() {
    S=$1
    case " $("$S" --list-profiles | tr '\n' ' ') " in
    *" hpc "*) ;;
    *) echo "$S has no hpc profile"; return 0 ;;
    esac
    attach_fresh "$S" --profile hpc --stats 1
    measure "$S hpc"
    still_attached "$S" "$SX_ATTACH_SEQ" || { sched_log "$S"; fail "$S hpc: $SX_ST ops=$SX_OPS"; }
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code"
    grep "stats:" "/tmp/$S.log" | tail -n 1
    expect_eq "$WORKERS" "$NCPU/$NCPU" "stress-ng --matrix workers at both readings"
    stats_sum "$S" reenq
    reenq=$_sum
    [ "$reenq" -gt 0 ] \
        || { sched_log "$S"; fail "$S hpc: no task went back to the scheduler when the real-time task took CPU 0"; }
    echo "$S hpc: $reenq tasks re-enqueued when a higher class took their CPU"
    [ "$IDLE0" -le 20 ] \
        || { sched_log "$S"; fail "$S hpc: CPU 0 was ${IDLE0}% idle beside the real-time task (at most 20 %)"; }
    ok "$S hpc kept CPU 0 busy beside a real-time task"
}

for_each_sched check $SX_SCHEDULERS
