//! Workload profiles (`--profile`): the names the schedulers and the loader share, the query
//! that tells the loader which ones a scheduler has (`--list-profiles`), and the rule that a
//! profile sets only the tunables the command line left at their defaults.
//!
//! Each scheduler defines its own `--profile` value enum, one variant per profile it has, each
//! documented with what it changes; its variants take their names from [`NAMES`].

use clap::parser::ValueSource;
use clap::{ArgMatches, Parser};

/// Every profile name, in the order the documentation lists them.
pub const NAMES: &[&str] = &["gaming", "lowlatency", "server", "powersave", "hpc"];

/// The id of the option that selects a profile.
pub const ARG: &str = "profile";

/// The profiles `cmd` offers for `--profile`, by name (none if it has no such option).
pub fn offered(cmd: &clap::Command) -> Vec<String> {
    cmd.get_arguments()
        .find(|a| a.get_id() == ARG)
        .map(|a| {
            a.get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Which options the command line gave explicitly.
#[derive(Debug, Clone)]
pub struct Explicit(ArgMatches);

impl Explicit {
    /// Whether the option with clap id `id` (its field name) was on the command line.
    pub fn given(&self, id: &str) -> bool {
        matches!(self.0.value_source(id), Some(ValueSource::CommandLine))
    }

    /// Sets `field` to a profile's `value` unless the option `id` was given explicitly.
    pub fn tune<V>(&self, id: &str, field: &mut V, value: V) {
        if !self.given(id) {
            *field = value;
        }
    }
}

/// Parses the process's command line like `T::parse()` (exiting on errors, `--help` and
/// `--version`), and keeps which options it gave.
pub fn parse<T: Parser>() -> (T, Explicit) {
    let matches = T::command().get_matches();
    match T::from_arg_matches(&matches) {
        Ok(cli) => (cli, Explicit(matches)),
        Err(e) => e.exit(),
    }
}

/// [`parse`] over `args` (the first is the program name), returning clap's error.
pub fn try_parse_from<T, I, A>(args: I) -> Result<(T, Explicit), clap::Error>
where
    T: Parser,
    I: IntoIterator<Item = A>,
    A: Into<std::ffi::OsString> + Clone,
{
    let matches = T::command().try_get_matches_from(args)?;
    let cli = T::from_arg_matches(&matches)?;
    Ok((cli, Explicit(matches)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
    enum Profile {
        /// Short slices.
        Gaming,
        Server,
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[arg(long, value_enum)]
        profile: Option<Profile>,
        #[arg(long, default_value_t = 20)]
        slice: u64,
        #[arg(long)]
        quiet: bool,
    }

    #[test]
    fn a_profile_sets_only_what_the_command_line_left_alone() {
        let (mut cli, explicit) =
            try_parse_from::<Cli, _, _>(["x", "--profile", "gaming", "--quiet"]).unwrap();
        assert_eq!(cli.profile, Some(Profile::Gaming));
        explicit.tune("slice", &mut cli.slice, 5);
        explicit.tune("quiet", &mut cli.quiet, false);
        assert_eq!((cli.slice, cli.quiet), (5, true));
        let (mut cli, explicit) =
            try_parse_from::<Cli, _, _>(["x", "--profile", "gaming", "--slice", "7"]).unwrap();
        explicit.tune("slice", &mut cli.slice, 5);
        assert_eq!(cli.slice, 7);
        assert!(try_parse_from::<Cli, _, _>(["x", "--profile", "hpc"]).is_err());
    }

    #[test]
    fn offered_lists_the_value_enum() {
        use clap::CommandFactory;
        assert_eq!(offered(&Cli::command()), ["gaming", "server"]);
        #[derive(Debug, Parser)]
        struct Plain {
            #[arg(long)]
            x: bool,
        }
        assert!(offered(&Plain::command()).is_empty());
    }
}
