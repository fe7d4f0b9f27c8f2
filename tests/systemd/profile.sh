# profile.sh - SCX_PROFILE alone makes the service pick a scheduler that has the profile and
# start it with --profile; beside SCX_SCHEDULER it must be one of that scheduler's profiles,
# and SCX_FLAGS still override its tunables; reload and `scx-loader set --profile` swap it
# with the same MainPID, and `set --profile ""` back to the defaults; SCX_PROFILE_OVERRIDE in
# the service environment wins over the file; a typo or a profile the scheduler lacks stops
# check, start and set with one line and exit code 27.
. /scenarios/lib/service.sh

echo "== SCX_PROFILE alone"
conf "SCX_PROFILE=server"
start_ok scx_bpfland
expect_eq "$(prop StatusText)" "scx_bpfland running (flags: --profile server)" "StatusText"
journalctl -q --no-pager SYSLOG_IDENTIFIER=scx_bpfland -o cat | grep "attached in" | tail -n 1 \
    | grep -q "profile server, slice 2000-20000 us, lag 40000 us.*no wakeup preemption" \
    || { show_journal; fail "scx_bpfland's attach line does not show the server profile's tunables"; }
ok "scx_bpfland runs the server profile's tunables"
scx-loader status --json > /tmp/status.json
grep -q '"configured_profile": "server"' /tmp/status.json \
    || { cat /tmp/status.json; fail "status --json does not name the profile"; }
grep -q '"configured_running": true' /tmp/status.json \
    || { cat /tmp/status.json; fail "status --json does not say the chosen scheduler runs"; }
ok "scx-loader status names the profile and the scheduler it chose"
pid=$(prop MainPID)

echo "== reload to a scheduler and a profile, with a flag that overrides it"
conf "SCX_SCHEDULER=scx_rustland" "SCX_PROFILE=gaming" "SCX_FLAGS='-s 8000'"
mark
systemctl reload scx || { show_journal; fail "systemctl reload scx failed"; }
wait_status "scx_rustland running" 5 || { show_journal; fail "no switch to scx_rustland"; }
expect_eq "$(prop StatusText)" "scx_rustland running (flags: --profile gaming -s 8000)" "StatusText"
expect_eq "$(sx_ops)" scx_rustland "attached scheduler after reload"
expect_eq "$(prop MainPID)" "$pid" "MainPID after reload"
journalctl -q --no-pager SYSLOG_IDENTIFIER=scx_rustland -o cat | grep "attached in" | tail -n 1 \
    | grep -q "slice 2000-8000 us, profile gaming" \
    || { show_journal; fail "scx_rustland's attach line does not show gaming with -s 8000"; }
ok "the explicit -s 8000 overrides the gaming profile's slice, its minimum stays"

echo "== scx-loader set --profile: persisted, hot-swapped, the rest of the file kept"
out=$(scx-loader set --profile lowlatency)
expect_eq "$?" 0 "scx-loader set --profile exit code"
echo "$out"
grep -q "^SCX_PROFILE=lowlatency$" /etc/default/scx || { cat /etc/default/scx; fail "set did not write SCX_PROFILE"; }
grep -q "^SCX_SCHEDULER=scx_rustland$" /etc/default/scx || fail "set --profile changed SCX_SCHEDULER"
grep -q "^SCX_FLAGS='-s 8000'$" /etc/default/scx || fail "set --profile changed SCX_FLAGS"
expect_eq "$(prop StatusText)" "scx_rustland running (flags: --profile lowlatency -s 8000)" "StatusText after set"
expect_eq "$(prop MainPID)" "$pid" "MainPID after set"
cp /etc/default/scx /tmp/before-set
scx-loader set --profile hpc > /tmp/set.txt 2>&1
expect_eq "$?" 27 "exit code of set --profile hpc (scx_rustland lacks it)"
grep -q "scx_rustland has no profile hpc" /tmp/set.txt || { cat /tmp/set.txt; fail "set does not say why"; }
cmp -s /etc/default/scx /tmp/before-set || fail "a refused set changed the file"
expect_eq "$(sx_ops)" scx_rustland "attached scheduler after the refused set"
scx-loader set --profile "" > /tmp/set.txt 2>&1 || { cat /tmp/set.txt; fail "set --profile \"\" failed"; }
case "$(sed -n 's/^SCX_PROFILE=//p' /etc/default/scx)" in
"" | '""' | "''") ;;
*) cat /etc/default/scx; fail "set --profile \"\" kept a profile" ;;
esac
expect_eq "$(prop StatusText)" "scx_rustland running (flags: -s 8000)" "StatusText after clearing the profile"
expect_eq "$(prop MainPID)" "$pid" "MainPID after clearing the profile"
ok "set --profile \"\" returns to the scheduler's defaults, hot-swapped"
systemctl stop scx

echo "== SCX_PROFILE_OVERRIDE from the service environment"
conf "SCX_SCHEDULER=scx_bpfland" "SCX_PROFILE=server"
systemctl set-environment SCX_PROFILE_OVERRIDE=lowlatency
start_ok scx_bpfland
expect_eq "$(prop StatusText)" "scx_bpfland running (flags: --profile lowlatency)" "StatusText with the override"
systemctl unset-environment SCX_PROFILE_OVERRIDE
systemctl stop scx

echo "== a profile the scheduler lacks, a typo"
conf "SCX_SCHEDULER=scx_rlfifo" "SCX_PROFILE=gaming"
expect_start_fails 27 "scx_rlfifo has no profile gaming (its profiles: none): choose another profile, or a scheduler that has gaming: scx_bpfland, scx_rustland"
scx-loader check > /tmp/check.txt 2>&1
expect_eq "$?" 27 "exit code of scx-loader check"
grep -q "profile.*scx_rlfifo has no profile gaming" /tmp/check.txt || { cat /tmp/check.txt; fail "check does not name the profile problem"; }
conf "SCX_PROFILE=gamign"
expect_start_fails 27 '/etc/default/scx:1: unknown profile "gamign": did you mean gaming?'
conf "SCX_SCHEDULER=scx_rustland" "SCX_PROFILE=powersave"
expect_start_fails 27 "scx_rustland has no profile powersave (its profiles: gaming, lowlatency, server): choose another profile, or a scheduler that has powersave: scx_bpfland"
