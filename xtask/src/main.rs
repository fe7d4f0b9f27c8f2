//! `cargo xtask`: project automation (host set-up, test kernels, vmlinux.h, the test VM, tests).

mod bench;
mod cpio;
mod deb;
mod deps;
mod host;
mod initramfs;
mod kernel;
mod man;
mod new;
mod pkgguest;
mod pool;
mod progress;
mod qemu;
mod registry;
mod scenario;
mod snap;
mod sysguest;
mod test;
mod torture;
mod util;
mod vm;
mod vmlinux;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use kernel::Fetch;

#[derive(Debug, Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "Project automation for scx"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Args)]
struct FetchArgs {
    /// Refresh the Debian package lists even if they are recent
    #[arg(long, conflicts_with = "offline")]
    refresh: bool,
    /// Use only kernels already in the cache
    #[arg(long)]
    offline: bool,
}

impl FetchArgs {
    fn mode(&self) -> Fetch {
        if self.offline {
            Fetch::Offline
        } else if self.refresh {
            Fetch::Refresh
        } else {
            Fetch::Normal
        }
    }
}

/// How long a guest scenario may run before it counts as hung (a guard, not a time budget: a
/// slow host stretches the longest scenarios to 120 s).
const SCENARIO_TIMEOUT_SECS: u64 = 240;

#[derive(Debug, Args)]
struct VmArgs {
    /// Kernel to boot: `all`, a suite (trixie-backports, sid) or a kernel release
    #[arg(long, default_value = "all")]
    kernel: String,
    /// Virtual CPUs (default: 2; for `vm`, what the named scenarios ask for with `# vm-smp: N`)
    #[arg(long)]
    smp: Option<u32>,
    /// TCG threading: one host thread per vCPU, or all vCPUs on one thread
    #[arg(long, value_enum, default_value = "single")]
    tcg: vm::TcgThreads,
    /// Guest memory in MiB
    #[arg(long = "mem", default_value_t = 1024)]
    mem_mb: u32,
    /// Time limit of each scenario inside the guest, in seconds
    #[arg(long = "timeout", default_value_t = SCENARIO_TIMEOUT_SECS)]
    timeout_secs: u64,
    /// Do not build; use the executables already in target/release
    #[arg(long)]
    no_build: bool,
    #[command(flatten)]
    fetch: FetchArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Check (and as root install) the host packages and rustup components
    Setup,
    /// Download and cache the current sched_ext test kernels, then list them
    Kernel {
        /// Debian suite to take the kernel from (default: all)
        #[arg(long = "suite", value_parser = clap::builder::PossibleValuesParser::new(kernel::SUITES))]
        suites: Vec<String>,
        #[command(flatten)]
        fetch: FetchArgs,
    },
    /// Regenerate scheds/include/vmlinux/x86/vmlinux.h from the trixie-backports kernel
    Vmlinux {
        #[command(flatten)]
        fetch: FetchArgs,
    },
    /// Boot test kernels under qemu and run scenarios from tests/vm
    Vm {
        #[command(flatten)]
        vm: VmArgs,
        /// List the scenarios and exit
        #[arg(long, conflicts_with = "scenarios")]
        list: bool,
        /// Scenarios to run, in order (names of tests/vm/*.sh)
        #[arg(required_unless_present = "list")]
        scenarios: Vec<String>,
    },
    /// Formatting, clippy, unit tests and every VM scenario on every kernel
    Test {
        /// Only the VM scenarios, on the trixie-backports kernel
        #[arg(long)]
        quick: bool,
        /// TCG threading for the VM runs
        #[arg(long, value_enum, default_value = "single")]
        tcg: vm::TcgThreads,
        /// Time limit of each scenario inside the guest, in seconds
        #[arg(long = "timeout", default_value_t = SCENARIO_TIMEOUT_SECS)]
        timeout_secs: u64,
        /// Stream every tool's and guest's output instead of one line per step
        #[arg(long, short)]
        verbose: bool,
        #[command(flatten)]
        fetch: FetchArgs,
    },
    /// Compare each sched_ext scheduler with EEVDF in one VM boot per kernel (a benchmark)
    Bench(bench::BenchArgs),
    /// Every scheduler under stress-ng's scheduler stressors and mixed loads, with EEVDF as the
    /// control: a scheduler the kernel ejects fails
    Torture(torture::TortureArgs),
    /// Minutes of rotating mixed load per scheduler: ejections, longest waits, RSS, CPU share
    Soak(torture::SoakArgs),
    /// Boot a systemd guest and run the scx.service scenarios from tests/systemd
    ///
    /// `--kernel bookworm` boots Debian 12's own kernel (no sched_ext) for the `nosched` scenario.
    Sysvm {
        #[command(flatten)]
        vm: VmArgs,
        /// Debian release of the guest's user space
        #[arg(long, value_enum, default_value = "bookworm")]
        userland: sysguest::Userland,
        /// List the scenarios and exit
        #[arg(long, conflicts_with = "scenarios")]
        list: bool,
        /// Scenarios to run, in order (names of tests/systemd/*.sh; default: all)
        scenarios: Vec<String>,
    },
    /// Build the Debian source package, then the .deb from it offline, and run lintian
    Deb {
        /// Then install it on clean systemd guests (with an upgrade, remove and purge)
        #[arg(long)]
        install_test: bool,
        /// Use the .deb of the last build instead of building again
        #[arg(long, requires = "install_test")]
        no_build: bool,
        /// Kernel of the install test: `all`, a suite or a kernel release
        #[arg(long, default_value = "all")]
        kernel: String,
        /// Debian releases to install on, one guest each (default: bookworm and trixie)
        #[arg(long, value_enum)]
        userland: Vec<sysguest::Userland>,
        /// TCG threading for the install test
        #[arg(long, value_enum, default_value = "single")]
        tcg: vm::TcgThreads,
    },
    /// Lay out the snap from a release build, pack it with `snap pack` and check it
    Snap {
        /// Then unpack it on a clean systemd guest and run tests/snap (its daemon app as snapd
        /// runs it, on a sched_ext kernel)
        #[arg(long)]
        vm_test: bool,
        /// Kernel of the VM test: `all`, a suite or a kernel release
        #[arg(long, default_value = "trixie-backports")]
        kernel: String,
        /// Debian release of the guest's user space
        #[arg(long, value_enum, default_value = "trixie")]
        userland: sysguest::Userland,
        /// TCG threading for the VM test
        #[arg(long, value_enum, default_value = "single")]
        tcg: vm::TcgThreads,
    },
    /// Refresh the generated files: man pages and shell completions (from the binaries'
    /// --generate), debian/scx.manpages and the snap's apps (from the scheduler registry)
    Man {
        /// Only check that they are up to date and render without warnings
        #[arg(long)]
        check: bool,
    },
    /// Create a new user-space scheduler crate from scx_rlfifo and register it, so the build,
    /// docs, packages and VM scenarios include it
    New {
        /// The scheduler's name: scx_ followed by a-z, 0-9 and _
        name: String,
    },
    /// Build the .deb, install it on a Debian guest booted on a sched_ext kernel, enable the
    /// service and show its status, the kernel's state and the journal
    Demo {
        /// TCG threading for the VM run
        #[arg(long, value_enum, default_value = "single")]
        tcg: vm::TcgThreads,
        /// Debian release of the guest's user space
        #[arg(long, value_enum, default_value = "trixie")]
        userland: sysguest::Userland,
        /// Time limit of the demo inside the guest, in seconds
        #[arg(long = "timeout", default_value_t = 600)]
        timeout_secs: u64,
        /// Do not build; use the .deb of the last `cargo xtask deb`
        #[arg(long)]
        no_build: bool,
        /// Stream every tool's and the guest's output instead of one line per step
        #[arg(long, short)]
        verbose: bool,
        #[command(flatten)]
        fetch: FetchArgs,
    },
}

