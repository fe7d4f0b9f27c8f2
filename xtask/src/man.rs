//! `cargo xtask man`: the generated files. The man pages (`man/`) and shell completions
//! (`completions/`) come from each binary's own `--generate`; `debian/scx.manpages` and the
//! scheduler blocks of `snap/snapcraft.yaml` from the scheduler registry. All are checked for
//! staleness by the suite, and the pages for clean rendering.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{registry, util};

/// The binaries that document themselves (each is also its crate's name): every registered
/// scheduler, then the loader.
pub fn binaries(root: &Path) -> Result<Vec<String>> {
    let mut bins: Vec<String> = registry::schedulers(root)?
        .into_iter()
        .map(|s| s.name)
        .collect();
    bins.push("scx-loader".to_string());
    Ok(bins)
}

/// The hand-written pages, rendered and checked like the generated ones.
pub const HAND_WRITTEN: &[&str] = &["scx.5", "scx.8"];

/// One generated file: where it lives and what the binary prints for it.
struct Generated {
    path: PathBuf,
    content: Vec<u8>,
}

fn generate(bin_dir: &Path, root: &Path, bins: &[String]) -> Result<Vec<Generated>> {
    let mut out = Vec::new();
    for bin in bins {
        let exe = bin_dir.join(bin);
        let targets = [
            ("man", root.join(format!("man/{bin}.8"))),
            (
                "complete-bash",
                root.join(format!("completions/bash/{bin}")),
            ),
            ("complete-zsh", root.join(format!("completions/zsh/_{bin}"))),
            (
                "complete-fish",
                root.join(format!("completions/fish/{bin}.fish")),
            ),
        ];
        for (what, path) in targets {
            let output = Command::new(&exe)
                .args(["--generate", what])
                .output()
                .with_context(|| format!("running {} --generate {what}", exe.display()))?;
            if !output.status.success() {
                bail!(
                    "{} --generate {what} failed: {}",
                    exe.display(),
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            out.push(Generated {
                path,
                content: output.stdout,
            });
        }
    }
    Ok(out)
}

/// Renders a page the way `man` would and returns its warnings.
fn render_warnings(page: &Path) -> Result<String> {
    let output = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("MANWIDTH", "80")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("PAGER", "cat")
        .output()
        .with_context(|| format!("rendering {} with man (install man-db)", page.display()))?;
    let mut warnings = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if !output.status.success() && warnings.is_empty() {
        warnings = format!("man exited with {}", output.status);
    }
    Ok(warnings)
}

/// Checks every page renders with no warnings.
pub fn check_rendering(root: &Path, bins: &[String]) -> Result<()> {
    let mut pages: Vec<PathBuf> = bins
        .iter()
        .map(|bin| root.join(format!("man/{bin}.8")))
        .collect();
    pages.extend(HAND_WRITTEN.iter().map(|p| root.join("man").join(p)));
    let mut problems = Vec::new();
    for page in &pages {
        let warnings = render_warnings(page)?;
        if !warnings.is_empty() {
            problems.push(format!("{}: {warnings}", page.display()));
        }
    }
    if !problems.is_empty() {
        bail!("man pages render with warnings:\n{}", problems.join("\n"));
    }
    Ok(())
}

/// Writes the generated files (`check == false`), or fails naming the stale ones.
pub fn command(check: bool) -> Result<()> {
    let root = util::repo_root()?;
    let bins = binaries(&root)?;
    // The release build the VM images and packages use too: documenting costs no build.
    let bin_dir = crate::vm::build_release(&bins)?;
    let mut files = generate(&bin_dir, &root, &bins)?;
    files.extend(packaging(&root, &bins)?);
    let mut stale = Vec::new();
    for file in &files {
        let current = std::fs::read(&file.path).ok();
        if current.as_deref() == Some(file.content.as_slice()) {
            continue;
        }
        if check {
            stale.push(
                file.path
                    .strip_prefix(&root)
                    .unwrap_or(&file.path)
                    .display()
                    .to_string(),
            );
            continue;
        }
        if let Some(dir) = file.path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&file.path, &file.content)
            .with_context(|| format!("writing {}", file.path.display()))?;
        println!("wrote {}", file.path.display());
    }
    if !stale.is_empty() {
        bail!(
            "generated files are stale (a command line or the scheduler list changed): {}; run `cargo xtask man` and commit the result",
            stale.join(", ")
        );
    }
    check_rendering(&root, &bins)
}

/// The packaging files that list the binaries: `debian/scx.manpages`, and the blocks of
/// `snap/snapcraft.yaml` between `# BEGIN generated: NAME` and `# END generated: NAME`.
fn packaging(root: &Path, bins: &[String]) -> Result<Vec<Generated>> {
    let mut manpages: Vec<String> = HAND_WRITTEN.iter().map(|p| format!("man/{p}\n")).collect();
    manpages.extend(bins.iter().map(|b| format!("man/{b}.8\n")));
    let snapcraft_path = root.join("snap/snapcraft.yaml");
    let snapcraft = std::fs::read_to_string(&snapcraft_path)
        .with_context(|| format!("reading {}", snapcraft_path.display()))?;
    let apps: String = bins
        .iter()
        .map(|b| format!("  {}:\n    command: usr/sbin/{b}\n", b.replace('_', "-")))
        .collect();
    let paths: Vec<String> = bins
        .iter()
        .map(|b| {
            if b.starts_with("scx_") {
                format!("scheds/{b}")
            } else {
                b.clone()
            }
        })
        .collect();
    let rust_path = format!("    rust-path: [{}]\n", paths.join(", "));
    let snapcraft = replace_block(&snapcraft, "apps", &apps)?;
    let snapcraft = replace_block(&snapcraft, "rust-path", &rust_path)?;
    Ok(vec![
        Generated {
            path: root.join("debian/scx.manpages"),
            content: manpages.concat().into_bytes(),
        },
        Generated {
            path: snapcraft_path,
            content: snapcraft.into_bytes(),
        },
    ])
}

/// `text` with the lines between its `# BEGIN generated: NAME` and `# END generated: NAME`
/// markers (any indentation) replaced by `body`.
fn replace_block(text: &str, name: &str, body: &str) -> Result<String> {
    let begin = format!("# BEGIN generated: {name}");
    let end = format!("# END generated: {name}");
    let mut out = String::new();
    let mut inside = false;
    let (mut began, mut ended) = (false, false);
    for line in text.split_inclusive('\n') {
        let marker = line.trim();
        if marker == begin && !began {
            out.push_str(line);
            out.push_str(body);
            inside = true;
            began = true;
        } else if marker == end && inside {
            out.push_str(line);
            inside = false;
            ended = true;
        } else if !inside {
            out.push_str(line);
        }
    }
    if !began || !ended {
        bail!(
            "snap/snapcraft.yaml lacks the lines `{begin}` and `{end}` around its generated part"
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_replaced_between_their_markers_only() {
        let text = "a\n  # BEGIN generated: x\n  old\n  # END generated: x\nb\n";
        assert_eq!(
            replace_block(text, "x", "  new\n  two\n").unwrap(),
            "a\n  # BEGIN generated: x\n  new\n  two\n  # END generated: x\nb\n"
        );
        assert!(replace_block("a\n", "x", "").is_err());
        assert!(replace_block("# BEGIN generated: x\n", "x", "").is_err());
    }
}
