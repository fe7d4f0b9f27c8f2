//! The scx_rustland command line: documented options, generated docs, option errors.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_scx_rustland");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("scx_rustland runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_names_every_option_with_its_unit() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for opt in [
        "-s, --slice-us <US>",
        "-S, --slice-us-min <US>",
        "-p, --partial",
        "--stats <SECS>",
    ] {
        assert!(help.contains(opt), "--help lacks {opt}:\n{help}");
    }
}

#[test]
fn man_page_and_completions_come_from_the_same_definition() {
    let man = run(&["--generate", "man"]);
    assert!(man.status.success());
    assert!(text(&man.stdout).contains(".TH scx_rustland"));
    let fish = run(&["--generate", "complete-fish"]);
    assert!(text(&fish.stdout).contains("-c scx_rustland"));
}

#[test]
fn inverted_slices_are_a_usage_error() {
    let out = run(&["-s", "1000", "-S", "5000", "--check-args"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--slice-us-min (5000) is larger than --slice-us (1000)"));
    assert_eq!(run(&["-s", "20000", "--check-args"]).status.code(), Some(0));
}
