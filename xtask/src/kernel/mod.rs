//! Test kernels: resolving, downloading and caching Debian's cloud kernels with sched_ext.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};

use crate::util;

mod select;
pub use select::{plain, select, PLAIN};

/// The Debian suites whose current cloud kernel we test on, the first one being the primary.
pub const SUITES: &[&str] = &["trixie-backports", "sid"];

/// The metapackage whose dependency names the current kernel of a suite.
const META_PACKAGE: &str = "linux-image-cloud-amd64";

/// The keyring that signs the Debian archive.
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Package lists younger than this are not refreshed unless asked to.
const LISTS_MAX_AGE: Duration = Duration::from_secs(3600);

/// Kernel options the whole project depends on.
const REQUIRED_CONFIG: &[&str] = &["CONFIG_SCHED_CLASS_EXT=y", "CONFIG_DEBUG_INFO_BTF=y"];

/// A downloaded kernel lacks what the project needs.
#[derive(Debug)]
pub struct UnusableKernel(String);

impl std::fmt::Display for UnusableKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnusableKernel {}

/// A kernel in the cache.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// The suite it was resolved from (`trixie-backports`, `sid`).
    pub suite: String,
    /// The kernel release, as `uname -r` prints it (`7.3.4+deb13-cloud-amd64`).
    pub kver: String,
    /// The Debian package version (`7.3.4-1~bpo13+1`).
    pub version: String,
    /// The cache directory holding `vmlinuz`, `config`, `vmlinux`, `version` and `suite`.
    pub dir: PathBuf,
}

impl Kernel {
    pub fn vmlinuz(&self) -> PathBuf {
        self.dir.join("vmlinuz")
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("config")
    }

    pub fn vmlinux(&self) -> PathBuf {
        self.dir.join("vmlinux")
    }

    /// The Debian package that ships this kernel image.
    pub fn package(&self) -> String {
        format!("linux-binary-{}", self.kver)
    }
}

/// How `ensure_kernels` may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Refresh package lists when older than an hour.
    Normal,
    /// Always refresh package lists.
    Refresh,
    /// Use only what is cached.
    Offline,
}

fn kernels_dir() -> Result<PathBuf> {
    Ok(util::cache_dir()?.join("kernels"))
}

/// Resolves the current kernel of each suite, downloading what is missing from the cache.
///
/// A suite whose registry cannot be reached falls back to the newest cached kernel of that
/// suite; the call fails only when no kernel at all is available.
pub fn ensure_kernels(suites: &[String], fetch: Fetch) -> Result<Vec<Kernel>> {
    let mut kernels = Vec::new();
    let mut problems = Vec::new();
    for suite in suites {
        if !SUITES.contains(&suite.as_str()) {
            bail!("unknown suite {suite:?} (known: {})", SUITES.join(", "));
        }
        let resolved = if fetch == Fetch::Offline {
            Err(anyhow::anyhow!("offline mode"))
        } else {
            resolve_and_fetch(suite, fetch == Fetch::Refresh)
        };
        match resolved {
            Ok(kernel) => kernels.push(kernel),
            // A kernel without sched_ext is not a network hiccup: never paper over it.
            Err(err) if err.chain().any(|e| e.is::<UnusableKernel>()) => return Err(err),
            Err(err) => match newest_cached(suite)? {
                Some(kernel) => {
                    if fetch != Fetch::Offline {
                        eprintln!(
                            "xtask: {suite}: cannot get the current kernel ({err:#}); \
                             using cached kernel {}",
                            kernel.kver
                        );
                    }
                    kernels.push(kernel);
                }
                None => problems.push(format!("{suite}: {err:#}")),
            },
        }
    }
    if kernels.is_empty() {
        bail!(
            "no test kernel available: nothing cached in {} and none could be downloaded ({})",
            kernels_dir()?.display(),
            problems.join("; ")
        );
    }
    for problem in &problems {
        eprintln!("xtask: warning: no kernel for {problem}");
    }
    Ok(kernels)
}

/// The kernel of one suite, which must be available.
pub fn ensure_suite(suite: &str, fetch: Fetch) -> Result<Kernel> {
    let kernels = ensure_kernels(&[suite.to_string()], fetch)?;
    kernels
        .into_iter()
        .next()
        .with_context(|| format!("no kernel for {suite}"))
}

