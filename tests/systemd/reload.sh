# reload.sh - reload swaps schedulers with the same MainPID; a broken configuration or a
# scheduler that cannot attach leaves the old one running and the status says the reload failed.
. /scenarios/lib/service.sh

conf "SCX_SCHEDULER=scx_rlfifo"
start_ok scx_rlfifo
pid=$(prop MainPID)

echo "== reload to another scheduler"
conf "SCX_SCHEDULER=scx_rustland"
mark
systemctl reload scx || { show_journal; fail "systemctl reload scx failed"; }
wait_status "scx_rustland running" 5 || { show_journal; fail "no switch to scx_rustland"; }
expect_eq "$(sx_ops)" scx_rustland "attached scheduler after reload"
expect_eq "$(prop MainPID)" "$pid" "MainPID after reload"
expect_eq "$(prop ActiveState)" active "ActiveState after reload"

echo "== reload to a broken configuration"
conf "SCX_SCHEDULER=scx_rustland" "SCX_FLGS=-v"
mark
systemctl reload scx && fail "systemctl reload scx succeeded with a broken configuration"
ok "systemctl reload scx failed"
wait_status "reload failed" 5 || { show_journal; fail "StatusText does not report the failed reload"; }
case "$(prop StatusText)" in
    *"unknown key SCX_FLGS: did you mean SCX_FLAGS?"*"still scx_rustland running"*) ok "status names the error and the running scheduler" ;;
    *) fail "unexpected StatusText: $(prop StatusText)" ;;
esac
expect_eq "$(sx_ops)" scx_rustland "attached scheduler after the failed reload"
expect_eq "$(prop MainPID)" "$pid" "MainPID after the failed reload"
expect_eq "$(prop ActiveState)" active "ActiveState after the failed reload"

echo "== reload to a scheduler that cannot attach"
install_broken
conf "SCX_SCHEDULER=scx_broken"
mark
systemctl reload scx && fail "systemctl reload scx succeeded with a scheduler that cannot attach"
ok "systemctl reload scx failed"
wait_status "reload failed" 5 || { show_journal; fail "StatusText does not report the failed reload"; }
wait_status "scx_rustland running" 5 || { show_journal; fail "scx_rustland is not running again"; }
echo "StatusText: $(prop StatusText)"
expect_eq "$(sx_ops)" scx_rustland "attached scheduler after the failed swap"
expect_eq "$(prop MainPID)" "$pid" "MainPID after the failed swap"
journal_loader | grep -q "reload failed: scx_broken failed to load or attach its BPF program (exit code 6): loading the BPF program failed" \
    || { show_journal; fail "the journal lacks the reason of the failed swap"; }
ok "the failed swap is reported with the scheduler's own reason"

echo "== scx-loader set"
out=$(scx-loader set scx_rlfifo --flags "--slice-us 5000")
rc=$?
echo "$out"
expect_eq "$rc" 0 "scx-loader set exit code"
expect_eq "$(sx_ops)" scx_rlfifo "attached scheduler after set"
grep -q "^SCX_SCHEDULER=scx_rlfifo$" /etc/default/scx || fail "set did not write SCX_SCHEDULER"
grep -q "^SCX_FLAGS='--slice-us 5000'$" /etc/default/scx || fail "set did not write SCX_FLAGS"
expect_eq "$(prop MainPID)" "$pid" "MainPID after set"
rm -f /usr/sbin/scx_broken
