# demo.sh - what `cargo xtask demo` shows: scx_rlfifo takes over the kernel, runs a load,
# reports its stats and detaches cleanly.
. /scenarios/lib/sched.sh

echo "== kernel $(uname -r), $(nproc) CPUs; sched_ext state: $(sx_state)"
echo "== starting scx_rlfifo --stats 2"
scx_rlfifo --stats 2 &
pid=$!
wait_attached scx_rlfifo 5 || fail "scx_rlfifo did not attach"
echo "== /sys/kernel/sched_ext: state=$(sx_state) ops=$(sx_ops) switch_all=$(cat "$SX_SYSFS/switch_all") enable_seq=$(cat "$SX_SYSFS/enable_seq")"
echo "== running CPU hogs, a fork loop and sleepers for 8 s"
start_load /tmp/load
sleep 8
stop_load
echo "== work done (hog0 hog1 forks sleeps): $(load_counts /tmp/load)"
echo "== scx_rlfifo RSS: $(rss_kb $pid) KiB"
echo "== stopping scx_rlfifo with SIGINT"
kill -INT $pid
wait $pid
rc=$?
echo "== scx_rlfifo exited with $rc; sched_ext state: $(sx_state)"
[ "$rc" -eq 0 ] && [ "$(sx_state)" = disabled ] || fail "unclean exit"
