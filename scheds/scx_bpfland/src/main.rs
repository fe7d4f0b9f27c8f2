//! scx_bpfland: the Rust front end of a scheduler whose policy runs entirely in BPF — reads the
//! topology, sets the tunables, loads and attaches, prints stats, reports how it ended.

mod pack;
mod stats;

use std::mem::MaybeUninit;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, ValueEnum};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use scx_core::profile::Explicit;
use scx_core::topology::Topology;
use scx_core::{attach, kernel, CommonOpts, ExitInfo, RunEnd, Shutdown, SliceOpts, Ticker};

use crate::pack::{CpuTicks, Packer};
use crate::stats::CpuStats;

scx_core::include_skeleton!("bpfland");

const NAME: &str = "scx_bpfland";
/// Limits of the BPF side (`BPFLAND_MAX_CPUS`, `BPFLAND_MAX_LLCS`).
const MAX_CPUS: usize = 1024;
const MAX_LLCS: usize = 256;

/// A sched_ext scheduler whose policy runs in BPF.
///
/// Per-LLC vruntime queues, SMT- and cache-aware idle CPU selection, and preemption for
/// interactive wakeups: throughput and low latency with no user-space round trip.
#[derive(Debug, Parser)]
#[command(name = NAME, version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    slice: SliceOpts,

    /// How far, in microseconds, a waking task's virtual runtime may lag behind, and the cap on
    /// the recent runtime that pushes its deadline back.
    #[arg(short = 'l', long, value_name = "US", default_value_t = 20_000)]
    slice_us_lag: u64,

    /// Treat SMT siblings as independent CPUs when looking for an idle one.
    #[arg(long)]
    no_smt_aware: bool,

    /// Interactive wakeups never preempt the task on their CPU: they wait in the queue by
    /// deadline like every other task (and a woken per-CPU kernel thread waits for the end of
    /// its CPU's slice).
    #[arg(long)]
    no_wakeup_preempt: bool,

    /// Run the work on as few CPUs as keep up with it, the slowest first, and leave the others
    /// idle: the set grows when its CPUs are over 90 % busy or tasks keep waiting over 10 ms
    /// for one (for 0.4 s), and, after a second in which the work fits on fewer at 85 %,
    /// shrinks to that many.
    #[arg(long)]
    pack: bool,

    /// A task that was preempted or used up its slice goes back to its own CPU while nothing
    /// waits, or behind the waiting task its CPU just took; queued, its own CPU takes it first
    /// and the others leave it there for a slice, or while a real-time task holds its CPU: no
    /// migration while it keeps its CPU busy (tasks that wait still share the CPUs, and two
    /// that would take turns on one CPU split up while another CPU idles).
    #[arg(long)]
    sticky: bool,

    /// A set of the tunables above for one kind of work; options given explicitly override it.
    #[arg(long, value_enum, value_name = "PROFILE")]
    profile: Option<Profile>,

    #[command(flatten)]
    common: CommonOpts,
}

/// Workload profiles (see scx(5)); each sets the tunables it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Profile {
    /// --slice-us 5000 --slice-us-min 500 --slice-us-lag 10000: a frame loop's short bursts
    /// wait at most a few ms behind CPU hogs, and its wakeups preempt them
    Gaming,
    /// --slice-us 2000 --slice-us-min 100 --slice-us-lag 5000: every wakeup runs within a
    /// slice of 2 ms or less, at the cost of more context switches
    Lowlatency,
    /// --slice-us 20000 --slice-us-min 2000 --slice-us-lag 40000 --no-wakeup-preempt: long
    /// slices and no preemption, for throughput with a bounded wait
    Server,
    /// --pack --slice-us 20000 --slice-us-min 2000: the same work on the fewest CPUs that keep
    /// up, with long slices, so the other CPUs stay idle in their deepest sleep states
    Powersave,
    /// --sticky --slice-us 40000 --slice-us-min 5000 --slice-us-lag 80000 --no-wakeup-preempt:
    /// long CPU-bound parallel jobs keep their CPUs and caches, with few context switches
    Hpc,
}

impl Cli {
    /// Sets the chosen profile's tunables, except those given on the command line.
    fn apply_profile(&mut self, explicit: &Explicit) {
        let (slice, slice_min, lag, no_preempt, pack, sticky) = match self.profile {
            None => return,
            Some(Profile::Gaming) => (5_000, 500, 10_000, false, false, false),
            Some(Profile::Lowlatency) => (2_000, 100, 5_000, false, false, false),
            Some(Profile::Server) => (20_000, 2_000, 40_000, true, false, false),
            Some(Profile::Powersave) => (20_000, 2_000, 20_000, false, true, false),
            Some(Profile::Hpc) => (40_000, 5_000, 80_000, true, false, true),
        };
        explicit.tune("slice_us", &mut self.slice.slice_us, slice);
        explicit.tune("slice_us_min", &mut self.slice.slice_us_min, slice_min);
        explicit.tune("slice_us_lag", &mut self.slice_us_lag, lag);
        explicit.tune("no_wakeup_preempt", &mut self.no_wakeup_preempt, no_preempt);
        explicit.tune("pack", &mut self.pack, pack);
        explicit.tune("sticky", &mut self.sticky, sticky);
    }

