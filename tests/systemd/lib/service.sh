# lib/service.sh - helpers for the scx.service scenarios; source it with `. /scenarios/lib/service.sh`.
#
# Runs under dash in the Debian systemd guest, as root, after multi-user.target. Builds on the
# busybox VM helpers (tests/vm/lib/vm.sh): sx_state, sx_ops, wait_attached,
# wait_disabled, ok, fail, expect_eq.
#
#   SX_UNIT                   the unit prop and the journal_* helpers look at (default: scx)
#   conf LINE...              write /etc/default/scx (root-owned, mode 644) from LINEs
#   prop NAME                 print `systemctl show -p NAME --value $SX_UNIT`
#   mark                      remember the journal position; journal_* read only what follows
#   journal_loader            scx-loader's messages since the mark (-o cat)
#   loader_errors             scx-loader's messages of priority err since the mark
#   journal_json              everything of the unit since the mark, as journalctl -o json
#   wait_status TEXT SECS     wait until StatusText contains TEXT
#   scheduler_pid             the scheduler process in the unit's cgroup (not the loader)
#   expect_start_fails CODE TEXT   `systemctl start scx` fails, the loader exits with CODE,
#                             logs exactly one error line containing TEXT, sched_ext stays off
#   install_broken            install /usr/sbin/scx_broken: accepts any flags, then fails
#                             the way a scheduler whose BPF program does not load fails
#   bus_get INTERFACE PROP    busctl's rendering of a property of the service on the bus
#                             (org.scx.Loader or org.scx.Loader.Status1), e.g. s "running"

# Debian's sleep takes fractions; the busybox helpers call usleep.
usleep() {
    sleep "$(($1 / 1000000)).$(printf '%06d' $(($1 % 1000000)))"
}
. /scenarios/lib/vm.sh

export SYSTEMD_PAGER= SYSTEMD_COLORS=0 LC_ALL=C
SX_UNIT=${SX_UNIT:-scx}

conf() {
    printf '%s\n' "$@" > /etc/default/scx
    chown root:root /etc/default/scx
    chmod 644 /etc/default/scx
}

prop() {
    systemctl show -p "$1" --value "$SX_UNIT"
}

mark() {
    SX_CURSOR=$(journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
}

_since() {
    # Messages still queued at journald would be missed otherwise.
    journalctl --sync 2>/dev/null
    if [ -n "$SX_CURSOR" ]; then
        journalctl -q --no-pager --after-cursor "$SX_CURSOR" "$@"
    else
        journalctl -q --no-pager "$@"
    fi
}

# _loader_messages MAXPRIO: MESSAGE of each scx-loader entry of the unit with PRIORITY <= MAXPRIO.
# Filters the verbose output: bookworm's journalctl (252) combining --after-cursor with -t or -p
# misses entries that plain `journalctl -t scx-loader -p err` shows.
_loader_messages() {
    _since -u "$SX_UNIT" -o verbose | awk -v max="$1" '
        function flush() {
            if (id == "scx-loader" && prio != "" && prio <= max) print msg
            id = ""; prio = ""; msg = ""
        }
        /^[^ ]/ { flush(); next }
        { sub(/^ +/, "") }
        /^SYSLOG_IDENTIFIER=/ { id = substr($0, 19) }
        /^PRIORITY=/ { prio = substr($0, 10) + 0 }
        /^MESSAGE=/ { msg = substr($0, 9) }
        END { flush() }'
}

journal_loader() {
    _loader_messages 7
}

loader_errors() {
    _loader_messages 3
}

journal_json() {
    _since -u "$SX_UNIT" -o json
}

wait_status() {
    _n=0
    while [ "$_n" -lt "$(( $2 * 5 ))" ]; do
        case "$(prop StatusText)" in
            *"$1"*) echo "status: $(prop StatusText)"; return 0 ;;
        esac
        sleep 0.2
        _n=$((_n + 1))
    done
    echo "wait_status: no '$1' after $2 s (StatusText: $(prop StatusText))"
    return 1
}

scheduler_pid() {
    _main=$(prop MainPID)
    _cg=/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' "/proc/$_main/cgroup")
    for _p in $(cat "$_cg/cgroup.procs"); do
        [ "$_p" != "$_main" ] && { echo "$_p"; return 0; }
    done
    return 1
}

show_journal() {
    echo "--- journal of $SX_UNIT since the mark ---"
    _since -u "$SX_UNIT" -o short-monotonic | tail -40
    echo "--- fields of scx-loader's last messages ---"
    _since -u "$SX_UNIT" -o verbose | grep -E "^ *(PRIORITY|SYSLOG_IDENTIFIER|_TRANSPORT|MESSAGE|SCX_[A-Z_]*|_PID|_COMM)=" | tail -30
    echo "---"
}

expect_start_fails() {
    systemctl reset-failed scx 2>/dev/null
    mark
    if systemctl start scx; then
        show_journal
        fail "systemctl start scx succeeded; expected a failure ($2)"
    fi
    ok "systemctl start scx failed"
    expect_eq "$(prop ActiveState)" failed "ActiveState"
    expect_eq "$(prop ExecMainStatus)" "$1" "exit code of scx-loader"
    expect_eq "$(sx_state)" "${SX_EXPECT_STATE:-disabled}" "sched_ext state"
    # The loader's last message may still be on its way to journald when start returns.
    _n=0
    errs=$(loader_errors)
    while [ -z "$errs" ] && [ $_n -lt 25 ]; do
        sleep 0.2
        errs=$(loader_errors)
        _n=$((_n + 1))
    done
    echo "journal: $errs"
    [ "$(printf '%s\n' "$errs" | grep -c .)" = 1 ] || { show_journal; fail "expected exactly one error line from scx-loader"; }
    case "$errs" in
        *"$2"*) ok "the error names '$2'" ;;
        *) show_journal; fail "the error line does not contain '$2'" ;;
    esac
    systemctl reset-failed scx
}

# start_ok NAME: start the service and check it is active only with NAME attached.
start_ok() {
    mark
    systemctl start scx || { show_journal; fail "systemctl start scx failed"; }
    # Type=notify: start returns once the loader said READY, which it says only after attaching.
    expect_eq "$(prop ActiveState)" active "ActiveState right after start"
    expect_eq "$(sx_state)" enabled "sched_ext state right after start"
    expect_eq "$(sx_ops)" "$1" "attached scheduler right after start"
    case "$(prop StatusText)" in
        "$1 running"*) ok "StatusText: $(prop StatusText)" ;;
        *) fail "StatusText does not name $1: $(prop StatusText)" ;;
    esac
}

install_broken() {
    cat > /usr/sbin/scx_broken <<'SCRIPT'
#!/bin/sh
[ "$1" = --check-args ] && exit 0
echo "scx_broken: error: loading the BPF program failed: Invalid argument (os error 22)" >&2
exit 6
SCRIPT
    chmod 755 /usr/sbin/scx_broken
}

bus_get() {
    busctl get-property org.scx.Loader /org/scx/Loader "$1" "$2"
}
