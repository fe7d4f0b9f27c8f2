//! `cargo xtask deb`: the Debian source package (orig tarball with the crates vendored, the
//! debian/ directory with a copyright file that covers them), an offline binary build from the
//! `.dsc` in a network namespace, and lintian on both.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util;

/// `(source name, upstream version, Debian version)` from debian/changelog.
fn changelog_version(root: &Path) -> Result<(String, String, String)> {
    let path = root.join("debian/changelog");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let first = text.lines().next().unwrap_or_default();
    let (name, rest) = first
        .split_once(" (")
        .with_context(|| format!("{}: first line is not `NAME (VERSION) …`", path.display()))?;
    let version = rest
        .split_once(')')
        .map(|(v, _)| v.to_string())
        .with_context(|| format!("{}: no closing parenthesis", path.display()))?;
    let upstream = version
        .rsplit_once('-')
        .map(|(u, _)| u.to_string())
        .unwrap_or_else(|| version.clone());
    Ok((name.to_string(), upstream, version))
}

/// Files of the source tree (see [`util::source_files`]) minus debian/.
fn source_files(root: &Path) -> Result<Vec<PathBuf>> {
    Ok(util::source_files(root)?
        .into_iter()
        .filter(|p| !p.starts_with("debian"))
        .collect())
}

/// Maps a Cargo (SPDX) license expression to DEP-5 syntax and the license names it uses.
fn dep5_license(spdx: &str) -> (String, Vec<String>) {
    let spdx = spdx.replace('/', " OR ");
    let mut names = Vec::new();
    let mut out = Vec::new();
    let tokens: Vec<&str> = spdx.split_whitespace().collect();
    let mut i = 0;
    while i < tokens.len() {
        let tok = tokens[i];
        let (open, core, close) = split_parens(tok);
        let word = match core {
            "OR" => "or".to_string(),
            "AND" => "and".to_string(),
            "WITH" => {
                // "X WITH Y-exception": DEP-5 says "X with Y exception".
                let exc = tokens
                    .get(i + 1)
                    .map(|t| split_parens(t))
                    .unwrap_or(("", "", ""));
                i += 1;
                if let Some(last) = names.last_mut() {
                    let base: &mut String = last;
                    let exc_name = exc.1.trim_end_matches("-exception");
                    *base = format!("{base} with {exc_name} exception");
                }
                if let Some(prev) = out.pop() {
                    let prev: String = prev;
                    out.push(format!(
                        "{} with {} exception{}",
                        prev,
                        exc.1.trim_end_matches("-exception"),
                        exc.2
                    ));
                }
                i += 1;
                continue;
            }
            lic => {
                let name = match lic {
                    "MIT" => "Expat",
                    "BSD-2-Clause" => "BSD-2-clause",
                    "BSD-3-Clause" => "BSD-3-clause",
                    "LGPL-2.1-only" => "LGPL-2.1",
                    "LGPL-2.1-or-later" => "LGPL-2.1+",
                    "GPL-2.0-only" => "GPL-2",
                    "GPL-2.0-or-later" => "GPL-2+",
                    other => other,
                }
                .to_string();
                names.push(name.clone());
                name
            }
        };
        out.push(format!("{open}{word}{close}"));
        i += 1;
    }
    (out.join(" "), names)
}

fn split_parens(tok: &str) -> (&str, &str, &str) {
    let start = tok.len() - tok.trim_start_matches('(').len();
    let end = tok.trim_end_matches(')').len();
    (
        &tok[..start],
        &tok[start..end.max(start)],
        &tok[end.max(start)..],
    )
}

/// Formats license text as the indented body of a DEP-5 paragraph.
fn dep5_body(text: &str) -> String {
    text.trim()
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                " .".to_string()
            } else {
                format!(" {}", l.trim_end())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Finds a license text among the vendored crates: the first file whose name matches one of
/// `names` and whose content contains `marker`.
fn find_text(vendor: &Path, names: &[&str], marker: &str) -> Option<String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(vendor)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs {
        for name in names {
            if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
                if let Some(pos) = text.find(marker) {
                    return Some(text[pos..].to_string());
                }
            }
        }
    }
    None
}

