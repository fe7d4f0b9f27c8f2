//! Who may have written the configuration: a file (or directory) that anyone but root could
//! change is refused, because it chooses what runs as root.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::ConfigError;

/// Refuses a configuration file (and its directory) that anyone but root — or the user running
/// the loader, when that is not root — could have written.
pub fn check_file_safety(path: &Path, euid: u32) -> Result<(), ConfigError> {
    let meta = std::fs::metadata(path).map_err(|source| read_error(path, source))?;
    if !meta.is_file() {
        return Err(ConfigError::Insecure {
            path: path.to_path_buf(),
            problem: "is not a regular file".into(),
            fix: "point --config at a regular file".into(),
        });
    }
    check_owner_mode(path, &meta, euid, false)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dmeta = std::fs::metadata(dir).map_err(|source| read_error(dir, source))?;
    check_owner_mode(dir, &dmeta, euid, true).map_err(|e| match e {
        ConfigError::Insecure {
            path: p,
            problem,
            fix,
        } => ConfigError::Insecure {
            path: path.to_path_buf(),
            problem: format!("is in {}, which {problem}", p.display()),
            fix,
        },
        other => other,
    })
}

fn check_owner_mode(
    path: &Path,
    meta: &std::fs::Metadata,
    euid: u32,
    is_dir: bool,
) -> Result<(), ConfigError> {
    let owner_ok = meta.uid() == 0 || meta.uid() == euid;
    if !owner_ok {
        return Err(ConfigError::Insecure {
            path: path.to_path_buf(),
            problem: format!("is owned by uid {}, not by root", meta.uid()),
            fix: format!("run chown root:root {}", path.display()),
        });
    }
    let mode = meta.mode();
    let sticky = mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !(is_dir && sticky) {
        let who = if mode & 0o002 != 0 {
            "everyone"
        } else {
            "its group"
        };
        return Err(ConfigError::Insecure {
            path: path.to_path_buf(),
            problem: format!(
                "is writable by {who} (mode {:04o}), so anyone could choose what runs as root",
                mode & 0o7777
            ),
            fix: format!("run chmod go-w {}", path.display()),
        });
    }
    Ok(())
}

pub(super) fn read_error(path: &Path, source: std::io::Error) -> ConfigError {
    let fix = if source.kind() == std::io::ErrorKind::NotFound {
        "create it with SCX_SCHEDULER=<name> (see scx(5) and `scx-loader list`), or pass --config PATH"
            .to_string()
    } else {
        "check that the path is right and readable by root".to_string()
    };
    ConfigError::Read {
        path: path.to_path_buf(),
        fix,
        error: source,
    }
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid() has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_files_and_directories_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let chmod = |p: &Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        let dir = std::env::temp_dir().join(format!("scx-config-safety-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        chmod(&dir, 0o755);
        let file = dir.join("scx");
        std::fs::write(&file, "SCX_SCHEDULER=scx_a\n").unwrap();
        chmod(&file, 0o644);
        check_file_safety(&file, euid()).unwrap();
        chmod(&file, 0o664);
        let err = check_file_safety(&file, euid()).unwrap_err();
        assert!(
            err.to_string()
                .contains("is writable by its group (mode 0664)"),
            "{err}"
        );
        assert_eq!(err.exit_code(), crate::codes::CONFIG_INSECURE);
        chmod(&file, 0o644);
        chmod(&dir, 0o777);
        let err = check_file_safety(&file, euid()).unwrap_err();
        assert!(
            err.to_string().contains(", which is writable by everyone"),
            "{err}"
        );
        chmod(&dir, 0o1777);
        check_file_safety(&file, euid()).unwrap();
        chmod(&dir, 0o755);
        if euid() == 0 {
            std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
            let err = check_file_safety(&file, 0).unwrap_err();
            assert!(
                err.to_string()
                    .contains("is owned by uid 65534, not by root"),
                "{err}"
            );
        }
        let err = check_file_safety(&dir.join("missing"), euid()).unwrap_err();
        assert_eq!(err.exit_code(), crate::codes::CONFIG_UNREADABLE);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
