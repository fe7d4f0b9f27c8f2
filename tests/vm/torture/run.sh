# torture/run.sh - the guest half of `cargo xtask torture` and `cargo xtask soak`; not a scenario
# (only tests/vm/*.sh are).
#
# For EEVDF (no sched_ext scheduler: the control) and then each scheduler, in this one boot:
#   torture: stress-ng's scheduler-class stressors one after another, one worker per CPU, then
#            mixed runs (CPU hogs with fork/exec storms, affinity churn, nice changes, cgroup
#            moves between two cgroups of different cpu.weight, a SCHED_FIFO competitor, memory
#            pressure near the guest's limit);
#   soak:    the mixed runs in rotation for SCX_TORTURE_MINUTES.
# After every step the scheduler must still be the one attached: state enabled, root/ops its
# name, enable_seq unchanged, its process alive. At the end SIGINT must make it exit 0.
#
# Settings come from the kernel command line (environment of /init):
#   SCX_TORTURE_MODE     torture (default) or soak
#   SCX_TORTURE_SCHEDS   comma-separated schedulers (default: every scx_* in /usr/sbin)
#   SCX_TORTURE_STEPS    comma-separated steps to run (default: all; `mix-*` names mixed runs)
#   SCX_TORTURE_SECS     seconds per stressor (default 3)
#   SCX_TORTURE_MIX_SECS seconds per mixed run (default 10)
#   SCX_TORTURE_MINUTES  soak length per scheduler (default 10)
#   SCX_TORTURE_CONTROL  0 to skip the EEVDF control
#
# Each step prints one line: "torture: SCHED STEP ok|FAIL secs=N rc=N [why]". A failed step is
# followed by the scheduler's output and the kernel's log between "torture-log" lines. A soak
# prints a sample line after every step: "soak: SCHED t=S rss_kb=N cpu_ms=N wait_max_us=N
# delay_max_us=N".
. /scenarios/lib/sched.sh

MODE=${SCX_TORTURE_MODE:-torture}
SCHEDS=$(echo "${SCX_TORTURE_SCHEDS:-}" | tr ',' ' ')
[ -n "$SCHEDS" ] || SCHEDS=$SX_SCHEDULERS
STEPS=$(echo "${SCX_TORTURE_STEPS:-}" | tr ',' ' ')
SECS=${SCX_TORTURE_SECS:-3}
MIX_SECS=${SCX_TORTURE_MIX_SECS:-10}
MINUTES=${SCX_TORTURE_MINUTES:-10}
NCPU=$(nproc)
LAST_CPU=$((NCPU - 1))

STRESSORS="affinity clone exec fork futex mutex nice pthread race-sched resched schedpolicy sem
switch vfork vforkmany yield zombie spawn hrtimers cyclic sleep"
MIXES="mix-affinity mix-forkexec mix-churn mix-pinned mix-niced mix-nice mix-cgroup mix-fifo mix-rtsat
mix-memory"

# attached SCHED: 0 when SCHED is still the scheduler this run attached (or, for eevdf, none is)
attached() {
    still_attached "$1" "$SEQ"
}

# why SCHED: one line on what the kernel says happened
why() {
    _sx_read "$SX_SYSFS/state"
    _st=$_sx_val
    _sx_read "$SX_SYSFS/root/ops"
    _ops=$_sx_val
    _sx_read "$SX_SYSFS/enable_seq"
    _reason=$(dmesg | grep -A 1 'sched_ext: BPF scheduler .* disabled (.*)' | tail -n 2 \
        | sed 's/^\[ *[0-9.]*\] //' | tr '\n' ' ')
    _alive=dead
    [ "$1" != eevdf ] && kill -0 "$SX_PID" 2>/dev/null && _alive=alive
    echo "state=$_st ops=$_ops enable_seq=$SEQ->$_sx_val process=$_alive${_reason:+ kernel: $_reason}"
}

# show_logs SCHED: the scheduler's output and the kernel's log since the run started
show_logs() {
    echo "torture-log begin $1"
    if [ "$1" != eevdf ]; then
        # An ejection still in progress: its exit report (the kernel's dump) follows once the
        # kernel is done and the scheduler has exited (up to 15 s).
        _w=0
        while [ "$(sx_state)" != enabled ] && kill -0 "$SX_PID" 2> /dev/null && [ "$_w" -lt 75 ]; do
            usleep 200000
            _w=$((_w + 1))
        done
        grep -v ' dump: ' "/tmp/$1.log" | tail -n 20 | sed 's/^/    sched| /'
        # The kernel's dump of the ejection: where every runnable task waited.
        grep ' dump: ' "/tmp/$1.log" | head -n 400 | sed 's/^.* dump: /    dump| /'
    fi
    dmesg | grep -e 'sched_ext' -e 'BUG:' -e 'WARNING:' -e 'Oops' -e 'Out of memory' \
        | tail -n 30 | sed 's/^/    dmesg| /'
    echo "torture-log end $1"
}

