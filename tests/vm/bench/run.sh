# bench/run.sh - the guest half of `cargo xtask bench`; not a scenario (only tests/vm/*.sh are).
#
# Rounds of workloads, each round running every scheduler once and EEVDF (no sched_ext scheduler)
# once, in an order that rotates from round to round. Each set of workloads:
#   - hackbench (throughput of a fork-and-message storm), with the scheduler's own CPU time;
#   - stress-ng --cpu (throughput of CPU-bound work);
#   - cyclictest without -p (the wakeup latency of a SCHED_OTHER periodic task) while one
#     busy loop per CPU keeps every CPU busy, with a latency histogram;
#   - vmtool frames (a game-like frame loop beside a build: frames missed, background work done);
#   - vmtool requests at half and at full load (a schbench-style server: wakeup and request
#     latency, requests per second).
# With SCX_BENCH_PROFILES=1 (`cargo xtask bench --profiles`) each profile of each scheduler
# (`--list-profiles`) runs as an entry of its own, SCHED+PROFILE, on the workloads of its
# metric only (gaming: frames; lowlatency: cyclictest; server: hackbench, stress-ng and
# requests; powersave: vmtool duty, a quarter of the CPUs' time in fixed periodic work, with
# each CPU's idle share; hpc: stress-ng --matrix with the migrations of its workers), and EEVDF
# runs all of them.
# The vmtool workloads do calibrated work: the steps per microsecond are measured once, on
# EEVDF before any scheduler runs, so every scheduler is asked for the same work.
#
# Settings come from the kernel command line (environment of /init):
#   SCX_BENCH_RUNS    rounds (default 3)
#   SCX_BENCH_SCHEDS  comma-separated schedulers (default: every scx_* in /usr/sbin)
#   SCX_BENCH_QUICK   1 for shorter workloads
#   SCX_BENCH_PROFILES 1 for the profiles of each scheduler
#   SCX_BENCH_WORKLOADS comma-separated workloads to run (default: all of the run's)
#
# Records ("TOOL SCHED RUN | TEXT") collect in a file, the short ones are shown as they come, and
# all of them are printed at the end between the VM runner's data markers for the host to parse.
# The numbers themselves are parsed on the host, from the tools' own output.
. /scenarios/lib/sched.sh

RUNS=${SCX_BENCH_RUNS:-3}
QUICK=${SCX_BENCH_QUICK:-0}
PROFILES=${SCX_BENCH_PROFILES:-0}
ONLY=$(echo "${SCX_BENCH_WORKLOADS:-}" | tr ',' ' ')
SCHEDS=$(echo "${SCX_BENCH_SCHEDS:-}" | tr ',' ' ')
[ -n "$SCHEDS" ] || SCHEDS=$SX_SCHEDULERS
NCPU=$(nproc)

if [ "$QUICK" = 1 ]; then
    HB_ARGS="-g 2 -l 50"
    ST_SECS=2
    CY_INTERVAL=10000
    CY_LOOPS=150
    FR_SECS=4
    RQ_SECS=2
    DU_SECS=3
    MX_SECS=5
else
    HB_ARGS="-g 4 -l 150"
    ST_SECS=5
    CY_INTERVAL=10000
    CY_LOOPS=500
    FR_SECS=10
    RQ_SECS=5
    DU_SECS=6
    MX_SECS=8
fi
# The requests load levels, LOAD:THINK_US (1 ms of work per request, 2 workers per message
# thread, a message thread per CPU). Sized under EEVDF by the CPU busy share the workload
# reports: 3 ms keeps about half of the CPUs busy, none keeps them all busy (with a think time
# of 1 ms, nominally 100 %, the waits of the closed loop left them about 60 % busy).
RQ_LEVELS="50:3000 100:0"
RQ_LOADS=$(for _l in $RQ_LEVELS; do printf '%s ' "${_l%%:*}"; done)
# Latencies up to 500 ms get a bin of their own; beyond, only the maximum is known. The file has
# a line per bin: writing 100000 of them takes cyclictest about 0.3 s under TCG.
CY_HIST_MAX=500000

REC=/tmp/bench.rec
: > "$REC"

# rec TOOL SCHED RUN TEXT...: record, and show it
rec() {
    rec_quiet "$@"
    shift 3
    echo "bench: $_rt $_rs $_rr | $*"
}