/// What the demo's guest printed between its scenario's markers, without the console's
/// `[kernel] ` prefix and the kernel's own messages: the part a user came to see.
fn demo_lines(log: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in log.lines() {
        let text = match line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
            Some((_, rest)) => rest,
            None => line,
        };
        if text.contains(initramfs::marker::BEGIN) {
            inside = true;
            continue;
        }
        if text.contains(initramfs::marker::END) {
            inside = false;
            continue;
        }
        // Kernel messages carry a `[ seconds.micros]` stamp.
        let kernel_message = text.starts_with('[')
            && text[1..]
                .split_once(']')
                .is_some_and(|(stamp, _)| stamp.trim().parse::<f64>().is_ok());
        if inside && !kernel_message {
            out.push(text.to_string());
        }
    }
    out
}

fn exit_for(failures: usize) -> ExitCode {
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn all_suites() -> Vec<String> {
    kernel::SUITES.iter().map(|s| s.to_string()).collect()
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Cmd::Setup => {
            host::ensure()?;
            host::ensure_rust_components()?;
            host::describe();
        }
        Cmd::Kernel { suites, fetch } => {
            host::ensure()?;
            let suites = if suites.is_empty() {
                all_suites()
            } else {
                suites
            };
            kernel::command(&suites, fetch.mode())?;
        }
        Cmd::Vmlinux { fetch } => {
            host::ensure()?;
            vmlinux::command(fetch.mode())?;
        }
        Cmd::Vm {
            vm,
            list,
            scenarios,
        } => {
            if list {
                for name in vm::list_scenarios()? {
                    println!("{name}");
                }
                return Ok(ExitCode::SUCCESS);
            }
            host::ensure()?;
            let smp = match vm.smp {
                Some(n) => n,
                None => vm::smp_asked(&scenarios)?,
            };
            let opts = vm::Options {
                kernel: vm.kernel,
                smp,
                tcg: vm.tcg,
                mem_mb: vm.mem_mb,
                timeout_secs: vm.timeout_secs,
                build: !vm.no_build,
                fetch: vm.fetch.mode(),
                scenarios,
            };
            return Ok(exit_for(vm::command(&opts)?));
        }
        Cmd::Test {
            quick,
            tcg,
            timeout_secs,
            verbose,
            fetch,
        } => {
            if !verbose {
                progress::quiet("test")?;
            }
            let opts = test::Options {
                quick,
                tcg,
                fetch: fetch.mode(),
                timeout_secs,
            };
            return Ok(exit_for(test::command(&opts)?));
        }
        Cmd::Sysvm {
            vm,
            userland,
            list,
            scenarios,
        } => {
            if list {
                for name in sysguest::list_scenarios()? {
                    println!("{name}");
                }
                return Ok(ExitCode::SUCCESS);
            }
            host::ensure()?;
            let opts = sysguest::Options {
                kernel: vm.kernel,
                userland,
                tcg: vm.tcg,
                smp: vm.smp.unwrap_or(2),
                mem_mb: vm.mem_mb,
                timeout_secs: vm.timeout_secs,
                build: !vm.no_build,
                fetch: vm.fetch.mode(),
                scenarios,
            };
            return Ok(exit_for(sysguest::command(&opts)?));
        }
        Cmd::Deb {
            install_test,
            no_build,
            kernel,
            userland,
            tcg,
        } => {
            host::ensure()?;
            let deb = if no_build {
                deb::last_built()?
            } else {
                deb::command(deb::UnitTests::Run)?
            };
            if install_test {
                let upgrade = deb::upgrade_variant(&deb)?;
                let userlands = if userland.is_empty() {
                    sysguest::Userland::ALL.to_vec()
                } else {
                    userland
                };
                let mut checks = Vec::new();
                for userland in userlands {
                    let opts = pkgguest::package_options(
                        kernel.clone(),
                        userland,
                        tcg,
                        300,
                        Fetch::Offline,
                    );
                    let debs = [deb.clone(), upgrade.clone()];
                    let payload = pkgguest::Payload {
                        debs: &debs,
                        snap: None,
                    };
                    checks.extend(pkgguest::run_package(&opts, payload)?);
                }
                return Ok(exit_for(scenario::report(&checks)));
            }
        }
        Cmd::Snap {
            vm_test,
            kernel,
            userland,
            tcg,
        } => {
            host::ensure()?;
            let snap = snap::command()?;
            if vm_test {
                let opts = pkgguest::package_options(kernel, userland, tcg, 300, Fetch::Offline);
                let payload = pkgguest::Payload {
                    debs: &[],
                    snap: Some(&snap),
                };
                let checks = pkgguest::run_package(&opts, payload)?;
                return Ok(exit_for(scenario::report(&checks)));
            }
        }
        Cmd::Man { check } => {
            man::command(check)?;
        }
        Cmd::New { name } => {
            new::command(&name)?;
        }
        Cmd::Bench(args) => {
            host::ensure()?;
            return Ok(exit_for(bench::command(&args)?));
        }
        Cmd::Torture(args) => {
            host::ensure()?;
            return Ok(exit_for(torture::torture(&args)?));
        }
        Cmd::Soak(args) => {
            host::ensure()?;
            return Ok(exit_for(torture::soak(&args)?));
        }
        Cmd::Demo {
            tcg,
            userland,
            timeout_secs,
            no_build,
            verbose,
            fetch,
        } => {
            if !verbose {
                progress::quiet("demo")?;
            }
            progress::step("host packages", host::ensure)?;
            let deb = if no_build {
                deb::last_built()?
            } else {
                progress::step("the .deb: source package, offline build, lintian", || {
                    deb::command(deb::UnitTests::Run)
                })?
            };
            let opts = sysguest::Options {
                scenarios: vec!["demo/show".to_string()],
                ..pkgguest::package_options(
                    kernel::SUITES[0].to_string(),
                    userland,
                    tcg,
                    timeout_secs,
                    fetch.mode(),
                )
            };
            let checks = progress::step(
                &format!(
                    "a clean Debian {} guest on a sched_ext kernel: install, enable, run",
                    userland.suite()
                ),
                || {
                    let payload = pkgguest::Payload {
                        debs: std::slice::from_ref(&deb),
                        snap: None,
                    };
                    pkgguest::run_package(&opts, payload)
                },
            )?;
            if progress::is_quiet() {
                if let Some(log) = progress::last_log() {
                    println!();
                    for line in demo_lines(&log) {
                        println!("{line}");
                    }
                }
            }
            return Ok(exit_for(scenario::report(&checks)));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_shows_its_scenario_without_kernel_messages() {
        let log = "xtask: booting\n\
                   [7.3] @@SCX begin demo/show@@\n\
                   [7.3] == systemctl status scx\n\
                   [7.3] [   12.500000] sched_ext: BPF scheduler \"scx_rustland\" enabled\n\
                   [7.3] Active: active (running)\n\
                   [7.3] @@SCX end demo/show rc=0@@\n\
                   [7.3] reboot: Power down\n";
        assert_eq!(
            demo_lines(log),
            vec!["== systemctl status scx", "Active: active (running)"]
        );
    }
}