/// Every complete kernel in the cache.
pub fn cached() -> Result<Vec<Kernel>> {
    let dir = kernels_dir()?;
    let mut kernels = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(kernels),
        Err(err) => return Err(err).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if let Some(kernel) = load_cached(&entry.path(), &name)? {
            kernels.push(kernel);
        }
    }
    kernels.sort_by(|a, b| a.kver.cmp(&b.kver));
    Ok(kernels)
}

fn load_cached(dir: &Path, kver: &str) -> Result<Option<Kernel>> {
    let complete = ["vmlinuz", "config", "vmlinux", "version", "suite"]
        .iter()
        .all(|f| dir.join(f).is_file());
    if !complete {
        return Ok(None);
    }
    let read = |f: &str| -> Result<String> {
        let path = dir.join(f);
        Ok(fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .trim()
            .to_string())
    };
    Ok(Some(Kernel {
        suite: read("suite")?,
        kver: kver.to_string(),
        version: read("version")?,
        dir: dir.to_path_buf(),
    }))
}

fn newest_cached(suite: &str) -> Result<Option<Kernel>> {
    let mut best: Option<Kernel> = None;
    for kernel in cached()?.into_iter().filter(|k| k.suite == suite) {
        let newer = match &best {
            None => true,
            Some(b) => version_gt(&kernel.version, &b.version)?,
        };
        if newer {
            best = Some(kernel);
        }
    }
    Ok(best)
}

/// Debian version ordering, as dpkg defines it.
fn version_gt(a: &str, b: &str) -> Result<bool> {
    let status = Command::new("dpkg")
        .args(["--compare-versions", a, "gt", b])
        .status()
        .context("failed to run dpkg --compare-versions")?;
    Ok(status.success())
}

/// A private apt configuration for one suite, living in the cache.
struct Apt {
    root: PathBuf,
}

impl Apt {
    fn new(suite: &str) -> Result<Self> {
        let root = util::cache_dir()?.join("apt").join(suite);
        for sub in ["lists/partial", "cache/archives/partial"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let sources =
            format!("deb [signed-by={KEYRING}] http://deb.debian.org/debian {suite} main\n");
        let list = root.join("sources.list");
        if fs::read_to_string(&list).ok().as_deref() != Some(sources.as_str()) {
            util::write_atomic(&list, sources.as_bytes())?;
        }
        let status = root.join("status");
        if !status.exists() {
            util::write_atomic(&status, b"")?;
        }
        Ok(Self { root })
    }

    /// `apt-get`/`apt-cache` with every state path pointed into the private directory.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        let opt = |k: &str, v: &Path| format!("{k}={}", v.display());
        cmd.arg("-o")
            .arg(opt("Dir::Etc::sourcelist", &self.root.join("sources.list")))
            .args(["-o", "Dir::Etc::sourceparts=-"])
            .arg("-o")
            .arg(opt("Dir::State::Lists", &self.root.join("lists")))
            .arg("-o")
            .arg(opt("Dir::State::status", &self.root.join("status")))
            .arg("-o")
            .arg(opt("Dir::Cache", &self.root.join("cache")))
            .args([
                "-o",
                "Debug::NoLocking=1",
                "-o",
                "Acquire::Languages=none",
                "-o",
                "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
                "-o",
                "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false",
                "-o",
                "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false",
                "-o",
                "Acquire::http::Timeout=30",
                "-o",
                "Acquire::Retries=2",
            ]);
        if util::is_root() {
            // Downloads land in directories owned by root; no need for the _apt sandbox.
            cmd.args(["-o", "APT::Sandbox::User=root"]);
        }
        cmd
    }

    /// How long ago the package lists were last refreshed successfully.
    fn lists_age(&self) -> Option<Duration> {
        let stamp = fs::metadata(self.root.join("updated"))
            .ok()?
            .modified()
            .ok()?;
        SystemTime::now().duration_since(stamp).ok()
    }