# --- mixed loads: each runs for $1 seconds in the foreground and cleans up after itself ---

# Kill what a mixed run started in the background and reap it.
MIX_PIDS=
mix_stop() {
    # shellcheck disable=SC2086
    [ -n "$MIX_PIDS" ] && kill $MIX_PIDS 2>/dev/null
    # shellcheck disable=SC2086
    [ -n "$MIX_PIDS" ] && wait $MIX_PIDS 2>/dev/null
    MIX_PIDS=
}

hog() {
    sh -c 'while :; do :; done' &
    MIX_PIDS="$MIX_PIDS $!"
}

# start_hogs_forks N: N CPU hogs and a loop of forks (/bin/true), in MIX_PIDS
start_hogs_forks() {
    _i=0
    while [ "$_i" -lt "$1" ]; do
        hog
        _i=$((_i + 1))
    done
    _sx_counter_loop /tmp/mix.forks /bin/true 50 &
    MIX_PIDS="$MIX_PIDS $!"
}

# The reported case: workers pinned to a CPU and moved again, while others fork and hog.
mix_affinity() {
    stress-ng --cpu "$NCPU" --fork "$NCPU" --affinity "$NCPU" --affinity-pin -t "${1}s" -q
}

# as_nobody CMD ARGS...: run CMD as nobody in /tmp (stress-ng's exec and spawn refuse root)
as_nobody() {
    chmod 1777 /tmp
    # The guest's su passes no arguments after the user: the words (plain, no quoting needed)
    # go into the command line itself.
    su -s /bin/sh -c "cd /tmp && exec $*" nobody
}

mix_forkexec() {
    as_nobody stress-ng --cpu "$NCPU" --exec "$NCPU" --fork "$NCPU" --spawn 1 --vforkmany 1 \
        -t "${1}s" -q
}

# CPU hogs pinned to one CPU and back to all of them, many times a second, with a fork loop.
mix_churn() {
    start_hogs_forks "$NCPU"
    _sx_now
    _end=$((_sx_cs + $1 * 100))
    _c=0
    while [ "$_sx_cs" -lt "$_end" ]; do
        for _p in $MIX_PIDS; do
            taskset -p "$((_c % NCPU))" "$_p" > /dev/null 2>&1
        done
        usleep 20000
        for _p in $MIX_PIDS; do
            taskset -p -c "0-$LAST_CPU" "$_p" > /dev/null 2>&1
        done
        _c=$((_c + 1))
        _sx_now
    done
    mix_stop
    return 0
}

# hogs_forks_for N SECS: start_hogs_forks N beside what the caller started, for SECS seconds;
# then everything stops
hogs_forks_for() {
    start_hogs_forks "$1"
    sleep "$2"
    mix_stop
    return 0
}

# Two CPU hogs pinned to each CPU (taskset) and unpinned hogs and forks beside them: the
# unpinned ones must still get CPU time while every CPU has pinned work of its own.
mix_pinned() {
    _c=0
    while [ "$_c" -lt "$NCPU" ]; do
        taskset -c "$_c" sh -c 'while :; do :; done' &
        MIX_PIDS="$MIX_PIDS $!"
        taskset -c "$_c" sh -c 'while :; do :; done' &
        MIX_PIDS="$MIX_PIDS $!"
        _c=$((_c + 1))
    done
    hogs_forks_for "$NCPU" "$1"
}

# A nice 19 CPU hog among six plain hogs per CPU and a fork loop: the lowest weight there is
# (khugepaged runs at it) must still run every few seconds.
mix_niced() {
    nice -n 19 sh -c 'while :; do :; done' &
    MIX_PIDS="$MIX_PIDS $!"
    hogs_forks_for $((NCPU * 6)) "$1"
}

mix_nice() {
    stress-ng --cpu "$NCPU" --nice "$NCPU" --fork 1 -t "${1}s" -q
}

