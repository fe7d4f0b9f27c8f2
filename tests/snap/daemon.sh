# daemon.sh - the packed snap on a sched_ext kernel, run the way snapd runs a classic snap: the
# install hook seeds $SNAP_DATA/scx, the daemon app runs under a notify unit named as snapd names
# it, with snapd's environment, from the commands in meta/snap.yaml. snapd itself is not in the
# guest (a core24 snap needs the core24 base from the store); the files, the commands, the
# environment and the kernel are the snap's own.
. /scenarios/lib/service.sh

SNAP=/snap/scx/x1
SNAP_DATA=/var/snap/scx/x1
SX_UNIT=snap.scx.daemon
export SX_UNIT

[ -f "$SNAP/meta/snap.yaml" ] || fail "$SNAP/meta/snap.yaml missing"
[ -e /etc/default/scx ] && fail "/etc/default/scx exists: the guest must have no packaged scx"

# What `snap run [--command=reload] scx.APP` does for a classic snap: set the snap environment,
# then run the app's command (or reload-command) from meta/snap.yaml under $SNAP.
cat > /usr/local/bin/snap-run <<'EOF'
#!/bin/sh
field=command
case "$1" in --command=*) field="${1#--command=}-command"; shift ;; esac
app=${1#scx.}
shift
cmd=$(awk -v app="  $app:" -v field="    $field: " '
    /^[^ ]/ { inapps = ($0 == "apps:"); next }
    inapps && /^  [^ ]/ { cur = $0 }
    inapps && cur == app && index($0, field) == 1 { print substr($0, length(field) + 1) }
' /snap/scx/x1/meta/snap.yaml)
[ -n "$cmd" ] || { echo "snap-run: no $field for app $app in snap.yaml" >&2; exit 1; }
export SNAP=/snap/scx/x1 SNAP_NAME=scx SNAP_INSTANCE_NAME=scx SNAP_REVISION=x1
export SNAP_DATA=/var/snap/scx/x1 SNAP_COMMON=/var/snap/scx/common
set -- $cmd "$@"
prog=$1
shift
exec "$SNAP/$prog" "$@"
EOF
chmod 755 /usr/local/bin/snap-run

restart=$(awk '/^  daemon:/ { d = 1; next } /^  [^ ]/ { d = 0 } d && /restart-condition:/ { print $2 }' "$SNAP/meta/snap.yaml")
type=$(awk '/^  daemon:/ { d = 1; next } /^  [^ ]/ { d = 0 } d && /^    daemon:/ { print $2 }' "$SNAP/meta/snap.yaml")
expect_eq "$type" notify "daemon type in snap.yaml"
cat > /etc/systemd/system/snap.scx.daemon.service <<EOF
[Unit]
Description=Service for snap application scx.daemon

[Service]
ExecStart=/usr/local/bin/snap-run scx.daemon
ExecReload=/usr/local/bin/snap-run --command=reload scx.daemon
SyslogIdentifier=scx.daemon
Restart=${restart:-on-failure}
WorkingDirectory=$SNAP_DATA
TimeoutStopSec=30
Type=notify
NotifyAccess=all

[Install]
WantedBy=multi-user.target
EOF
systemctl daemon-reload

# The install hook, with the environment snapd gives hooks.
mkdir -p "$SNAP_DATA" /var/snap/scx/common
SNAP=$SNAP SNAP_DATA=$SNAP_DATA SNAP_NAME=scx "$SNAP/meta/hooks/install" || fail "install hook failed"
cmp -s "$SNAP/etc/default/scx" "$SNAP_DATA/scx" || fail "the install hook did not seed $SNAP_DATA/scx from the defaults"
ok "install hook seeded $SNAP_DATA/scx"
default=$(sed -n 's/^SCX_SCHEDULER=//p' "$SNAP_DATA/scx")

out=$(/usr/local/bin/snap-run scx.scx-loader check 2>&1)
echo "$out"
case "$out" in
    *"$SNAP_DATA/scx"*) ok "scx-loader check reads $SNAP_DATA/scx" ;;
    *) fail "scx-loader check does not name $SNAP_DATA/scx" ;;
