//! `cargo xtask test`: formatting, lints, unit tests and every VM scenario, with a summary.

use std::process::Command;
use std::time::Instant;

use anyhow::Result;

use crate::host;
use crate::kernel::{self, Fetch};
use crate::util;
use crate::vm::{self, Check};

/// Options of `cargo xtask test`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only the VM scenarios, on the primary kernel.
    pub quick: bool,
    pub tcg: vm::TcgThreads,
    pub fetch: Fetch,
    pub timeout_secs: u64,
}

fn step(checks: &mut Vec<Check>, name: &str, f: impl FnOnce() -> Result<()>) -> bool {
    println!("==> {name}");
    let start = Instant::now();
    let result = f();
    let secs = start.elapsed().as_secs_f64();
    let (passed, detail) = match result {
        Ok(()) => (true, format!("{secs:.1} s")),
        Err(err) => {
            eprintln!("xtask: {name}: {err:#}");
            (false, format!("{err:#} ({secs:.1} s)"))
        }
    };
    checks.push(Check {
        name: name.to_string(),
        passed,
        detail,
    });
    passed
}

fn cargo(args: &[&str]) -> Result<()> {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    util::run(
        Command::new(program)
            .current_dir(util::repo_root()?)
            .args(args),
    )
}

/// Runs everything and returns the number of failed checks.
pub fn command(opts: &Options) -> Result<usize> {
    let mut checks = Vec::new();
    let setup_ok = step(&mut checks, "host set-up", || {
        host::ensure()?;
        if !opts.quick {
            host::ensure_rust_components()?;
        }
        Ok(())
    });
    if !opts.quick && setup_ok {
        step(&mut checks, "cargo fmt --all --check", || {
            cargo(&["fmt", "--all", "--check"])
        });
        step(
            &mut checks,
            "cargo clippy --workspace --all-targets -- -D warnings",
            || {
                cargo(&[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ])
            },
        );
        step(&mut checks, "cargo test --workspace", || {
            cargo(&["test", "--workspace"])
        });
    }
    let suites: Vec<String> = if opts.quick {
        vec![kernel::SUITES[0].to_string()]
    } else {
        kernel::SUITES.iter().map(|s| s.to_string()).collect()
    };
    let mut have_kernels = false;
    if setup_ok {
        have_kernels = step(&mut checks, "test kernels", || {
            let kernels = kernel::ensure_kernels(&suites, opts.fetch)?;
            let names: Vec<&str> = kernels.iter().map(|k| k.kver.as_str()).collect();
            println!("kernels: {}", names.join(", "));
            Ok(())
        });
    }
    if have_kernels {
        let vm_opts = vm::Options {
            kernel: if opts.quick {
                kernel::SUITES[0].to_string()
            } else {
                "all".to_string()
            },
            smp: 2,
            tcg: opts.tcg,
            mem_mb: 1024,
            timeout_secs: opts.timeout_secs,
            build: true,
            fetch: Fetch::Offline,
            scenarios: vm::list_scenarios()?,
        };
        let mut vm_checks = Vec::new();
        let vm_ok = step(&mut checks, "VM run", || {
            vm_checks = vm::run(&vm_opts)?;
            Ok(())
        });
        if vm_ok {
            // The VM run itself is represented by its scenarios.
            checks.pop();
        }
        checks.extend(vm_checks);
    }
    println!();
    println!("==> summary");
    Ok(vm::report(&checks))
}
