//! Small, general SVG chart primitives for the HTML report: bars (grouped), lines over a
//! categorical axis, x–y curves with numeric axes, and heat maps, each with axes, ticks, a
//! legend and escaped text.
//!
//! Charts take aggregates, never one element per member: a caller passes a few hundred values
//! at most. Every mark carries a `data-tip` (shown by the page's small tooltip script) and nothing
//! here reads a file, a network resource or a font: the output views offline.

use std::fmt::Write;

mod charts;
pub mod graph;

pub use charts::{bars, curves, heat_colour, heat_map, lines, Curve, Marker};

/// Series colours, colour-blind safe (Okabe–Ito), in the order series are given.
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
];

/// `s` safe inside SVG/HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate: at most two decimals, no trailing zeros (`100`, `12.5`, `0.33`).
pub fn n(v: f64) -> String {
    if !v.is_finite() {
        return "0".to_string();
    }
    let s = format!("{:.2}", (v * 100.0).round() / 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// How values are written on axes and in tips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// 1,234 / 12.3k / 4.5M.
    Count,
    /// A share 0–1 written as a percentage.
    Percent,
    /// Two decimals.
    Plain,
}

impl Format {
    pub fn show(self, v: f64) -> String {
        match self {
            Format::Count => count(v),
            Format::Percent => percent(v),
            Format::Plain => format!("{v:.2}"),
        }
    }
}

/// 950, 12.3k, 4.5M.
pub fn count(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A share written as a percentage: 0.253 → 25.3%.
pub fn percent(v: f64) -> String {
    let p = 100.0 * v;
    if p != 0.0 && p.abs() < 1.0 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A linear map from a domain of values to a range of pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Scale {
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        Scale {
            d0: domain.0,
            d1: domain.1,
            r0: range.0,
            r1: range.1,
        }
    }

    /// The pixel of `v`; the middle of the range for an empty domain.
    pub fn map(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span == 0.0 || !span.is_finite() {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (v - self.d0) / span * (self.r1 - self.r0)
    }
}

/// Round tick values covering `[lo, hi]`: about `target` of them, steps of 1, 2 or 5 × 10^k.
/// The first tick is ≤ `lo` and the last ≥ `hi`, so they also give the axis its domain.
pub fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo.min(hi), lo.max(hi))
    } else {
        (0.0, 1.0)
    };
    let (lo, hi) = if hi == lo {
        if lo == 0.0 {
            (0.0, 1.0)
        } else {
            (lo.min(0.0), lo.max(0.0))
        }
    } else {
        (lo, hi)
    };
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).floor();
    let end = (hi / step).ceil();
    let mut out = Vec::new();
    let mut k = start;
    while k <= end && out.len() < 100 {
        // Multiplying (not accumulating) keeps 0.1 × 3 from drifting.
        let v = k * step;
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        k += 1.0;
    }
    out
}

/// Size and margins of one chart, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Default for Frame {
    fn default() -> Self {
        Frame {
            width: 560.0,
            height: 300.0,
            left: 56.0,
            right: 16.0,
            top: 28.0,
            bottom: 44.0,
        }
    }
}

impl Frame {
    /// A frame whose plot area is exactly `w` × `h` after the default margins.
    pub fn with_plot(w: f64, h: f64) -> Self {
        let d = Frame::default();
        Frame {
            width: w + d.left + d.right,
            height: h + d.top + d.bottom,
            ..d
        }
    }

    pub fn x0(&self) -> f64 {
        self.left
    }
    pub fn x1(&self) -> f64 {
        self.width - self.right
    }
    /// The bottom of the plot area (y grows downwards).
    pub fn y0(&self) -> f64 {
        self.height - self.bottom
    }
    pub fn y1(&self) -> f64 {
        self.top
    }
}

/// Labels and formats of a chart's axes.
#[derive(Debug, Clone)]
pub struct Axes {
    pub x_label: String,
    pub y_label: String,
    pub y_format: Format,
    /// Fixed y domain (e.g. 0–1 for shares); `None` fits the data from 0.
    pub y_range: Option<(f64, f64)>,
}