# Hogs and a fork loop moved between two cgroups of very different cpu.weight.
mix_cgroup() {
    _cg=/sys/fs/cgroup
    if [ ! -w "$_cg/cgroup.subtree_control" ]; then
        echo "no writable cgroup2 hierarchy at $_cg"
        return 1
    fi
    echo +cpu > "$_cg/cgroup.subtree_control" 2>/dev/null
    mkdir -p "$_cg/tortA" "$_cg/tortB"
    [ -w "$_cg/tortA/cpu.weight" ] && echo 10 > "$_cg/tortA/cpu.weight"
    [ -w "$_cg/tortB/cpu.weight" ] && echo 1000 > "$_cg/tortB/cpu.weight"
    start_hogs_forks $((NCPU + 1))
    _sx_now
    _end=$((_sx_cs + $1 * 100))
    _c=0
    while [ "$_sx_cs" -lt "$_end" ]; do
        for _p in $MIX_PIDS; do
            if [ $(((_c + _p) % 2)) = 0 ]; then
                echo "$_p" > "$_cg/tortA/cgroup.procs" 2>/dev/null
            else
                echo "$_p" > "$_cg/tortB/cgroup.procs" 2>/dev/null
            fi
        done
        _c=$((_c + 1))
        usleep 50000
        _sx_now
    done
    mix_stop
    rmdir "$_cg/tortA" "$_cg/tortB" 2>/dev/null
    return 0
}

# A SCHED_FIFO task that takes CPU 0 for most of the time while CPU hogs and forks compete.
mix_fifo() {
    stress-ng --cpu "$NCPU" --fork "$NCPU" -t "${1}s" -q &
    MIX_PIDS="$MIX_PIDS $!"
    stress-ng --cpu 1 --cpu-load 70 --taskset 0 --sched fifo --sched-prio 10 -t "${1}s" -q
    _rc=$?
    wait $MIX_PIDS
    MIX_PIDS=
    return $_rc
}

# A SCHED_FIFO hog on every CPU for the whole run (at least 8 s, longer than the 5 s watchdog):
# sched_ext tasks then run only in each CPU's deadline-server turns (50 ms a second), and a
# counter loop among them must still advance. The hogs run under a SCHED_FIFO 99 supervisor
# above them, which reads the counter and ends them on time, so the step cannot hang the guest.
mix_rtsat() {
    _secs=$1
    [ "$_secs" -ge 8 ] || _secs=8
    echo 0 > /tmp/mix.rt
    _sx_counter_loop /tmp/mix.rt ":" 20 &
    MIX_PIDS="$MIX_PIDS $!"
    sleep 1
    : > /tmp/mix.rtres
    # shellcheck disable=SC2016
    chrt -f 99 sh -c '
        . /scenarios/lib/vm.sh
        . /scenarios/lib/sched.sh
        ncpu=$1; secs=$2
        n=0; hogs=
        while [ "$n" -lt "$ncpu" ]; do
            chrt -f 50 sh -c "while :; do :; done" &
            hogs="$hogs $!"
            n=$((n + 1))
        done
        read_counter /tmp/mix.rt; a=$_sx_val
        sleep "$secs"
        read_counter /tmp/mix.rt; b=$_sx_val
        # The kernel must have run every hog as SCHED_FIFO 50 (fields 40 and 41 of stat: RT
        # priority and policy), or the step tested nothing.
        fifo=0
        for h in $hogs; do
            read -r l < "/proc/$h/stat"
            set -- ${l##*) }
            [ "${38}" = 50 ] && [ "${39}" = 1 ] && fifo=$((fifo + 1))
        done
        kill $hogs
        wait
        echo "$fifo $a $b" > /tmp/mix.rtres' rtsat "$NCPU" "$_secs"
    _rc=$?
    mix_stop
    read -r _fifo _a _b < /tmp/mix.rtres
    echo "counter ${_a:-?} -> ${_b:-?} while ${_fifo:-0} of $NCPU SCHED_FIFO hogs held the CPUs for ${_secs} s"
    [ "$_rc" = 0 ] && [ "${_fifo:-0}" = "$NCPU" ] && [ -n "$_b" ] && [ "$_b" -gt "${_a:-0}" ]
}

# Anonymous memory up to near what the guest has, with CPU hogs and forks.
mix_memory() {
    _avail=0
    while read -r _k _v _u; do
        [ "$_k" = "MemAvailable:" ] && _avail=$_v
    done < /proc/meminfo
    stress-ng --vm 1 --vm-bytes "$((_avail * 85 / 100))k" --vm-keep --cpu "$NCPU" \
        --fork 1 -t "${1}s" -q
}

# run_step SCHED STEP: run one step and check the scheduler survived it; 1 on failure
run_step() {
    _sx_now
    _t0=$_sx_cs
    case $2 in
    mix-*)
        _fn=$(echo "$2" | tr '-' '_')
        _limit=$((MIX_SECS * 4 + 30))
        $_fn "$MIX_SECS" > /tmp/step.out 2>&1 &
        ;;
    exec | spawn)
        # stress-ng refuses to run these two as root.
        _limit=$((SECS * 8 + 30))
        as_nobody stress-ng "--$2" "$NCPU" -t "${SECS}s" -q > /tmp/step.out 2>&1 &
        ;;
    *)
        _limit=$((SECS * 8 + 30))
        stress-ng "--$2" "$NCPU" -t "${SECS}s" -q > /tmp/step.out 2>&1 &
        ;;
    esac
    _step=$!
    # A step that outlives its time many times over has hung without an ejection: say what
    # every runnable or blocked task is doing, then end the step and this scheduler's run.
    _hung=0
    # Polled five times a second: a whole-second poll added half a second to every step.
    while kill -0 "$_step" 2> /dev/null; do
        usleep 200000
        _sx_now
        if [ $(((_sx_cs - _t0) / 100)) -ge "$_limit" ]; then
            _hung=1
            break
        fi
    done
    if [ "$_hung" = 1 ]; then
        echo "torture: $1 $2 FAIL secs=$_limit hung: still running after $_limit s $(why "$1")"
        hang_report "$1"
        sed 's/^/    out| /' /tmp/step.out | tail -n 10
        show_logs "$1"
        kill_all_but_us
        return 1
    fi
    wait "$_step"
    _rc=$?
    _sx_now
    _secs=$(((_sx_cs - _t0) / 100))
    if attached "$1"; then
        echo "torture: $1 $2 ok secs=$_secs rc=$_rc"
        # A stressor that failed on its own says why (the control shows whether EEVDF agrees).
        [ "$_rc" = 0 ] || sed 's/^/    out| /' /tmp/step.out | tail -n 3
        return 0
    fi
    echo "torture: $1 $2 FAIL secs=$_secs rc=$_rc $(why "$1")"
    sed 's/^/    out| /' /tmp/step.out | tail -n 10
    show_logs "$1"
    return 1
}

