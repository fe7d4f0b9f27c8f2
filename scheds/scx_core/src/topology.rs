//! The machine's CPU topology as sysfs describes it: online CPUs, their cores (SMT siblings),
//! last-level caches and NUMA nodes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One online CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpu {
    pub id: usize,
    /// Index into [`Topology::cores`].
    pub core: usize,
    /// Index into [`Topology::llcs`].
    pub llc: usize,
    /// NUMA node id (0 where the machine has no NUMA information).
    pub node: usize,
    /// Relative compute capacity (`cpu_capacity`; 1024, the fastest, where sysfs has none).
    pub capacity: u32,
}

/// CPUs, cores, LLCs and NUMA nodes of the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Online CPUs, by id.
    pub cpus: Vec<Cpu>,
    /// CPU ids sharing each physical core.
    pub cores: Vec<Vec<usize>>,
    /// CPU ids sharing each last-level cache.
    pub llcs: Vec<Vec<usize>>,
    /// NUMA node ids present.
    pub nodes: Vec<usize>,
    /// One more than the highest possible CPU id.
    pub nr_cpu_ids: usize,
}

/// Parses a kernel CPU list such as `0-3,8,10-11`.
pub fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

fn read_list(path: &Path) -> Result<Vec<usize>> {
    let s = read(path)?;
    parse_cpu_list(&s).ok_or_else(|| {
        Error::io(
            format!("parsing the CPU list {s:?} in {}", path.display()),
            std::io::Error::from(std::io::ErrorKind::InvalidData),
        )
    })
}

/// The CPUs sharing `cpu`'s last-level cache: the highest-level data or unified cache.
fn llc_siblings(cpu_dir: &Path, cpu: usize) -> Vec<usize> {
    let mut best: Option<(u32, Vec<usize>)> = None;
    let Ok(entries) = std::fs::read_dir(cpu_dir.join("cache")) else {
        return vec![cpu];
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let level = std::fs::read_to_string(dir.join("level"))
            .ok()
            .and_then(|l| l.trim().parse::<u32>().ok());
        let kind = std::fs::read_to_string(dir.join("type")).unwrap_or_default();
        let shared = std::fs::read_to_string(dir.join("shared_cpu_list"))
            .ok()
            .and_then(|s| parse_cpu_list(&s));
        if let (Some(level), Some(shared)) = (level, shared) {
            if kind.trim() == "Instruction" {
                continue;
            }
            if best.as_ref().is_none_or(|(l, _)| level > *l) {
                best = Some((level, shared));
            }
        }
    }
    best.map(|(_, s)| s).unwrap_or_else(|| vec![cpu])
}

impl Topology {
    /// Reads the topology of this machine.
    pub fn read() -> Result<Self> {
        Self::read_from(Path::new("/sys/devices/system"))
    }

