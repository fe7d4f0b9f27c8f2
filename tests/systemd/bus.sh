# bus.sh - the service on the system bus (org.scx.Loader): introspection shows every member;
# as root a switch hot-swaps (same MainPID) and returns only once the kernel runs the new
# scheduler, announced by PropertiesChanged; modes run the profile (0: auto); a bad name, a
# rejected flag, a scheduler that cannot attach and a mode it lacks are named D-Bus errors while
# the old scheduler runs on, and a call while another runs is refused as busy; StopScheduler,
# StartScheduler, RestartScheduler, RestoreDefault; schedulers installed or removed meanwhile
# are listed; a kill -9 is announced as restarting then running. Unprivileged callers may read
# but not call, until a polkit rule grants their group the action; without polkitd only root
# may. Without a bus the service runs as before and says so once. The unit's exposure stays at
# most 2.0.
. /scenarios/lib/service.sh

DEST=org.scx.Loader
OBJ=/org/scx/Loader
IF=org.scx.Loader
ST=org.scx.Loader.Status1

# call METHOD SIG ARGS...: a method call as root, failing the scenario if it fails
call() {
    busctl call -- "$DEST" "$OBJ" "$IF" "$@" || { show_journal; fail "busctl call $* failed"; }
}
# expect_error NAME ARGS...: dbus-send ARGS fails with the D-Bus error NAME; prints its message
expect_error() {
    _name=$1
    shift
    _out=$(dbus-send --system --print-reply --dest="$DEST" "$OBJ" "$@" 2>&1) \
        && fail "dbus-send $* succeeded; expected $_name"
    case "$_out" in
        "Error $_name: "*) ok "$2 -> $_name: ${_out#Error $_name: }" ;;
        *) fail "dbus-send $* failed without $_name: $_out" ;;
    esac
}
# as_user USER CMD...: CMD with USER's uid, gid and groups
as_user() {
    _u=$1
    shift
    setpriv --reuid="$_u" --regid="$_u" --init-groups -- "$@"
}
# seen FILE TEXT SECS: FILE (a monitor's output) gets a line containing TEXT within SECS
seen() {
    _n=0
    while [ "$_n" -lt "$(( $3 * 10 ))" ]; do
        grep -qF -- "$2" "$1" && return 0
        sleep 0.1
        _n=$((_n + 1))
    done
    echo "--- $1 ---"
    cat "$1"
    fail "no announcement with '$2' within $3 s"
}

conf "SCX_SCHEDULER=scx_rlfifo"
start_ok scx_rlfifo
pid=$(prop MainPID)
journal_loader | grep -q "D-Bus interface org.scx.Loader on the system bus" \
    || { show_journal; fail "the loader does not say it serves the bus"; }

echo "== the unit's hardening stays with the bus open"
exposure=$(systemd-analyze security --offline=yes /usr/lib/systemd/system/scx.service 2>&1 \
    | sed -n 's/.*Overall exposure level for scx.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fail "systemd-analyze security gives no exposure level"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure level $exposure is over 2.0"
ok "exposure level $exposure (at most 2.0)"

echo "== introspection: every member"
busctl introspect "$DEST" "$OBJ" > /tmp/introspect.txt || fail "busctl introspect failed"
for member in .StartScheduler .StartSchedulerWithArgs .SwitchScheduler .SwitchSchedulerWithArgs \
    .StopScheduler .RestartScheduler .RestoreDefault .SchedulerModes .SchedulerModeArgs \
    .CurrentScheduler .SchedulerMode .CurrentSchedulerArgs .SupportedSchedulers \
    .DefaultScheduler .DefaultMode .State .LastExit .Profiles; do
    grep -q "^$member " /tmp/introspect.txt || { cat /tmp/introspect.txt; fail "introspection lacks $member"; }
done
grep -q "^.SwitchScheduler  *method  *su " /tmp/introspect.txt \
    || { grep SwitchScheduler /tmp/introspect.txt; fail "SwitchScheduler is not (su)"; }
grep -q "^.SchedulerModeArgs  *method  *s  *a(uas) " /tmp/introspect.txt \
    || { grep SchedulerModeArgs /tmp/introspect.txt; fail "SchedulerModeArgs is not s -> a(uas)"; }
ok "introspection shows all 18 members with their signatures"

expect_eq "$(bus_get $IF CurrentScheduler)" 's "scx_rlfifo"' "CurrentScheduler"
expect_eq "$(bus_get $ST State)" 's "running"' "State"
expect_eq "$(bus_get $IF DefaultScheduler)" 's "scx_rlfifo"' "DefaultScheduler"
expect_eq "$(bus_get $IF DefaultMode)" "u 0" "DefaultMode"
case "$(bus_get $IF SupportedSchedulers)" in
    *'"scx_bpfland"'*'"scx_rlfifo"'*'"scx_rustland"'*) ok "SupportedSchedulers: $(bus_get $IF SupportedSchedulers)" ;;
    *) fail "SupportedSchedulers: $(bus_get $IF SupportedSchedulers)" ;;