# hang_report SCHED: every task that is runnable (R) or blocked (D), with its kernel stack and
# scheduling class, and the scheduler's last stats
hang_report() {
    _hs=$1
    echo "torture-hang begin $_hs"
    for _d in /proc/[0-9]*; do
        read -r _l < "$_d/stat" 2> /dev/null || continue
        _comm=${_l#*(}
        _comm=${_comm%%)*}
        _rest=${_l##*) }
        # shellcheck disable=SC2086
        set -- $_rest
        case $1 in
        R | D)
            # Field 41 of stat is the policy (0 normal, 1 FIFO, 2 RR, 3 batch, 5 idle, 7 ext).
            _pol=$(echo "$_rest" | awk '{ print $39 }')
            echo "    task ${_d#/proc/} ($_comm) state=$1 policy=$_pol schedstat=$(cat "$_d/schedstat" 2> /dev/null)"
            sed 's/^/        /' "$_d/stack" 2> /dev/null | head -n 8
            ;;
        esac
    done
    [ "$_hs" = eevdf ] || grep 'stats:' "/tmp/$_hs.log" | tail -n 2 | sed 's/^/    sched| /'
    echo "torture-hang end $_hs"
}

# kill_all_but_us: SIGKILL every user process but init, this script and its ancestors
kill_all_but_us() {
    _keep=" 1 $$ "
    _p=$$
    while [ "$_p" -gt 1 ]; do
        _p=$(awk '/^PPid:/ { print $2 }' "/proc/$_p/status" 2> /dev/null)
        [ -n "$_p" ] || break
        _keep="$_keep$_p "
    done
    for _d in /proc/[0-9]*; do
        _p=${_d#/proc/}
        case $_keep in *" $_p "*) continue ;; esac
        # Kernel threads have no command line.
        [ -s "$_d/cmdline" ] || continue
        kill -KILL "$_p" 2> /dev/null
    done
    sleep 1
    wait 2> /dev/null
}