    fn validate(&self) -> Result<(), scx_core::Error> {
        self.slice.validate()?;
        if self.slice_us_lag == 0 {
            return Err(scx_core::Error::InvalidArgument(
                "--slice-us-lag must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

fn read_hotplug_seq() -> u64 {
    std::fs::read_to_string(format!("{}/hotplug_seq", kernel::SCHED_EXT_SYSFS))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn run_once(cli: &Cli, shutdown: &Shutdown) -> Result<RunEnd> {
    kernel::check_can_attach()?;
    let start = Instant::now();
    let topo = Topology::read().context("reading the CPU topology")?;
    if topo.nr_cpu_ids > MAX_CPUS || topo.llcs.len() > MAX_LLCS {
        anyhow::bail!(scx_core::Error::InvalidArgument(format!(
            "this machine has {} CPU ids and {} LLCs; {NAME} handles at most {MAX_CPUS} and {MAX_LLCS}",
            topo.nr_cpu_ids,
            topo.llcs.len()
        )));
    }

    let mut object = MaybeUninit::uninit();
    let mut open = skel::BpflandSkelBuilder::default()
        .open(&mut object)
        .context("opening the BPF object")?;
    {
        let rodata = open
            .maps
            .rodata_data
            .as_deref_mut()
            .context("the BPF object has no read-only data")?;
        rodata.slice_max_ns = cli.slice.max_ns();
        rodata.slice_min_ns = cli.slice.min_ns();
        rodata.slice_lag_ns = cli.slice_us_lag.saturating_mul(1000);
        rodata.smt_aware = !cli.no_smt_aware && topo.has_smt();
        rodata.wakeup_preempt = !cli.no_wakeup_preempt;
        rodata.nr_llcs = topo.llcs.len() as u32;
        rodata.nr_cpus = topo.nr_cpu_ids as u32;
        for cpu in &topo.cpus {
            rodata.cpu_llc[cpu.id] = cpu.llc as u32;
        }
        rodata.pack = cli.pack;
        rodata.sticky = cli.sticky;
        rodata.nr_online = topo.cpus.len() as u32;
        for (rank, cpu) in topo.fill_order().into_iter().enumerate() {
            rodata.fill_order[rank] = cpu as u32;
            rodata.fill_rank[cpu] = rank as u32;
        }
    }
    let mut packer = cli.pack.then(|| Packer::new(topo.cpus.len() as u32));
    if let Some(p) = &packer {
        set_active_cpus(open.maps.data_data.as_deref_mut(), p.active())?;
    }
    let higher_class = attach::HigherClassHook::probe();
    {
        let ops = open.struct_ops.bpfland_ops_mut();
        attach::set_ops_name(&mut ops.name, NAME)?;
        if cli.common.partial {
            ops.flags |= attach::SCX_OPS_SWITCH_PARTIAL;
        }
        // A CPU going on- or offline between here and the attach makes the kernel refuse it.
        ops.hotplug_seq = read_hotplug_seq();
        higher_class.prepare(
            &mut ops.cpu_release,
            &mut open.progs.scx_higher_class_switch,
        );
    }
    let mut skel = open.load().map_err(|e| attach::load_error(NAME, e))?;
    let link = attach::attach_ops(&mut skel.maps.bpfland_ops, NAME)?;
    let switch_link = higher_class.attach(&mut skel.progs.scx_higher_class_switch)?;
    log::info!(
        "{NAME} attached in {} ms ({}; {}{}, lag {} us{}{}{}{}{})",
        start.elapsed().as_millis(),
        topo.summary(),
        cli.profile
            .and_then(|p| p.to_possible_value())
            .map(|p| format!("profile {}, ", p.get_name()))
            .unwrap_or_default(),
        cli.slice.describe(),
        cli.slice_us_lag,
        if cli.no_smt_aware {
            ", SMT-unaware"
        } else {
            ""
        },
        if cli.no_wakeup_preempt {
            ", no wakeup preemption"
        } else {
            ""
        },
        if cli.pack { ", packed" } else { "" },
        if cli.sticky { ", sticky" } else { "" },
        if cli.common.partial { ", partial" } else { "" }
    );

    let exit_info = |skel: &skel::BpflandSkel<'_>| {
        skel.maps
            .data_data
            .as_deref()
            .and_then(|d| ExitInfo::read(&d.uei))
    };
    let mut ticker = Ticker::new(cli.common.stats_interval());
    let mut last = CpuStats::default();
    let mut ticks = CpuTicks::read().context("reading /proc/stat")?;
    let mut pack_counters = CpuStats::default();
    let mut round = 0u32;
    while !shutdown.requested() && exit_info(&skel).is_none() {
        std::thread::sleep(Duration::from_millis(100));
        round = round.wrapping_add(1);
        // --pack decides every 200 ms: 20 clock ticks of each CPU at USER_HZ 100.
        if let Some(p) = packer.as_mut().filter(|_| round % 2 == 0) {
            let now = CpuTicks::read().context("reading /proc/stat")?;
            let counters = stats::read(&skel.maps.stats)?;
            let waits = counters.delta(&pack_counters).long_waits;
            let active = p.next(now.busy_cpus_since(&ticks, topo.cpus.len() as u32), waits);
            set_active_cpus(skel.maps.data_data.as_deref_mut(), active)?;
            ticks = now;
            pack_counters = counters;
        }
        if ticker.due() {
            let now = stats::read(&skel.maps.stats)?;
            let (wait_ns, wait_pid) = stats::take_wait_max(&mut skel);
            log::info!(
                "stats: {} task_wait_max={}us(pid {wait_pid}){}",
                now.delta(&last),
                wait_ns / 1000,
                packer
                    .as_ref()
                    .map(|p| format!(" active_cpus={}", p.active()))
                    .unwrap_or_default()
            );
            last = now;
        }
    }
    let requested = shutdown.requested() && exit_info(&skel).is_none();
    drop(switch_link);
    drop(link);
    if !kernel::wait_disabled(Duration::from_secs(5)) {
        log::warn!("sched_ext still not disabled 5 s after detaching {NAME}");
    }
    let info = exit_info(&skel);
    Ok(RunEnd { requested, info })
}

/// Tells BPF how many CPUs of the fill order take work (`--pack`).
fn set_active_cpus(data: Option<&mut skel::types::data>, n: u32) -> Result<()> {
    let data = data.context("the BPF object has no writable data")?;
    // SAFETY: an aligned u32 of the BPF object's data section, mmapped once loaded, that BPF
    // only reads; a volatile write keeps the compiler from eliding it.
    unsafe { std::ptr::write_volatile(&mut data.nr_active_cpus, n) };
    Ok(())
}

fn run(cli: &Cli) -> Result<u8> {
    scx_core::lifecycle::run_scheduler(
        NAME,
        &cli.common,
        || cli.validate(),
        |shutdown| run_once(cli, shutdown),
    )
}

fn main() -> ExitCode {
    let (mut cli, explicit) = scx_core::profile::parse::<Cli>();
    cli.apply_profile(&explicit);
    scx_core::lifecycle::main(NAME, Cli::command(), &cli.common, || run(&cli))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let (mut cli, explicit) = scx_core::profile::try_parse_from::<Cli, _, _>(
            std::iter::once(NAME).chain(args.iter().copied()),
        )
        .expect("parses");
        cli.apply_profile(&explicit);
        cli
    }

    #[test]
    fn profiles_set_their_tunables_and_explicit_options_win() {
        let c = cli(&["--profile", "server"]);
        assert_eq!(
            (c.slice.slice_us, c.slice.slice_us_min, c.slice_us_lag),
            (20_000, 2_000, 40_000)
        );
        assert!(c.no_wakeup_preempt && c.validate().is_ok());
        let c = cli(&["--profile", "lowlatency", "-s", "3000"]);
        assert_eq!((c.slice.slice_us, c.slice.slice_us_min), (3000, 100));
        assert!(!c.no_wakeup_preempt && c.validate().is_ok());
        let c = cli(&["--profile", "gaming"]);
        assert_eq!((c.slice.slice_us, c.slice_us_lag), (5_000, 10_000));
        for p in Profile::value_variants() {
            let name = p.to_possible_value().expect("named").get_name().to_string();
            assert!(scx_core::profile::NAMES.contains(&name.as_str()), "{name}");
            assert!(cli(&["--profile", &name]).validate().is_ok());
        }
        let c = cli(&["--profile", "powersave"]);
        assert!(c.pack && !c.no_wakeup_preempt && c.slice.slice_us == 20_000);
        let names = scx_core::profile::offered(&Cli::command());
        let c = cli(&["--profile", "hpc"]);
        assert!(c.sticky && c.no_wakeup_preempt && c.slice.slice_us_min == 5_000);
        assert_eq!(
            names,
            scx_core::profile::NAMES,
            "scx_bpfland has every profile"
        );
    }

    #[test]
    fn options() {
        let c = cli(&[
            "-s",
            "5000",
            "-S",
            "500",
            "-l",
            "40000",
            "-p",
            "--no-smt-aware",
        ]);
        assert_eq!(
            (c.slice.slice_us, c.slice.slice_us_min, c.slice_us_lag),
            (5000, 500, 40000)
        );
        assert!(c.common.partial && c.no_smt_aware);
        assert!(c.validate().is_ok());
        assert!(cli(&["-s", "100", "-S", "200"]).validate().is_err());
        assert!(cli(&["-l", "0"]).validate().is_err());
    }
}
