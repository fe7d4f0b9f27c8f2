//! scx_bpfland's counters: the per-CPU `stats` map summed over CPUs, and the stats line.

use std::fmt;

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags};

/// `struct cpu_stats` of intf.h, summed over CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuStats {
    pub direct: u64,
    pub preempt: u64,
    pub llc_local: u64,
    pub cross_llc: u64,
    pub kicks: u64,
    pub sync: u64,
    pub rescued: u64,
    pub pinned: u64,
    pub kept: u64,
    pub long_waits: u64,
    pub reenq: u64,
    pub spread: u64,
    pub kthread_preempt: u64,
}

/// One CPU's counters as BPF lays them out: the skeleton's type, generated from intf.h.
type RawCpuStats = crate::skel::types::cpu_stats;

impl CpuStats {
    /// Adds one CPU's raw `struct cpu_stats` (ignored if the map handed back fewer bytes).
    fn add_raw(&mut self, raw: &[u8]) {
        if raw.len() < std::mem::size_of::<RawCpuStats>() {
            return;
        }
        // SAFETY: raw holds at least one RawCpuStats, a repr(C) struct of u64s for which every
        // bit pattern is valid; read_unaligned needs no alignment of the map's buffer.
        let c = unsafe { std::ptr::read_unaligned(raw.as_ptr().cast::<RawCpuStats>()) };
        self.direct += c.direct;
        self.preempt += c.preempt;
        self.llc_local += c.llc_local;
        self.cross_llc += c.cross_llc;
        self.kicks += c.kicks;
        self.sync += c.sync;
        self.rescued += c.rescued;
        self.pinned += c.pinned;
        self.kept += c.kept;
        self.long_waits += c.long_waits;
        self.reenq += c.reenq;
        self.spread += c.spread;
        self.kthread_preempt += c.kthread_preempt;
    }

    /// What happened since `earlier`.
    pub fn delta(&self, earlier: &CpuStats) -> CpuStats {
        CpuStats {
            direct: self.direct.saturating_sub(earlier.direct),
            preempt: self.preempt.saturating_sub(earlier.preempt),
            llc_local: self.llc_local.saturating_sub(earlier.llc_local),
            cross_llc: self.cross_llc.saturating_sub(earlier.cross_llc),
            kicks: self.kicks.saturating_sub(earlier.kicks),
            sync: self.sync.saturating_sub(earlier.sync),
            rescued: self.rescued.saturating_sub(earlier.rescued),
            pinned: self.pinned.saturating_sub(earlier.pinned),
            kept: self.kept.saturating_sub(earlier.kept),
            long_waits: self.long_waits.saturating_sub(earlier.long_waits),
            reenq: self.reenq.saturating_sub(earlier.reenq),
            spread: self.spread.saturating_sub(earlier.spread),
            kthread_preempt: self.kthread_preempt.saturating_sub(earlier.kthread_preempt),
        }
    }
}

impl fmt::Display for CpuStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "direct={} sync={} preempt={} kthread_preempt={} llc_local={} cross_llc={} kicks={} rescued={} pinned={} kept={} long_waits={} reenq={} spread={}",
            self.direct,
            self.sync,
            self.preempt,
            self.kthread_preempt,
            self.llc_local,
            self.cross_llc,
            self.kicks,
            self.rescued,
            self.pinned,
            self.kept,
            self.long_waits,
            self.reenq,
            self.spread
        )
    }
}

/// The longest wait of a runnable task since the last call, and that task; starts a new
/// interval.
pub fn take_wait_max(skel: &mut crate::skel::BpflandSkel<'_>) -> (u64, i32) {
    let Some(bss) = skel.maps.bss_data.as_deref_mut() else {
        return (0, 0);
    };
    // SAFETY: aligned fields of the mmapped BPF data that BPF updates concurrently; volatile
    // accesses keep the compiler from caching or eliding them.
    unsafe {
        let ns = std::ptr::read_volatile(&bss.wait_max_ns);
        let pid = std::ptr::read_volatile(&bss.wait_max_pid);
        std::ptr::write_volatile(&mut bss.wait_max_ns, 0);
        (ns, pid)
    }
}

/// Reads and sums the per-CPU counters.
pub fn read(map: &dyn MapCore) -> Result<CpuStats> {
    let key = 0u32.to_ne_bytes();
    let per_cpu = map
        .lookup_percpu(&key, MapFlags::ANY)
        .context("reading the per-CPU stats map")?
        .unwrap_or_default();
    let mut total = CpuStats::default();
    for raw in &per_cpu {
        total.add_raw(raw);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_cpus_and_diffs() {
        let cpu = |vals: [u64; 13]| {
            let raw = RawCpuStats {
                direct: vals[0],
                preempt: vals[1],
                llc_local: vals[2],
                cross_llc: vals[3],
                kicks: vals[4],
                sync: vals[5],
                rescued: vals[6],
                pinned: vals[7],
                kept: vals[8],
                long_waits: vals[9],
                reenq: vals[10],
                spread: vals[11],
                kthread_preempt: vals[12],
            };
            // SAFETY: viewing a repr(C) struct of u64s (no padding) as its bytes.
            unsafe {
                std::slice::from_raw_parts(
                    std::ptr::from_ref(&raw).cast::<u8>(),
                    std::mem::size_of::<RawCpuStats>(),
                )
            }
            .to_vec()
        };
        let mut t = CpuStats::default();
        t.add_raw(&cpu([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]));
        t.add_raw(&cpu([
            10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130,
        ]));
        assert_eq!(
            t,
            CpuStats {
                direct: 11,
                preempt: 22,
                llc_local: 33,
                cross_llc: 44,
                kicks: 55,
                sync: 66,
                rescued: 77,
                pinned: 88,
                kept: 99,
                long_waits: 110,
                reenq: 121,
                spread: 132,
                kthread_preempt: 143,
            }
        );
        let d = t.delta(&CpuStats {
            direct: 1,
            ..Default::default()
        });
        assert_eq!(d.direct, 10);
        assert_eq!(
            d.to_string(),
            "direct=10 sync=66 preempt=22 kthread_preempt=143 llc_local=33 cross_llc=44 kicks=55 rescued=77 pinned=88 kept=99 long_waits=110 reenq=121 spread=132"
        );
    }
}