esac
expect_eq "$(busctl call $DEST $OBJ $IF SchedulerModes s scx_rlfifo)" "au 1 0" "SchedulerModes of scx_rlfifo"
expect_eq "$(busctl call $DEST $OBJ $IF SchedulerModes s scx_bpfland)" "au 6 0 1 2 3 4 5" \
    "SchedulerModes of scx_bpfland"
case "$(busctl call $DEST $OBJ $IF SchedulerModeArgs s scx_rustland)" in
    'a(uas) 4 0 0 1 2 "--profile" "gaming" 3 2 "--profile" "lowlatency" 4 2 "--profile" "server"') ok "SchedulerModeArgs of scx_rustland" ;;
    *) fail "SchedulerModeArgs of scx_rustland: $(busctl call $DEST $OBJ $IF SchedulerModeArgs s scx_rustland)" ;;
esac

echo "== SwitchSchedulerWithArgs: hot-swap, announced, returns once attached"
busctl monitor --match "type='signal',path='$OBJ',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'" \
    > /tmp/busmon.txt 2>&1 &
busmon=$!
scx-loader monitor --json >> /tmp/scxmon.txt 2>&1 &
scxmon=$!
seen /tmp/scxmon.txt '"event":"now"' 5
mark
call SwitchSchedulerWithArgs sas scx_rustland 2 --slice-us 8000
# Checked at once: the call returns only after the kernel runs the new scheduler.
expect_eq "$(sx_ops)" scx_rustland "attached scheduler when SwitchSchedulerWithArgs returns"
expect_eq "$(bus_get $IF CurrentScheduler)" 's "scx_rustland"' "CurrentScheduler after the switch"
expect_eq "$(bus_get $IF CurrentSchedulerArgs)" 'as 2 "--slice-us" "8000"' "CurrentSchedulerArgs"
expect_eq "$(prop MainPID)" "$pid" "MainPID after the switch"
seen /tmp/busmon.txt 'STRING "scx_rustland";' 5
seen /tmp/scxmon.txt '"CurrentScheduler":"scx_rustland"' 5
seen /tmp/scxmon.txt '"State":"reloading"' 5
ok "busctl monitor and scx-loader monitor saw the switch: $(grep -c PropertiesChanged /tmp/busmon.txt) signals"
expect_eq "$(bus_get $IF DefaultScheduler)" 's "scx_rlfifo"' "DefaultScheduler after a bus switch (the file's)"
grep -q "^SCX_SCHEDULER=scx_rlfifo$" /etc/default/scx || fail "a bus switch changed /etc/default/scx"

echo "== SwitchScheduler with a mode runs that profile"
call SwitchScheduler su scx_bpfland 1
expect_eq "$(sx_ops)" scx_bpfland "attached scheduler after SwitchScheduler scx_bpfland 1"
expect_eq "$(bus_get $IF SchedulerMode)" "u 1" "SchedulerMode"
expect_eq "$(bus_get $IF CurrentSchedulerArgs)" 'as 2 "--profile" "gaming"' "CurrentSchedulerArgs of mode 1"
cmdline=$(tr '\0' ' ' < "/proc/$(scheduler_pid)/cmdline")
case "$cmdline" in
    *" --profile gaming "*) ;;
    *) fail "the scheduler does not run with --profile gaming: $cmdline" ;;
esac
ok "scx_bpfland runs its gaming profile"

echo "== failures are named errors, and the old scheduler runs on"
expect_error org.scx.Loader.Error.InvalidScheduler $IF.SwitchScheduler string:scx_nosuch uint32:0
expect_error org.scx.Loader.Error.InvalidScheduler $IF.SwitchScheduler string:/bin/sh uint32:0
expect_error org.scx.Loader.Error.FlagsRejected $IF.SwitchSchedulerWithArgs string:scx_rustland array:string:--bogus
expect_error org.scx.Loader.Error.InvalidMode $IF.SwitchScheduler string:scx_rlfifo uint32:1
expect_error org.scx.Loader.Error.InvalidMode $IF.StartScheduler string:scx_bpfland uint32:9
install_broken
expect_error org.scx.Loader.Error.AttachFailed $IF.SwitchScheduler string:scx_broken uint32:0
case "$(bus_get $IF SupportedSchedulers)" in
    *'"scx_broken"'*) ok "a scheduler installed while the service runs is listed" ;;
    *) fail "SupportedSchedulers lacks the newly installed scx_broken: $(bus_get $IF SupportedSchedulers)" ;;