    /// Reads the topology from a sysfs tree rooted at `root` (`/sys/devices/system`).
    pub fn read_from(root: &Path) -> Result<Self> {
        let cpu_root = root.join("cpu");
        let online = read_list(&cpu_root.join("online"))?;
        let possible = read_list(&cpu_root.join("possible")).unwrap_or_else(|_| online.clone());
        let nr_cpu_ids = possible.iter().chain(&online).max().map_or(1, |m| m + 1);

        let mut node_of: BTreeMap<usize, usize> = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(root.join("node")) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(id) = name.strip_prefix("node").and_then(|n| n.parse().ok()) else {
                    continue;
                };
                if let Ok(cpus) = read_list(&entry.path().join("cpulist")) {
                    for cpu in cpus {
                        node_of.insert(cpu, id);
                    }
                }
            }
        }

        let mut core_index: BTreeMap<Vec<usize>, usize> = BTreeMap::new();
        let mut llc_index: BTreeMap<Vec<usize>, usize> = BTreeMap::new();
        let mut topo = Topology {
            cpus: Vec::new(),
            cores: Vec::new(),
            llcs: Vec::new(),
            nodes: Vec::new(),
            nr_cpu_ids,
        };
        for &id in &online {
            let dir: PathBuf = cpu_root.join(format!("cpu{id}"));
            let mut siblings =
                read_list(&dir.join("topology/thread_siblings_list")).unwrap_or_else(|_| vec![id]);
            siblings.retain(|c| online.contains(c));
            let mut llc = llc_siblings(&dir, id);
            llc.retain(|c| online.contains(c));
            let next_core = core_index.len();
            let core = *core_index.entry(siblings.clone()).or_insert(next_core);
            if core == topo.cores.len() {
                topo.cores.push(siblings);
            }
            let next_llc = llc_index.len();
            let llc_id = *llc_index.entry(llc.clone()).or_insert(next_llc);
            if llc_id == topo.llcs.len() {
                topo.llcs.push(llc);
            }
            let node = node_of.get(&id).copied().unwrap_or(0);
            if !topo.nodes.contains(&node) {
                topo.nodes.push(node);
            }
            let capacity = std::fs::read_to_string(dir.join("cpu_capacity"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(1024);
            topo.cpus.push(Cpu {
                id,
                core,
                llc: llc_id,
                node,
                capacity,
            });
        }
        if topo.cpus.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "no online CPUs listed in {}",
                cpu_root.join("online").display()
            )));
        }
        topo.nodes.sort_unstable();
        Ok(topo)
    }

    /// Whether any core runs more than one hardware thread.
    pub fn has_smt(&self) -> bool {
        self.cores.iter().any(|c| c.len() > 1)
    }

    /// Online CPU ids in the order a packing policy fills them: the slowest first, then by LLC
    /// and core, so that the CPUs in use share caches and cores.
    pub fn fill_order(&self) -> Vec<usize> {
        let mut cpus: Vec<&Cpu> = self.cpus.iter().collect();
        cpus.sort_by_key(|c| (c.capacity, c.llc, c.core, c.id));
        cpus.into_iter().map(|c| c.id).collect()
    }

    /// One line for logs: `4 CPUs, 2 cores, 1 LLC, 1 node`.
    pub fn summary(&self) -> String {
        format!(
            "{} CPUs, {} cores{}, {} LLCs, {} NUMA nodes",
            self.cpus.len(),
            self.cores.len(),
            if self.has_smt() { " (SMT)" } else { "" },
            self.llcs.len(),
            self.nodes.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn cpu_lists() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list("5"), Some(vec![5]));
        assert_eq!(parse_cpu_list(""), Some(vec![]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    fn write(root: &Path, rel: &str, content: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, content).expect("write");
    }

    /// 2 sockets × 2 cores × 2 threads, one L3 per socket, one node per socket.
    #[test]
    fn reads_a_two_socket_smt_machine() {
        let dir = std::env::temp_dir().join(format!("scx-topo-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        write(&dir, "cpu/online", "0-7\n");
        write(&dir, "cpu/possible", "0-15\n");
        for cpu in 0..8 {
            let sib = cpu - cpu % 2;
            write(
                &dir,
                &format!("cpu/cpu{cpu}/topology/thread_siblings_list"),
                &format!("{}-{}", sib, sib + 1),
            );
            let l3 = if cpu < 4 { "0-3" } else { "4-7" };
            write(&dir, &format!("cpu/cpu{cpu}/cache/index0/level"), "1");
            write(&dir, &format!("cpu/cpu{cpu}/cache/index0/type"), "Data");
            write(
                &dir,
                &format!("cpu/cpu{cpu}/cache/index0/shared_cpu_list"),
                &format!("{}-{}", sib, sib + 1),
            );
            write(&dir, &format!("cpu/cpu{cpu}/cache/index3/level"), "3");
            write(&dir, &format!("cpu/cpu{cpu}/cache/index3/type"), "Unified");
            write(
                &dir,
                &format!("cpu/cpu{cpu}/cache/index3/shared_cpu_list"),
                l3,
            );
        }
        write(&dir, "node/node0/cpulist", "0-3");
        write(&dir, "node/node1/cpulist", "4-7");
        // The second socket's cores are the slow ones (a big.LITTLE-style machine).
        for cpu in 4..8 {
            write(&dir, &format!("cpu/cpu{cpu}/cpu_capacity"), "512\n");
        }

        let t = Topology::read_from(&dir).expect("reads");
        assert_eq!(t.nr_cpu_ids, 16);
        assert_eq!(t.cpus.len(), 8);
        assert_eq!(t.cores.len(), 4);
        assert!(t.has_smt());
        assert_eq!(t.llcs, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
        assert_eq!(t.nodes, vec![0, 1]);
        assert_eq!(t.cpus[5].llc, 1);
        assert_eq!(t.cpus[5].node, 1);
        assert_eq!(t.cpus[5].core, 2);
        assert_eq!(t.summary(), "8 CPUs, 4 cores (SMT), 2 LLCs, 2 NUMA nodes");
        assert_eq!((t.cpus[0].capacity, t.cpus[7].capacity), (1024, 512));
        assert_eq!(t.fill_order(), [4, 5, 6, 7, 0, 1, 2, 3]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_machine_without_cache_or_node_information_is_one_llc_per_cpu() {
        let dir = std::env::temp_dir().join(format!("scx-topo-bare-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        write(&dir, "cpu/online", "0-1\n");
        let t = Topology::read_from(&dir).expect("reads");
        assert_eq!(t.cpus.len(), 2);
        assert_eq!(t.llcs.len(), 2);
        assert_eq!(t.nodes, vec![0]);
        assert!(!t.has_smt());
        let _ = fs::remove_dir_all(&dir);
    }
}
