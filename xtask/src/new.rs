//! `cargo xtask new scx_NAME`: a new user-space scheduler crate, started from scx_rlfifo (a FIFO
//! that works), registered by its `[package.metadata.scx]` table, with its man page, completions
//! and packaging lists generated, so the build, the `.deb`, the snap and every VM scenario include
//! it from then on.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::scenario::Check;
use crate::{man, registry, util};

/// The crate a new scheduler starts from.
const TEMPLATE: &str = "scx_rlfifo";

/// The template's files, relative to its crate; every other file of it is left behind.
const FILES: &[&str] = &["Cargo.toml", "src/main.rs"];

pub fn command(name: &str) -> Result<()> {
    if !registry::valid_name(name) {
        bail!(
            "{name:?} is not a scheduler name: use scx_ followed by a-z, 0-9 and _ (for example scx_mine)"
        );
    }
    let root = util::repo_root()?;
    let scheds = registry::schedulers(&root)?;
    if scheds.iter().any(|s| s.name == name) {
        bail!("{name} already exists: choose another name");
    }
    let template = scheds
        .iter()
        .find(|s| s.name == TEMPLATE)
        .with_context(|| format!("the template {TEMPLATE} is not in the registry"))?;
    let dir = root.join("scheds").join(name);
    if dir.exists() {
        bail!(
            "{} already exists: remove it or choose another name",
            dir.display()
        );
    }
    for file in FILES {
        let text = std::fs::read_to_string(template.dir.join(file))
            .with_context(|| format!("reading {TEMPLATE}/{file}"))?;
        let out = dir.join(file);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&out, instantiate(file, &text, name))
            .with_context(|| format!("writing {}", out.display()))?;
    }
    std::fs::write(dir.join("README.md"), readme(name))
        .with_context(|| format!("writing {}/README.md", dir.display()))?;
    println!(
        "created {}",
        dir.strip_prefix(&root).unwrap_or(&dir).display()
    );
    // The man page, completions, debian/scx.manpages and the snap's apps now include it.
    man::command(false)?;
    println!(
        "{name} is registered in scheds/{name}/Cargo.toml ([package.metadata.scx]). Next:\n  \
         edit scheds/{name}/src/main.rs (impl Policy; see scheds/{TEMPLATE}/README.md)\n  \
         cargo xtask vm attach      # attach it, with every other scheduler, in a VM\n  \
         cargo xtask bench --scheds {name}"
    );
    Ok(())
}

/// The template's `file` renamed to `name`; the crate-level documentation of `main.rs` says
/// where it came from instead of describing the template.
fn instantiate(file: &str, text: &str, name: &str) -> String {
    let renamed = text.replace(TEMPLATE, name);
    if file != "src/main.rs" {
        return renamed;
    }
    let body: Vec<&str> = renamed
        .lines()
        .skip_while(|l| l.starts_with("//!"))
        .collect();
    format!(
        "//! {name}: a user-space scheduler on scx_core's dispatch channel, started from\n\
         //! {TEMPLATE}: tasks run in the order they became runnable. Change `impl Policy` below.\n{}\n",
        body.join("\n")
    )
}

fn readme(name: &str) -> String {
    format!(
        "# {name}\n\n\
         A user-space sched_ext scheduler, created with `cargo xtask new {name}` from\n\
         `{TEMPLATE}`. How to write its policy, test it and benchmark it:\n\
         [`scheds/{TEMPLATE}/README.md`](../{TEMPLATE}/README.md).\n"
    )
}

/// The scheduler the suite creates in its scratch copy.
const SCRATCH_NAME: &str = "scx_hello";

/// The suite's test of this command, as a newcomer would use it: in a copy of the tree, run
/// `cargo xtask new scx_hello`, check that the generated files name it, then `cargo xtask vm
/// attach` on `kernel`, which attaches every registered scheduler in turn, and check that
/// scx_hello was one of them. The copy builds into a target directory of its own under
/// target/, kept between runs (file times are copied, so only the new crate rebuilds).
pub fn check_in_scratch(kernel: &str) -> Result<Check> {
    let start = Instant::now();
    let root = util::repo_root()?;
    let base = crate::vm::target_dir()?.join("new-scheduler");
    let tree = base.join("tree");
    let log = base.join("log");
    if tree.exists() {
        std::fs::remove_dir_all(&tree).with_context(|| format!("removing {}", tree.display()))?;
    }
    util::copy_files(&root, &util::source_files(&root)?, &tree)?;
    let copied = start.elapsed().as_secs_f64();
    let target = base.join("target");
    std::fs::write(&log, "").with_context(|| format!("creating {}", log.display()))?;
    // Each command's output is added to the log, with how long it took.
    let run = |args: &[&str]| -> Result<(String, f64)> {
        let began = Instant::now();
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&tree)
            .args(args)
            .env("CARGO_TARGET_DIR", &target)
            .stdin(Stdio::null());
        let out = cmd
            .output()
            .with_context(|| format!("running {}", util::describe(&cmd)))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let secs = began.elapsed().as_secs_f64();
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&log) {
            let _ = write!(f, "$ {} ({secs:.1} s)\n{text}", util::describe(&cmd));
        }
        if !out.status.success() {
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "`{}` in the scratch copy failed ({}; log {}):\n{}",
                util::describe(&cmd),
                out.status,
                log.display(),
                tail.join("\n")
            );
        }
        Ok((text, secs))
    };
    let (_, made) = run(&["xtask", "new", SCRATCH_NAME])?;
    let expect_in = |file: &str, what: &str| -> Result<()> {
        let text = std::fs::read_to_string(tree.join(file)).unwrap_or_default();
        if !text.contains(what) {
            bail!("after `cargo xtask new {SCRATCH_NAME}`, {file} does not contain {what:?}");
        }
        Ok(())
    };
    let page = format!("man/{SCRATCH_NAME}.8");
    expect_in(&page, SCRATCH_NAME)?;
    expect_in(&format!("completions/bash/{SCRATCH_NAME}"), SCRATCH_NAME)?;
    expect_in("debian/scx.manpages", &page)?;
    expect_in(
        "snap/snapcraft.yaml",
        &format!("command: usr/sbin/{SCRATCH_NAME}"),
    )?;
    let (vm, booted) = run(&["xtask", "vm", "--kernel", kernel, "--offline", "attach"])?;
    let attached = format!("ok: {SCRATCH_NAME} attached and running");
    if !vm.contains(&attached) {
        bail!(
            "the VM's attach scenario passed without attaching {SCRATCH_NAME} (log {})",
            log.display()
        );
    }
    Ok(Check {
        name: format!("cargo xtask new {SCRATCH_NAME}: registered, documented, attaches in a VM"),
        passed: true,
        detail: format!(
            "{:.1} s: copy {copied:.1} s, xtask new {made:.1} s, VM {booted:.1} s",
            start.elapsed().as_secs_f64()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_renamed_and_its_doc_replaced() {
        let main =
            "//! scx_rlfifo: the smallest.\n//!\n//! More.\n\nconst NAME: &str = \"scx_rlfifo\";\n";
        let out = instantiate("src/main.rs", main, "scx_mine");
        assert!(
            out.starts_with("//! scx_mine: a user-space scheduler"),
            "{out}"
        );
        assert!(out.contains("const NAME: &str = \"scx_mine\";"), "{out}");
        assert!(!out.contains("the smallest"), "{out}");
        let toml = "[package]\nname = \"scx_rlfifo\"\n";
        assert_eq!(
            instantiate("Cargo.toml", toml, "scx_mine"),
            "[package]\nname = \"scx_mine\"\n"
        );
    }
}
