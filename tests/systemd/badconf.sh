# badconf.sh - every configuration mistake fails `systemctl start` with one clear journal line
# naming the problem, a distinct exit code, and sched_ext left disabled.
. /scenarios/lib/service.sh

echo "== unknown scheduler"
conf "SCX_SCHEDULER=scx_nosuch"
expect_start_fails 24 "/etc/default/scx:1: scheduler scx_nosuch is not installed (looked in /usr/sbin): choose one of: scx_"

echo "== a path instead of a name"
conf "SCX_SCHEDULER=/bin/sh"
expect_start_fails 24 '/etc/default/scx:1: "/bin/sh" is a path'

echo "== a flag the scheduler rejects"
conf "SCX_SCHEDULER=scx_rlfifo" "SCX_FLAGS='--slice-us 100 --bogus'"
expect_start_fails 25 "/etc/default/scx:2: scx_rlfifo rejected the flags \"--slice-us 100 --bogus\": unexpected argument '--bogus'"

echo "== flags the scheduler's own validation rejects"
conf "SCX_SCHEDULER=scx_rlfifo" "SCX_FLAGS='-s 100 -S 200'"
expect_start_fails 25 "--slice-us-min (200) is larger than --slice-us (100)"

echo "== typo'd key"
conf "# comment" "SCX_SCHEDUER=scx_rlfifo"
expect_start_fails 22 "/etc/default/scx:2: unknown key SCX_SCHEDUER: did you mean SCX_SCHEDULER?"

echo "== unbalanced quote"
conf "SCX_SCHEDULER=scx_rlfifo" "SCX_FLAGS='--slice-us 100"
expect_start_fails 21 "/etc/default/scx:2: unbalanced single quote"

echo "== world-writable configuration"
conf "SCX_SCHEDULER=scx_rlfifo"
chmod 666 /etc/default/scx
expect_start_fails 23 "/etc/default/scx is writable by everyone (mode 0666)"

echo "== configuration owned by another user"
conf "SCX_SCHEDULER=scx_rlfifo"
chown 65534 /etc/default/scx
expect_start_fails 23 "is owned by uid 65534, not by root"

echo "== missing configuration"
rm -f /etc/default/scx
expect_start_fails 20 "/etc/default/scx: cannot read the configuration"

echo "== no scheduler configured"
conf "SCX_FLAGS="
expect_start_fails 26 "no scheduler is configured"

echo "== scx-loader check reports the same"
conf "SCX_SCHEDUER=scx_rlfifo"
scx-loader check
expect_eq "$?" 22 "scx-loader check exit code for a typo'd key"
