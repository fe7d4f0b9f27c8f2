# kill9.sh - kill -9 of the scheduler: the loader reports why with PRIORITY=err and the exit
# kind, and restarts it after a backoff; the service stays active with the same MainPID.
. /scenarios/lib/service.sh

conf "SCX_SCHEDULER=scx_rlfifo"
start_ok scx_rlfifo
pid=$(prop MainPID)
child=$(scheduler_pid) || fail "no scheduler process in the unit's cgroup"
echo "scheduler pid $child, loader pid $pid"
mark
kill -9 "$child"
wait_disabled 10 || fail "sched_ext still on after kill -9"
wait_attached scx_rlfifo 30 || { show_journal; fail "scx_rlfifo was not restarted"; }
wait_status "scx_rlfifo running" 10 || fail "StatusText does not say running again"
expect_eq "$(prop MainPID)" "$pid" "MainPID after the restart"
new=$(scheduler_pid)
[ "$new" != "$child" ] || fail "the scheduler process did not change"
loader_errors | grep -q "scx_rlfifo killed by signal 9 (SIGKILL)" || { show_journal; fail "no error line with the reason"; }
journal_json | grep '"SCX_EXIT_KIND":"signal"' | grep -q '"PRIORITY":"3"' \
    || { journal_json | tail -5; fail "no PRIORITY=3 record with SCX_EXIT_KIND=signal"; }
journal_loader | grep -q "restarting in 0.5 s (failure 1 of" || { show_journal; fail "no backoff line"; }
ok "kill -9 reported and restarted after 0.5 s"
