# nonroot.sh - a scheduler started without root fails with a clear error and its own exit code.
. /scenarios/lib/vm.sh

su -s /bin/sh -c "exec /usr/sbin/scx_rlfifo" nobody > /tmp/nonroot.log 2>&1
rc=$?
cat /tmp/nonroot.log
expect_eq "$rc" 3 "exit code as non-root (NO_PRIVILEGE)"
grep -q "must run as root" /tmp/nonroot.log || fail "no clear error line"
expect_eq "$(sx_state)" disabled "state"
