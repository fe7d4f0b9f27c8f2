# auto.sh - SCX_PROFILE=auto follows power-profiles-daemon: power-saver switches the running
# scheduler to its powersave profile within 5 s by hot-swap (same MainPID), balanced switches
# back to its defaults but no sooner than 10 s after the last switch (the debounce); each switch
# is in the journal with SCX_PROFILE= and SCX_PROFILE_REASON=, and `scx-loader status` says what
# auto chose and why. Without the daemon (and without a mains supply, as in a VM) auto runs the
# defaults and says why, and a daemon started later is followed from then on.
. /scenarios/lib/service.sh

systemctl start power-profiles-daemon || fail "power-profiles-daemon does not start"
# Its newer name, or (before 0.20, Debian 12) only its first one.
PPD=org.freedesktop.UPower.PowerProfiles
PPD_PATH=/org/freedesktop/UPower/PowerProfiles
if ! busctl status "$PPD" > /dev/null 2>&1; then
    PPD=net.hadess.PowerProfiles
    PPD_PATH=/net/hadess/PowerProfiles
fi
echo "power-profiles-daemon: $PPD, profiles: $(busctl get-property "$PPD" "$PPD_PATH" "$PPD" Profiles | grep -o '"Profile" s "[a-z-]*"' | tr '\n' ' ')"
# set_power PROFILE: what `powerprofilesctl set PROFILE` does, with systemd's own bus client
set_power() {
    busctl set-property "$PPD" "$PPD_PATH" "$PPD" ActiveProfile s "$1" \
        || fail "cannot set power-profiles-daemon's ActiveProfile to $1"
    expect_eq "$(busctl get-property "$PPD" "$PPD_PATH" "$PPD" ActiveProfile)" "s \"$1\"" \
        "power-profiles-daemon's ActiveProfile"
}
# profile_entries PROFILE REASON: how many journal entries say the loader chose PROFILE for
# REASON (field matches, so no cursor is needed: bookworm's journalctl misses entries after a
# cursor in this scenario)
profile_entries() {
    journalctl --sync 2>/dev/null
    journalctl -q --no-pager -o cat SYSLOG_IDENTIFIER=scx-loader SCX_PROFILE="$1" \
        "SCX_PROFILE_REASON=$2" | wc -l
}
# journal_profile PROFILE REASON BEFORE: the loader logged one more such entry than BEFORE
journal_profile() {
    [ "$(profile_entries "$1" "$2")" -gt "$3" ] \
        || { show_journal; fail "no new journal entry with SCX_PROFILE=$1 SCX_PROFILE_REASON=$2"; }
}

set_power balanced

echo "== balanced: the scheduler's defaults"
conf "SCX_PROFILE=auto"
n_default=$(profile_entries default "power-profiles-daemon reports balanced")
start_ok scx_bpfland
expect_eq "$(prop StatusText)" \
    "scx_bpfland running (default flags); auto profile default: power-profiles-daemon reports balanced" \
    "StatusText"
journal_profile default "power-profiles-daemon reports balanced" "$n_default"
scx-loader status > /tmp/status.txt
grep -q "^auto: *the scheduler's defaults (power-profiles-daemon reports balanced)$" /tmp/status.txt \
    || { cat /tmp/status.txt; fail "scx-loader status does not say what auto chose"; }
pid=$(prop MainPID)
ok "auto starts scx_bpfland with its defaults on balanced"

echo "== power-saver: powersave within 5 s, same MainPID"
mark
n_saver=$(profile_entries powersave "power-profiles-daemon reports power-saver")
n_default=$(profile_entries default "power-profiles-daemon reports balanced")
t0=$(sx_now_ms)
set_power power-saver
wait_status "scx_bpfland running (flags: --profile powersave)" 5 \
    || { show_journal; fail "no switch to powersave within 5 s of power-saver"; }
expect_eq "$(prop StatusText)" \
    "scx_bpfland running (flags: --profile powersave); auto profile powersave: power-profiles-daemon reports power-saver" \
    "StatusText"
expect_eq "$(prop MainPID)" "$pid" "MainPID after the switch"
expect_eq "$(sx_ops)" scx_bpfland "attached scheduler"
journal_profile powersave "power-profiles-daemon reports power-saver" "$n_saver"
journalctl -q --no-pager SYSLOG_IDENTIFIER=scx_bpfland -o cat | grep "attached in" | tail -n 1 \
    | grep -q "profile powersave, .*packed" \
    || { show_journal; fail "scx_bpfland's attach line does not show the powersave profile"; }
scx-loader status --json > /tmp/status.json
grep -q '"auto_profile": "powersave"' /tmp/status.json \
    || { cat /tmp/status.json; fail "status --json does not name the chosen profile"; }
ok "power-saver switched to powersave in $(( $(sx_now_ms) - t0 )) ms"

echo "== balanced again: back to the defaults, 10 s after the last switch at the earliest"
set_power balanced
wait_status "scx_bpfland running (default flags)" 15 \
    || { show_journal; fail "no switch back to the defaults within 15 s of balanced"; }
t2=$(sx_now_ms)
[ $((t2 - t0)) -ge 10000 ] || fail "switched back $((t2 - t0)) ms after the last switch began: not debounced"
expect_eq "$(prop MainPID)" "$pid" "MainPID after the switch back"
journal_profile default "power-profiles-daemon reports balanced" "$n_default"
ok "balanced switched back after $((t2 - t0)) ms (debounced to 10 s)"
systemctl stop scx

echo "== no daemon: the defaults, and why"
systemctl stop power-profiles-daemon
systemctl mask power-profiles-daemon
start_ok scx_bpfland
case "$(prop StatusText)" in
*"auto profile default: no power-profiles-daemon on the system bus and no mains supply in /sys/class/power_supply") ;;
*) show_journal; fail "StatusText does not say why auto runs the defaults: $(prop StatusText)" ;;
esac
scx-loader status | grep "^auto:" || fail "scx-loader status has no auto line"
ok "without power-profiles-daemon auto runs the defaults and says why"

echo "== the daemon starts later: followed from then on"
systemctl unmask power-profiles-daemon
systemctl start power-profiles-daemon || fail "power-profiles-daemon does not start"
set_power power-saver
# The loader looks for the daemon again every 10 s.
wait_status "scx_bpfland running (flags: --profile powersave)" 15 \
    || { show_journal; fail "no switch to powersave within 15 s of the daemon starting"; }
ok "power-profiles-daemon, started after the loader, is followed"
set_power balanced
systemctl stop scx
