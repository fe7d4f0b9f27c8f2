# fallback.sh - a scheduler that keeps failing is replaced by SCX_FALLBACK_SCHEDULER (and the bus
# says so); without a fallback the service fails with its own exit code and the kernel runs EEVDF.
. /scenarios/lib/service.sh

# Fewer failures before giving up keep the scenario short.
mkdir -p /run/systemd/system/scx.service.d
printf '[Service]\nExecStart=\nExecStart=/usr/sbin/scx-loader run --max-failures 3\n' \
    > /run/systemd/system/scx.service.d/test.conf
systemctl daemon-reload

kill_until() {
    # kill_until N: kill the running scheduler N times, waiting for each restart in between
    _i=1
    while [ "$_i" -le "$1" ]; do
        # A restart that fails on its own (on a loaded host) counts as a failure too: the loader
        # may reach its limit before the last kill. Its record says why.
        _t=0
        until [ "$(sx_state)" = enabled ] && [ "$(sx_ops)" = scx_rlfifo ]; do
            if journal_loader | grep -q "scx_rlfifo failed 3 times within 120 s"; then
                echo "a restart failed on its own after $((_i - 1)) kills; the loader's records:"
                journal_loader | grep -e "scx_rlfifo failed" -e "scx_rlfifo.*error" | sed 's/^/    /'
                return 0
            fi
            [ "$_t" -lt 60 ] || { show_journal; fail "scx_rlfifo not running before kill $_i"; }
            sleep 1
            _t=$((_t + 1))
        done
        kill -9 "$(scheduler_pid)"
        wait_disabled 10 > /dev/null || fail "sched_ext still on after kill $_i"
        _i=$((_i + 1))
    done
}

echo "== with a fallback"
conf "SCX_SCHEDULER=scx_rlfifo" "SCX_FALLBACK_SCHEDULER=scx_rustland"
start_ok scx_rlfifo
kill_until 3
wait_attached scx_rustland 60 || { show_journal; fail "the fallback did not start"; }
wait_status "scx_rustland running (default flags) as the fallback for scx_rlfifo" 10 || fail "StatusText does not name the fallback"
journal_loader | grep -q "scx_rlfifo failed 3 times within 120 s; switching to the fallback scheduler scx_rustland" \
    || { show_journal; fail "no fallback line"; }
expect_eq "$(prop ActiveState)" active "ActiveState on the fallback"
expect_eq "$(bus_get org.scx.Loader.Status1 State)" 's "fallback"' "State on the bus"
expect_eq "$(bus_get org.scx.Loader CurrentScheduler)" 's "scx_rustland"' "CurrentScheduler on the bus"
systemctl stop scx

echo "== without a fallback"
conf "SCX_SCHEDULER=scx_rlfifo"
start_ok scx_rlfifo
kill_until 3
n=0
while [ "$(prop ActiveState)" != failed ] && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
expect_eq "$(prop ActiveState)" failed "ActiveState after giving up"
expect_eq "$(prop ExecMainStatus)" 30 "exit code after giving up"
expect_eq "$(sx_state)" disabled "sched_ext state after giving up"
sleep 6
expect_eq "$(prop ActiveState)" failed "no restart by systemd (RestartPreventExitStatus)"
loader_errors | grep -q "scx_rlfifo failed 3 times within 120 s; giving up, the kernel runs EEVDF" \
    || { show_journal; fail "no give-up line"; }
ok "gave up with EEVDF running"
