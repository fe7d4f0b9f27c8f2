//! The machine's power state for `SCX_PROFILE=auto`: power-profiles-daemon's active profile over
//! D-Bus, else whether the mains supply in /sys/class/power_supply is online; and the profile
//! each state asks for, with the reason.

use std::path::Path;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

/// The power state the loader follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Power {
    /// power-profiles-daemon's `ActiveProfile` (power-saver, balanced, performance).
    Daemon(String),
    /// No daemon; whether the mains supply is online.
    Mains(bool),
    /// Neither: why not.
    Unknown(String),
}

/// What `auto` runs: a profile (None: the scheduler's defaults) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub profile: Option<String>,
    pub reason: String,
}

/// The profile `power` asks for, if `offered` (the scheduler's profiles) has it.
pub fn choose(power: &Power, scheduler: &str, offered: &[String]) -> Choice {
    let (wanted, reason) = match power {
        Power::Daemon(p) => (
            match p.as_str() {
                "power-saver" => Some("powersave"),
                "performance" => Some("gaming"),
                _ => None,
            },
            format!("power-profiles-daemon reports {p}"),
        ),
        Power::Mains(false) => (
            Some("powersave"),
            "on battery: the mains supply is offline".into(),
        ),
        Power::Mains(true) => (None, "on mains power".into()),
        Power::Unknown(why) => (None, why.clone()),
    };
    match wanted {
        Some(p) if offered.iter().any(|o| o == p) => Choice {
            profile: Some(p.to_string()),
            reason,
        },
        Some(p) => Choice {
            profile: None,
            reason: format!("{reason}, which asks for {p}, but {scheduler} has no {p} profile"),
        },
        None => Choice {
            profile: None,
            reason,
        },
    }
}

/// Whether the mains supply under `root` (/sys/class/power_supply) is online; None when the
/// machine has none (a desktop without the information, a VM).
pub fn mains_online(root: &Path) -> Option<bool> {
    let mut found = None;
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let dir = entry.path();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).map(|s| s.trim().to_string());
        if read("type").ok().as_deref() != Some("Mains") {
            continue;
        }
        // Any mains supply online means the machine runs on it.
        let online = read("online").ok().as_deref() == Some("1");
        found = Some(found.unwrap_or(false) || online);
    }
    found
}

const SYSFS_SUPPLIES: &str = "/sys/class/power_supply";
/// How often the mains supply is read when there is no daemon to tell.
const SUPPLY_POLL: Duration = Duration::from_secs(2);
/// How often the loader looks again for a daemon that was not there (one started later, or
/// restarted, is followed from then on).
const DAEMON_RETRY: Duration = Duration::from_secs(10);
/// How long the first reading may take before the loader starts with the defaults.
pub const FIRST_READING: Duration = Duration::from_secs(5);

/// power-profiles-daemon's names, newest first, with its object path.
const DAEMONS: &[(&str, &str)] = &[
    (
        "org.freedesktop.UPower.PowerProfiles",
        "/org/freedesktop/UPower/PowerProfiles",
    ),
    ("net.hadess.PowerProfiles", "/net/hadess/PowerProfiles"),
];

/// Starts following the power state in a thread: each change (the first reading included) is
/// sent on the returned channel.
pub fn watch() -> std::io::Result<Receiver<Power>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("power".into())
        .spawn(move || follow(&tx, Path::new(SYSFS_SUPPLIES)))?;
    Ok(rx)
}

fn follow(tx: &Sender<Power>, supplies: &Path) {
    let mut last = None;
    let mut logged: Option<String> = None;
    let mut look_at = Instant::now();
    loop {
        if Instant::now() >= look_at {
            match follow_daemon(tx) {
                // The receiver is gone: the service is ending.
                Ok(()) => return,
                Err(end) => {
                    if let DaemonEnd::Gone(_) = end {
                        // What the daemon said last no longer holds: send the supply's state.
                        last = None;
                    }
                    let why = end.to_string();
                    if logged.as_ref() != Some(&why) {
                        log::info!(
                            "auto profile: {why}; following {} and looking for the daemon every {} s",
                            supplies.display(),
                            DAEMON_RETRY.as_secs()
                        );
                        logged = Some(why);
                    }
                }
            }
            look_at = Instant::now() + DAEMON_RETRY;
        }
        let now = match mains_online(supplies) {
            Some(online) => Power::Mains(online),
            None => Power::Unknown(format!(
                "no power-profiles-daemon on the system bus and no mains supply in {}",
                supplies.display()
            )),
        };
        if last.as_ref() != Some(&now) {
            if tx.send(now.clone()).is_err() {
                return;
            }
            last = Some(now);
        }
        std::thread::sleep(SUPPLY_POLL);
    }
}

/// Why power-profiles-daemon is not followed (any more).
#[derive(Debug, thiserror::Error)]
enum DaemonEnd {
    /// It was never reached.
    #[error("power-profiles-daemon is not available ({0})")]
    Absent(String),
    /// It was followed, then went away.
    #[error("{0} went away")]
    Gone(String),
}