# rec_quiet TOOL SCHED RUN TEXT...: record only
rec_quiet() {
    _rt=$1 _rs=$2 _rr=$3
    shift 3
    echo "$_rt $_rs $_rr | $*" >> "$REC"
}

# rec_file TOOL SCHED RUN FILE: one record per line of FILE, not shown
rec_file() {
    [ -r "$4" ] || return 0
    while IFS= read -r _rl; do
        rec_quiet "$1" "$2" "$3" "$_rl"
    done < "$4"
}

# sched_cpu_ns PID: CPU time of every thread of PID, in ns, into SX_CPU_NS (no fork)
sched_cpu_ns() {
    SX_CPU_NS=0
    for _f in /proc/"$1"/task/*/schedstat; do
        _ns=0
        [ -r "$_f" ] && read -r _ns _rest < "$_f"
        SX_CPU_NS=$((SX_CPU_NS + _ns))
    done
}

# ejected SCHED RUN WHAT: 0 when SCHED is still the attached scheduler of this run
ejected() {
    still_attached "${1%%+*}" "$SEQ" && return 1
    if [ "$1" = eevdf ]; then
        rec error "$1" "$2" "a sched_ext scheduler is attached during $3 (state=$SX_ST ops=$SX_OPS)"
        return 0
    fi
    rec eject "$1" "$2" "during=$3 state=$SX_ST ops=$SX_OPS enable_seq=$SEQ->$SX_SEQ"
    return 0
}

# wl_throughput SCHED RUN (and each wl_*): 1 when the scheduler was ejected or a tool failed
# hackbench, with the scheduler's CPU time over the same wall time, and stress-ng --cpu
wl_throughput() {
    _s=$1 _r=$2
    [ "$_s" = eevdf ] || sched_cpu_ns "$SX_PID"
    _c0=$SX_CPU_NS
    _sx_now
    _t0=$_sx_cs
    # shellcheck disable=SC2086
    hackbench $HB_ARGS > /tmp/hackbench.out 2>&1
    _rc=$?
    _sx_now
    _t1=$_sx_cs
    [ "$_s" = eevdf ] || sched_cpu_ns "$SX_PID"
    rec_file hackbench "$_s" "$_r" /tmp/hackbench.out
    grep '^Time:' /tmp/hackbench.out
    rec hackbench-rc "$_s" "$_r" "$_rc"
    if [ "$_s" = eevdf ]; then
        rec cost "$_s" "$_r" "wall_ms=$(((_t1 - _t0) * 10))"
    else
        rec cost "$_s" "$_r" "wall_ms=$(((_t1 - _t0) * 10)) cpu_ns=$((SX_CPU_NS - _c0))"
    fi
    ejected "$_s" "$_r" hackbench && return 1
    [ "$_rc" = 0 ] || return 1

    stress-ng --cpu "$NCPU" --timeout "${ST_SECS}s" --metrics-brief > /tmp/stress.out 2>&1
    _rc=$?
    rec_file stress-ng "$_s" "$_r" /tmp/stress.out
    grep -e ' bogo ops' -e '] cpu ' /tmp/stress.out
    rec stress-ng-rc "$_s" "$_r" "$_rc"
    ejected "$_s" "$_r" stress-ng && return 1
    [ "$_rc" = 0 ] || return 1
}

# cyclictest under one busy loop per CPU
wl_latency() {
    _s=$1 _r=$2
    start_hogs
    cyclictest -t1 -i "$CY_INTERVAL" -l "$CY_LOOPS" -q -h "$CY_HIST_MAX" \
        --histfile=/tmp/cyclictest.hist > /tmp/cyclictest.out 2>&1 &
    _cy=$!
    # The policy of every cyclictest thread, once the measuring thread exists (field 41 of
    # stat; 0 is SCHED_OTHER).
    _pol=
    _try=0
    while [ "$_try" -lt 50 ]; do
        _pol=
        for _f in /proc/"$_cy"/task/*/stat; do
            [ -r "$_f" ] || continue
            read -r _l < "$_f"
            _l=${_l##*) }
            # shellcheck disable=SC2086
            set -- $_l
            _pol="$_pol ${39}"
        done
        [ "$(echo $_pol | wc -w)" -ge 2 ] && break
        usleep 100000
        _try=$((_try + 1))
    done
    wait "$_cy"
    _rc=$?
    stop_hogs
    rec cyclictest-policy "$_s" "$_r" "$_pol"
    rec_file cyclictest-out "$_s" "$_r" /tmp/cyclictest.out
    rec cyclictest-rc "$_s" "$_r" "$_rc"
    # The bins that hold samples, then the summary at the end of the file without the list of
    # overflowing cycles, as one line with ';' between lines. Counts are printed as %06lu, so
    # " 000000" marks an empty bin; fixed-string grep is ten times faster than a regex here.
    rec_quiet cyclictest "$_s" "$_r" "$({ grep -F -v -e ' 000000' -e '#' /tmp/cyclictest.hist
        tail -n 8 /tmp/cyclictest.hist | grep -v '^# Thread'; } | tr '\n' ';')"
    tail -n 8 /tmp/cyclictest.hist | grep -e '^# Max' -e '^# Histogram Overflows'
    ejected "$_s" "$_r" cyclictest && return 1
    [ "$_rc" = 0 ] || return 1
}

