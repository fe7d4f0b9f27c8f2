//! scx-loader: the command line — the `run` service and the `check`, `status`, `list` and `set`
//! tools around `/etc/default/scx` — and the mapping of every error to one line and an exit code.

mod bus;
mod codes;
mod commands;
mod config;
mod exit;
mod logging;
mod notify;
mod power;
mod profiles;
mod scheds;
mod service;
mod suggest;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, CommandFactory, Parser, Subcommand};
use scx_core::cli::Generate;

/// Runs the sched_ext scheduler chosen in /etc/default/scx as a systemd service, and inspects
/// or changes that choice.
///
/// `systemctl enable --now scx` starts `scx-loader run`, which reports the service ready only
/// once the kernel runs the scheduler; with a system bus it also serves org.scx.Loader, the
/// interface desktop tools switch schedulers with (see scx(8)). Exit codes: 0 success, 1 failure, 2 bad command line,
/// 3 not root, 4 no sched_ext or BTF, 5 another scheduler attached, 6 the scheduler failed to
/// attach, 20 configuration unreadable, 21 syntax error, 22 unknown key, 23 configuration
/// writable by non-root, 24 unknown or invalid scheduler, 25 flags rejected, 26 no scheduler
/// configured, 27 unknown profile or one the scheduler lacks, 30 the scheduler kept failing,
/// 31 the service did not take a reload, 32 no system bus (monitor).
#[derive(Debug, Parser)]
#[command(name = "scx-loader", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,

    /// Log more: -v adds debug messages.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Write a man page or a shell completion script to stdout and exit.
    #[arg(long, value_name = "WHAT", hide = true)]
    generate: Option<Generate>,
}

#[derive(Debug, Args)]
struct ConfigArg {
    /// The configuration file [default: /etc/default/scx; $SNAP_DATA/scx when run from the snap]
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    fn path(self) -> PathBuf {
        self.config.unwrap_or_else(config::default_path)
    }
}

#[derive(Debug, Args)]
struct JsonArg {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the configured scheduler as a service (what scx.service starts).
    ///
    /// Reports READY to systemd once the kernel runs the scheduler; SIGHUP re-reads the
    /// configuration and swaps schedulers; SIGTERM stops the scheduler and waits until the kernel
    /// is back on EEVDF. A scheduler that dies or is ejected is restarted with exponential
    /// backoff; after --max-failures failures within --failure-window the loader switches to
    /// SCX_FALLBACK_SCHEDULER, or exits with code 30.
    Run {
        #[command(flatten)]
        config: ConfigArg,
        /// Seconds a scheduler may take to attach.
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        attach_timeout: u64,
        /// Seconds a scheduler may take to exit after SIGTERM before it is killed.
        #[arg(long, value_name = "SECS", default_value_t = 10)]
        stop_timeout: u64,
        /// Failures within --failure-window before falling back or giving up.
        #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
        max_failures: u32,
        /// The window, in seconds, in which failures are counted.
        #[arg(long, value_name = "SECS", default_value_t = 120)]
        failure_window: u64,
        /// First restart delay in milliseconds (doubled for each further failure).
        #[arg(long, value_name = "MS", default_value_t = 500)]
        backoff_ms: u64,
    },
    /// Check whether this machine can run the configured scheduler; exit 0 only if a start
    /// would work.
    Check {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Show what the kernel runs and whether it is the configured scheduler (with
    /// SCX_PROFILE=auto, also the profile the service chose and why).
    Status {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Print the service's state from the bus (org.scx.Loader), then each change it announces
    /// (PropertiesChanged) as a line, until interrupted.
    Monitor {
        #[command(flatten)]
        json: JsonArg,
    },
    /// List the installed schedulers.
    List {
        #[command(flatten)]
        json: JsonArg,
    },
    /// Ask the running service to reload its configuration and wait for the outcome (what
    /// `systemctl reload scx` runs); exit 0 only if the new configuration runs.
    Reload {
        /// The service's main process (default: the MainPID systemd reports for scx).
        #[arg(long, value_name = "PID")]
        pid: Option<i32>,
        /// Seconds to wait for the outcome.
        #[arg(long, value_name = "SECS", default_value_t = 80)]
        timeout: u64,
    },
    /// Choose the scheduler (and its flags) in the configuration, then reload the service if it
    /// runs.
    ///
    /// The file is rewritten atomically; comments and other lines are kept. Without --flags,
    /// SCX_FLAGS is cleared (flags belong to one scheduler).
    Set {
        /// The scheduler, e.g. scx_rustland (see `scx-loader list`); its flags are replaced
        /// too (by --flags, or none).
        #[arg(required_unless_present = "profile")]
        name: Option<String>,
        /// The scheduler's flags, as one string ("--slice-us 5000").
        #[arg(long, value_name = "FLAGS", allow_hyphen_values = true)]
        flags: Option<String>,
        /// The workload profile (SCX_PROFILE; see scx(5)), or auto to follow the power state; ""
        /// for the scheduler's defaults.
        /// Alone, it keeps the configured scheduler and flags.
        #[arg(long, value_name = "PROFILE")]
        profile: Option<String>,
        /// Only write the file; do not reload the service.
        #[arg(long)]
        no_reload: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

fn run(cli: Cli) -> Result<u8> {
    let Some(command) = cli.command else {
        let mut cmd = Cli::command();
        cmd.print_help()?;
        return Ok(codes::USAGE);
    };
    match command {
        Cmd::Run {
            config,
            attach_timeout,
            stop_timeout,
            max_failures,
            failure_window,
            backoff_ms,
        } => service::run(service::Options {
            config: config.path(),
            attach_timeout: Duration::from_secs(attach_timeout.max(1)),
            stop_timeout: Duration::from_secs(stop_timeout.max(1)),
            max_failures: max_failures as usize,
            failure_window: Duration::from_secs(failure_window.max(1)),
            first_backoff: Duration::from_millis(backoff_ms.max(1)),
        }),
        Cmd::Check { config, json } => commands::check(&config.path(), json.json),
        Cmd::Status { config, json } => commands::status(&config.path(), json.json),
        Cmd::List { json } => commands::list(json.json),
        Cmd::Monitor { json } => commands::monitor(json.json),
        Cmd::Reload { pid, timeout } => commands::reload(pid, Duration::from_secs(timeout)),
        Cmd::Set {
            name,
            flags,
            profile,
            no_reload,
            config,
        } => commands::set(
            &config.path(),
            name.as_deref(),
            flags.as_deref(),
            profile.as_deref(),
            !no_reload,
        ),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(what) = cli.generate {
        let mut out = std::io::stdout().lock();
        return match scx_core::cli::generate(Cli::command(), what, &mut out)
            .and_then(|()| out.flush())
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: error: writing to stdout: {e}", logging::NAME);
                ExitCode::from(codes::FAILURE)
            }
        };
    }
    logging::init(cli.verbose);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            log::error!("{err:#}");
            ExitCode::from(exit::code_of(&err))
        }
    }
}
