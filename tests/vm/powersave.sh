# powersave.sh - the powersave profile leaves CPUs idle: the same periodic work (a quarter of
# the CPUs' time) runs beside EEVDF and beside each scheduler's --profile powersave in the same
# boot; under powersave the most idle half of the CPUs must stay at least 90 % idle, with the
# work EEVDF did done too; a task pinned to a CPU that powersave leaves idle still runs.
# EEVDF's own idle shares are shown for comparison, not asserted on: at this load it left the
# idlest half anywhere from 64 to 87 % idle from one boot to the next.
# vm-smp: 4
. /scenarios/lib/sched.sh

[ "$(nproc)" -ge 4 ] || fail "powersave needs 4 CPUs, this VM has $(nproc): boot it with --smp 4"

# duty LABEL: run the work (measured after 2 s, once powersave has settled on the CPUs the
# work needs), print its line, set DUTY_PERIODS and DUTY_IDLE (the mean idle
# share of the most idle half of the CPUs)
duty() {
    line=$(vmtool duty --warmup-secs 2 --secs 6 --workers 4 --work-us 4000 --period-us 16000) \
        || fail "vmtool duty failed under $1"
    echo "$1: $line"
    DUTY_PERIODS=${line#*periods=}
    DUTY_PERIODS=${DUTY_PERIODS%% *}
    idle=${line##*idle_pct=}
    set -- $(echo "$idle" | tr ',' '\n' | sort -rn)
    half=$(( $# / 2 ))
    sum=0
    i=0
    for v in "$@"; do
        [ $i -lt $half ] || break
        sum=$((sum + v))
        i=$((i + 1))
    done
    DUTY_IDLE=$((sum / half))
}

check() {
    S=$1
    case " $("$S" --list-profiles | tr '\n' ' ') " in
    *" powersave "*) ;;
    *) echo "$S has no powersave profile"; return 0 ;;
    esac
    duty eevdf
    e_periods=$DUTY_PERIODS
    e_idle=$DUTY_IDLE
    attach_fresh "$S" --profile powersave --stats 1
    duty "$S powersave"
    still_attached "$S" "$SX_ATTACH_SEQ" || { sched_log "$S"; fail "$S powersave: $SX_ST ops=$SX_OPS"; }
    # A task pinned to the last CPU of the fill order, which the work above left idle, still
    # runs there: it waits on its own CPU, not in a queue that only the active CPUs serve.
    last=$(( $(nproc) - 1 ))
    timeout 20 taskset -c "$last" sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done' \
        || { sched_log "$S"; fail "a task pinned to CPU $last did not finish under $S powersave"; }
    sleep 1.2
    grep "stats:" "/tmp/$S.log" | grep -q "pinned=[1-9]" \
        || { sched_log "$S"; fail "$S powersave never queued a task on its own CPU"; }
    ok "a task pinned to idle CPU $last ran"
    still_attached "$S" "$SX_ATTACH_SEQ" || { sched_log "$S"; fail "$S powersave: $SX_ST ops=$SX_OPS"; }
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code"
    grep "stats:" "/tmp/$S.log" | tail -n 3
    echo "idle of the idlest half: eevdf ${e_idle}%, $S powersave ${DUTY_IDLE}%; periods $e_periods / $DUTY_PERIODS"
    [ "$DUTY_IDLE" -ge 90 ] \
        || fail "$S powersave left the idlest half ${DUTY_IDLE}% idle (EEVDF ${e_idle}%), not 90%: it did not pack"
    [ $((DUTY_PERIODS * 10)) -ge $((e_periods * 9)) ] \
        || fail "$S powersave did $DUTY_PERIODS periods of work, EEVDF $e_periods: it did not keep up"
    ok "$S powersave packed the work"
}

for_each_sched check $SX_SCHEDULERS
