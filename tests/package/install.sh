# install.sh - the user story of the package on a clean Debian: install (not enabled), enable
# --now, man page and completion, an upgrade that keeps the admin's edits and restarts the
# running service, remove while running, purge.
. /scenarios/lib/service.sh

old=$(ls /scenarios/pkg/scx_*-1_amd64.deb)
new=$(ls /scenarios/pkg/scx_*-2_amd64.deb)
# The guest image carries no package lists or archive cache; a local .deb needs neither.
mkdir -p /var/cache/apt/archives/partial /var/lib/apt/lists/partial
apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

apt_install "$old" || fail "apt-get install $old failed"
ok "installed $(dpkg-query -W -f '${Package} ${Version}' scx)"
expect_eq "$(systemctl is-enabled scx)" disabled "scx.service after install (not enabled)"
expect_eq "$(systemctl is-active scx)" inactive "scx.service after install (not started)"
expect_eq "$(sx_state)" disabled "sched_ext after install"
for bin in scx-loader scx_rustland scx_bpfland scx_rlfifo; do
    [ -x "/usr/sbin/$bin" ] || fail "/usr/sbin/$bin missing"
done
[ -f /etc/default/scx ] || fail "/etc/default/scx missing"
grep -qx /etc/default/scx /var/lib/dpkg/info/scx.conffiles || fail "/etc/default/scx is not a conffile"
ok "binaries in /usr/sbin, /etc/default/scx a conffile"

mark
systemctl enable --now scx || { show_journal; fail "systemctl enable --now scx failed"; }
expect_eq "$(prop ActiveState)" active "ActiveState after enable --now"
shipped=$(sed -n 's/^SCX_SCHEDULER=//p' /etc/default/scx)
expect_eq "$(sx_ops)" "$shipped" "scheduler of the shipped configuration"

page=$(man -w scx-loader) || fail "man -w scx-loader finds no page"
ok "man -w scx-loader: $page"
man -w 5 scx > /dev/null || fail "man -w 5 scx finds no page"
completions=$(bash -c '
    . /usr/share/bash-completion/bash_completion
    _completion_loader scx-loader
    fn=$(complete -p scx-loader | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
    COMP_WORDS=(scx-loader s); COMP_CWORD=1; COMP_LINE="scx-loader s"; COMP_POINT=${#COMP_LINE}
    "$fn" scx-loader s scx-loader
    echo "${COMPREPLY[*]}"')
echo "completions of 'scx-loader s': $completions"
for word in set status; do
    case " $completions " in
        *" $word "*) ;;
        *) fail "bash completion of 'scx-loader s' does not offer $word ('$completions')" ;;
    esac
done
ok "bash completion of 'scx-loader s' offers set and status"

# The bus interface: the package's bus policy lets the service own its name.
[ -f /usr/share/dbus-1/system.d/org.scx.Loader.conf ] || fail "the bus policy is not installed"
[ -f /usr/share/polkit-1/actions/org.scx.Loader.policy ] || fail "the polkit action is not installed"
expect_eq "$(busctl get-property org.scx.Loader /org/scx/Loader org.scx.Loader CurrentScheduler)" \
    "s \"$shipped\"" "CurrentScheduler on the bus"
ok "the service owns org.scx.Loader on the system bus"

# The administrator's edit, then an upgrade whose shipped configuration changed.
sed -i 's/^SCX_FLAGS=.*/SCX_FLAGS="--slice-us 10000"/' /etc/default/scx
pid=$(prop MainPID)
apt_install "$new" || fail "apt-get install $new failed"
expect_eq "$(dpkg-query -W -f '${Version}' scx)" "$(dpkg-deb -f "$new" Version)" "installed version"
grep -qx 'SCX_FLAGS="--slice-us 10000"' /etc/default/scx || fail "the upgrade lost the edit of /etc/default/scx"
[ -f /etc/default/scx.dpkg-dist ] || fail "the new default configuration was not kept beside it"
ok "the edit survived the upgrade (new default in /etc/default/scx.dpkg-dist)"
wait_attached "$shipped" 20 > /dev/null || fail "no scheduler after the upgrade"
expect_eq "$(prop ActiveState)" active "ActiveState after the upgrade"
[ "$(prop MainPID)" != "$pid" ] || fail "the service was not restarted by the upgrade (MainPID $pid)"
ok "the running service was restarted onto the new binaries"

apt-get remove -y -q scx || fail "apt-get remove scx failed"
expect_eq "$(sx_state)" disabled "sched_ext after remove"
expect_eq "$(systemctl is-active scx)" inactive "scx.service after remove"
[ -f /etc/default/scx ] || fail "remove deleted /etc/default/scx (only purge may)"
apt-get purge -y -q scx || fail "apt-get purge scx failed"
[ ! -e /etc/default/scx ] || fail "/etc/default/scx survived the purge"
ok "remove stopped the scheduler; purge removed /etc/default/scx"
