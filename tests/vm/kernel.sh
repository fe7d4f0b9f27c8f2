# kernel.sh - the guest kernel has everything the schedulers need.
. /scenarios/lib/vm.sh

[ -d "$SX_SYSFS" ] || fail "$SX_SYSFS is missing: no sched_ext in $(uname -r)"
ok "$SX_SYSFS exists"
expect_eq "$(sx_state)" disabled "sched_ext state at boot"
expect_eq "$(sx_ops)" "" "attached scheduler at boot"
[ -r /sys/kernel/btf/vmlinux ] || fail "/sys/kernel/btf/vmlinux is missing"
ok "kernel BTF at /sys/kernel/btf/vmlinux"
config=/boot/config-$(uname -r)
[ -r "$config" ] || fail "$config is missing"
grep -qx CONFIG_SCHED_CLASS_EXT=y "$config" || fail "$config lacks CONFIG_SCHED_CLASS_EXT=y"
ok "$config has CONFIG_SCHED_CLASS_EXT=y"
