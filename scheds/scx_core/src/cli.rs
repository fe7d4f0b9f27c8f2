//! Command-line pieces every scheduler shares, and `--generate` (man page, completions).

use std::io::Write;

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

/// The time-slice options of schedulers whose slice adapts to the number of waiting tasks.
#[derive(Debug, Clone, Args)]
pub struct SliceOpts {
    /// Longest time slice, in microseconds, given when few tasks wait.
    #[arg(short = 's', long, value_name = "US", default_value_t = 20_000)]
    pub slice_us: u64,

    /// Shortest time slice, in microseconds, given when many tasks wait.
    #[arg(short = 'S', long, value_name = "US", default_value_t = 1_000)]
    pub slice_us_min: u64,
}

impl SliceOpts {
    /// Rejects zero slices and a minimum above the maximum.
    pub fn validate(&self) -> Result<(), crate::Error> {
        if self.slice_us == 0 || self.slice_us_min == 0 {
            return Err(crate::Error::InvalidArgument(
                "--slice-us and --slice-us-min must be at least 1".into(),
            ));
        }
        if self.slice_us_min > self.slice_us {
            return Err(crate::Error::InvalidArgument(format!(
                "--slice-us-min ({}) is larger than --slice-us ({}): lower --slice-us-min",
                self.slice_us_min, self.slice_us
            )));
        }
        Ok(())
    }

    /// The longest slice in nanoseconds.
    pub fn max_ns(&self) -> u64 {
        self.slice_us.saturating_mul(1000)
    }

    /// The shortest slice in nanoseconds.
    pub fn min_ns(&self) -> u64 {
        self.slice_us_min.saturating_mul(1000)
    }

    /// `1000-20000 us`, for the attach log line.
    pub fn describe(&self) -> String {
        format!("slice {}-{} us", self.slice_us_min, self.slice_us)
    }
}

/// Options every scx scheduler accepts.
#[derive(Debug, Clone, Args)]
pub struct CommonOpts {
    /// Schedule only tasks that opted in with SCHED_EXT; all others stay on the default scheduler.
    #[arg(short = 'p', long)]
    pub partial: bool,

    /// Check the options and exit without attaching (used by scx-loader to validate flags).
    #[arg(long, hide = true)]
    pub check_args: bool,

    /// Print the names of this scheduler's `--profile` values, one per line, and exit (used by
    /// scx-loader).
    #[arg(long, hide = true)]
    pub list_profiles: bool,

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
        Generate::Man => clap_mangen::Man::new(cmd).section("8").render(out),
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
