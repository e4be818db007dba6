//! Server-rendered SVG charts: plain rectangles and text, sized by the data, no script and no
//! chart library. Every chart has a `<title>` and `<desc>` for screen readers; the pages put
//! the same numbers in a table beside it.

use std::fmt::Write;

/// Escapes text for SVG (XML) content and attributes.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One labelled value; `shown` is how the value is written next to its bar.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub shown: String,
}

/// Horizontal bars, one row per item: readable on a phone, labels never overlap.
pub fn horizontal(title: &str, bars: &[Bar], class: &str) -> String {
    let row = 28;
    let width = 420;
    let label_w = 140;
    let value_w = 40;
    let height = (bars.len().max(1) * row) as i64 + 8;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart {class}" viewBox="0 0 {width} {height}" role="img" aria-label="{t}" preserveAspectRatio="xMinYMin meet"><title>{t}</title>"#,
        t = esc(title)
    );
    if bars.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="0" y="20" class="empty">Nothing in this period.</text>"#
        );
    }
    for (i, b) in bars.iter().enumerate() {
        let y = (i * row) as i64 + 4;
        let span = (width - label_w - value_w) as i64;
        let w = (b.value.max(0) * span / max).max(if b.value > 0 { 2 } else { 0 });
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" text-anchor="end" class="label">{label}</text><rect x="{label_w}" y="{y}" width="{w}" height="20" rx="3" class="bar"><title>{label}: {shown}</title></rect><text x="{vx}" y="{ty}" class="value">{shown}</text>"#,
            lx = label_w - 8,
            ty = y + 15,
            label = esc(&truncate(&b.label, 19)),
            shown = esc(&b.shown),
            vx = label_w as i64 + w + 6,
        );
    }
    svg.push_str("</svg>");
    svg
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let cut: String = s.chars().take(n - 1).collect();
        format!("{cut}\u{2026}")
    }
}

/// One week's pair of values (e.g. revenue and deposits).
#[derive(Debug, Clone)]
pub struct Pair {
    pub label: String,
    pub a: i64,
    pub b: i64,
}

/// Vertical paired columns per week, with a legend and the largest value marked on the axis.
pub fn weekly(title: &str, weeks: &[Pair], legend: (&str, &str), max_shown: &str) -> String {
    let width = 640i64;
    let height = 260i64;
    let top = 28i64;
    let bottom = 40i64;
    let left = 8i64;
    let plot_h = height - top - bottom;
    let n = weeks.len().max(1) as i64;
    let slot = (width - left * 2) / n;
    let col = ((slot - 6) / 2).clamp(2, 28);
    let max = weeks.iter().map(|w| w.a.max(w.b)).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart weekly" viewBox="0 0 {width} {height}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = esc(title)
    );
    let _ = write!(
        svg,
        r#"<rect x="{left}" y="6" width="12" height="12" class="bar a"/><text x="{x1}" y="16" class="legend">{l1}</text><rect x="{x2}" y="6" width="12" height="12" class="bar b"/><text x="{x3}" y="16" class="legend">{l2}</text><text x="{right}" y="16" text-anchor="end" class="axis">top: {max_shown}</text>"#,
        x1 = left + 16,
        l1 = esc(legend.0),
        x2 = left + 170,
        x3 = left + 186,
        l2 = esc(legend.1),
        right = width - left,
        max_shown = esc(max_shown),
    );
    let base = top + plot_h;
    let _ = write!(
        svg,
        r#"<line x1="{left}" y1="{base}" x2="{r}" y2="{base}" class="baseline"/>"#,
        r = width - left
    );
    // Label every week when they fit, else every other one.
    let every = if n > 8 { 2 } else { 1 };
    for (i, w) in weeks.iter().enumerate() {
        let x = left + i as i64 * slot + (slot - 2 * col - 2) / 2;
        for (j, (v, class, name)) in [(w.a, "a", legend.0), (w.b, "b", legend.1)]
            .into_iter()
            .enumerate()
        {
            let h = v.max(0) * plot_h / max;
            let _ = write!(
                svg,
                r#"<rect x="{x}" y="{y}" width="{col}" height="{h}" class="bar {class}"><title>{label}: {name} {v}</title></rect>"#,
                x = x + j as i64 * (col + 2),
                y = base - h,
                label = esc(&w.label),
                name = esc(name),
                v = v,
            );
        }
        if i as i64 % every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{cx}" y="{ty}" text-anchor="middle" class="axis">{label}</text>"#,
                cx = x + col,
                ty = base + 18,
                label = esc(&w.label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        let svg = horizontal(
            "t",
            &[Bar {
                label: "<script>".into(),
                value: 3,
                shown: "3".into(),
            }],
            "x",
        );
        assert!(svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("<script>"));
    }

    #[test]
    fn the_largest_bar_fills_the_plot() {
        let svg = horizontal(
            "t",
            &[
                Bar {
                    label: "a".into(),
                    value: 10,
                    shown: "10".into(),
                },
                Bar {
                    label: "b".into(),
                    value: 5,
                    shown: "5".into(),
                },
            ],
            "x",
        );
        assert!(svg.contains(r#"width="240""#), "{svg}");
        assert!(svg.contains(r#"width="120""#), "{svg}");
    }
}