esac
case "$out" in
    *"snap start --enable scx.daemon"*) ok "check tells how to start the snap's service" ;;
    *) fail "check does not name 'snap start --enable scx.daemon'" ;;
esac
/usr/local/bin/snap-run scx.scx-loader list | grep -q "^scx_bpfland" || fail "scx-loader list does not find the snap's schedulers"
ok "scx-loader lists the schedulers in \$SNAP/usr/sbin"

mark
systemctl start snap.scx.daemon || { show_journal; fail "starting snap.scx.daemon failed"; }
expect_eq "$(prop ActiveState)" active "ActiveState of snap.scx.daemon"
if [ "$(sx_ops)" != "$default" ]; then
    # An ejection explains itself in the scheduler's exit report: show all of it.
    echo "--- the unit's journal since the start ---"
    _since -u "$SX_UNIT" -o cat | tail -n 200
    fail "scheduler of the seeded configuration: expected '$default', got '$(sx_ops)'"
fi
ok "the seeded configuration's $default runs"
main=$(prop MainPID)
tr '\0' ' ' < "/proc/$main/cmdline" | grep -q "^$SNAP/usr/sbin/scx-loader run" \
    || fail "the main process is not \$SNAP/usr/sbin/scx-loader run: $(tr '\0' ' ' < "/proc/$main/cmdline")"
sched=$(scheduler_pid) || fail "no scheduler process in the unit"
exe=$(readlink "/proc/$sched/exe")
expect_eq "$exe" "$SNAP/usr/sbin/$default" "the scheduler runs from the snap"

status=$(/usr/local/bin/snap-run scx.scx-loader status 2>&1)
echo "$status"
case "$status" in
    *"$default"*) ok "scx-loader status names $default" ;;
    *) fail "scx-loader status does not name $default" ;;
esac

# `scx-loader set` rewrites $SNAP_DATA/scx and reloads the snap's unit (reload-command).
/usr/local/bin/snap-run scx.scx-loader set scx_bpfland || { show_journal; fail "scx-loader set scx_bpfland failed"; }
grep -qx "SCX_SCHEDULER=scx_bpfland" "$SNAP_DATA/scx" || fail "set did not rewrite $SNAP_DATA/scx"
wait_attached scx_bpfland 30 || { show_journal; fail "scx_bpfland not attached after the reload"; }
expect_eq "$(prop MainPID)" "$main" "MainPID across the reload (hot swap)"
expect_eq "$(prop ActiveState)" active "ActiveState after the reload"

# A scheduler killed under the snap's unit is restarted by the loader.
sched=$(scheduler_pid) || fail "no scheduler process after the reload"
kill -9 "$sched"
n=0
while [ $n -lt 150 ]; do
    new=$(scheduler_pid) && [ "$new" != "$sched" ] && [ "$(sx_ops)" = scx_bpfland ] && break
    sleep 0.2
    n=$((n + 1))
done
[ "$(sx_ops)" = scx_bpfland ] || { show_journal; fail "scx_bpfland not back after kill -9"; }
ok "the loader restarted the killed scheduler"

systemctl stop snap.scx.daemon || fail "stopping snap.scx.daemon failed"
wait_disabled 20 || fail "sched_ext still enabled after stop"
ok "stopped: the kernel is back on EEVDF"

# A second run of the hook (a refresh) keeps the edited configuration.
SNAP=$SNAP SNAP_DATA=$SNAP_DATA SNAP_NAME=scx "$SNAP/meta/hooks/install" || fail "install hook failed"
grep -qx "SCX_SCHEDULER=scx_bpfland" "$SNAP_DATA/scx" || fail "the hook overwrote the edited $SNAP_DATA/scx"
ok "the hook keeps an edited configuration"
