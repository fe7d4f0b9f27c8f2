# stall.sh - a stopped user-space scheduler is ejected by the kernel's watchdog; the loader
# reports the stall (from the scheduler's own exit code and message, in the journal and on the
# bus) and restarts it.
. /scenarios/lib/service.sh

conf "SCX_SCHEDULER=scx_rlfifo"
start_ok scx_rlfifo
child=$(scheduler_pid) || fail "no scheduler process"
# Runnable work the stopped scheduler leaves waiting.
( while :; do :; done ) &
hog1=$!
( while :; do :; done ) &
hog2=$!
mark
kill -STOP "$child"
wait_disabled 40 || fail "the watchdog did not eject the stopped scheduler"
wait_attached scx_rlfifo 60 || { kill "$hog1" "$hog2"; show_journal; fail "not restarted after the stall"; }
kill "$hog1" "$hog2"
loader_errors | grep -q "scx_rlfifo is no longer attached.*was ejected by the kernel's watchdog (a runnable task was not scheduled in time) (exit code 11)" \
    || { show_journal; fail "the stall is not reported as one"; }
journal_json | grep -q '"SCX_EXIT_KIND":"error-stall"' || fail "no SCX_EXIT_KIND=error-stall record"
wait_status "scx_rlfifo running" 10 || fail "StatusText does not say running again"
case "$(bus_get org.scx.Loader.Status1 LastExit)" in
    '(sss) "error-stall" "was ejected by the kernel'*'runnable task stall'*) ok "LastExit on the bus: $(bus_get org.scx.Loader.Status1 LastExit)" ;;
    *) fail "LastExit on the bus is not the stall: $(bus_get org.scx.Loader.Status1 LastExit)" ;;
esac
ok "stall reported and scheduler restarted"
