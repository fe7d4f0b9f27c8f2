# sysrq.sh - SysRq-S stops the scheduler through the kernel: the loader does not restart it,
# stays active and says so in its status; a reload starts it again.
. /scenarios/lib/service.sh

echo 1 > /proc/sys/kernel/sysrq
conf "SCX_SCHEDULER=scx_rlfifo"
start_ok scx_rlfifo
mark
echo S > /proc/sysrq-trigger
wait_disabled 10 || fail "SysRq-S did not disable sched_ext"
wait_status "stopped by the administrator (SysRq-S), not restarted" 20 || { show_journal; fail "StatusText does not explain"; }
sleep 3
expect_eq "$(sx_state)" disabled "sched_ext state 3 s after SysRq-S"
expect_eq "$(prop ActiveState)" active "ActiveState after SysRq-S"
journal_json | grep -q '"SCX_EXIT_KIND":"sysrq"' || { show_journal; fail "no SCX_EXIT_KIND=sysrq record"; }
systemctl reload scx || { show_journal; fail "reload after SysRq-S failed"; }
wait_status "scx_rlfifo running" 5 || { show_journal; fail "reload did not start it again"; }
expect_eq "$(sx_ops)" scx_rlfifo "attached after the reload"