/// The standalone License paragraph for a DEP-5 license name.
fn license_paragraph(name: &str, vendor: &Path) -> Result<String> {
    let common = |file: &str, what: &str| {
        format!(
            "License: {name}\n On Debian systems, the complete text of {what} can be found in\n \
             /usr/share/common-licenses/{file}."
        )
    };
    let text = match name {
        "Apache-2.0" => return Ok(common("Apache-2.0", "the Apache License 2.0")),
        "LGPL-2.1" | "LGPL-2.1+" => {
            return Ok(common(
                "LGPL-2.1",
                "the GNU Lesser General Public License 2.1",
            ))
        }
        "GPL-2" | "GPL-2+" => return Ok(common("GPL-2", "the GNU General Public License 2")),
        "GPL-3+" => return Ok(common("GPL-3", "the GNU General Public License 3")),
        "LGPL-3+" => return Ok(common("LGPL-3", "the GNU Lesser General Public License 3")),
        "Expat" => find_text(
            vendor,
            &["LICENSE-MIT", "LICENSE-MIT.md"],
            "Permission is hereby",
        ),
        "BSD-2-clause" => find_text(
            vendor,
            &["libbpf/LICENSE.BSD-2-Clause", "LICENSE-BSD", "LICENSE"],
            "Redistribution and use",
        ),
        "Unlicense" => find_text(vendor, &["UNLICENSE"], "This is free and unencumbered"),
        "Unicode-3.0" => find_text(vendor, &["LICENSE-UNICODE"], "UNICODE LICENSE"),
        "Zlib" => find_text(vendor, &["zlib/LICENSE"], "This software is provided"),
        n if n.ends_with("with LLVM exception") => {
            let exc = find_text(
                vendor,
                &["LICENSE-Apache-2.0_WITH_LLVM-exception"],
                "--- LLVM Exceptions",
            );
            return Ok(format!(
                "License: {name}\n On Debian systems, the complete text of the Apache License \
                 2.0 can be found in\n /usr/share/common-licenses/Apache-2.0. The exception:\n \
                 .\n{}",
                dep5_body(
                    exc.as_deref()
                        .unwrap_or("LLVM Exceptions to the Apache 2.0 License")
                )
            ));
        }
        other => bail!("no license text known for {other:?}; add it to xtask/src/deb.rs"),
    };
    let text = text.with_context(|| format!("no {name} license text among the vendored crates"))?;
    Ok(format!("License: {name}\n{}", dep5_body(&text)))
}

/// A crate from crates.io, as `cargo metadata` describes it.
struct VendoredCrate {
    name: String,
    version: String,
    authors: Vec<String>,
    license: String,
}

