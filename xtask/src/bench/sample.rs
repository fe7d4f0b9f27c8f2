//! One run's figures: the sample of one scheduler (or EEVDF) in one round, and the metrics
//! the tables, the JSON and the comparison read from it.

use super::parse::{Duty, Frames, Histogram, Percentile, Requests, StressMetrics};
use super::EEVDF;

/// What one run of one scheduler (or EEVDF) measured.
#[derive(Debug, Clone, Default)]
pub(super) struct Sample {
    pub(super) sched: String,
    pub(super) run: u32,
    pub(super) hackbench_secs: Option<f64>,
    pub(super) hackbench_wall_ms: Option<f64>,
    pub(super) sched_cpu_ms: Option<f64>,
    pub(super) stress: Option<StressMetrics>,
    pub(super) latency: Option<Histogram>,
    pub(super) frames: Option<Frames>,
    /// One per load level, in the guest's order.
    pub(super) requests: Vec<Requests>,
    /// `--profiles`: powersave's duty cycle, hpc's matrix throughput and migrations.
    pub(super) duty: Option<Duty>,
    pub(super) matrix_ops: Option<f64>,
    pub(super) migrations_per_s: Option<f64>,
    pub(super) attach_ms: Option<f64>,
    pub(super) attach_log_ms: Option<f64>,
    pub(super) rss_kib: Option<f64>,
    pub(super) hwm_kib: Option<f64>,
    pub(super) exit_rc: Option<i64>,
    pub(super) ejected: Option<String>,
    pub(super) errors: Vec<String>,
    /// The scheduler's output, kept when something went wrong.
    pub(super) sched_log: Vec<String>,
    pub(super) ended: bool,
}

impl Sample {
    pub(super) fn is_eevdf(&self) -> bool {
        self.sched == EEVDF
    }

    pub(super) fn valid(&self) -> bool {
        self.ejected.is_none() && self.errors.is_empty() && self.ended
    }

    pub(super) fn sched_cpu_pct(&self) -> Option<f64> {
        let cpu = self.sched_cpu_ms?;
        let wall = self.hackbench_wall_ms.filter(|w| *w > 0.0)?;
        Some(cpu / wall * 100.0)
    }

    pub(super) fn latency_us(&self, p: f64) -> Option<f64> {
        match self.latency.as_ref()?.percentile(p)? {
            Percentile::Us(us) => Some(us as f64),
            Percentile::Overflow => Some(f64::INFINITY),
        }
    }

    pub(super) fn latency_max_us(&self) -> Option<f64> {
        self.latency.as_ref()?.max_us.map(|v| v as f64)
    }

    pub(super) fn requests_at(&self, load_pct: u32) -> Option<&Requests> {
        self.requests.iter().find(|r| r.load_pct == load_pct)
    }
}

/// The load levels of the requests workload, in % of the CPUs (the guest's `RQ_LOADS`).
pub(super) const REQUEST_LOADS: [u32; 2] = [50, 100];

/// What the requests workload reports at each load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReqStat {
    WakeP50,
    WakeP99,
    WakeP999,
    ReqP99,
    Rps,
    /// The share of the machine's CPU time that was busy while it ran.
    Busy,
}

impl ReqStat {
    pub(super) const ALL: [ReqStat; 6] = [
        ReqStat::WakeP50,
        ReqStat::WakeP99,
        ReqStat::WakeP999,
        ReqStat::ReqP99,
        ReqStat::Rps,
        ReqStat::Busy,
    ];

    fn key(self) -> &'static str {
        match self {
            ReqStat::WakeP50 => "wake_p50_us",
            ReqStat::WakeP99 => "wake_p99_us",
            ReqStat::WakeP999 => "wake_p999_us",
            ReqStat::ReqP99 => "request_p99_us",
            ReqStat::Rps => "rps",
            ReqStat::Busy => "cpu_busy_pct",
        }
    }

    pub(super) fn header(self) -> &'static str {
        match self {
            ReqStat::WakeP50 => "wake p50 us",
            ReqStat::WakeP99 => "wake p99 us",
            ReqStat::WakeP999 => "wake p99.9 us",
            ReqStat::ReqP99 => "request p99 us",
            ReqStat::Rps => "requests/s",
            ReqStat::Busy => "CPU busy %",
        }
    }

    fn of(self, r: &Requests) -> f64 {
        match self {
            ReqStat::WakeP50 => r.wake_p50_us,
            ReqStat::WakeP99 => r.wake_p99_us,
            ReqStat::WakeP999 => r.wake_p999_us,
            ReqStat::ReqP99 => r.req_p99_us,
            ReqStat::Rps => r.rps,
            ReqStat::Busy => r.busy_pct,
        }
    }
}

/// Which table shows a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Main,
    Frames,
    Requests,
    Profiles,
}

