# ownunit.sh - a scheduler run by hand under a unit of its own logs straight into the journal,
# under its own name and with SCX_SCHEDULER=, like the ones scx-loader relays.
. /scenarios/lib/service.sh

SX_UNIT=scx-own
mark
systemd-run --unit=scx-own --quiet /usr/sbin/scx_rlfifo || fail "systemd-run scx_rlfifo failed"
wait_attached scx_rlfifo 30 || { show_journal; fail "scx_rlfifo did not attach under its own unit"; }
systemctl stop scx-own
wait_disabled 10 || fail "still attached after stopping the unit"
n=0
while [ $n -lt 25 ]; do
    entries=$(_since -u scx-own -o verbose SCX_SCHEDULER=scx_rlfifo | grep -c "^ *MESSAGE=scx_rlfifo detached")
    [ "$entries" -ge 1 ] && break
    sleep 0.2
    n=$((n + 1))
done
_since -u scx-own -o verbose | grep -E "^ *(PRIORITY|SYSLOG_IDENTIFIER|_TRANSPORT|MESSAGE|SCX_[A-Z_]*)=" | tail -12
[ "$entries" -ge 1 ] || fail "no 'detached' entry with SCX_SCHEDULER=scx_rlfifo in the journal"
ok "the scheduler's own journal entries carry SCX_SCHEDULER=scx_rlfifo"
ident=$(_since -u scx-own -o verbose SCX_SCHEDULER=scx_rlfifo | sed -n 's/^ *SYSLOG_IDENTIFIER=//p' | sort -u)
expect_eq "$ident" scx_rlfifo "SYSLOG_IDENTIFIER of the scheduler's entries"
