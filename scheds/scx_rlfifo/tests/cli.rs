//! The scx_rlfifo command line: help, version, generated docs, option errors, kernel checks.

mod util;

use util::run;

const BIN: &str = env!("CARGO_BIN_EXE_scx_rlfifo");

#[test]
fn help_documents_every_option() {
    let out = run(BIN, &["--help"]);
    assert_eq!(out.code, 0);
    for opt in [
        "--slice-us",
        "--slice-us-min",
        "--partial",
        "--stats",
        "--verbose",
        "--version",
    ] {
        assert!(
            out.stdout.contains(opt),
            "--help lacks {opt}:\n{}",
            out.stdout
        );
    }
    assert!(!out.stdout.contains("--generate"), "--generate is hidden");
    assert!(
        !out.stdout.contains("--check-args"),
        "--check-args is hidden"
    );
}

#[test]
fn version() {
    let out = run(BIN, &["-V"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout.trim(),
        format!("scx_rlfifo {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn generates_a_man_page_and_completions() {
    let man = run(BIN, &["--generate", "man"]);
    assert_eq!(man.code, 0);
    assert!(man.stdout.starts_with(".ie") || man.stdout.contains(".TH scx_rlfifo"));
    assert!(man.stdout.contains("slice\\-us\\-min"));
    let bash = run(BIN, &["--generate", "complete-bash"]);
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.contains("complete -F _scx_rlfifo"));
    for shell in ["complete-zsh", "complete-fish"] {
        let out = run(BIN, &["--generate", shell]);
        assert_eq!(out.code, 0, "{shell}");
        assert!(out.stdout.contains("slice-us"), "{shell}");
    }
    assert_eq!(run(BIN, &["--generate", "pdf"]).code, 2);
}

#[test]
fn bad_options_fail_with_the_usage_code() {
    let out = run(
        BIN,
        &["--slice-us", "100", "--slice-us-min", "200", "--check-args"],
    );
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    assert!(out
        .stderr
        .starts_with("scx_rlfifo: error: invalid option: --slice-us-min (200)"));
    assert_eq!(run(BIN, &["--slice-us", "many"]).code, 2);
    assert_eq!(run(BIN, &["--no-such-flag"]).code, 2);
}

#[test]
fn check_args_accepts_good_options_without_attaching() {
    let out = run(
        BIN,
        &["-s", "5000", "-S", "500", "--partial", "--check-args"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.is_empty());
}

#[test]
fn refuses_to_start_where_it_cannot_attach() {
    // On a host (CI, a build machine) whose kernel has no sched_ext, or without root, the
    // scheduler must refuse with one line and its documented code, never try to load.
    let root = euid_is_root();
    let has_scx = std::path::Path::new("/sys/kernel/sched_ext").exists();
    if root && has_scx {
        return; // This host could really attach: the VM scenarios cover it.
    }
    let out = run(BIN, &[]);
    assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    if !root {
        assert_eq!(out.code, 3);
        assert!(out.stderr.contains("must run as root"));
    } else {
        assert_eq!(out.code, 4);
        assert!(out.stderr.contains("no sched_ext support"));
        assert!(out.stderr.contains("CONFIG_SCHED_CLASS_EXT=y"));
    }
}

fn euid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|euid| euid == "0"))
        .expect("Uid line")
}