fn vendored_crates(root: &Path) -> Result<Vec<VendoredCrate>> {
    let out = Command::new("cargo")
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
    let mut crates = Vec::new();
    for pkg in meta["packages"]
        .as_array()
        .context("cargo metadata has no packages")?
    {
        if pkg["source"].is_null() {
            continue;
        }
        let text = |k: &str| pkg[k].as_str().unwrap_or_default().to_string();
        crates.push(VendoredCrate {
            name: text("name"),
            version: text("version"),
            authors: pkg["authors"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            license: text("license"),
        });
    }
    crates.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(crates)
}

/// debian/copyright: the committed stanzas for our own files, one stanza per vendored crate
/// (and for the C sources libbpf-sys carries), and a License paragraph for every name used.
fn copyright(root: &Path, vendor: &Path) -> Result<String> {
    let own = std::fs::read_to_string(root.join("debian/copyright"))
        .context("reading debian/copyright")?;
    let mut out = own.trim_end().to_string();
    // Our own code is GPL-2.
    let mut used: BTreeSet<String> = BTreeSet::from(["GPL-2".to_string()]);
    for krate in vendored_crates(root)? {
        if krate.license.is_empty() {
            bail!("crate {} {} declares no license", krate.name, krate.version);
        }
        let (expr, names) = dep5_license(&krate.license);
        for n in names {
            used.insert(n);
        }
        let holders = if krate.authors.is_empty() {
            format!("the {} authors", krate.name)
        } else {
            krate.authors.join("\n           ")
        };
        out.push_str(&format!(
            "\n\nFiles: vendor/{}-{}/*\nCopyright: {holders}\nLicense: {expr}",
            krate.name, krate.version
        ));
        if krate.name == "libbpf-sys" {
            let dir = format!("vendor/{}-{}", krate.name, krate.version);
            out.push_str(&format!(
                "\n\nFiles: {dir}/libbpf/*\nCopyright: the libbpf authors\n\
                 License: LGPL-2.1 or BSD-2-clause\
                 \n\nFiles: {dir}/elfutils/*\nCopyright: the elfutils authors\n\
                 License: GPL-3+ or LGPL-3+ or GPL-2+\
                 \n\nFiles: {dir}/zlib/*\nCopyright: 1995-2024 Jean-loup Gailly and Mark Adler\n\
                 License: Zlib"
            ));
            for n in [
                "LGPL-2.1",
                "BSD-2-clause",
                "GPL-3+",
                "LGPL-3+",
                "GPL-2+",
                "Zlib",
            ] {
                used.insert(n.to_string());
            }
        }
    }
    for name in &used {
        out.push_str("\n\n");
        out.push_str(&license_paragraph(name, vendor)?);
    }
    out.push('\n');
    Ok(out)
}

/// Lays out the source tree with the crates vendored, builds the orig tarball and the source
/// package; returns the `.dsc`.
fn source_package(root: &Path, out_dir: &Path) -> Result<PathBuf> {
    let (name, upstream, version) = changelog_version(root)?;
    if out_dir.exists() {
        std::fs::remove_dir_all(out_dir)
            .with_context(|| format!("removing {}", out_dir.display()))?;
    }
    let tree = out_dir.join(format!("{name}-{upstream}"));
    std::fs::create_dir_all(&tree).with_context(|| format!("creating {}", tree.display()))?;
    util::copy_files(root, &source_files(root)?, &tree)?;
    let vendor = tree.join("vendor");
    util::run(
        Command::new("cargo")
            .current_dir(root)
            .args(["vendor", "--locked", "--versioned-dirs", "--quiet"])
            .arg(&vendor)
            .stdout(std::process::Stdio::null()),
    )
    .context("vendoring the crates (cargo vendor)")?;

    let orig = out_dir.join(format!("{name}_{upstream}.orig.tar.xz"));
    util::run(
        Command::new("tar")
            .current_dir(out_dir)
            .env("XZ_OPT", "-T0 -3")
            .args([
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "-cJf",
            ])
            .arg(&orig)
            .arg(format!("{name}-{upstream}")),
    )
    .context("creating the orig tarball")?;

    let files: Vec<PathBuf> = std::fs::read_dir(root.join("debian"))?
        .flatten()
        .map(|e| e.path())
        .collect();
    copy_debian(root, &files, &tree)?;
    std::fs::write(tree.join("debian/copyright"), copyright(root, &vendor)?)
        .context("writing debian/copyright")?;

    util::run(
        Command::new("dpkg-source")
            .current_dir(out_dir)
            .args(["-b", &format!("{name}-{upstream}")]),
    )
    .context("building the source package (dpkg-source -b)")?;
    let dsc = out_dir.join(format!("{name}_{version}.dsc"));
    if !dsc.is_file() {
        bail!("dpkg-source did not produce {}", dsc.display());
    }
    Ok(dsc)
}

fn copy_debian(root: &Path, entries: &[PathBuf], tree: &Path) -> Result<()> {
    let mut rel = Vec::new();
    for entry in entries {
        collect(root, entry, &mut rel)?;
    }
    util::copy_files(root, &rel, tree)
}

fn collect(root: &Path, path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            collect(root, &entry?.path(), out)?;
        }
    } else {
        out.push(path.strip_prefix(root)?.to_path_buf());
    }
    Ok(())
}

/// Builds the binary package from the `.dsc` alone, with no network (a new network namespace).
fn binary_package(dsc: &Path, out_dir: &Path, tests: UnitTests) -> Result<PathBuf> {
    let build = out_dir.join("build");
    util::run(Command::new("dpkg-source").arg("-x").arg(dsc).arg(&build))
        .context("unpacking the source package")?;
    // -d: Build-Depends name Debian's cargo/rustc (>= 1.85); on bookworm they come from rustup.
    let mut cmd = Command::new("unshare");
    cmd.current_dir(&build)
        .args(["--net", "--", "dpkg-buildpackage", "-b", "-us", "-uc", "-d"]);
    // The tree is unpacked at the same path each time, with the files' own modification times
    // (see util::copy_files): a cargo target directory kept beside it, which debian/rules
    // accepts, holds what the last build compiled, so only what changed is compiled again.
    cmd.env("CARGO_TARGET_DIR", cargo_target_dir()?);
    if tests == UnitTests::Skip {
        cmd.env("DEB_BUILD_OPTIONS", "nocheck");
    }
    util::run(&mut cmd)
        .context("building the binary package offline (unshare --net dpkg-buildpackage)")?;
    let debs: Vec<PathBuf> = std::fs::read_dir(out_dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .filter(|p| !p.to_string_lossy().contains("-dbgsym_"))
        .collect();
    match debs.as_slice() {
        [deb] => Ok(deb.clone()),
        other => bail!(
            "expected one .deb in {}, found {}",
            out_dir.display(),
            other.len()
        ),
    }
}

/// Runs lintian; any error or warning that is not overridden fails.
fn lintian(files: &[&Path]) -> Result<()> {
    let out = Command::new("lintian")
        .args(["--fail-on", "error,warning", "--tag-display-limit", "0"])
        .args(files)
        .output()
        .context("running lintian")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let problems: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("E: ") || l.starts_with("W: "))
        .collect();
    print!("{text}");
    if !out.status.success() || !problems.is_empty() {
        bail!("lintian found {} errors or warnings", problems.len().max(1));
    }
    Ok(())
}