esac
expect_eq "$(busctl call $DEST $OBJ $IF SchedulerModes s scx_broken)" "au 1 0" "SchedulerModes of scx_broken"
rm -f /usr/sbin/scx_broken
# The service compares its list with /usr/sbin every 5 s.
n=0
while bus_get $IF SupportedSchedulers | grep -q '"scx_broken"'; do
    [ $n -lt 70 ] || fail "SupportedSchedulers still lists the removed scx_broken after 7 s"
    sleep 0.1
    n=$((n + 1))
done
ok "a removed scheduler leaves SupportedSchedulers"
expect_eq "$(sx_ops)" scx_bpfland "attached scheduler after the failed calls"
expect_eq "$(bus_get $IF CurrentScheduler)" 's "scx_bpfland"' "CurrentScheduler after the failed calls"
expect_eq "$(bus_get $ST State)" 's "running"' "State after the failed calls"
expect_eq "$(prop MainPID)" "$pid" "MainPID after the failed calls"

echo "== a call while another is carried out is refused as busy"
busctl call -- "$DEST" "$OBJ" "$IF" SwitchScheduler su scx_rlfifo 0 > /tmp/first.txt 2>&1 &
first=$!
n=0
until [ "$(bus_get $ST State)" = 's "reloading"' ]; do
    [ $n -lt 100 ] || fail "State never became reloading during a switch"
    sleep 0.05
    n=$((n + 1))
done
expect_error org.scx.Loader.Error.Busy $IF.SwitchScheduler string:scx_rustland uint32:0
wait "$first" || { cat /tmp/first.txt; fail "the first switch failed"; }
expect_eq "$(sx_ops)" scx_rlfifo "attached scheduler after the busy refusal (the first call's)"
call SwitchScheduler su scx_bpfland 1

echo "== StopScheduler"
call StopScheduler
expect_eq "$(sx_state)" disabled "sched_ext state after StopScheduler"
expect_eq "$(bus_get $ST State)" 's "stopped"' "State after StopScheduler"
expect_eq "$(bus_get $IF CurrentScheduler)" 's "unknown"' "CurrentScheduler after StopScheduler"
expect_eq "$(prop ActiveState)" active "ActiveState after StopScheduler"
scx-loader status > /tmp/status.txt
grep -q "^service: *stopped (nothing of ours attached)$" /tmp/status.txt \
    || { cat /tmp/status.txt; fail "scx-loader status does not show the stopped service"; }

echo "== StartScheduler in mode 0 (auto), StartSchedulerWithArgs, RestartScheduler"
call StartScheduler su scx_bpfland 0
expect_eq "$(sx_ops)" scx_bpfland "attached scheduler after StartScheduler from stopped"
expect_eq "$(bus_get $IF SchedulerMode)" "u 0" "SchedulerMode of mode 0"
case "$(prop StatusText)" in
    "scx_bpfland running"*"; auto profile "*) ok "mode 0 follows the power state: $(prop StatusText)" ;;
    *) fail "StartScheduler mode 0 does not run auto: $(prop StatusText)" ;;
esac
call StartSchedulerWithArgs sas scx_rustland 0
expect_eq "$(sx_ops)" scx_rustland "attached scheduler after StartSchedulerWithArgs"
case "$(prop StatusText)" in
    *"auto profile"*) fail "auto still runs after a start with arguments: $(prop StatusText)" ;;
esac
before=$(scheduler_pid)
call RestartScheduler
expect_eq "$(sx_ops)" scx_rustland "attached scheduler after RestartScheduler"
[ "$(scheduler_pid)" != "$before" ] || fail "RestartScheduler kept scheduler process $before"
expect_eq "$(prop MainPID)" "$pid" "MainPID after RestartScheduler"
ok "RestartScheduler started scx_rustland again as a new process"
call RestoreDefault
expect_eq "$(sx_ops)" scx_rlfifo "attached scheduler after RestoreDefault (the file's)"
expect_eq "$(bus_get $ST State)" 's "running"' "State after RestoreDefault"
expect_eq "$(prop MainPID)" "$pid" "MainPID after RestoreDefault"

echo "== kill -9 of the scheduler: restarting, then running again"
: > /tmp/scxmon.txt
victim=$(scheduler_pid) || fail "no scheduler process"
kill -9 "$victim"
seen /tmp/scxmon.txt '"State":"restarting"' 10
seen /tmp/scxmon.txt '"LastExit":["signal","killed by signal 9 (SIGKILL)"' 10
seen /tmp/scxmon.txt '"State":"running"' 15
expect_eq "$(sx_ops)" scx_rlfifo "attached scheduler after the restart"
scx-loader status > /tmp/status.txt
grep -q "^last exit: *signal: killed by signal 9 (SIGKILL): " /tmp/status.txt \
    || { cat /tmp/status.txt; fail "scx-loader status does not show the last exit"; }
