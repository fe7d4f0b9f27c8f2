//! A writer for the `newc` cpio format the kernel unpacks as its initramfs.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

#[derive(Debug, Clone)]
enum Node {
    Dir,
    File { mode: u32, data: Vec<u8> },
    Symlink(String),
    CharDev { major: u32, minor: u32 },
}

/// An in-memory archive; every entry is owned by root, parents are created implicitly.
#[derive(Debug, Default)]
pub struct Archive {
    entries: BTreeMap<String, Node>,
}

impl Archive {
    pub fn new() -> Self {
        Self::default()
    }

    fn insert(&mut self, path: &str, node: Node) -> Result<()> {
        let path = path.trim_matches('/');
        if path.is_empty()
            || path
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            bail!("bad archive path {path:?}");
        }
        let mut parent = String::new();
        let components: Vec<&str> = path.split('/').collect();
        for comp in &components[..components.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(comp);
            match self.entries.get(&parent) {
                None => {
                    self.entries.insert(parent.clone(), Node::Dir);
                }
                Some(Node::Dir) => {}
                Some(_) => bail!("{parent} is not a directory in the archive"),
            }
        }
        self.entries.insert(path.to_string(), node);
        Ok(())
    }

    pub fn dir(&mut self, path: &str) -> Result<()> {
        self.insert(path, Node::Dir)
    }

    pub fn file(&mut self, path: &str, mode: u32, data: impl Into<Vec<u8>>) -> Result<()> {
        self.insert(
            path,
            Node::File {
                mode,
                data: data.into(),
            },
        )
    }

    /// Adds a host file (following symlinks), keeping its permission bits.
    pub fn host_file(&mut self, path: &str, host: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let data = std::fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        let mode = std::fs::metadata(host)
            .with_context(|| format!("inspecting {}", host.display()))?
            .permissions()
            .mode()
            & 0o7777;
        self.file(path, mode, data)
    }

    /// Adds the files, directories and symlinks under host directory `host` at `path`.
    pub fn host_tree(&mut self, path: &str, host: &Path) -> Result<()> {
        self.dir(path)?;
        let entries =
            std::fs::read_dir(host).with_context(|| format!("reading {}", host.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", host.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let (guest, from) = (format!("{path}/{name}"), entry.path());
            let kind = entry
                .file_type()
                .with_context(|| format!("inspecting {}", from.display()))?;
            if kind.is_symlink() {
                let target = std::fs::read_link(&from)
                    .with_context(|| format!("reading the link {}", from.display()))?;
                self.symlink(&guest, &target.to_string_lossy())?;
            } else if kind.is_dir() {
                self.host_tree(&guest, &from)?;
            } else {
                self.host_file(&guest, &from)?;
            }
        }
        Ok(())
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.insert(path, Node::Symlink(target.to_string()))
    }

    pub fn char_dev(&mut self, path: &str, major: u32, minor: u32) -> Result<()> {
        self.insert(path, Node::CharDev { major, minor })
    }

    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path.trim_matches('/'))
    }

    /// Serialises the archive; parents sort before their children, so order is valid.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for (ino, (name, node)) in self.entries.iter().enumerate() {
            let ino = u32::try_from(ino + 1).context("too many archive entries")?;
            let (mode, data, rdev): (u32, &[u8], (u32, u32)) = match node {
                Node::Dir => (S_IFDIR | 0o755, &[], (0, 0)),
                Node::File { mode, data } => (S_IFREG | mode, data, (0, 0)),
                Node::Symlink(target) => (S_IFLNK | 0o777, target.as_bytes(), (0, 0)),
                Node::CharDev { major, minor } => (S_IFCHR | 0o600, &[], (*major, *minor)),
            };
            let nlink = if matches!(node, Node::Dir) { 2 } else { 1 };
            push_entry(&mut out, ino, mode, nlink, name, data, rdev)?;
        }
        push_entry(&mut out, 0, 0, 1, "TRAILER!!!", &[], (0, 0))?;
        Ok(out)
    }
}

fn push_entry(
    out: &mut Vec<u8>,
    ino: u32,
    mode: u32,
    nlink: u32,
    name: &str,
    data: &[u8],
    rdev: (u32, u32),
) -> Result<()> {
    let size = u32::try_from(data.len()).with_context(|| format!("{name} is too large"))?;
    let namesize =
        u32::try_from(name.len() + 1).with_context(|| format!("{name}: name too long"))?;
    let fields = [
        ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev.0, rdev.1, namesize, 0,
    ];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
    Ok(())
}

fn pad4(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_come_first_and_entries_are_aligned() {
        let mut a = Archive::new();
        a.file("usr/sbin/tool", 0o755, b"abc".to_vec()).unwrap();
        a.symlink("bin/sh", "busybox").unwrap();
        let bytes = a.to_bytes().unwrap();
        assert_eq!(bytes.len() % 4, 0);
        let text = String::from_utf8_lossy(&bytes);
        let usr = text.find("usr\0").unwrap();
        let sbin = text.find("usr/sbin\0").unwrap();
        let tool = text.find("usr/sbin/tool\0").unwrap();
        assert!(usr < sbin && sbin < tool);
        assert!(text.contains("TRAILER!!!\0"));
        assert!(bytes.starts_with(b"070701"));
    }

    #[test]
    fn rejects_bad_paths_and_file_parents() {
        let mut a = Archive::new();
        assert!(a.file("a/../b", 0o644, Vec::new()).is_err());
        a.file("f", 0o644, Vec::new()).unwrap();
        assert!(a.file("f/g", 0o644, Vec::new()).is_err());
    }
}