impl Axes {
    pub fn new(x_label: &str, y_label: &str, y_format: Format) -> Self {
        Axes {
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            y_format,
            y_range: None,
        }
    }

    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }
}

/// Grey of reference lines (chance, equal shares), in the legend as on the chart.
pub const REFERENCE: &str = "#888888";

/// Grey for marks resting on too few members, and for their text.
pub const SMALL: &str = "#c3c8cf";

/// One named series of values, one per category or period.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
    /// The count each value is a share of (members, labelled members, coupons), if a share.
    pub counts: Option<Vec<usize>>,
    /// Values on fewer than this many are drawn grey (bars) or left off the line (lines).
    pub min_count: usize,
    /// A 95% interval per value, drawn as a whisker on bars.
    pub intervals: Option<Vec<Option<[f64; 2]>>>,
}

impl Series {
    pub fn new(name: &str, values: Vec<f64>) -> Self {
        Series {
            name: name.to_string(),
            values,
            counts: None,
            min_count: 0,
            intervals: None,
        }
    }

    /// The count behind each value, and the smallest count a value is shown as a fact on.
    pub fn counts(mut self, counts: Vec<usize>, min: usize) -> Self {
        self.counts = Some(counts);
        self.min_count = min;
        self
    }

    pub fn intervals(mut self, intervals: Vec<Option<[f64; 2]>>) -> Self {
        self.intervals = Some(intervals);
        self
    }

    /// The count behind value `i`, if known.
    pub fn count_at(&self, i: usize) -> Option<usize> {
        self.counts.as_ref().and_then(|c| c.get(i).copied())
    }

    /// Whether value `i` rests on fewer than `min_count`.
    pub fn small(&self, i: usize) -> bool {
        self.count_at(i).is_some_and(|n| n < self.min_count)
    }

    /// ` (n=20, fewer than 30: too few to read as a fact)` for tips; empty without counts.
    fn count_note(&self, i: usize) -> String {
        match self.count_at(i) {
            Some(n) if n < self.min_count => format!(
                " (n={n}, fewer than {}: too few to read as a fact)",
                self.min_count
            ),
            Some(n) => format!(" (n={n})"),
            None => String::new(),
        }
    }
}

/// Approximate width in pixels of `s` at the charts' 11 px font (wide characters count double).
pub fn text_width(s: &str) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { 6.4 } else { 11.0 })
        .sum()
}

/// The angle category labels are turned by when they would not fit their band side by side:
/// upright, so that each takes one line's width whatever its length.
const TURN: f64 = 90.0;

/// Baseline of x-axis labels under the plot: clear of the lowest y tick label beside it.
const X_LABEL_DY: f64 = 21.0;

/// Whether labels under bands of `band` px must be turned to not overlap, showing every `every`-th.
fn must_turn(labels: &[String], band: f64, every: usize) -> bool {
    let widest = labels.iter().map(|l| text_width(l)).fold(0.0, f64::max);
    widest + 6.0 > band * every as f64
}

/// How often a category label is shown: at most about 12 of them.
fn label_every(n: usize) -> usize {
    n.div_ceil(12).max(1)
}

impl Frame {
    /// This frame with room under the plot for `labels` turned by [`TURN`] when they must be,
    /// over `bands` bands (the plot keeps its size; the chart grows).
    pub fn fit_labels(&self, labels: &[String], bands: usize) -> Frame {
        let band = (self.x1() - self.x0()) / bands.max(1) as f64;
        if !must_turn(labels, band, label_every(labels.len())) {
            return *self;
        }
        let widest = labels.iter().map(|l| text_width(l)).fold(0.0, f64::max);
        let need = 8.0 + widest * TURN.to_radians().sin() + 22.0;
        let extra = (need - self.bottom).max(0.0);
        Frame {
            bottom: self.bottom + extra,
            height: self.height + extra,
            ..*self
        }
    }
}

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// The y scale of a chart and its ticks: `axes.y_range` or from 0 to the largest value.
fn y_scale(frame: &Frame, axes: &Axes, values: impl Iterator<Item = f64>) -> (Scale, Vec<f64>) {
    let (lo, hi) = axes.y_range.unwrap_or_else(|| {
        let max = values.filter(|v| v.is_finite()).fold(0.0, f64::max);
        (0.0, max)
    });
    let t = ticks(lo, hi, 5);
    let (d0, d1) = match axes.y_range {
        Some(r) => r,
        None => (
            t.first().copied().unwrap_or(0.0),
            t.last().copied().unwrap_or(1.0),
        ),
    };
    let t = t.into_iter().filter(|&v| v >= d0 && v <= d1).collect();
    (Scale::new((d0, d1), (frame.y0(), frame.y1())), t)
}

