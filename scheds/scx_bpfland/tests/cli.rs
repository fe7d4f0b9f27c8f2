//! The scx_bpfland command line: documented options, generated docs, option errors.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_scx_bpfland");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("scx_bpfland runs")
}

#[test]
fn help_names_every_option_with_its_unit() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "-s, --slice-us <US>",
        "-S, --slice-us-min <US>",
        "-l, --slice-us-lag <US>",
        "-p, --partial",
        "--no-smt-aware",
        "--stats <SECS>",
    ] {
        assert!(help.contains(opt), "--help lacks {opt}:\n{help}");
    }
}

#[test]
fn generated_man_page_documents_the_lag() {
    let man = run(&["--generate", "man"]);
    assert!(man.status.success());
    assert!(String::from_utf8_lossy(&man.stdout).contains("slice\\-us\\-lag"));
}

#[test]
fn zero_lag_is_a_usage_error() {
    let out = run(&["--slice-us-lag", "0", "--check-args"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("scx_bpfland: error: invalid option:"));
}
