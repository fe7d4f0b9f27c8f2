//! Scenarios: the shell scripts a guest runs between begin and end markers. Discovery in a
//! directory (helper files excluded), resolution of requested names, the vCPU count a
//! scenario asks for, and the evaluation of a boot's console into checks.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::cpio::Archive;
use crate::initramfs::marker;
use crate::kernel::Kernel;
use crate::qemu::{kernel_problem, Boot};

/// Lines of console shown around a kernel problem.
const EXCERPT_BEFORE: usize = 5;
const EXCERPT_AFTER: usize = 15;

/// The outcome of one check: a scenario on a kernel, or a kernel problem.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// The scenario helpers, in /scenarios/lib: the busybox VM's (`vm.sh`, `sched.sh`) and the
/// systemd guests' own (`service.sh`).
pub fn add_libraries(a: &mut Archive, root: &Path) -> Result<()> {
    for dir in ["tests/vm/lib", "tests/systemd/lib"] {
        let dir = root.join(dir);
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry
                .with_context(|| format!("reading {}", dir.display()))?
                .path();
            if path.extension().is_some_and(|e| e == "sh") {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                a.host_file(&format!("scenarios/lib/{name}"), &path)?;
            }
        }
    }
    Ok(())
}

/// The scenarios in `dir`: every `*.sh` directly in it, sorted. Helpers live in `dir/lib`,
/// scripts of their own commands (bench, torture) in other subdirectories.
pub fn scenarios_in(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".sh") {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// The vCPU count a scenario in `dir` asks for with a `# vm-smp: N` line in its header comment
/// (e.g. CPU hotplug needs CPUs to take offline), if any.
pub fn smp_of(dir: &Path, name: &str) -> Result<Option<u32>> {
    let path = dir.join(format!("{name}.sh"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(smp_in_header(&text))
}

/// The `# vm-smp: N` of a scenario's header: the comment and blank lines before its first
/// command, however long the description above it is.
fn smp_in_header(text: &str) -> Option<u32> {
    text.lines()
        .take_while(|l| l.starts_with('#') || l.trim().is_empty())
        .find_map(|l| l.strip_prefix("# vm-smp:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Accepts `name` or `name.sh` for each of `requested`, checks the scenario is one of
/// `known` (the scenarios of `dir`, named in errors) and has a shell-safe name.
pub fn resolve_in(dir: &str, known: &[String], requested: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for req in requested {
        let name = req.strip_suffix(".sh").unwrap_or(req);
        let name = name.rsplit('/').next().unwrap_or(name);
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!("scenario names use only letters, digits, '_' and '-': {req:?}");
        }
        if !known.iter().any(|k| k == name) {
            bail!(
                "no scenario {name:?} in {dir} (known: {})",
                known.join(", ")
            );
        }
        out.push(name.to_string());
    }
    Ok(out)
}

/// Scenario results and kernel problems of one boot: a check per scenario (named `KIND NAME
/// [TAG]`, KIND being e.g. `systemd/` for the systemd guests), one per kernel problem with the
/// console around it, and one if the guest never reached its scenarios.
pub fn evaluate(
    kernel: &Kernel,
    boot: &Boot,
    scenarios: &[String],
    kind: &str,
    tag: &str,
) -> Vec<Check> {
    let mut checks = Vec::new();
    // Scenarios run in order and may repeat, so each one is looked for after the previous.
    let mut cursor = 0;
    for name in scenarios {
        let begin = format!("{}{name}@@", marker::BEGIN);
        let end = format!("{}{name} rc=", marker::END);
        let began = boot.lines[cursor..]
            .iter()
            .position(|l| l.text.contains(&begin))
            .map(|i| i + cursor);
        let search_from = began.unwrap_or(cursor);
        let ended = boot.lines[search_from..]
            .iter()
            .enumerate()
            .find_map(|(i, l)| {
                let at = l.text.find(&end)?;
                let rest = &l.text[at + end.len()..];
                let rc: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                Some((i + search_from, rc.parse::<i32>().ok()))
            });
        cursor = match (began, ended) {
            (_, Some((e, _))) => e + 1,
            (Some(b), None) => b + 1,
            (None, None) => cursor,
        };
        let (passed, detail) = match ended {
            Some((_, Some(0))) => (true, String::new()),
            Some((_, Some(137))) => (false, "killed by the guest time limit (rc=137)".to_string()),
            Some((e, Some(rc))) => {
                let from = began.unwrap_or(0);
                let last_fail = boot.lines[from..e]
                    .iter()
                    .rev()
                    .find(|l| l.text.contains("FAIL:"))
                    .map(|l| format!(": {}", l.text.trim()))
                    .unwrap_or_default();
                (false, format!("rc={rc}{last_fail}"))
            }
            Some((_, None)) => (false, "unreadable exit code".to_string()),
            None if began.is_some() && boot.timed_out => (
                false,
                "no end marker: the VM hung or ran out of time".to_string(),
            ),
            None if began.is_some() => (
                false,
                "no end marker: the VM stopped mid-scenario".to_string(),
            ),
            None if boot.lines.iter().any(|l| l.text.contains(marker::DONE)) => {
                (false, "never started".to_string())
            }
            None => (
                false,
                "never started: the VM went down before it".to_string(),
            ),
        };
        let duration = match (began, ended) {
            (Some(b), Some((e, _))) => {
                let secs = boot.lines[e].at.saturating_sub(boot.lines[b].at);
                format!("{:.1} s", secs.as_secs_f64())
            }
            _ => String::new(),
        };
        let detail = match (detail.is_empty(), duration.is_empty()) {
            (_, true) => detail,
            (true, false) => duration,
            (false, false) => format!("{detail} ({duration})"),
        };
        checks.push(Check {
            name: format!("{kind}{name} [{tag}]"),
            passed,
            detail,
        });
    }

    // Kernel problems, each reported once with the console around it.
    let mut seen: Vec<String> = Vec::new();
    let mut last_report: Option<usize> = None;
    for (i, line) in boot.lines.iter().enumerate() {
        let Some(problem) = kernel_problem(&line.text) else {
            continue;
        };
        if seen.iter().any(|s| s == problem) {
            continue;
        }
        seen.push(problem.to_string());
        // Messages of one splat share one report.
        if last_report.is_some_and(|r| i < r + EXCERPT_AFTER) {
            continue;
        }
        last_report = Some(i);
        let from = i.saturating_sub(EXCERPT_BEFORE);
        let to = (i + EXCERPT_AFTER).min(boot.lines.len());
        let during = boot.lines[..i]
            .iter()
            .rev()
            .find_map(|l| {
                let at = l.text.find(marker::BEGIN)?;
                let rest = &l.text[at + marker::BEGIN.len()..];
                Some(rest.trim_end_matches('@').to_string())
            })
            .map(|s| format!(" during scenario {s}"))
            .unwrap_or_else(|| " during boot".to_string());
        let excerpt: Vec<String> = boot.lines[from..to]
            .iter()
            .map(|l| format!("    | {}", l.text))
            .collect();
        checks.push(Check {
            name: format!("kernel problem [{tag}]"),
            passed: false,
            detail: format!("{problem}{during}\n{}", excerpt.join("\n")),
        });
    }
    if !boot.lines.iter().any(|l| l.text.contains(marker::BOOT)) {
        let tail: Vec<String> = boot.lines[boot.lines.len().saturating_sub(20)..]
            .iter()
            .map(|l| format!("    | {}", l.text))
            .collect();
        checks.push(Check {
            name: format!("{kind}boot [{tag}]"),
            passed: false,
            detail: format!(
                "{} never reached /init (see {})\n{}",
                kernel.kver,
                boot.log.display(),
                tail.join("\n")
            ),
        });
    }
    checks
}

/// Prints one check as a PASS/FAIL line (and its excerpt).
pub fn print_check(check: &Check) {
    let verdict = if check.passed { "PASS" } else { "FAIL" };
    if check.detail.is_empty() {
        println!("{verdict} {}", check.name);
    } else {
        println!("{verdict} {}: {}", check.name, check.detail);
    }
}

/// Prints every check and the final `N passed, N failed` line; returns the failures.
pub fn report(checks: &[Check]) -> usize {
    println!();
    for check in checks {
        print_check(check);
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    println!("{} passed, {failed} failed", checks.len() - failed);
    failed
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::qemu::Line;

    #[test]
    fn vm_smp_is_read_from_the_whole_header_only() {
        let long = format!(
            "{}# vm-smp: 4\n. /scenarios/lib/sched.sh\n",
            "# text\n".repeat(12)
        );
        assert_eq!(smp_in_header(&long), Some(4));
        assert_eq!(smp_in_header("# a\n#\n# vm-smp: 3\n\n. x\n"), Some(3));
        assert_eq!(smp_in_header("# a\necho hi\n# vm-smp: 4\n"), None);
        assert_eq!(smp_in_header("# vm-smp: many\n"), None);
    }

    fn boot(texts: &[&str], timed_out: bool) -> Boot {
        Boot {
            lines: texts
                .iter()
                .enumerate()
                .map(|(i, t)| Line {
                    at: Duration::from_secs(i as u64),
                    text: t.to_string(),
                })
                .collect(),
            timed_out,
            log: PathBuf::from("/log"),
        }
    }

    fn kernel() -> Kernel {
        Kernel {
            suite: "sid".into(),
            kver: "7.3".into(),
            version: "7.3-1".into(),
            dir: PathBuf::from("/k"),
        }
    }

    #[test]
    fn verdicts_from_markers() {
        let console = boot(
            &[
                "@@SCX boot kernel=7.3 nproc=2 uptime=9.1@@",
                "@@SCX begin start@@",
                "ok: fine",
                "@@SCX end start rc=0@@",
                "@@SCX begin reload@@",
                "FAIL: MainPID changed",
                "@@SCX end reload rc=1@@",
                "@@SCX done@@",
            ],
            false,
        );
        let names: Vec<String> = ["start", "reload", "kill9"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let checks = evaluate(&kernel(), &console, &names, "systemd/", "k");
        assert_eq!(checks.len(), 3);
        assert_eq!(checks[0].name, "systemd/start [k]");
        assert!(checks[0].passed, "{:?}", checks[0]);
        assert_eq!(checks[0].detail, "2.0 s");
        assert!(!checks[1].passed);
        assert_eq!(checks[1].detail, "rc=1: FAIL: MainPID changed (2.0 s)");
        assert_eq!(checks[2].detail, "never started");
    }

    #[test]
    fn kernel_problems_and_missing_boot_are_failures() {
        let console = boot(
            &["[    5.100000] BUG: kernel NULL pointer dereference, address: 0"],
            true,
        );
        let checks = evaluate(&kernel(), &console, &[], "", "k");
        assert!(checks
            .iter()
            .any(|c| c.name == "kernel problem [k]" && !c.passed));
        assert!(checks.iter().any(|c| c.name == "boot [k]" && !c.passed));
    }
}
