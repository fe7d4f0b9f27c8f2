//! Command-line pieces every scheduler shares, `--generate` (man page, completions) and the
//! `main()` wrapper that turns errors into one line and an exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

/// What `--generate` writes to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// A man page (roff).
    Man,
    /// A bash completion script.
    CompleteBash,
    /// A zsh completion script.
    CompleteZsh,
    /// A fish completion script.
    CompleteFish,
}

/// Options every scx scheduler accepts.
#[derive(Debug, Clone, Args)]
pub struct CommonOpts {
    /// Log more: -v adds debug messages, -vv also libbpf's own.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print a one-line stats summary every SECS seconds (0 disables it).
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub stats: f64,

    /// Write a man page or a shell completion script to stdout and exit.
    #[arg(long, value_name = "WHAT", hide = true)]
    pub generate: Option<Generate>,
}

impl CommonOpts {
    /// The stats interval, if stats were asked for.
    pub fn stats_interval(&self) -> Option<std::time::Duration> {
        (self.stats > 0.0 && self.stats.is_finite())
            .then(|| std::time::Duration::from_secs_f64(self.stats))
    }
}

/// Writes what `--generate` asked for, built from the same clap definition as `--help`.
pub fn generate(
    mut cmd: clap::Command,
    what: Generate,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let name = cmd.get_name().to_string();
    match what {
        Generate::Man => clap_mangen::Man::new(cmd).render(out),
        Generate::CompleteBash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, name, out);
            Ok(())
        }
        Generate::CompleteZsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, name, out);
            Ok(())
        }
        Generate::CompleteFish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, name, out);
            Ok(())
        }
    }
}

/// The exit code an error chain asks for: the first scx_core error in it decides.
pub fn exit_code_of_anyhow(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<crate::Error>())
        .map(crate::Error::exit_code)
        .unwrap_or(crate::exit_code::FAILURE)
}

/// The body of every scheduler's `main()`: handles `--generate`, sets up logging, runs `run`
/// and turns its outcome into the process exit code. `run` returns the exit code of a run that
/// ended without an error (see [`crate::exit_code`]).
pub fn main<F>(name: &'static str, cmd: clap::Command, common: &CommonOpts, run: F) -> ExitCode
where
    F: FnOnce() -> anyhow::Result<u8>,
{
    if let Some(what) = common.generate {
        let mut out = std::io::stdout().lock();
        return match generate(cmd, what, &mut out).and_then(|()| out.flush()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: error: writing to stdout: {e}");
                ExitCode::from(crate::exit_code::FAILURE)
            }
        };
    }
    crate::logging::init(name, common.verbose);
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            log::error!("{err:#}");
            ExitCode::from(exit_code_of_anyhow(&err))
        }
    }
}