kill "$busmon" "$scxmon" 2>/dev/null

echo "== unprivileged: reading works, calling is refused, a polkit rule grants it"
useradd -M -s /bin/sh scxuser 2>/dev/null || id scxuser > /dev/null || fail "useradd scxuser failed"
groupadd -f scxadmin
useradd -M -s /bin/sh -G scxadmin scxadm 2>/dev/null || id scxadm > /dev/null || fail "useradd scxadm failed"
expect_eq "$(as_user scxuser busctl get-property $DEST $OBJ $IF CurrentScheduler)" 's "scx_rlfifo"' \
    "CurrentScheduler read by an unprivileged user"
out=$(as_user scxuser dbus-send --system --print-reply --dest=$DEST $OBJ $IF.StopScheduler 2>&1) \
    && fail "an unprivileged user stopped the scheduler"
case "$out" in
    "Error org.scx.Loader.Error.AccessDenied: "*"polkit does not grant it"*) ok "unprivileged StopScheduler: $out" ;;
    *) fail "unprivileged StopScheduler failed otherwise: $out" ;;
esac
expect_eq "$(sx_ops)" scx_rlfifo "attached scheduler after the refused call"
cat > /etc/polkit-1/rules.d/50-scx-test.rules <<'RULE'
polkit.addRule(function(action, subject) {
    if (action.id == "org.scx.Loader.manage" && subject.isInGroup("scxadmin"))
        return polkit.Result.YES;
});
RULE
systemctl restart polkit || fail "polkitd does not restart"
as_user scxadm busctl call $DEST $OBJ $IF SwitchScheduler su scx_rustland 0 \
    || { show_journal; fail "a member of scxadmin may not switch after the polkit rule"; }
expect_eq "$(sx_ops)" scx_rustland "attached scheduler after the scxadmin member's switch"
out=$(as_user scxuser dbus-send --system --print-reply --dest=$DEST $OBJ $IF.StopScheduler 2>&1) \
    && fail "a user outside scxadmin stopped the scheduler"
ok "a user outside scxadmin is still refused"
rm -f /etc/polkit-1/rules.d/50-scx-test.rules

echo "== without polkitd only root may call"
systemctl mask polkit > /dev/null 2>&1
systemctl stop polkit
out=$(as_user scxadm dbus-send --system --print-reply --dest=$DEST $OBJ $IF.StopScheduler 2>&1) \
    && fail "a user stopped the scheduler without polkitd"
case "$out" in
    "Error org.scx.Loader.Error.AccessDenied: "*"polkitd did not answer"*) ok "without polkitd: $out" ;;
    *) fail "without polkitd the call failed otherwise: $out" ;;
esac
call SwitchScheduler su scx_rlfifo 0
expect_eq "$(sx_ops)" scx_rlfifo "attached scheduler after root's switch without polkitd"
systemctl unmask polkit > /dev/null 2>&1
systemctl start polkit || fail "polkitd does not start again"
userdel scxuser; userdel scxadm; groupdel scxadmin 2>/dev/null
systemctl stop scx

echo "== no system bus: the service runs as before and says so once"
mkdir -p /run/systemd/system/scx.service.d
printf '[Service]\nEnvironment=DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/scx-no-bus\n' \
    > /run/systemd/system/scx.service.d/nobus.conf
systemctl daemon-reload
start_ok scx_rlfifo
[ "$(journal_loader | grep -c "D-Bus interface off: no system bus")" = 1 ] \
    || { show_journal; fail "the loader does not say once that the bus interface is off"; }
busctl status "$DEST" > /dev/null 2>&1 && fail "$DEST is on the bus without a bus"
DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/scx-no-bus scx-loader monitor > /tmp/nobus.txt 2>&1
expect_eq "$?" 32 "exit code of scx-loader monitor without a bus"
grep -q "needs the system bus" /tmp/nobus.txt || { cat /tmp/nobus.txt; fail "monitor does not say it needs the bus"; }
conf "SCX_SCHEDULER=scx_rustland"
systemctl reload scx || { show_journal; fail "reload without a bus failed"; }
expect_eq "$(sx_ops)" scx_rustland "attached scheduler after a reload without a bus"
systemctl stop scx
rm -rf /run/systemd/system/scx.service.d
systemctl daemon-reload
ok "without a bus: start, reload and stop work"