    fn update(&self, suite: &str) -> Result<()> {
        let mut cmd = self.command("apt-get");
        cmd.args(["-q", "update"]);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("failed to start `{}`", util::describe(&cmd)))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first_problem = stderr
            .lines()
            .find(|l| l.starts_with("E:") || l.contains("Failed to fetch"))
            .map(|l| l.trim().to_string());
        if !out.status.success() || first_problem.is_some() {
            let why = first_problem.unwrap_or_else(|| stderr.trim().to_string());
            bail!("apt-get update for {suite} failed: {why}");
        }
        util::write_atomic(&self.root.join("updated"), b"")?;
        Ok(())
    }

    /// The newest (version, Depends) of a package in the private lists.
    fn show(&self, package: &str) -> Result<(String, String)> {
        let mut cmd = self.command("apt-cache");
        cmd.args(["show", package]);
        let text = util::stdout_of(&mut cmd)?;
        let mut best: Option<(String, String)> = None;
        for record in text.split("\n\n").filter(|r| !r.trim().is_empty()) {
            let field = |name: &str| {
                record
                    .lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                    .map(|v| v.trim().to_string())
            };
            let (Some(version), depends) = (field("Version"), field("Depends")) else {
                continue;
            };
            let newer = match &best {
                None => true,
                Some((b, _)) => version_gt(&version, b)?,
            };
            if newer {
                best = Some((version, depends.unwrap_or_default()));
            }
        }
        best.with_context(|| format!("no {package} in the package lists"))
    }
}