/// The same package as version `-2` with a changed default configuration: what an upgrade that
/// touches the conffile looks like, for the install test.
pub fn upgrade_variant(deb: &Path) -> Result<PathBuf> {
    let dir = deb
        .parent()
        .context("the .deb has no directory")?
        .join("upgrade");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let tree = dir.join("tree");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    util::run(Command::new("dpkg-deb").arg("-R").arg(deb).arg(&tree))
        .context("unpacking the .deb")?;
    let control_path = tree.join("DEBIAN/control");
    let control = std::fs::read_to_string(&control_path).context("reading DEBIAN/control")?;
    let version = control
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .context("DEBIAN/control has no Version")?
        .to_string();
    let (upstream, _) = version
        .rsplit_once('-')
        .with_context(|| format!("version {version} has no Debian revision"))?;
    let next = format!("{upstream}-2");
    std::fs::write(
        &control_path,
        control.replace(&format!("Version: {version}"), &format!("Version: {next}")),
    )
    .context("writing DEBIAN/control")?;
    let conf = tree.join("etc/default/scx");
    let mut text = std::fs::read_to_string(&conf).context("reading etc/default/scx")?;
    text.push_str("\n# Shipped with the upgrade: the administrator's copy stays in place.\n");
    std::fs::write(&conf, text).context("writing etc/default/scx")?;
    let out = dir.join(format!("scx_{next}_amd64.deb"));
    util::run(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zxz", "-b"])
            .arg(&tree)
            .arg(&out),
    )
    .context("packing the upgrade .deb")?;
    Ok(out)
}

/// The `.deb` the last `cargo xtask deb` built.
pub fn last_built() -> Result<PathBuf> {
    let out = out_dir()?;
    std::fs::read_dir(&out)
        .with_context(|| format!("reading {} (run `cargo xtask deb` first)", out.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with("scx_") && name.ends_with(".deb")
        })
        .with_context(|| {
            format!(
                "no scx_*.deb in {} (run `cargo xtask deb` first)",
                out.display()
            )
        })
}

/// The package build's cargo target directory, kept across builds (out_dir() is not).
fn cargo_target_dir() -> Result<PathBuf> {
    Ok(crate::vm::target_dir()?.join("deb-cargo"))
}

/// The output directory of `cargo xtask deb`.
pub fn out_dir() -> Result<PathBuf> {
    Ok(crate::vm::target_dir()?.join("deb"))
}

/// Whether the package build runs the unit tests (`dh_auto_test`), as a buildd does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitTests {
    Run,
    /// `DEB_BUILD_OPTIONS=nocheck`: for callers that ran the same tests on the same tree.
    Skip,
}

/// `cargo xtask deb`: source package, offline binary build, lintian; returns the `.deb`.
pub fn command(tests: UnitTests) -> Result<PathBuf> {
    let root = util::repo_root()?;
    let out = out_dir()?;
    let dsc = source_package(&root, &out)?;
    println!("source package: {}", dsc.display());
    let deb = binary_package(&dsc, &out, tests)?;
    println!("binary package: {}", deb.display());
    lintian(&[&dsc, &deb])?;
    println!("lintian: clean");
    Ok(deb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_spdx_to_dep5() {
        assert_eq!(
            dep5_license("MIT OR Apache-2.0"),
            (
                "Expat or Apache-2.0".to_string(),
                vec!["Expat".into(), "Apache-2.0".into()]
            )
        );
        assert_eq!(dep5_license("Apache-2.0/MIT").0, "Apache-2.0 or Expat");
        assert_eq!(
            dep5_license("(MIT OR Apache-2.0) AND Unicode-3.0").0,
            "(Expat or Apache-2.0) and Unicode-3.0"
        );
        let (expr, names) = dep5_license("Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT");
        assert_eq!(
            expr,
            "Apache-2.0 with LLVM exception or Apache-2.0 or Expat"
        );
        assert_eq!(names[0], "Apache-2.0 with LLVM exception");
        assert_eq!(
            dep5_license("LGPL-2.1-only OR BSD-2-Clause").0,
            "LGPL-2.1 or BSD-2-clause"
        );
    }

    #[test]
    fn dep5_bodies_mark_blank_lines() {
        assert_eq!(dep5_body("a\n\nb\n"), " a\n .\n b");
    }
}
