//! Server-side SVG charts: stacked bars over time, a histogram and a
//! box-and-strip plot on a log scale. Output is plain SVG markup with every
//! label escaped, drawn with presentation attributes only (the pages'
//! Content-Security-Policy forbids inline styles).

use std::fmt::Write;

/// Colour-blind-safe palette (Okabe–Ito, then greys for the rest).
pub const PALETTE: [&str; 9] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
    "#999999",
];

const W: f64 = 880.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;

/// Escapes text for SVG/HTML text and attribute values.
pub fn esc(s: &str) -> String {
    html_escape::encode_quoted_attribute(s).into_owned()
}

/// A "nice" upper bound and tick step for counts up to `max`.
fn ticks(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let raw = (max as f64 / 5.0).ceil() as u64;
    let magnitude = 10u64.pow(raw.max(1).ilog10());
    let step = [1, 2, 5, 10]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(raw)
        .max(1);
    (max.div_ceil(step) * step, step)
}

fn open(out: &mut String, height: f64, title: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="12"><title>{t}</title>"#,
        t = esc(title)
    );
}

/// One series of a stacked bar chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<u64>,
}

/// Stacked vertical bars, one per x label, with a legend below.
pub fn stacked_bars(title: &str, x_labels: &[String], series: &[Series]) -> String {
    let plot_h = 220.0;
    let n = x_labels.len().max(1);
    let totals: Vec<u64> = (0..n)
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let (top, step) = ticks(totals.iter().copied().max().unwrap_or(0));
    let plot_w = W - LEFT - RIGHT;
    let slot = plot_w / n as f64;
    let bar = (slot * 0.72).max(2.0);
    let legend_rows = series.len().div_ceil(4).max(1);
    let height = TOP + plot_h + 34.0 + legend_rows as f64 * 20.0 + 8.0;
    let y = |v: f64| TOP + plot_h - v / top as f64 * plot_h;
    let mut out = String::new();
    open(&mut out, height, title);
    let mut t = 0;
    while t <= top {
        let yy = y(t as f64);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e3e6ea"/><text x="{tx}" y="{ty:.1}" text-anchor="end" fill="#5b6470">{t}</text>"##,
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = yy + 4.0,
        );
        t += step;
    }
    // Label every k-th bar so labels never collide.
    let every = ((n as f64 * 40.0) / plot_w).ceil().max(1.0) as usize;
    for (i, label) in x_labels.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        let mut base = 0u64;
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let (y1, y0) = (y((base + v) as f64), y(base as f64));
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y1:.1}" width="{bar:.1}" height="{h:.1}" fill="{c}"><title>{l}: {name} {v}</title></rect>"#,
                h = (y0 - y1).max(0.5),
                c = PALETTE[k % PALETTE.len()],
                l = esc(label),
                name = esc(&s.name),
            );
            base += v;
        }
        if i % every == 0 {
            let _ = write!(
                out,
                r##"<text x="{cx:.1}" y="{ly:.1}" text-anchor="middle" fill="#5b6470">{l}</text>"##,
                cx = x + bar / 2.0,
                ly = TOP + plot_h + 16.0,
                l = esc(label),
            );
        }
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" x2="{x2}" y1="{b:.1}" y2="{b:.1}" stroke="#8a939e"/>"##,
        x2 = W - RIGHT,
        b = TOP + plot_h
    );
    for (k, s) in series.iter().enumerate() {
        let (row, col) = (k / 4, k % 4);
        let lx = LEFT + col as f64 * (plot_w / 4.0);
        let ly = TOP + plot_h + 36.0 + row as f64 * 20.0;
        let _ = write!(
            out,
            r##"<rect x="{lx:.1}" y="{ry:.1}" width="12" height="12" rx="2" fill="{c}"/><text x="{tx:.1}" y="{ly:.1}" fill="#1f2933">{name}</text>"##,
            ry = ly - 10.0,
            tx = lx + 18.0,
            c = PALETTE[k % PALETTE.len()],
            name = esc(&s.name),
        );
    }
    out.push_str("</svg>");
    out
}

