# partial.sh - with --partial only tasks that opted in with SCHED_EXT run on the scheduler;
# everything else stays on EEVDF.
. /scenarios/lib/sched.sh

check() {
    S=$1
    attach_or_fail "$S" --partial
    expect_eq "$(cat "$SX_SYSFS/switch_all")" 0 "switch_all in partial mode"
    sh -c 'while :; do :; done' &
    normal=$!
    vmtool ext sh -c 'while :; do :; done' &
    ext=$!
    sleep 1
    expect_eq "$(vmtool policy "$normal")" 0 "policy of an ordinary task (SCHED_NORMAL)"
    expect_eq "$(vmtool policy "$ext")" 7 "policy of the opted-in task (SCHED_EXT)"
    grep -q "ext" "/proc/$ext/sched" && grep -i "ext\." "/proc/$ext/sched" | head -3
    n0=$(cpu_ticks "$ext")
    sleep 2
    n1=$(cpu_ticks "$ext")
    [ "$n1" -gt "$n0" ] || fail "the SCHED_EXT task made no progress"
    ok "the SCHED_EXT task runs ($n0 -> $n1 ticks)"
    kill "$normal" "$ext"
    wait "$normal" "$ext" 2>/dev/null
    expect_eq "$(sx_ops)" "$S" "still attached"
    signal_sched INT
    expect_eq "$SX_RC" 0 "exit code"
}

for_each_sched check $SX_SCHEDULERS
