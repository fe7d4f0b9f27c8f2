# start.sh - enable --now reports active only once the kernel runs the scheduler, the status
# names it, `scx-loader status` agrees, and stop returns the kernel to EEVDF with exit code 0.
. /scenarios/lib/service.sh

conf "SCX_SCHEDULER=scx_rlfifo" "SCX_FLAGS='--slice-us 10000'"
mark
systemctl enable --now scx || { show_journal; fail "systemctl enable --now scx failed"; }
expect_eq "$(prop ActiveState)" active "ActiveState right after enable --now"
expect_eq "$(sx_state)" enabled "sched_ext state right after enable --now"
expect_eq "$(sx_ops)" scx_rlfifo "attached scheduler"
expect_eq "$(prop StatusText)" "scx_rlfifo running (flags: --slice-us 10000)" "StatusText"
expect_eq "$(systemctl is-enabled scx)" enabled "is-enabled"
expect_eq "$(prop WatchdogUSec)" 1min "WatchdogUSec"
[ "$(prop WatchdogTimestampMonotonic)" -gt 0 ] || fail "no WATCHDOG=1 received"
ok "WATCHDOG=1 received"
journal_loader | grep -q "scx_rlfifo attached in" || { show_journal; fail "no attach line in the journal"; }
journalctl -q --no-pager SCX_SCHEDULER=scx_rlfifo -o cat | grep -q "attached" \
    || fail "journalctl SCX_SCHEDULER=scx_rlfifo finds nothing"
ok "journalctl SCX_SCHEDULER=scx_rlfifo works"

scx-loader status
scx-loader status --json > /tmp/status.json
grep -q '"configured_running": true' /tmp/status.json || { cat /tmp/status.json; fail "status --json does not say the configured scheduler runs"; }
ok "scx-loader status: configured scheduler running"
scx-loader check
expect_eq "$?" 0 "scx-loader check while the service runs"

systemctl disable --now scx || fail "systemctl disable --now scx failed"
expect_eq "$(sx_state)" disabled "sched_ext state after stop"
expect_eq "$(prop ActiveState)" inactive "ActiveState after stop"
expect_eq "$(prop ExecMainStatus)" 0 "exit code of scx-loader after stop"
journal_loader | grep -q "stopped; the kernel runs EEVDF" || { show_journal; fail "no stop line"; }
ok "stopped cleanly"