/// Bars of `series` over `categories`: one group per category, one bar per series in it.
/// Bars grow from 0 (or the bottom of the domain when it is above 0).
pub fn bar_layout(
    frame: &Frame,
    categories: usize,
    series: &[Series],
    y: &Scale,
) -> Vec<Vec<Rect>> {
    let band = (frame.x1() - frame.x0()) / categories.max(1) as f64;
    let group = band * 0.8;
    let k = series.len().max(1) as f64;
    let bar = group / k;
    let base = y.map(0f64.clamp(y.d0.min(y.d1), y.d0.max(y.d1)));
    series
        .iter()
        .enumerate()
        .map(|(s, ser)| {
            (0..categories)
                .map(|c| {
                    let v = ser.values.get(c).copied().unwrap_or(0.0);
                    let v = if v.is_finite() { v } else { 0.0 };
                    let top = y.map(v);
                    Rect {
                        x: frame.x0() + band * c as f64 + (band - group) / 2.0 + bar * s as f64,
                        y: top.min(base),
                        w: bar,
                        h: (base - top).abs(),
                    }
                })
                .collect()
        })
        .collect()
}

/// An SVG document being written.
struct Svg {
    buf: String,
}

impl Svg {
    fn open(id: &str, title: &str, frame: &Frame) -> Self {
        let mut buf = String::with_capacity(8 * 1024);
        let _ = write!(
            buf,
            r#"<svg id="{}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" style="max-width:{}px" role="img" aria-label="{}">"#,
            esc(id),
            n(frame.width),
            n(frame.height),
            n(frame.width),
            n(frame.height),
            // Pages may widen a chart to their column, not blow its text up.
            n(frame.width * 1.3),
            esc(title)
        );
        Svg { buf }
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, class: &str) {
        let _ = write!(
            self.buf,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" class="{class}"/>"#,
            n(x1),
            n(y1),
            n(x2),
            n(y2)
        );
    }

    fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, s: &str) {
        let _ = write!(
            self.buf,
            r#"<text x="{}" y="{}" text-anchor="{anchor}" class="{class}">{}</text>"#,
            n(x),
            n(y),
            esc(s)
        );
    }

    fn rect(&mut self, r: &Rect, fill: &str, tip: &str) {
        let _ = write!(
            self.buf,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{fill}" data-tip="{}"/>"#,
            n(r.x),
            n(r.y),
            n(r.w),
            n(r.h),
            esc(tip)
        );
    }

    /// Horizontal grid lines and y tick labels; the y axis title rotated on the left.
    fn y_axis(&mut self, frame: &Frame, y: &Scale, ticks: &[f64], axes: &Axes) {
        for &t in ticks {
            let py = y.map(t);
            self.line(frame.x0(), py, frame.x1(), py, "grid");
            self.text(
                frame.x0() - 6.0,
                py + 4.0,
                "end",
                "tick",
                &axes.y_format.show(t),
            );
        }
        self.line(frame.x0(), frame.y0(), frame.x1(), frame.y0(), "axis");
        self.line(frame.x0(), frame.y0(), frame.x0(), frame.y1(), "axis");
        self.axis_titles(frame, axes);
    }

    /// The y axis title rotated on the left, the x axis title centred underneath.
    fn axis_titles(&mut self, frame: &Frame, axes: &Axes) {
        if !axes.y_label.is_empty() {
            let _ = write!(
                self.buf,
                r#"<text transform="translate(12,{}) rotate(-90)" text-anchor="middle" class="label">{}</text>"#,
                n((frame.y0() + frame.y1()) / 2.0),
                esc(&axes.y_label)
            );
        }
        if !axes.x_label.is_empty() {
            self.text(
                (frame.x0() + frame.x1()) / 2.0,
                frame.height - 6.0,
                "middle",
                "label",
                &axes.x_label,
            );
        }
    }

    /// Category labels under a band axis, thinned so that at most about 12 show, turned by
    /// [`TURN`] degrees when they would overlap side by side (bands of `band` px).
    fn x_categories(
        &mut self,
        frame: &Frame,
        labels: &[String],
        band: f64,
        centre: impl Fn(usize) -> f64,
    ) {
        let every = label_every(labels.len());
        let turn = must_turn(labels, band, every);
        for (i, l) in labels.iter().enumerate() {
            if i % every != 0 {
                continue;
            }
            if turn {
                let (x, y) = (centre(i) + 4.0, frame.y0() + 8.0);
                let _ = write!(
                    self.buf,
                    r#"<text x="{}" y="{}" text-anchor="end" class="tick" transform="rotate(-{TURN} {} {})">{}</text>"#,
                    n(x),
                    n(y),
                    n(x),
                    n(y),
                    esc(l)
                );
            } else {
                self.text(centre(i), frame.y0() + X_LABEL_DY, "middle", "tick", l);
            }
        }
    }

    /// One swatch and name per series, in a row along the top, each in its series' colour.
    fn legend(&mut self, frame: &Frame, names: &[&str], colours: &[&str], dashed: &[bool]) {
        if names.len() < 2 {
            return;
        }
        let mut x = frame.x0();
        for (i, name) in names.iter().enumerate() {
            let colour = colours
                .get(i)
                .copied()
                .unwrap_or(PALETTE[i % PALETTE.len()]);
            if dashed.get(i).copied().unwrap_or(false) {
                let _ = write!(
                    self.buf,
                    r#"<line x1="{}" y1="12" x2="{}" y2="12" stroke="{colour}" stroke-width="2" stroke-dasharray="4 3" class="swatch" data-series="{}"/>"#,
                    n(x),
                    n(x + 12.0),
                    esc(name)
                );
            } else {
                let _ = write!(
                    self.buf,
                    r#"<rect x="{}" y="6" width="12" height="12" fill="{colour}" class="swatch" data-series="{}"/>"#,
                    n(x),
                    esc(name)
                );
            }
            self.text(x + 16.0, 16.0, "start", "legend", name);
            x += 28.0 + text_width(name);
        }
    }

    fn close(mut self) -> String {
        self.buf.push_str("</svg>");
        self.buf
    }
}

/// Bars per category, one per series (one series: a plain bar chart).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("银卡 silver"), "银卡 silver");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(n(100.0), "100");
        assert_eq!(n(12.5), "12.5");
        assert_eq!(n(1.0 / 3.0), "0.33");
        assert_eq!(n(-0.001), "0");
        assert_eq!(n(f64::NAN), "0");
        assert_eq!(count(1_234_567.0), "1.2M");
        assert_eq!(count(12_345.0), "12.3k");
        assert_eq!(count(950.0), "950");
        assert_eq!(percent(0.253), "25.3%");
        assert_eq!(percent(0.0012), "0.12%");
    }

    #[test]
    fn scale_maps_linearly_and_upside_down() {
        // y: 0..10 onto 300..100 (SVG y grows down): 5 → 200, 10 → 100.
        let s = Scale::new((0.0, 10.0), (300.0, 100.0));
        assert_eq!(s.map(0.0), 300.0);
        assert_eq!(s.map(5.0), 200.0);
        assert_eq!(s.map(10.0), 100.0);
        // An empty domain maps to the middle instead of dividing by zero.
        assert_eq!(Scale::new((3.0, 3.0), (0.0, 10.0)).map(3.0), 5.0);
    }

    #[test]
    fn ticks_are_round_and_cover_the_data() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(
            ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        // 0..7.3 in about 5 steps: raw 1.46 → step 2, last tick 8 ≥ 7.3.
        assert_eq!(ticks(0.0, 7.3, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(ticks(0.0, 0.0, 5).last(), Some(&1.0));
        assert_eq!(ticks(0.0, 1234.0, 4), vec![0.0, 500.0, 1000.0, 1500.0]);
    }
}
