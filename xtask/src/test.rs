//! `cargo xtask test`: formatting, lints, unit tests and every VM scenario, with a summary.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Result;

use crate::host;
use crate::kernel::{self, Fetch};
use crate::pool::{self, lock, Task};
use crate::progress;
use crate::scenario::{self, Check};
use crate::sysguest::{self, Userland};
use crate::torture::{self, TortureArgs};
use crate::util;
use crate::vm;

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
    let start = Instant::now();
    let result = progress::step(name, f);
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

/// Runs `f` as a check named `name` that says how long it took, with its result.
fn timed<T>(name: String, f: impl FnOnce() -> Result<T>) -> Result<(T, Check)> {
    let start = Instant::now();
    let value = f()?;
    let check = Check {
        name,
        passed: true,
        detail: format!("{:.1} s", start.elapsed().as_secs_f64()),
    };
    Ok((value, check))
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
        step(
            &mut checks,
            "man pages and completions current, rendering without warnings",
            || crate::man::command(true),
        );
        step(&mut checks, "no unused dependencies", || {
            crate::deps::check(&util::repo_root()?)
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
    if have_kernels
        && step(&mut checks, "release build of the guests' binaries", || {
            vm::build_binaries().map(|_| ())
        })
    {
        let shared = Shared::default();
        let tasks = tasks(opts, &suites, &checks, &shared)?;
        let slots = 2;
        let ran = progress::step(
            &format!(
                "{} guests and package tasks, {slots} at a time",
                tasks.len()
            ),
            || Ok(pool::run(tasks, slots)),
        )
        .unwrap_or_default();
        checks.extend(ran);
    }
    println!();
    println!("==> summary");
    Ok(scenario::report(&checks))
}

/// What the package tasks hand to the guests that install them.
#[derive(Default)]
struct Shared {
    /// The .deb and its upgrade variant (version -2); empty if either failed.
    debs: Mutex<Vec<PathBuf>>,
    snap: Mutex<Option<PathBuf>>,
}

const DEB_TASK: &str = "cargo xtask deb (offline build from the .dsc, lintian)";
const UPGRADE_CHECK: &str = "the .deb's upgrade variant (version -2)";
const SNAP_TASK: &str = "cargo xtask snap (pack and check)";

/// The suite's guests and package tasks, for [`pool::run`]: the long ones and the ones others
/// wait for first, the short ones last to fill the gaps. `--quick` keeps the primary kernel's
/// scenarios and torture only.
fn tasks<'a>(
    opts: &'a Options,
    suites: &'a [String],
    checks: &[Check],
    shared: &'a Shared,
) -> Result<Vec<Task<'a>>> {
    let sys_opts = |kernel: &str| sysguest::Options {
        userland: Userland::Bookworm,
        kernel: kernel.to_string(),
        tcg: opts.tcg,
        smp: 2,
        mem_mb: 1024,
        timeout_secs: opts.timeout_secs,
        build: false,
        fetch: Fetch::Offline,
        scenarios: Vec::new(),
    };
    let vm_opts = |kernel: &str, smp: u32, scenarios: Vec<String>| vm::Options {
        kernel: kernel.to_string(),
        smp,
        tcg: opts.tcg,
        mem_mb: 1024,
        timeout_secs: opts.timeout_secs,
        build: false,
        fetch: Fetch::Offline,
        scenarios,
    };
    // Scenarios that need another vCPU count get boots of their own.
    let mut groups: Vec<(u32, Vec<String>)> = Vec::new();
    for name in vm::list_scenarios()? {
        let smp = vm::scenario_smp(&name)?.unwrap_or(2);
        match groups.iter_mut().find(|(n, _)| *n == smp) {
            Some((_, names)) => names.push(name),
            None => groups.push((smp, vec![name])),
        }
    }
    groups.sort_by_key(|(smp, _)| *smp != 2);
    let mut tasks = Vec::new();
    if !opts.quick {
        // `cargo test --workspace` ran the package's unit tests on this tree above.
        let deb_tests = if checks
            .iter()
            .any(|c| c.name == "cargo test --workspace" && c.passed)
        {
            crate::deb::UnitTests::Skip
        } else {
            crate::deb::UnitTests::Run
        };
        tasks.push(
            Task::new(
                DEB_TASK,
                Box::new(move || {
                    let (deb, built) =
                        timed(DEB_TASK.to_string(), || crate::deb::command(deb_tests))?;
                    let mut out = vec![built];
                    match timed(UPGRADE_CHECK.to_string(), || {
                        crate::deb::upgrade_variant(&deb)
                    }) {
                        Ok((upgrade, check)) => {
                            *lock(&shared.debs) = vec![deb, upgrade];
                            out.push(check);
                        }
                        Err(err) => out.push(Check {
                            name: UPGRADE_CHECK.to_string(),
                            passed: false,
                            detail: format!("{err:#}"),
                        }),
                    }
                    Ok(out)
                }),
            )
            .niced(),
        );
    }
    if !opts.quick {
        // A newcomer's first scheduler, made by `cargo xtask new` in a scratch copy of the tree:
        // mostly a build, then one guest.
        tasks.push(
            Task::new(
                "cargo xtask new",
                Box::new(|| Ok(vec![crate::new::check_in_scratch(kernel::SUITES[0])?])),
            )
            .niced(),
        );
    }
    // Every scheduler under stress-ng's scheduler stressors and mixed loads: a scheduler the
    // kernel ejects fails here. Each kernel runs its share of the steps.
    for (suite, share) in suites.iter().zip(torture::suite_shares(suites.len())) {
        let name = format!(
            "cargo xtask torture ({suite}: {} of the {} steps)",
            share.len(),
            torture::step_count()
        );
        tasks.push(Task::new(
            name,
            Box::new(move || torture::run_checks(&TortureArgs::for_test(suite, share, opts.tcg))),
        ));
    }
    for suite in suites {
        let sys = sys_opts(suite);
        tasks.push(Task::new(
            format!("systemd guest ({suite})"),
            Box::new(move || sysguest::run(&sys)),
        ));
    }
    let (first, later) = groups.split_at(groups.len().min(1));
    for (smp, scenarios) in first {
        for suite in suites {
            let vm = vm_opts(suite, *smp, scenarios.clone());
            tasks.push(Task::new(
                format!("VM scenarios ({smp} vCPUs, {suite})"),
                Box::new(move || vm::run_parallel(&vm)),
            ));
        }
    }
    if !opts.quick {
        tasks.push(
            Task::new(
                SNAP_TASK,
                Box::new(move || {
                    let (packed, check) = timed(SNAP_TASK.to_string(), crate::snap::command)?;
                    *lock(&shared.snap) = Some(packed);
                    Ok(vec![check])
                }),
            )
            .niced(),
        );
        // The package's behaviour does not depend on the kernel: each Debian release gets one
        // boot, on different kernels; the trixie guest also runs the snap's scenarios, after
        // the package's.
        for (userland, suite) in Userland::ALL.into_iter().zip(kernel::SUITES.iter()) {
            let with_snap = userland == Userland::Trixie;
            let (name, after) = match with_snap {
                true => (
                    format!("package and snap install test ({})", userland.suite()),
                    vec![DEB_TASK, SNAP_TASK],
                ),
                false => (
                    format!("package install test ({})", userland.suite()),
                    vec![DEB_TASK],
                ),
            };
            let work: pool::Work = Box::new(move || {
                let debs = lock(&shared.debs).clone();
                let snap = match with_snap {
                    true => lock(&shared.snap).clone(),
                    false => None,
                };
                // A failed build is its own failed check.
                if debs.is_empty() && snap.is_none() {
                    return Ok(Vec::new());
                }
                let pkg_opts = crate::pkgguest::package_options(
                    suite.to_string(),
                    userland,
                    opts.tcg,
                    300,
                    Fetch::Offline,
                );
                let payload = crate::pkgguest::Payload {
                    debs: &debs,
                    snap: snap.as_deref(),
                };
                crate::pkgguest::run_package(&pkg_opts, payload)
            });
            tasks.push(Task::new(name, work).after(&after));
        }
        // A smoke run of the benchmark, one scheduler of each kind: it fails only when
        // something does not run.
        let bench_name = "cargo xtask bench --quick";
        tasks.push(Task::new(
            bench_name,
            Box::new(move || {
                let args = crate::bench::BenchArgs::smoke_for_test(opts.tcg, Fetch::Offline)?;
                let (problems, check) =
                    timed(bench_name.to_string(), || crate::bench::command(&args))?;
                match problems {
                    0 => Ok(vec![check]),
                    n => anyhow::bail!("{n} benchmark problems (listed above)"),
                }
            }),
        ));
        // Debian 12's own kernel has no sched_ext: the unit must be skipped cleanly.
        let plain = sys_opts(kernel::PLAIN);
        tasks.push(Task::new(
            format!("systemd guest ({})", kernel::PLAIN),
            Box::new(move || sysguest::run(&plain)),
        ));
    }
    for (smp, scenarios) in later {
        for suite in suites {
            let vm = vm_opts(suite, *smp, scenarios.clone());
            tasks.push(Task::new(
                format!("VM scenarios ({smp} vCPUs, {suite})"),
                Box::new(move || vm::run_parallel(&vm)),
            ));
        }
    }
    Ok(tasks)
}
