# profiles.sh - every profile a scheduler lists (--list-profiles) attaches with its tunables and
# survives CPU hogs, forks and sleepers; a profile the scheduler lacks is refused with its own
# list of profiles, before anything attaches.
. /scenarios/lib/sched.sh

check() {
    S=$1
    profiles=$("$S" --list-profiles) || fail "$S --list-profiles failed"
    echo "$S profiles: ${profiles:-none}"
    for P in $profiles; do
        attach_fresh "$S" --profile "$P"
        start_load /tmp/load
        c0=$(load_counts /tmp/load)
        sleep 2
        c1=$(load_counts /tmp/load)
        stop_load
        progressed "$c0" "$c1"
        still_attached "$S" "$SX_ATTACH_SEQ" || { sched_log "$S"; fail "$S --profile $P: $SX_ST ops=$SX_OPS enable_seq=$SX_SEQ"; }
        ok "$S --profile $P survived the load"
        signal_sched INT
        expect_eq "$SX_RC" 0 "exit code"
        grep -q "attached in .*profile $P" "/tmp/$S.log" \
            || { sched_log "$S"; fail "the attach line does not name profile $P"; }
    done
    # A name from the shared vocabulary that this scheduler does not offer (or any, if none).
    missing=
    for P in gaming lowlatency server powersave hpc; do
        case " $(echo $profiles) " in *" $P "*) ;; *) missing=$P; break ;; esac
    done
    [ -n "$missing" ] || return 0
    "$S" --profile "$missing" --check-args > /tmp/refused.log 2>&1
    expect_eq "$?" 2 "exit code of --profile $missing (usage error)"
    grep -q -- "--profile" /tmp/refused.log || { cat /tmp/refused.log; fail "the refusal does not name --profile"; }
    if [ -n "$profiles" ]; then
        grep -q "possible values: $(echo $profiles | sed 's/ /, /g')" /tmp/refused.log \
            || { cat /tmp/refused.log; fail "the refusal does not list $S's profiles"; }
    fi
    expect_eq "$(sx_state)" disabled "state after the refused profile"
    echo "refused: $(head -n 1 /tmp/refused.log)"
}

for_each_sched check $SX_SCHEDULERS

# scx-loader list shows each scheduler's profiles.
scx-loader list > /tmp/list.txt 2>&1 || { cat /tmp/list.txt; fail "scx-loader list failed"; }
for S in $SX_SCHEDULERS; do
    profiles=$("$S" --list-profiles | tr '\n' ' ' | sed 's/ $//; s/ /, /g')
    [ -n "$profiles" ] || continue
    grep -q "^$S .*(profiles: $profiles)" /tmp/list.txt \
        || { cat /tmp/list.txt; fail "scx-loader list does not show $S's profiles ($profiles)"; }
done
ok "scx-loader list shows the profiles"
