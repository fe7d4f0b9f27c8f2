# busy.sh - a scheduler attached outside the service: start fails naming it, and the foreign
# scheduler keeps running.
. /scenarios/lib/service.sh

scx_rlfifo > /tmp/foreign.log 2>&1 &
foreign=$!
wait_attached scx_rlfifo 30 || fail "the foreign scx_rlfifo did not attach"
conf "SCX_SCHEDULER=scx_rustland"
SX_EXPECT_STATE=enabled expect_start_fails 5 "another sched_ext scheduler (scx_rlfifo) is already attached"
expect_eq "$(sx_ops)" scx_rlfifo "the foreign scheduler still runs"
kill -INT "$foreign"
wait "$foreign"
wait_disabled 10 || fail "not disabled after stopping the foreign scheduler"
