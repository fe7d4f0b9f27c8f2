# show.sh - what `cargo xtask demo` shows: the package installed on a clean Debian, the service
# enabled, systemd's and the kernel's view of it, the journal, and a clean stop.
. /scenarios/lib/service.sh

mkdir -p /var/cache/apt/archives/partial /var/lib/apt/lists/partial
deb=$(ls /scenarios/pkg/scx_*.deb | head -n 1)
echo "== apt-get install ./${deb##*/}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" | tail -n 2 \
    || fail "apt-get install failed"
echo "== systemctl enable --now scx"
systemctl enable --now scx || { journalctl -u scx --no-pager | tail -n 20; fail "the service did not start"; }
echo "== a little work for the scheduler: two CPU hogs and a shell loop, 5 s"
sh -c 'while :; do :; done' &
h1=$!
sh -c 'while :; do :; done' &
h2=$!
n=0
while [ $n -lt 200 ]; do /bin/true; n=$((n + 1)); done
sleep 5
kill "$h1" "$h2"
echo "== systemctl status scx"
systemctl status scx --no-pager -l | head -n 15
echo "== scx-loader status"
scx-loader status
echo "== /sys/kernel/sched_ext"
for f in state switch_all enable_seq root/ops; do
    printf '%-12s %s\n' "$f" "$(cat "/sys/kernel/sched_ext/$f")"
done
echo "== journalctl -u scx"
journalctl -u scx --no-pager -o short | tail -n 15
echo "== systemctl stop scx"
systemctl stop scx
echo "sched_ext state: $(sx_state) (the kernel runs EEVDF again)"
[ "$(sx_state)" = disabled ] || fail "sched_ext still enabled after stop"