/// Vertical bars with their counts, one per labelled bin.
pub fn histogram(title: &str, bins: &[(String, u64)]) -> String {
    let plot_h = 200.0;
    let n = bins.len().max(1);
    let (top, step) = ticks(bins.iter().map(|b| b.1).max().unwrap_or(0));
    let plot_w = W - LEFT - RIGHT;
    let slot = plot_w / n as f64;
    let bar = slot * 0.7;
    let height = TOP + plot_h + 30.0;
    let y = |v: f64| TOP + plot_h - v / top as f64 * plot_h;
    let mut out = String::new();
    open(&mut out, height, title);
    let mut t = 0;
    while t <= top {
        let yy = y(t as f64);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e3e6ea"/><text x="{tx}" y="{ty:.1}" text-anchor="end" fill="#5b6470">{t}</text>"##,
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = yy + 4.0,
        );
        t += step;
    }
    for (i, (label, v)) in bins.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        let y1 = y(*v as f64);
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{y1:.1}" width="{bar:.1}" height="{h:.1}" fill="#0072B2"><title>{l}: {v}</title></rect><text x="{cx:.1}" y="{vy:.1}" text-anchor="middle" fill="#1f2933">{v}</text><text x="{cx:.1}" y="{ly:.1}" text-anchor="middle" fill="#5b6470">{l}</text>"##,
            h = (TOP + plot_h - y1).max(0.0),
            cx = x + bar / 2.0,
            vy = y1 - 4.0,
            ly = TOP + plot_h + 16.0,
            l = esc(label),
        );
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" x2="{x2}" y1="{b:.1}" y2="{b:.1}" stroke="#8a939e"/>"##,
        x2 = W - RIGHT,
        b = TOP + plot_h
    );
    out.push_str("</svg>");
    out
}

/// The `q`-quantile (0 to 1) of sorted values, interpolated.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Every duration as a dot on a log-scale axis (10 min to 30 days), with a
/// box from the first to the third quartile and the median marked.
pub fn duration_strip(title: &str, minutes: &[u32]) -> String {
    let height = 130.0;
    let (lo, hi) = (10f64.ln(), (30.0 * 1440f64).ln());
    let plot_w = W - LEFT - RIGHT - 20.0;
    let x = |m: f64| LEFT + 10.0 + (m.max(10.0).ln() - lo) / (hi - lo) * plot_w;
    let mut sorted: Vec<f64> = minutes.iter().map(|m| f64::from(*m)).collect();
    sorted.sort_by(f64::total_cmp);
    let mut out = String::new();
    open(&mut out, height, title);
    let axis_y = 96.0;
    for (m, label) in [
        (10.0, "10 min"),
        (60.0, "1 h"),
        (240.0, "4 h"),
        (720.0, "12 h"),
        (1440.0, "1 d"),
        (10080.0, "7 d"),
        (43200.0, "30 d"),
    ] {
        let xx = x(m);
        let _ = write!(
            out,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{TOP}" y2="{axis_y}" stroke="#e3e6ea"/><text x="{xx:.1}" y="{ty}" text-anchor="middle" fill="#5b6470">{label}</text>"##,
            ty = axis_y + 16.0,
        );
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" x2="{x2}" y1="{axis_y}" y2="{axis_y}" stroke="#8a939e"/>"##,
        x2 = W - RIGHT
    );
    if !sorted.is_empty() {
        let (q1, med, q3) = (
            quantile(&sorted, 0.25),
            quantile(&sorted, 0.5),
            quantile(&sorted, 0.75),
        );
        let (bx, bw) = (x(q1), (x(q3) - x(q1)).max(1.0));
        let _ = write!(
            out,
            r##"<rect x="{bx:.1}" y="28" width="{bw:.1}" height="44" fill="#cfe3f3" stroke="#0072B2"><title>middle half: {a} to {b}</title></rect><line x1="{mx:.1}" x2="{mx:.1}" y1="24" y2="76" stroke="#D55E00" stroke-width="3"><title>median {m}</title></line>"##,
            a = esc(&incidex_registry::labels::minutes(q1.round() as u32)),
            b = esc(&incidex_registry::labels::minutes(q3.round() as u32)),
            mx = x(med),
            m = esc(&incidex_registry::labels::minutes(med.round() as u32)),
        );
        for (i, m) in sorted.iter().enumerate() {
            // A small vertical jitter, deterministic, so equal values stay visible.
            let jy = 38.0 + (i * 7 % 24) as f64;
            let _ = write!(
                out,
                r##"<circle cx="{cx:.1}" cy="{jy:.1}" r="4" fill="#1f2933" fill-opacity="0.55"><title>{l}</title></circle>"##,
                cx = x(*m),
                l = esc(&incidex_registry::labels::minutes(*m as u32)),
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0), (1, 1));
        assert_eq!(ticks(7), (8, 2));
        assert_eq!(ticks(32), (40, 10));
        assert_eq!(ticks(230), (250, 50));
    }

    #[test]
    fn charts_escape_labels() {
        let svg = stacked_bars(
            "t<1>",
            &["2020".into()],
            &[Series {
                name: "a&b".into(),
                values: vec![3],
            }],
        );
        assert!(
            svg.contains("t&lt;1&gt;") && svg.contains("a&amp;b"),
            "{svg}"
        );
        assert!(!svg.contains("style="));
        assert!(histogram("h", &[("<1h".into(), 2)]).contains("&lt;1h"));
        assert!(duration_strip("d", &[30, 600, 5000]).contains("<circle"));
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&[5.0], 0.25), 5.0);
    }
}