/// Finds the kernel release in the metapackage's Depends (`linux-image-<kver>`).
fn kver_from_depends(depends: &str) -> Option<String> {
    depends
        .split([',', '|'])
        .map(|dep| dep.split_whitespace().next().unwrap_or(""))
        .find_map(|name| name.strip_prefix("linux-image-"))
        .filter(|kver| kver.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(str::to_string)
}

fn resolve_and_fetch(suite: &str, refresh: bool) -> Result<Kernel> {
    let apt = Apt::new(suite)?;
    let fresh = apt.lists_age().is_some_and(|age| age < LISTS_MAX_AGE);
    if refresh || !fresh {
        eprintln!("xtask: {suite}: updating package lists");
        apt.update(suite)?;
    }
    let (meta_version, depends) = apt
        .show(META_PACKAGE)
        .with_context(|| format!("resolving {META_PACKAGE} in {suite}"))?;
    let kver = kver_from_depends(&depends).with_context(|| {
        format!("{META_PACKAGE} {meta_version} in {suite} names no kernel: {depends:?}")
    })?;
    let dir = kernels_dir()?.join(&kver);
    if let Some(kernel) = load_cached(&dir, &kver)? {
        return Ok(kernel);
    }
    let binary = format!("linux-binary-{kver}");
    let (version, _) = apt
        .show(&binary)
        .with_context(|| format!("resolving {binary} in {suite}"))?;
    eprintln!("xtask: {suite}: downloading kernel {kver} ({version})");
    fetch_into(&apt, suite, &kver, &version, &dir)?;
    load_cached(&dir, &kver)?.with_context(|| format!("{} is incomplete", dir.display()))
}

fn fetch_into(apt: &Apt, suite: &str, kver: &str, version: &str, dir: &Path) -> Result<()> {
    let parent = dir
        .parent()
        .with_context(|| format!("{} has no parent", dir.display()))?;
    let work = parent.join(format!(".tmp-{kver}-{}", std::process::id()));
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    }
    let debs = work.join("debs");
    let tree = work.join("tree");
    let out = work.join("out");
    for d in [&debs, &tree, &out] {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let packages = [format!("linux-binary-{kver}"), format!("linux-base-{kver}")];
    let mut cmd = apt.command("apt-get");
    cmd.current_dir(&debs)
        .args(["-q", "download"])
        .args(&packages);
    util::output(&mut cmd).with_context(|| format!("downloading {}", packages.join(" ")))?;
    for entry in fs::read_dir(&debs).with_context(|| format!("reading {}", debs.display()))? {
        let path = entry
            .with_context(|| format!("reading {}", debs.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "deb") {
            util::run(Command::new("dpkg-deb").arg("-x").arg(&path).arg(&tree))
                .with_context(|| format!("unpacking {}", path.display()))?;
        }
    }
    let find = |name: &str| -> Result<PathBuf> {
        let candidates = [
            tree.join("usr/lib/modules").join(kver).join(name),
            tree.join("lib/modules").join(kver).join(name),
            tree.join("boot").join(format!("{name}-{kver}")),
        ];
        candidates
            .into_iter()
            .find(|p| p.is_file())
            .with_context(|| format!("no {name} for {kver} in {}", packages.join(" ")))
    };
    fs::copy(find("vmlinuz")?, out.join("vmlinuz")).context("copying vmlinuz")?;
    fs::copy(find("config")?, out.join("config")).context("copying config")?;
    check_config(&out.join("config"), kver)?;
    extract_vmlinux(&out.join("vmlinuz"), &out.join("vmlinux"))?;
    util::write_atomic(&out.join("version"), format!("{version}\n").as_bytes())?;
    util::write_atomic(&out.join("suite"), format!("{suite}\n").as_bytes())?;
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing stale {}", dir.display()))?;
    }
    fs::rename(&out, dir)
        .with_context(|| format!("moving {} to {}", out.display(), dir.display()))?;
    fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    Ok(())
}

/// Fails unless the kernel config enables everything the project needs.
pub fn check_config(config: &Path, kver: &str) -> Result<()> {
    let text =
        fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let missing: Vec<&str> = REQUIRED_CONFIG
        .iter()
        .copied()
        .filter(|opt| !text.lines().any(|l| l.trim() == *opt))
        .collect();
    if !missing.is_empty() {
        return Err(UnusableKernel(format!(
            "kernel {kver} is unusable: its config lacks {} (sched_ext tests need them)",
            missing.join(", ")
        ))
        .into());
    }
    Ok(())
}

/// Decompresses the zstd payload of a bzImage into an ELF `vmlinux`.
pub fn extract_vmlinux(vmlinuz: &Path, vmlinux: &Path) -> Result<()> {
    const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    let image = fs::read(vmlinuz).with_context(|| format!("reading {}", vmlinuz.display()))?;
    let offsets: Vec<usize> = image
        .windows(MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == MAGIC)
        .map(|(i, _)| i)
        .collect();
    if offsets.is_empty() {
        bail!("{} contains no zstd stream", vmlinuz.display());
    }
    for offset in offsets {
        let file =
            fs::File::create(vmlinux).with_context(|| format!("creating {}", vmlinux.display()))?;
        // zstdcat writes the whole frame, then complains about the bytes that follow it
        // in the image; the ELF check below is what decides success.
        let mut child = Command::new("zstdcat")
            .stdin(Stdio::piped())
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .context("failed to start zstdcat")?;
        let mut stdin = child.stdin.take().context("zstdcat has no stdin")?;
        let payload = &image[offset..];
        // A broken pipe just means zstdcat stopped reading after the frame.
        let _ = stdin.write_all(payload);
        drop(stdin);
        child.wait().context("waiting for zstdcat")?;
        let mut head = [0u8; 4];
        let ok = fs::File::open(vmlinux)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok()
            && head == *b"\x7fELF";
        if ok {
            return Ok(());
        }
    }
    let _ = fs::remove_file(vmlinux);
    bail!(
        "no zstd stream in {} decompresses to an ELF image",
        vmlinuz.display()
    )
}

/// `cargo xtask kernel`: make sure the kernels are there and list them.
pub fn command(suites: &[String], fetch: Fetch) -> Result<()> {
    let kernels = ensure_kernels(suites, fetch)?;
    println!("{:18} {:28} {:20} directory", "suite", "kernel", "version");
    for k in &kernels {
        println!(
            "{:18} {:28} {:20} {}",
            k.suite,
            k.kver,
            k.version,
            k.dir.display()
        );
    }
    let others: Vec<Kernel> = cached()?
        .into_iter()
        .filter(|c| !kernels.iter().any(|k| k.kver == c.kver))
        .collect();
    if !others.is_empty() {
        println!("older kernels in the cache:");
        for k in &others {
            println!(
                "{:18} {:28} {:20} {}",
                k.suite,
                k.kver,
                k.version,
                k.dir.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_release_comes_from_the_metapackage_depends() {
        let depends = "linux-image-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1)";
        assert_eq!(
            kver_from_depends(depends).unwrap(),
            "7.3.4+deb13-cloud-amd64"
        );
        assert!(kver_from_depends("linux-image-cloud-amd64-unsigned").is_none());
    }

    #[test]
    fn config_without_sched_ext_is_unusable() {
        let dir = std::env::temp_dir().join(format!("xtask-config-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config");
        fs::write(
            &config,
            "CONFIG_DEBUG_INFO_BTF=y\n# CONFIG_SCHED_CLASS_EXT is not set\n",
        )
        .unwrap();
        let err = check_config(&config, "1.0").unwrap_err();
        assert!(err.is::<UnusableKernel>());
        assert!(err.to_string().contains("CONFIG_SCHED_CLASS_EXT=y"));
        fs::write(
            &config,
            "CONFIG_DEBUG_INFO_BTF=y\nCONFIG_SCHED_CLASS_EXT=y\n",
        )
        .unwrap();
        check_config(&config, "1.0").unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