# run_vmtool TOOL SCHED RUN ARGS...: vmtool TOOL ARGS, its last line recorded as TOOL and its
# exit code as TOOL-rc; 1 when it failed or the scheduler was ejected
run_vmtool() {
    _vt=$1 _s=$2 _r=$3
    shift 3
    vmtool "$_vt" "$@" > "/tmp/$_vt.out" 2>&1
    _rc=$?
    rec "$_vt" "$_s" "$_r" "$(tail -n 1 "/tmp/$_vt.out")"
    rec "$_vt-rc" "$_s" "$_r" "$_rc"
    ejected "$_s" "$_r" "$_vt" && return 1
    [ "$_rc" = 0 ]
}

wl_frames() {
    run_vmtool frames "$1" "$2" --rate "$RATE" --secs "$FR_SECS"
}

wl_requests() {
    _s=$1 _r=$2
    for _level in $RQ_LEVELS; do
        _load=${_level%%:*}
        vmtool requests --rate "$RATE" --secs "$RQ_SECS" --load-pct "$_load" \
            --think-us "${_level#*:}" > /tmp/requests.out 2>&1
        _rc=$?
        _line=$(tail -n 1 /tmp/requests.out)
        rec_quiet requests "$_s" "$_r" "$_line"
        echo "bench: requests $_s $_r | ${_line%% hist=*}"
        rec requests-rc "$_s" "$_r" "load_pct=$_load rc=$_rc"
        ejected "$_s" "$_r" "requests at $_load%" && return 1
        [ "$_rc" = 0 ] || return 1
    done
}

# vmtool duty: one worker per CPU, each 4 ms of CPU time every 16 ms (a quarter of the CPUs),
# measured after 2 s
wl_duty() {
    run_vmtool duty "$1" "$2" --warmup-secs 2 --secs "$DU_SECS" --workers "$NCPU" \
        --work-us 4000 --period-us 16000
}

# stress-ng --matrix, one worker per CPU, and how often its workers migrated once they run:
# their migrations per second from 1 s after the start (or from when all of its workers run,
# if a slow host forks them later, up to 2 s) to 3 s before the end (the placement of new
# workers is the same for every scheduler and not what hpc's stickiness is about). Reading
# /proc takes the shell a second beside four CPU hogs under TCG, so the last reading starts
# early enough to end before the workers do.
wl_matrix() {
    _s=$1 _r=$2
    stress-ng --matrix "$NCPU" --timeout "${MX_SECS}s" --metrics-brief > /tmp/matrix.out 2>&1 &
    _mx=$!
    sleep 1
    _sx_now
    _c0=$_sx_cs
    migrations_of stress-ng-matri
    while [ "$_workers" -lt "$NCPU" ] && [ "$_sx_cs" -lt $((_c0 + 100)) ]; do
        sleep 0.1
        migrations_of stress-ng-matri
        _sx_now
    done
    _m0=$_migr _w0=$_workers _c1=$_sx_cs
    _cs=$(( (MX_SECS - 4) * 100 - (_c1 - _c0) ))
    [ "$_cs" -ge 10 ] || _cs=10
    sleep "$((_cs / 100)).$((_cs % 100 / 10))"
    migrations_of stress-ng-matri
    _sx_now
    _cs=$((_sx_cs - _c1))
    _secs="$((_cs / 100)).$((_cs % 100 / 10))"
    wait "$_mx"
    _rc=$?
    rec_file matrix "$_s" "$_r" /tmp/matrix.out
    grep -e ' bogo ops' -e '] matrix ' /tmp/matrix.out
    # A worker that ended or started in between would skew the difference: no figure then.
    if [ "$_workers" = "$_w0" ]; then
        rec migrations "$_s" "$_r" "migrations=$((_migr - _m0)) workers=$_workers secs=$_secs"
    else
        rec migrations "$_s" "$_r" "migrations=0 workers=0 secs=$_secs"
    fi
    rec matrix-rc "$_s" "$_r" "$_rc"
    ejected "$_s" "$_r" matrix && return 1
    [ "$_rc" = 0 ] || return 1
}