/// The metrics of the tables, in their column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Metric {
    Hackbench,
    BogoOps,
    LatP50,
    LatP99,
    LatMax,
    SchedCpu,
    Rss,
    AttachLog,
    AttachSeen,
    FramesMissed,
    FramesLateP99,
    FramesLateMax,
    FramesBackground,
    /// A figure of the requests workload at a load level (% of the CPUs).
    Req(u32, ReqStat),
    /// powersave: the idle share of the idlest half of the CPUs, and the work done meanwhile.
    DutyIdle,
    DutyWork,
    /// hpc: stress-ng --matrix throughput and its workers' migrations per second.
    MatrixOps,
    Migrations,
}

impl Metric {
    pub(super) fn all() -> Vec<Metric> {
        let mut all = vec![
            Metric::Hackbench,
            Metric::BogoOps,
            Metric::LatP50,
            Metric::LatP99,
            Metric::LatMax,
            Metric::SchedCpu,
            Metric::Rss,
            Metric::AttachLog,
            Metric::AttachSeen,
            Metric::FramesMissed,
            Metric::FramesLateP99,
            Metric::FramesLateMax,
            Metric::FramesBackground,
        ];
        for load in REQUEST_LOADS {
            all.extend(ReqStat::ALL.map(|stat| Metric::Req(load, stat)));
        }
        all.extend([
            Metric::DutyIdle,
            Metric::DutyWork,
            Metric::MatrixOps,
            Metric::Migrations,
        ]);
        all
    }

    pub(super) fn key(self) -> String {
        match self {
            Metric::Hackbench => "hackbench_s".into(),
            Metric::BogoOps => "stress_ng_bogo_ops".into(),
            Metric::LatP50 => "latency_p50_us".into(),
            Metric::LatP99 => "latency_p99_us".into(),
            Metric::LatMax => "latency_max_us".into(),
            Metric::SchedCpu => "sched_cpu_pct".into(),
            Metric::Rss => "sched_rss_mib".into(),
            Metric::AttachLog => "attach_ms".into(),
            Metric::AttachSeen => "attach_seen_ms".into(),
            Metric::FramesMissed => "frames_missed_pct".into(),
            Metric::FramesLateP99 => "frames_late_p99_ms".into(),
            Metric::FramesLateMax => "frames_late_max_ms".into(),
            Metric::FramesBackground => "frames_background_work_ms".into(),
            Metric::Req(load, stat) => format!("requests{load}_{}", stat.key()),
            Metric::DutyIdle => "duty_idle_half_pct".into(),
            Metric::DutyWork => "duty_periods".into(),
            Metric::MatrixOps => "matrix_bogo_ops".into(),
            Metric::Migrations => "matrix_migrations_per_s".into(),
        }
    }

    pub(super) fn table(self) -> Table {
        match self {
            Metric::FramesMissed
            | Metric::FramesLateP99
            | Metric::FramesLateMax
            | Metric::FramesBackground => Table::Frames,
            Metric::Req(..) => Table::Requests,
            Metric::DutyIdle | Metric::DutyWork | Metric::MatrixOps | Metric::Migrations => {
                Table::Profiles
            }
            _ => Table::Main,
        }
    }

    /// Whether the table shows the ratio against EEVDF.
    pub(super) fn has_ratio(self) -> bool {
        !matches!(
            self,
            Metric::SchedCpu
                | Metric::Rss
                | Metric::AttachLog
                | Metric::AttachSeen
                | Metric::Req(_, ReqStat::Busy)
        )
    }

    /// Whether a smaller value is the better one.
    pub(super) fn lower_is_better(self) -> bool {
        !matches!(
            self,
            Metric::BogoOps
                | Metric::FramesBackground
                | Metric::Req(_, ReqStat::Rps)
                | Metric::DutyIdle
                | Metric::DutyWork
                | Metric::MatrixOps
        )
    }

    pub(super) fn of(self, s: &Sample) -> Option<f64> {
        match self {
            Metric::Hackbench => s.hackbench_secs,
            Metric::BogoOps => s.stress.map(|m| m.bogo_ops),
            Metric::LatP50 => s.latency_us(50.0),
            Metric::LatP99 => s.latency_us(99.0),
            Metric::LatMax => s.latency_max_us(),
            Metric::SchedCpu => s.sched_cpu_pct(),
            Metric::Rss => s.rss_kib.map(|k| k / 1024.0),
            Metric::AttachLog => s.attach_log_ms,
            Metric::AttachSeen => s.attach_ms,
            Metric::FramesMissed => s.frames.map(|f| f.missed_pct),
            Metric::FramesLateP99 => s.frames.map(|f| f.late_p99_us / 1000.0),
            Metric::FramesLateMax => s.frames.map(|f| f.late_max_us / 1000.0),
            Metric::FramesBackground => s.frames.map(|f| f.background_ms),
            Metric::Req(load, stat) => s.requests_at(load).map(|r| stat.of(r)),
            Metric::DutyIdle => s.duty.map(|d| d.idle_half_pct),
            Metric::DutyWork => s.duty.map(|d| d.periods),
            Metric::MatrixOps => s.matrix_ops,
            Metric::Migrations => s.migrations_per_s,
        }
    }
}
