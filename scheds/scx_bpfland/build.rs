//! Builds scx_bpfland's BPF program and its skeleton.

use std::path::Path;

fn main() {
    let src = Path::new("src/bpf/main.bpf.c");
    if let Err(err) = scx_core_build::build_skeleton(src, "bpfland", &[]) {
        panic!("{err:#}");
    }
}