# delay_max_us: the worst task's mean wait per run since the last call (run delay and run
# count from /proc/PID/schedstat), in us; keeps the previous readings in /tmp/schedstat.prev
delay_max_us() {
    for _f in /proc/[0-9]*/schedstat; do
        _p=${_f#/proc/}
        read -r _run _delay _slices < "$_f" 2> /dev/null && echo "${_p%/schedstat} $_delay $_slices"
    done > /tmp/schedstat.now
    awk 'NR == FNR { d[$1] = $2; n[$1] = $3; next }
         ($1 in d) && $3 > n[$1] { w = ($2 - d[$1]) / ($3 - n[$1]); if (w > m) m = w }
         END { printf "%d\n", m / 1000 }' /tmp/schedstat.prev /tmp/schedstat.now 2> /dev/null \
        || echo 0
    mv /tmp/schedstat.now /tmp/schedstat.prev
}

# soak_sample SCHED T0: one line on the scheduler's memory, CPU and the longest waits: the
# scheduler's own measure (the largest task_wait_max of its stats lines since the last sample)
# and the kernel's (delay_max_us)
SOAK_LINES=0
soak_sample() {
    _sx_now
    if [ "$1" = eevdf ]; then
        echo "soak: eevdf t=$(((_sx_cs - $2) / 100)) rss_kb=0 cpu_ms=0 wait_max_us=0" \
            "delay_max_us=$(delay_max_us)"
        return
    fi
    _rss=$(rss_kb "$SX_PID")
    _cpu=$(cpu_ms "$SX_PID")
    _wait=$(awk -v skip="$SOAK_LINES" 'NR > skip && /task_wait_max=/ {
            sub(/.*task_wait_max=/, ""); sub(/us.*/, ""); if ($0 + 0 > m) m = $0 + 0 }
        END { print m + 0 }' "/tmp/$1.log")
    SOAK_LINES=$(wc -l < "/tmp/$1.log")
    echo "soak: $1 t=$(((_sx_cs - $2) / 100)) rss_kb=${_rss:-0} cpu_ms=${_cpu:-0}" \
        "wait_max_us=$_wait delay_max_us=$(delay_max_us)"
}

# run_sched SCHED: every step (or the soak) on SCHED; prints a summary line
run_sched() {
    _s=$1
    _failed=0
    _ran=0
    echo "== $_s ($MODE)"
    if [ "$_s" != eevdf ]; then
        [ "$(sx_state)" = disabled ] || wait_disabled 10 > /dev/null
        _next=$(($(cat "$SX_SYSFS/enable_seq") + 1))
        start_sched "$_s" --stats 10
        if ! wait_attached "$_s" 30 > /dev/null; then
            echo "torture: $_s attach FAIL $(why "$_s")"
            show_logs "$_s"
            signal_sched KILL 2>/dev/null
            return 1
        fi
        SEQ=$_next
        if ! wait_enable_seq "$SEQ" 5; then
            echo "torture: $_s attach FAIL enable_seq did not reach $SEQ $(why "$_s")"
            signal_sched KILL 2>/dev/null
            return 1
        fi
    fi
    if [ "$MODE" = soak ]; then
        _sx_now
        _soak0=$_sx_cs
        SOAK_LINES=0
        : > /tmp/schedstat.prev
        delay_max_us > /dev/null
        _end=$((_sx_cs + MINUTES * 6000))
        soak_sample "$_s" "$_soak0"
        while [ "$_sx_cs" -lt "$_end" ]; do
            for _m in $MIXES; do
                selected "$_m" "$STEPS" || continue
                _ran=$((_ran + 1))
                run_step "$_s" "$_m" || { _failed=$((_failed + 1)); break 2; }
                soak_sample "$_s" "$_soak0"
                _sx_now
                [ "$_sx_cs" -lt "$_end" ] || break
            done
        done
    else
        for _st in $STRESSORS $MIXES; do
            selected "$_st" "$STEPS" || continue
            _ran=$((_ran + 1))
            run_step "$_s" "$_st" || { _failed=$((_failed + 1)); break; }
        done
    fi
    if [ "$_s" != eevdf ]; then
        if kill -0 "$SX_PID" 2>/dev/null; then
            [ "$_failed" = 0 ] && sed 's/^/    sched| /' "/tmp/$_s.log" | grep -e 'wait' | tail -n 3
            signal_sched INT
            if [ "$SX_RC" = 0 ]; then
                echo "torture: $_s exit ok rc=0"
            else
                echo "torture: $_s exit FAIL rc=$SX_RC"
                show_logs "$_s"
                _failed=$((_failed + 1))
            fi
        else
            wait "$SX_PID"
            echo "torture: $_s exit FAIL rc=$? (the scheduler was gone before SIGINT)"
            _failed=$((_failed + 1))
        fi
        wait_disabled 10 > /dev/null || echo "torture: $_s detach FAIL $(why "$_s")"
    fi
    echo "torture: $_s summary steps=$_ran failed=$_failed"
}

for _tool in stress-ng taskset chrt; do
    command -v "$_tool" > /dev/null || { echo "FAIL: $_tool is not in the image"; exit 1; }
done

ORDER=$SCHEDS
[ "${SCX_TORTURE_CONTROL:-1}" = 0 ] || ORDER="eevdf $SCHEDS"
for s in $ORDER; do
    run_sched "$s"
done
echo "torture: done"
