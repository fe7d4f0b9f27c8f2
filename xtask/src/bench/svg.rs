//! The picture of a run: the wakeup-latency distribution (CDF) of every scheduler against
//! EEVDF, one panel per latency workload, as a self-contained SVG file.

use std::fmt::Write as _;

use super::report::Report;
use super::sample::{Sample, REQUEST_LOADS};
use super::table::display_name;

/// One line of a panel: cumulative counts over ascending latencies.
struct Series {
    name: String,
    /// (latency in µs, samples in the bin), ascending.
    bins: Vec<(u64, u64)>,
    /// Samples beyond the last bin (never reached on the chart).
    beyond: u64,
}

impl Series {
    fn total(&self) -> u64 {
        self.bins.iter().map(|b| b.1).sum::<u64>() + self.beyond
    }
}

/// Adds histogram bins into a sorted merged list.
fn merge(into: &mut Vec<(u64, u64)>, bins: &[(u64, u64)]) {
    for &(us, n) in bins {
        match into.binary_search_by_key(&us, |b| b.0) {
            Ok(i) => into[i].1 += n,
            Err(i) => into.insert(i, (us, n)),
        }
    }
}

fn series(
    report: &Report,
    pick: impl Fn(&Sample) -> Option<(Vec<(u64, u64)>, u64)>,
) -> Vec<Series> {
    let mut out = Vec::new();
    for sched in &report.scheds {
        let mut s = Series {
            name: display_name(sched),
            bins: Vec::new(),
            beyond: 0,
        };
        for sample in report.valid_samples(sched) {
            if let Some((bins, beyond)) = pick(sample) {
                merge(&mut s.bins, &bins);
                s.beyond += beyond;
            }
        }
        if s.total() > 0 {
            out.push(s);
        }
    }
    out
}

const WIDTH: f64 = 860.0;
const PANEL: f64 = 280.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 40.0;
const COLORS: [&str; 6] = [
    "#000000", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e",
];

fn us_label(us: f64) -> String {
    match us {
        u if u >= 1e6 => format!("{} s", u / 1e6),
        u if u >= 1e3 => format!("{} ms", u / 1e3),
        u => format!("{u} µs"),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One panel at vertical offset `y0`.
fn panel(out: &mut String, y0: f64, title: &str, lines: &[Series]) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = PANEL - TOP - BOTTOM;
    let top = lines
        .iter()
        .filter_map(|s| s.bins.last().map(|b| b.0))
        .max()
        .unwrap_or(1)
        .max(10);
    let decades = (top as f64).log10().ceil().max(1.0);
    let x = |us: f64| LEFT + us.max(1.0).log10() / decades * plot_w;
    let y = |frac: f64| y0 + TOP + (1.0 - frac) * plot_h;
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{:.1}" font-size="14" font-weight="bold">{}</text>"#,
        y0 + 20.0,
        escape(title)
    );
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{:.1}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#888"/>"##,
        y0 + TOP
    );
    for d in 0..=decades as u32 {
        let us = 10f64.powi(d as i32);
        let px = x(us);
        let _ = writeln!(
            out,
            r##"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#ddd"/><text x="{px:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            y(1.0),
            y(0.0),
            y(0.0) + 15.0,
            us_label(us)
        );
    }
    for frac in [0.0, 0.5, 0.9, 0.99, 1.0] {
        let py = y(frac);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{frac}</text>"##,
            LEFT + plot_w,
            LEFT - 5.0,
            py + 4.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">wakeup latency (log scale); y: share of wakeups at or below it</text>"#,
        LEFT + plot_w / 2.0,
        y(0.0) + 32.0
    );
    for (i, s) in lines.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let total = s.total() as f64;
        let mut path = format!("M{:.1},{:.1}", x(1.0), y(0.0));
        let mut seen = 0u64;
        for &(us, n) in &s.bins {
            let px = x(us as f64);
            let _ = write!(path, " L{px:.1},{:.1}", y(seen as f64 / total));
            seen += n;
            let _ = write!(path, " L{px:.1},{:.1}", y(seen as f64 / total));
        }
        let _ = write!(
            path,
            " L{:.1},{:.1}",
            x(10f64.powf(decades)),
            y(seen as f64 / total)
        );
        let width = if i == 0 { 2.5 } else { 1.8 };
        let _ = writeln!(
            out,
            r#"<path d="{path}" fill="none" stroke="{color}" stroke-width="{width}"/>"#
        );
        let ly = y0 + TOP + 16.0 + i as f64 * 18.0;
        let lx = LEFT + plot_w + 12.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="{width}"/><text x="{:.1}" y="{:.1}" font-size="12">{}</text>"#,
            lx + 22.0,
            lx + 28.0,
            ly + 4.0,
            escape(&s.name)
        );
    }
}

/// The SVG document: cyclictest under CPU hogs, then the requests workload at each load.
pub(super) fn render(report: &Report) -> String {
    let mut panels: Vec<(String, Vec<Series>)> = Vec::new();
    panels.push((
        "cyclictest: a periodic task's wakeups with every CPU busy".into(),
        series(report, |s| {
            s.latency.as_ref().map(|h| (h.bins.clone(), h.overflows))
        }),
    ));
    for load in REQUEST_LOADS {
        panels.push((
            format!("requests at {load} % load: a worker's wait for a CPU after its request"),
            series(report, |s| {
                s.requests_at(load).map(|r| (r.wake_hist.clone(), 0))
            }),
        ));
    }
    panels.retain(|(_, lines)| !lines.is_empty());
    let height = PANEL * panels.len().max(1) as f64 + 30.0;
    let kernel = report.meta.get("kernel").map(String::as_str).unwrap_or("?");
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="18" font-size="12">kernel {}, all valid rounds merged; left and higher is better</text>"#,
        escape(kernel)
    );
    for (i, (title, lines)) in panels.iter().enumerate() {
        panel(&mut out, 25.0 + i as f64 * PANEL, title, lines);
    }
    out.push_str("</svg>\n");
    out
}