# The workloads that judge each profile; EEVDF and a scheduler without a profile run the set of
# the run (all of them with SCX_BENCH_PROFILES=1).
kinds_of() {
    case "$1" in
    gaming) echo frames ;;
    lowlatency) echo latency ;;
    server) echo throughput requests ;;
    powersave) echo duty ;;
    hpc) echo matrix ;;
    *)
        if [ "$PROFILES" = 1 ]; then
            echo throughput latency frames requests duty matrix
        else
            echo throughput latency frames requests
        fi
        ;;
    esac
}

# workloads SCHED RUN PROFILE: the workloads of PROFILE (all with none) that SCX_BENCH_WORKLOADS
# leaves in; 1 when the scheduler was ejected or a tool failed to run
workloads() {
    for _k in $(kinds_of "$3"); do
        selected "$_k" "$ONLY" || continue
        "wl_$_k" "$1" "$2" || return 1
    done
    return 0
}

# measure ENTRY RUN: one set of workloads on a scheduler, SCHED or SCHED+PROFILE (or on EEVDF
# when ENTRY is eevdf)
measure() {
    _me=$1 _mr=$2
    _ms=${_me%%+*}
    _mp=
    [ "$_ms" = "$_me" ] || _mp=${_me#*+}
    read -r _up _idle < /proc/uptime
    echo "== round $_mr: $_me (at ${_up} s)"
    if [ "$_ms" = eevdf ]; then
        if [ "$(sx_state)" != disabled ]; then
            wait_disabled 10 > /dev/null \
                || { rec error eevdf "$_mr" "sched_ext is $(sx_state), not disabled"; return; }
        fi
        workloads eevdf "$_mr"
        rec end eevdf "$_mr" "rc=$?"
        return
    fi
    if [ ! -x "/usr/sbin/$_ms" ]; then
        rec error "$_me" "$_mr" "no /usr/sbin/$_ms in the image"
        return
    fi
    # enable_seq is bumped only after the kernel reports the scheduler enabled: expect the
    # next value rather than reading it right after attaching.
    SEQ=$(($(cat "$SX_SYSFS/enable_seq") + 1))
    # shellcheck disable=SC2086
    start_sched "$_ms" ${_mp:+--profile "$_mp"}
    _out=$(wait_attached "$_ms" 30)
    _arc=$?
    if [ "$_arc" != 0 ]; then
        signal_sched KILL 2>/dev/null
        rec error "$_me" "$_mr" "did not attach ($_out); exit code $SX_RC"
        rec_file sched-log "$_me" "$_mr" "/tmp/$_ms.log"
        wait_disabled 10 > /dev/null
        return
    fi
    if ! wait_enable_seq "$SEQ" 5; then
        rec error "$_me" "$_mr" "enable_seq did not reach $SEQ after attaching"
    fi
    _logged=$(grep -o 'attached in [0-9]* ms' "/tmp/$_ms.log" | head -n 1)
    _logged=${_logged#attached in }
    rec sched "$_me" "$_mr" "$_out attach_log_ms=${_logged% ms}"

    workloads "$_me" "$_mr" "$_mp"
    _wrc=$?
    _rss=
    _hwm=
    if [ -r "/proc/$SX_PID/status" ]; then
        while read -r _k _v _u; do
            [ "$_k" = "VmRSS:" ] && _rss=$_v
            [ "$_k" = "VmHWM:" ] && _hwm=$_v
        done < "/proc/$SX_PID/status"
    fi
    rec sched "$_me" "$_mr" "rss_kb=$_rss hwm_kb=$_hwm"
    signal_sched INT
    rec sched "$_me" "$_mr" "exit_rc=$SX_RC"
    if [ "$SX_RC" != 0 ] || [ "$_wrc" != 0 ]; then
        rec_file sched-log "$_me" "$_mr" "/tmp/$_ms.log"
    fi
    wait_disabled 10 > /dev/null || rec error "$_me" "$_mr" "still $(sx_state) after it exited"
    rec end "$_me" "$_mr" "rc=$_wrc"
}

rec meta - 0 "kernel=$(uname -r)"
rec meta - 0 "nproc=$NCPU"
rec meta - 0 "runs=$RUNS"
rec meta - 0 "quick=$QUICK"
rec meta - 0 "profiles=$PROFILES"
rec meta - 0 "hackbench=hackbench $HB_ARGS"
rec meta - 0 "stress=stress-ng --cpu $NCPU --timeout ${ST_SECS}s --metrics-brief"
rec meta - 0 "latency=cyclictest -t1 -i $CY_INTERVAL -l $CY_LOOPS -q -h $CY_HIST_MAX with $NCPU busy loops"
rec meta - 0 "hist_max_us=$CY_HIST_MAX"
rec meta - 0 "loops=$CY_LOOPS"
rec meta - 0 "frames=vmtool frames --secs $FR_SECS: 2 ms of calibrated work per 16.7 ms frame (0.5 ms on a helper thread), $NCPU CPU hogs and $NCPU forking compilers"
rec meta - 0 "requests=vmtool requests --secs $RQ_SECS --load-pct LOAD --think-us US, LOAD:US in {$(echo $RQ_LEVELS | tr ' ' ,)}: $NCPU message threads with 2 workers each, 1 ms of work per request"
rec meta - 0 "request_loads=$(echo $RQ_LOADS | tr ' ' ,)"

if [ -z "$SCHEDS" ]; then
    rec error - 0 "no sched_ext scheduler in the image"
fi
for _tool in hackbench stress-ng cyclictest vmtool; do
    command -v "$_tool" > /dev/null || rec error - 0 "$_tool is not in the image"
done
# On EEVDF, before any scheduler runs.
RATE=$(vmtool calibrate) || rec error - 0 "vmtool calibrate failed"
rec meta - 0 "rate=$RATE"

ENTRIES=$SCHEDS
if [ "$PROFILES" = 1 ]; then
    ENTRIES=
    for _s in $SCHEDS; do
        for _p in $("/usr/sbin/$_s" --list-profiles 2>/dev/null); do
            ENTRIES="$ENTRIES $_s+$_p"
        done
    done
    [ -n "$ENTRIES" ] || rec error - 0 "none of $SCHEDS has a profile"
fi
rec meta - 0 "scheds=$(echo $ENTRIES)"
rec meta - 0 "duty=vmtool duty --warmup-secs 2 --secs $DU_SECS --workers $NCPU --work-us 4000 --period-us 16000"
rec meta - 0 "matrix=stress-ng --matrix $NCPU --timeout ${MX_SECS}s --metrics-brief"
ORDER="eevdf $(echo $ENTRIES)"
NORDER=$(echo $ORDER | wc -w)
run=1
while [ "$run" -le "$RUNS" ]; do
    # Rotate the order by one each round, so no scheduler always follows the same one.
    # shellcheck disable=SC2086
    set -- $ORDER
    shift $(((run - 1) % NORDER))
    _rot="$*"
    # shellcheck disable=SC2086
    set -- $ORDER
    _i=0
    while [ "$_i" -lt $(((run - 1) % NORDER)) ]; do
        _rot="$_rot $1"
        shift
        _i=$((_i + 1))
    done
    for s in $_rot; do
        measure "$s" "$run"
    done
    run=$((run + 1))
done

echo "@@SCX data begin@@"
cat "$REC"
echo "@@SCX data end@@"
