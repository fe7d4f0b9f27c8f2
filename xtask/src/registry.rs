//! The schedulers the project ships: every workspace crate with a `[package.metadata.scx]`
//! table. This is the only list; the build, man pages, completions, the `.deb`, the snap and the
//! VM scenarios all take it from here.
//!
//! ```toml
//! [package.metadata.scx]
//! kind = "user-space"   # or "bpf": where the scheduling decisions are made
//! fair = true           # whether it honours nice levels and affinity by policy
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Where a scheduler makes its decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// In Rust user space, on scx_core's dispatch channel.
    UserSpace,
    /// In its own BPF program.
    Bpf,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::UserSpace => "user-space",
            Kind::Bpf => "bpf",
        }
    }
}

/// One shipped scheduler: its crate (named like its binary) and what the tests need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduler {
    pub name: String,
    /// The crate's directory.
    pub dir: PathBuf,
    pub kind: Kind,
    pub fair: bool,
}

/// The registered schedulers of the workspace at `root`, in workspace order.
pub fn schedulers(root: &Path) -> Result<Vec<Scheduler>> {
    parse(&metadata(root)?)
}

/// `cargo metadata` of the workspace's own packages, as JSON.
pub fn metadata(root: &Path) -> Result<Value> {
    let output = Command::new("cargo")
        .current_dir(root)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout).context("reading cargo metadata's JSON")
}

fn parse(meta: &Value) -> Result<Vec<Scheduler>> {
    let packages = meta["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
    let mut out = Vec::new();
    for p in packages {
        let Some(scx) = p["metadata"].get("scx") else {
            continue;
        };
        let name = p["name"].as_str().context("a package without a name")?;
        let problem = |what: &str| {
            format!("{name}: [package.metadata.scx] {what} (see xtask/src/registry.rs)")
        };
        if !valid_name(name) {
            bail!(problem(
                "is set, but the crate's name is not a scheduler name (scx_ and a-z, 0-9, _)"
            ));
        }
        let kind = match scx["kind"].as_str() {
            Some("user-space") => Kind::UserSpace,
            Some("bpf") => Kind::Bpf,
            _ => bail!(problem("needs kind = \"user-space\" or \"bpf\"")),
        };
        let fair = scx["fair"]
            .as_bool()
            .with_context(|| problem("needs fair = true or false"))?;
        let manifest = p["manifest_path"]
            .as_str()
            .context("a package without a manifest path")?;
        let dir = Path::new(manifest)
            .parent()
            .context("a manifest path without a directory")?
            .to_path_buf();
        out.push(Scheduler {
            name: name.to_string(),
            dir,
            kind,
            fair,
        });
    }
    if out.is_empty() {
        bail!("no crate in the workspace has a [package.metadata.scx] table");
    }
    Ok(out)
}

/// Whether `name` is a scheduler name: `scx_` followed by `a-z`, `0-9` and `_`.
pub fn valid_name(name: &str) -> bool {
    name.strip_prefix("scx_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

/// The registry as the VM guests read it (`/etc/scx-schedulers`): `NAME KIND FAIR` per line.
pub fn guest_list(scheds: &[Scheduler]) -> String {
    scheds
        .iter()
        .map(|s| {
            format!(
                "{} {} {}\n",
                s.name,
                s.kind.as_str(),
                if s.fair { "fair" } else { "unfair" }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_metadata_table() {
        let meta = serde_json::json!({"packages": [
            {"name": "scx_core", "metadata": null, "manifest_path": "/w/scheds/scx_core/Cargo.toml"},
            {"name": "scx_a", "metadata": {"scx": {"kind": "user-space", "fair": false}},
             "manifest_path": "/w/scheds/scx_a/Cargo.toml"},
            {"name": "scx_b", "metadata": {"scx": {"kind": "bpf", "fair": true}},
             "manifest_path": "/w/scheds/scx_b/Cargo.toml"},
        ]});
        let s = parse(&meta).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "scx_a");
        assert_eq!(s[0].dir, PathBuf::from("/w/scheds/scx_a"));
        assert_eq!(s[1].kind, Kind::Bpf);
        assert_eq!(guest_list(&s), "scx_a user-space unfair\nscx_b bpf fair\n");
    }

    #[test]
    fn a_bad_table_names_the_crate_and_the_fix() {
        let meta = serde_json::json!({"packages": [
            {"name": "scx_a", "metadata": {"scx": {"kind": "kernel", "fair": true}},
             "manifest_path": "/w/a/Cargo.toml"},
        ]});
        let err = parse(&meta).unwrap_err().to_string();
        assert!(
            err.contains("scx_a: [package.metadata.scx] needs kind"),
            "{err}"
        );
        let meta = serde_json::json!({"packages": [
            {"name": "helper", "metadata": {"scx": {"kind": "bpf", "fair": true}},
             "manifest_path": "/w/a/Cargo.toml"},
        ]});
        assert!(parse(&meta)
            .unwrap_err()
            .to_string()
            .contains("not a scheduler name"));
        assert!(parse(&serde_json::json!({"packages": []})).is_err());
    }
}
