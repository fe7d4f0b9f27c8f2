//! `cargo xtask test`: formatting, lints, unit tests and every VM scenario, with a summary.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use anyhow::Result;

use crate::host;
use crate::kernel::{self, Fetch};
use crate::progress;
use crate::qemu;
use crate::scenario::{self, Check};
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

/// An independent guest run for [`side_by_side`]: its name, and the run returning its checks.
type Job<'a> = (String, qemu::Job<'a, Vec<Check>>);

/// Runs independent guest runs at once ([`qemu::side_by_side`]); one that fails outright
/// becomes one failed check under its name.
fn side_by_side(checks: &mut Vec<Check>, jobs: Vec<Job<'_>>) {
    let names: Vec<String> = jobs.iter().map(|(name, _)| name.clone()).collect();
    let timed: Vec<qemu::Job<Vec<Check>>> = jobs
        .into_iter()
        .map(|(_, job)| {
            // A failure says how long the run took before it failed.
            let timed: qemu::Job<Vec<Check>> = Box::new(move || {
                let start = Instant::now();
                job().map_err(|e| anyhow::anyhow!("{e:#} ({:.1} s)", start.elapsed().as_secs_f64()))
            });
            timed
        })
        .collect();
    // The group is one step: its output (both guests' consoles) goes to one log.
    let results =
        progress::step(&names.join(" | "), || Ok(qemu::side_by_side(timed))).unwrap_or_default();
    for (name, result) in names.into_iter().zip(results) {
        match result {
            Ok(run_checks) => checks.extend(run_checks),
            Err(err) => {
                eprintln!("xtask: {name}: {err:#}");
                checks.push(Check {
                    name,
                    passed: false,
                    detail: format!("{err:#}"),
                });
            }
        }
    }
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

/// The value behind a mutex, also when a thread that held it panicked.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
    if have_kernels {
        // Scenarios that need another vCPU count get boots of their own.
        let mut groups: Vec<(u32, Vec<String>)> = Vec::new();
        for name in vm::list_scenarios()? {
            let smp = vm::scenario_smp(&name)?.unwrap_or(2);
            match groups.iter_mut().find(|(n, _)| *n == smp) {
                Some((_, names)) => names.push(name),
                None => groups.push((smp, vec![name])),
            }
        }
        for (i, (smp, scenarios)) in groups.into_iter().enumerate() {
            let vm_opts = vm::Options {
                kernel: if opts.quick {
                    kernel::SUITES[0].to_string()
                } else {
                    "all".to_string()
                },
                smp,
                tcg: opts.tcg,
                mem_mb: 1024,
                timeout_secs: opts.timeout_secs,
                build: i == 0,
                fetch: Fetch::Offline,
                scenarios,
            };
            let mut vm_checks = Vec::new();
            // The kernels' guests are independent: one per host core, side by side.
            let vm_ok = step(&mut checks, &format!("VM run ({smp} vCPUs)"), || {
                vm_checks = vm::run_parallel(&vm_opts)?;
                Ok(())
            });
            if vm_ok {
                // The VM run itself is represented by its scenarios.
                checks.pop();
            }
            checks.extend(vm_checks);
        }
        // Every scheduler under stress-ng's scheduler stressors and mixed loads, both kernels
        // side by side: a scheduler the kernel ejects fails here.
        let mut torture_checks = Vec::new();
        if step(&mut checks, "cargo xtask torture", || {
            let args = crate::torture::TortureArgs::for_test(opts.tcg, opts.quick);
            torture_checks = crate::torture::run_checks(&args)?;
            Ok(())
        }) {
            checks.pop();
        }
        checks.extend(torture_checks);
        let sys_opts = crate::sysguest::Options {
            userland: crate::sysguest::Userland::Bookworm,
            kernel: if opts.quick {
                kernel::SUITES[0].to_string()
            } else {
                "all".to_string()
            },
            tcg: opts.tcg,
            smp: 2,
            mem_mb: 1024,
            timeout_secs: opts.timeout_secs,
            build: false,
            fetch: Fetch::Offline,
            scenarios: Vec::new(),
        };
        let mut sys_checks = Vec::new();
        let name = format!("systemd guest run ({})", sys_opts.kernel);
        if step(&mut checks, &name, || {
            sys_checks = crate::sysguest::run(&sys_opts)?;
            Ok(())
        }) {
            checks.pop();
        }
        checks.extend(sys_checks);
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
            // Side by side: the package build (cargo, then lintian), and the snap's packing
            // followed by Debian 12's own kernel, which has no sched_ext (the unit must be
            // skipped cleanly): one guest beside a build that does not keep both cores busy.
            let plain_opts = crate::sysguest::Options {
                kernel: kernel::PLAIN.to_string(),
                ..sys_opts
            };
            let deb: Mutex<Option<PathBuf>> = Mutex::new(None);
            let snap: Mutex<Option<PathBuf>> = Mutex::new(None);
            let deb_name = "cargo xtask deb (offline build from the .dsc, lintian)".to_string();
            let snap_name = "cargo xtask snap (pack and check)".to_string();
            side_by_side(
                &mut checks,
                vec![
                    (
                        deb_name.clone(),
                        Box::new(|| {
                            let built = timed(deb_name, || crate::deb::command(deb_tests))?;
                            *lock(&deb) = Some(built.0);
                            Ok(vec![built.1])
                        }),
                    ),
                    (
                        format!("{snap_name}, systemd guest run ({})", plain_opts.kernel),
                        Box::new(|| {
                            let mut run_checks = Vec::new();
                            match timed(snap_name.clone(), crate::snap::command) {
                                Ok((packed, check)) => {
                                    *lock(&snap) = Some(packed);
                                    run_checks.push(check);
                                }
                                Err(err) => run_checks.push(Check {
                                    name: snap_name,
                                    passed: false,
                                    detail: format!("{err:#}"),
                                }),
                            }
                            run_checks.extend(crate::sysguest::run(&plain_opts)?);
                            Ok(run_checks)
                        }),
                    ),
                ],
            );
            let deb = lock(&deb).take();
            let snap = lock(&snap).take();
            // The package's behaviour does not depend on the kernel: each Debian release gets
            // one boot, on different kernels, side by side; the trixie guest also runs the
            // snap's scenarios, after the package's.
            let upgrade = deb.as_ref().map(|deb| {
                progress::step("the .deb's upgrade variant (version -2)", || {
                    crate::deb::upgrade_variant(deb)
                })
            });
            let debs: Option<Vec<PathBuf>> = match (&deb, upgrade) {
                (Some(deb), Some(Ok(upgrade))) => Some(vec![deb.clone(), upgrade]),
                (_, Some(Err(err))) => {
                    checks.push(Check {
                        name: "the .deb's upgrade variant (version -2)".to_string(),
                        passed: false,
                        detail: format!("{err:#}"),
                    });
                    None
                }
                _ => None,
            };
            let jobs: Vec<Job> = crate::sysguest::Userland::ALL
                .into_iter()
                .zip(kernel::SUITES.iter())
                .filter_map(|(userland, suite)| {
                    let snap = match userland {
                        crate::sysguest::Userland::Trixie => snap.as_deref(),
                        crate::sysguest::Userland::Bookworm => None,
                    };
                    let debs = debs.as_deref().unwrap_or_default();
                    if debs.is_empty() && snap.is_none() {
                        return None;
                    }
                    let name = match snap {
                        Some(_) => format!("package and snap install test ({})", userland.suite()),
                        None => format!("package install test ({})", userland.suite()),
                    };
                    let job: Job = (
                        name,
                        Box::new(move || {
                            let pkg_opts = crate::pkgguest::package_options(
                                suite.to_string(),
                                userland,
                                opts.tcg,
                                300,
                                Fetch::Offline,
                            );
                            let payload = crate::pkgguest::Payload { debs, snap };
                            crate::pkgguest::run_package(&pkg_opts, payload)
                        }),
                    );
                    Some(job)
                })
                .collect();
            side_by_side(&mut checks, jobs);
            // Side by side: a smoke run of the benchmark (fails only when something does not
            // run), and a newcomer's first scheduler, made by `cargo xtask new` in a scratch
            // copy of the tree (mostly a build, then one guest).
            let bench_name = "cargo xtask bench --quick".to_string();
            side_by_side(
                &mut checks,
                vec![
                    (
                        bench_name.clone(),
                        Box::new(move || {
                            let start = Instant::now();
                            let args = crate::bench::BenchArgs::quick_for_test(
                                opts.tcg,
                                Fetch::Offline,
                                false,
                            );
                            match crate::bench::command(&args)? {
                                0 => Ok(vec![Check {
                                    name: bench_name,
                                    passed: true,
                                    detail: format!("{:.1} s", start.elapsed().as_secs_f64()),
                                }]),
                                n => anyhow::bail!("{n} benchmark problems (listed above)"),
                            }
                        }),
                    ),
                    (
                        "cargo xtask new".to_string(),
                        Box::new(|| Ok(vec![crate::new::check_in_scratch(kernel::SUITES[0])?])),
                    ),
                ],
            );
        }
    }
    println!();
    println!("==> summary");
    Ok(scenario::report(&checks))
}
