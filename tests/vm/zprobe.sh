# zprobe.sh - (temporary) does root/ops outlive state=disabled after a kill -9?
. /scenarios/lib.sh
. /scenarios/sched.inc
for i in 1 2 3 4 5 6 7 8 9 10; do
    start_sched scx_rlfifo
    wait_attached scx_rlfifo 10 > /dev/null || fail "no attach"
    kill -9 "$SX_PID"
    n=0 stale=0
    while [ $n -lt 2000 ]; do
        _sx_read "$SX_SYSFS/state"; st=$_sx_val
        ops=; [ -r "$SX_SYSFS/root/ops" ] && read -r ops < "$SX_SYSFS/root/ops"
        if [ "$st" = disabled ] && [ -n "$ops" ]; then stale=$((stale + 1)); fi
        if [ "$st" = disabled ] && [ -z "$ops" ]; then break; fi
        n=$((n + 1))
    done
    echo "round $i: polls=$n disabled-with-root-ops=$stale"
    wait "$SX_PID" 2>/dev/null
done
