//! The check that every crate uses the dependencies it declares: a dependency whose name never
//! appears in the crate's Rust sources as a path (`name::`), an import (`use name`) or a macro
//! (`name!`) only costs build time and vendored code.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Fails naming every declared dependency that no source file of its crate refers to.
pub fn check(root: &Path) -> Result<()> {
    let meta = crate::registry::metadata(root)?;
    let packages = meta["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
    let dirs: Vec<PathBuf> = packages
        .iter()
        .map(|p| package_dir(p).context("a package without a manifest path"))
        .collect::<Result<_>>()?;
    let mut unused = Vec::new();
    for (package, dir) in packages.iter().zip(&dirs) {
        let name = package["name"].as_str().unwrap_or("?");
        // A crate's sources are its directory's, minus those of crates nested inside it.
        let nested: Vec<&PathBuf> = dirs
            .iter()
            .filter(|d| *d != dir && d.starts_with(dir))
            .collect();
        let mut text = String::new();
        read_sources(dir, &nested, &mut text)?;
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let declared = dep["rename"]
                .as_str()
                .or(dep["name"].as_str())
                .unwrap_or("");
            let ident = declared.replace('-', "_");
            if !ident.is_empty() && !mentions(&text, &ident) {
                unused.push(format!("{name}: {declared}"));
            }
        }
    }
    if !unused.is_empty() {
        bail!(
            "dependencies declared but never used (remove them from Cargo.toml): {}",
            unused.join(", ")
        );
    }
    Ok(())
}

fn package_dir(package: &Value) -> Option<PathBuf> {
    Some(
        Path::new(package["manifest_path"].as_str()?)
            .parent()?
            .to_path_buf(),
    )
}

fn read_sources(dir: &Path, skip: &[&PathBuf], text: &mut String) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name != "target" && !name.starts_with('.') && !skip.iter().any(|s| **s == path) {
                read_sources(&path, skip, text)?;
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            text.push_str(
                &std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?,
            );
            text.push('\n');
        }
    }
    Ok(())
}

/// Whether `text` refers to the crate `ident`: `ident::`, `use ident`, `ident!` or
/// `extern crate ident`, as a whole word.
fn mentions(text: &str, ident: &str) -> bool {
    text.match_indices(ident).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return false;
        }
        let after = text[at + ident.len()..].trim_start();
        let preceded = text[..at].trim_end();
        after.starts_with("::")
            || after.starts_with('!')
            || preceded.ends_with("use")
            || preceded.ends_with("extern crate")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_whole_words_in_code_positions() {
        assert!(mentions("let x = serde_json::json!({});", "serde_json"));
        assert!(mentions("use libc;", "libc"));
        assert!(mentions("log!(x)", "log"));
        assert!(mentions("extern crate foo;", "foo"));
        assert!(!mentions("// log in a comment", "log"));
        assert!(!mentions("syslog::x", "log"));
        assert!(!mentions("a logger", "log"));
    }
}
