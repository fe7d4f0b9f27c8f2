//! Builds the user-space dispatch channel's BPF program and its skeleton.

use std::path::Path;

fn main() {
    let src = Path::new("src/bpf/usersched.bpf.c");
    if let Err(err) = scx_core_build::build_skeleton(src, "usersched", &[]) {
        panic!("{err:#}");
    }
}