/// Sends the daemon's profile and each change (its PropertiesChanged signal) until the
/// receiver is gone (Ok) or the daemon cannot be reached or goes away (Err: which).
fn follow_daemon(tx: &Sender<Power>) -> Result<(), DaemonEnd> {
    let conn = zbus::blocking::Connection::system()
        .map_err(|e| DaemonEnd::Absent(format!("no system bus: {e}")))?;
    let mut errors = Vec::new();
    for (name, path) in DAEMONS {
        let proxy = match zbus::blocking::Proxy::new(&conn, *name, *path, *name) {
            Ok(p) => p,
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        // The stream exists before the first reading, so no change falls between the two.
        let changes = proxy.receive_property_changed::<String>("ActiveProfile");
        let first: String = match proxy.get_property("ActiveProfile") {
            Ok(p) => p,
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        log::info!("auto profile: following {name} (ActiveProfile {first})");
        if tx.send(Power::Daemon(first)).is_err() {
            return Ok(());
        }
        for change in changes {
            match change.get() {
                Ok(p) => {
                    if tx.send(Power::Daemon(p)).is_err() {
                        return Ok(());
                    }
                }
                Err(e) => log::warn!("auto profile: unreadable ActiveProfile change: {e}"),
            }
        }
        return Err(DaemonEnd::Gone((*name).to_string()));
    }
    Err(DaemonEnd::Absent(errors.join("; ")))
}

/// The file in the runtime directory where the service records what `auto` chose, for
/// `scx-loader status`: `PROFILE\tREASON` (PROFILE `-` for the scheduler's defaults).
pub const AUTO_FILE: &str = "auto-profile";

/// Records `choice` for `scx-loader status`.
pub fn record(dir: &Path, choice: &Choice) {
    let line = format!(
        "{}\t{}\n",
        choice.profile.as_deref().unwrap_or("-"),
        choice.reason
    );
    let tmp = dir.join(format!(".{AUTO_FILE}.tmp"));
    let result =
        std::fs::write(&tmp, line).and_then(|()| std::fs::rename(&tmp, dir.join(AUTO_FILE)));
    if let Err(e) = result {
        log::debug!("cannot record the auto profile in {}: {e}", dir.display());
    }
}

/// What the service last recorded with [`record`], if it did.
pub fn recorded(dir: &Path) -> Option<Choice> {
    let text = std::fs::read_to_string(dir.join(AUTO_FILE)).ok()?;
    let (profile, reason) = text.trim_end().split_once('\t')?;
    Some(Choice {
        profile: (profile != "-").then(|| profile.to_string()),
        reason: reason.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// One supply of a sysfs-like tree.
    fn supply(root: &Path, name: &str, kind: &str, online: Option<&str>) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("type"), format!("{kind}\n")).expect("type");
        if let Some(o) = online {
            std::fs::write(dir.join("online"), format!("{o}\n")).expect("online");
        }
        dir
    }

    fn offered(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_power_state_asks_for_its_profile() {
        let all = offered(&["gaming", "server", "powersave"]);
        let c = choose(&Power::Daemon("power-saver".into()), "scx_a", &all);
        assert_eq!(c.profile.as_deref(), Some("powersave"));
        assert_eq!(c.reason, "power-profiles-daemon reports power-saver");
        let c = choose(&Power::Daemon("performance".into()), "scx_a", &all);
        assert_eq!(c.profile.as_deref(), Some("gaming"));
        assert_eq!(
            choose(&Power::Daemon("balanced".into()), "scx_a", &all).profile,
            None
        );
        let c = choose(&Power::Mains(false), "scx_a", &all);
        assert_eq!(c.profile.as_deref(), Some("powersave"));
        assert!(c.reason.starts_with("on battery"));
        assert_eq!(choose(&Power::Mains(true), "scx_a", &all).profile, None);
        let c = choose(&Power::Unknown("no idea".into()), "scx_a", &all);
        assert_eq!((c.profile, c.reason.as_str()), (None, "no idea"));
        let c = choose(&Power::Mains(false), "scx_b", &offered(&["gaming"]));
        assert_eq!(c.profile, None);
        assert_eq!(
            c.reason,
            "on battery: the mains supply is offline, which asks for powersave, but scx_b has no powersave profile"
        );
    }

    #[test]
    fn the_mains_supply_from_a_sysfs_tree() {
        let root = std::env::temp_dir().join(format!("scx-power-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("mkdir");
        assert_eq!(mains_online(&root), None, "no supplies");
        assert_eq!(mains_online(&root.join("missing")), None);
        supply(&root, "BAT0", "Battery", None);
        assert_eq!(mains_online(&root), None, "a battery alone says nothing");
        let ac = supply(&root, "AC", "Mains", Some("0"));
        assert_eq!(mains_online(&root), Some(false));
        supply(&root, "USB-C", "Mains", Some("1"));
        assert_eq!(mains_online(&root), Some(true), "any mains supply online");
        std::fs::write(ac.join("online"), "1\n").expect("online");
        std::fs::remove_dir_all(root.join("USB-C")).expect("rm");
        assert_eq!(mains_online(&root), Some(true));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_recorded_choice_round_trips() {
        let dir = std::env::temp_dir().join(format!("scx-auto-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        assert_eq!(recorded(&dir), None);
        for profile in [Some("powersave".to_string()), None] {
            let c = Choice {
                profile,
                reason: "on mains power".into(),
            };
            record(&dir, &c);
            assert_eq!(recorded(&dir), Some(c));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
