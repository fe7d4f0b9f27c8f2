//! `cargo xtask man`: the generated man pages (`man/`) and shell completions (`completions/`),
//! refreshed from each binary's own `--generate`, checked for staleness and for clean rendering.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util;

/// The binaries that document themselves, with their crates.
pub const BINARIES: &[(&str, &str)] = &[
    ("scx_rlfifo", "scx_rlfifo"),
    ("scx_rustland", "scx_rustland"),
    ("scx_bpfland", "scx_bpfland"),
    ("scx-loader", "scx-loader"),
];

/// The hand-written pages, rendered and checked like the generated ones.
pub const HAND_WRITTEN: &[&str] = &["scx.5", "scx.8"];

/// One generated file: where it lives and what the binary prints for it.
struct Generated {
    path: PathBuf,
    content: Vec<u8>,
}

fn build(root: &Path) -> Result<PathBuf> {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root).args(["build", "--quiet", "--bins"]);
    for (_, krate) in BINARIES {
        cmd.args(["-p", krate]);
    }
    util::run(&mut cmd).context("building the binaries to document")?;
    Ok(crate::vm::target_dir()?.join("debug"))
}

fn generate(bin_dir: &Path, root: &Path) -> Result<Vec<Generated>> {
    let mut out = Vec::new();
    for (bin, _) in BINARIES {
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
pub fn check_rendering(root: &Path) -> Result<()> {
    let mut pages: Vec<PathBuf> = BINARIES
        .iter()
        .map(|(bin, _)| root.join(format!("man/{bin}.8")))
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
    let bin_dir = build(&root)?;
    let files = generate(&bin_dir, &root)?;
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
            "generated docs are stale (the command line changed): {}; run `cargo xtask man` and commit the result",
            stale.join(", ")
        );
    }
    check_rendering(&root)
}
