//! Workload profiles on the loader's side: which profiles a scheduler offers (it says, with
//! `--list-profiles`), and which scheduler runs a configured `SCX_PROFILE`.

use std::path::{Path, PathBuf};

use crate::config::{Config, AUTO};
use crate::scheds::{answer_lines, Dirs, SchedError};

/// With `SCX_PROFILE` and no `SCX_SCHEDULER`, the first of these that is installed and offers
/// the profile runs (scx(5)); then any other, by name.
const PROFILE_PREFERENCE: &[&str] = &["scx_bpfland", "scx_rustland"];

/// The profiles the scheduler at `path` offers (`--list-profiles`); none if it cannot say.
pub fn profiles_of(path: &Path) -> Vec<String> {
    let mut names = answer_lines(path, "--list-profiles").unwrap_or_default();
    names.retain(|l| l.chars().all(|c| c.is_ascii_lowercase()));
    names
}

impl Dirs {
    /// The scheduler that runs `profile` (set at `origin`): `chosen` (its name and where that
    /// was set) if it offers the profile, or without one the first installed scheduler in
    /// [`PROFILE_PREFERENCE`] order that does. Returns its name and binary.
    pub fn with_profile(
        &self,
        chosen: Option<(&str, &str)>,
        profile: &str,
        origin: &str,
    ) -> Result<(String, PathBuf), SchedError> {
        let offers = |path: &Path| profiles_of(path).iter().any(|p| p == profile);
        if let Some((name, name_origin)) = chosen {
            let path = self.resolve(name, name_origin)?;
            let has = profiles_of(&path);
            if has.iter().any(|p| p == profile) {
                return Ok((name.to_string(), path));
            }
            let others: Vec<String> = self
                .list()
                .into_iter()
                .filter(|i| i.name != name && offers(&i.path))
                .map(|i| i.name)
                .collect();
            let fix = match (has.is_empty(), others.is_empty()) {
                (_, false) => format!(
                    "choose another profile, or a scheduler that has {profile}: {}",
                    others.join(", ")
                ),
                (false, true) => format!("choose one of {name}'s profiles"),
                (true, true) => "remove SCX_PROFILE".to_string(),
            };
            return Err(SchedError::ProfileMissing {
                name: name.to_string(),
                origin: origin.to_string(),
                profile: profile.to_string(),
                has: if has.is_empty() {
                    "none".to_string()
                } else {
                    has.join(", ")
                },
                fix,
            });
        }
        let mut installed = self.list();
        installed.sort_by_key(|i| {
            let rank = PROFILE_PREFERENCE.iter().position(|p| *p == i.name);
            (rank.unwrap_or(PROFILE_PREFERENCE.len()), i.name.clone())
        });
        installed
            .into_iter()
            .find(|i| offers(&i.path))
            .map(|i| (i.name, i.path))
            .ok_or_else(|| SchedError::NoSchedulerForProfile {
                profile: profile.to_string(),
                origin: origin.to_string(),
                installed: self.names(),
            })
    }
}

/// The scheduler the configuration names, or with only `SCX_PROFILE` the one that offers it
/// (checked to offer it either way, except for `auto`, which uses what the scheduler has), and
/// its binary.
pub fn chosen(config: &Config, dirs: &Dirs) -> Result<(String, PathBuf), SchedError> {
    let scheduler = config
        .scheduler
        .as_ref()
        .map(|s| (s.value.as_str(), s.origin.to_string()));
    match (&config.profile, &scheduler) {
        // auto: the configured scheduler takes the profiles it has; without one, the one
        // preferred for powersave, the profile auto exists for.
        (Some(p), Some((name, origin))) if p.value == AUTO => {
            Ok((name.to_string(), dirs.resolve(name, origin)?))
        }
        (Some(p), None) if p.value == AUTO => {
            dirs.with_profile(None, "powersave", &p.origin.to_string())
        }
        (Some(p), _) => dirs.with_profile(
            scheduler.as_ref().map(|(n, o)| (*n, o.as_str())),
            &p.value,
            &p.origin.to_string(),
        ),
        (None, Some((name, origin))) => Ok((name.to_string(), dirs.resolve(name, origin)?)),
        (None, None) => Err(SchedError::NoneConfigured {
            path: config.path.clone(),
            installed: dirs.names(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheds::tests::{fake_dir, script};

    #[test]
    fn a_profile_picks_or_checks_the_scheduler() {
        let dir = fake_dir("profiles");
        let offers =
            |list: &str| format!("[ \"$1\" = --list-profiles ] && printf '{list}'; exit 0");
        script(&dir, "scx_bpfland", &offers("gaming\\nserver\\n"), 0o755);
        script(&dir, "scx_aaa", &offers("hpc\\nserver\\n"), 0o755);
        script(&dir, "scx_none", "exit 2", 0o755);
        let dirs = Dirs::parse(dir.to_str().unwrap(), crate::config::euid());
        assert_eq!(profiles_of(&dir.join("scx_aaa")), ["hpc", "server"]);
        assert!(profiles_of(&dir.join("scx_none")).is_empty());
        // The preferred scheduler first, then the others by name.
        let pick = |p: &str| dirs.with_profile(None, p, "f:1").map(|(n, _)| n);
        assert_eq!(pick("server").unwrap(), "scx_bpfland");
        assert_eq!(pick("hpc").unwrap(), "scx_aaa");
        let err = pick("powersave").unwrap_err();
        assert_eq!(err.exit_code(), crate::codes::BAD_PROFILE);
        assert!(err
            .to_string()
            .starts_with("f:1: no installed scheduler offers the profile powersave"));
        let with = |s: &str, p: &str| dirs.with_profile(Some((s, "f:1")), p, "f:2");
        assert_eq!(with("scx_aaa", "hpc").unwrap().0, "scx_aaa");
        let err = with("scx_bpfland", "hpc").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f:2: scx_bpfland has no profile hpc (its profiles: gaming, server): choose another profile, or a scheduler that has hpc: scx_aaa"
        );
        let err = with("scx_none", "gaming").unwrap_err();
        assert!(err.to_string().contains("(its profiles: none)"), "{err}");
        assert_eq!(err.exit_code(), crate::codes::BAD_PROFILE);
        // auto runs the configured scheduler with whatever it has, or one with powersave.
        let config = |text: &str| {
            Config::from_text(Path::new("f"), text, &|_| None).expect("valid configuration")
        };
        let auto = |text: &str| chosen(&config(text), &dirs).map(|(n, _)| n);
        assert_eq!(
            auto("SCX_PROFILE=auto\nSCX_SCHEDULER=scx_none\n").unwrap(),
            "scx_none"
        );
        let err = auto("SCX_PROFILE=auto\n").unwrap_err();
        assert!(
            err.to_string().contains("offers the profile powersave"),
            "{err}"
        );
        script(&dir, "scx_ccc", &offers("powersave\n"), 0o755);
        assert_eq!(auto("SCX_PROFILE=auto\n").unwrap(), "scx_ccc");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
