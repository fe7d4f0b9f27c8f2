# nosched.sh - on a kernel without sched_ext (Debian 12's own 6.1) the unit is skipped by its
# condition: start succeeds without running anything, nothing restarts, nothing is logged as an
# error, and `scx-loader check` / `scx-loader run` say what is missing.
. /scenarios/lib/service.sh

if [ -d /sys/kernel/sched_ext ]; then
    ok "skipped: kernel $(uname -r) has sched_ext (run with --kernel bookworm)"
    exit 0
fi
conf "SCX_SCHEDULER=scx_rlfifo"
systemctl enable --now scx
expect_eq "$?" 0 "systemctl enable --now scx on a kernel without sched_ext"
expect_eq "$(prop ActiveState)" inactive "ActiveState"
expect_eq "$(prop ConditionResult)" no "ConditionResult"
expect_eq "$(prop NRestarts)" 0 "NRestarts"
systemctl status scx | grep "ConditionPathIsDirectory=/sys/kernel/sched_ext" \
    || fail "systemctl status does not name the unmet condition"
sleep 3
expect_eq "$(prop ActiveState)" inactive "ActiveState 3 s later"
scx-loader check
expect_eq "$?" 4 "scx-loader check exit code"
out=$(scx-loader run 2>&1)
rc=$?
echo "$out"
expect_eq "$rc" 4 "scx-loader run exit code outside systemd"
case "$out" in
    *"has no sched_ext support"*"CONFIG_SCHED_CLASS_EXT=y"*) ok "run names the missing kernel feature" ;;
    *) fail "run does not explain the missing sched_ext" ;;
esac
systemctl disable scx
