//! Where the configuration lives and which unit runs the loader: the package's files, or the
//! scx snap's (`$SNAP_DATA/scx`, `snap.scx.daemon.service`).

use std::path::{Path, PathBuf};

/// Where the service reads its configuration unless `--config` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/default/scx";
/// The file's name in the snap's data directory (`$SNAP_DATA`, seeded by the install hook).
pub const SNAP_FILE: &str = "scx";

/// Whether the loader runs as an app of the scx snap.
fn in_snap() -> bool {
    std::env::var_os("SNAP_NAME").is_some_and(|n| n == "scx")
}

/// [`DEFAULT_PATH`], or `$SNAP_DATA/scx` when the loader runs as the scx snap's app.
pub fn default_path() -> PathBuf {
    snap_path(
        std::env::var_os("SNAP_NAME").as_deref(),
        std::env::var_os("SNAP_DATA").as_deref(),
    )
}

/// The systemd unit that runs the loader in this installation, and how a user starts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    pub name: &'static str,
    pub start: &'static str,
}

/// `scx.service` from the package; `snap.scx.daemon.service` when run from the snap.
pub fn service_unit() -> Unit {
    if in_snap() {
        Unit {
            name: "snap.scx.daemon.service",
            start: "snap start --enable scx.daemon",
        }
    } else {
        Unit {
            name: "scx.service",
            start: "systemctl enable --now scx",
        }
    }
}

fn snap_path(name: Option<&std::ffi::OsStr>, data: Option<&std::ffi::OsStr>) -> PathBuf {
    match (name, data) {
        (Some(name), Some(data)) if name == "scx" && Path::new(data).is_absolute() => {
            Path::new(data).join(SNAP_FILE)
        }
        _ => PathBuf::from(DEFAULT_PATH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_in_and_out_of_the_snap() {
        use std::ffi::OsStr;
        let data = Some(OsStr::new("/var/snap/scx/12"));
        assert_eq!(
            snap_path(Some(OsStr::new("scx")), data),
            PathBuf::from("/var/snap/scx/12/scx")
        );
        assert_eq!(
            snap_path(Some(OsStr::new("other")), data),
            PathBuf::from(DEFAULT_PATH)
        );
        assert_eq!(snap_path(None, None), PathBuf::from(DEFAULT_PATH));
    }
}
