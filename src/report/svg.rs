//! Small, general SVG chart primitives for the HTML report: bars (grouped), lines over a
//! categorical axis, x–y curves with numeric axes, and heat maps, each with axes, ticks, a
//! legend and escaped text.
//!
//! Charts take aggregates, never one element per member: a caller passes a few hundred values
//! at most. Every mark carries a `data-tip` (shown by the page's small tooltip script) and nothing
//! here reads a file, a network resource or a font: the output views offline.

use std::fmt::Write;

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
pub fn bars(
    id: &str,
    title: &str,
    frame: &Frame,
    categories: &[String],
    series: &[Series],
    axes: &Axes,
) -> String {
    let frame = &frame.fit_labels(categories, categories.len());
    let highs = series.iter().flat_map(|s| {
        s.intervals
            .iter()
            .flatten()
            .map(|i| i.map_or(f64::NAN, |[_, hi]| hi))
    });
    let (y, t) = y_scale(
        frame,
        axes,
        series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .chain(highs),
    );
    let mut svg = Svg::open(id, title, frame);
    svg.y_axis(frame, &y, &t, axes);
    let layout = bar_layout(frame, categories.len(), series, &y);
    for (s, rects) in layout.iter().enumerate() {
        let ser = &series[s];
        for (c, r) in rects.iter().enumerate() {
            let v = ser.values.get(c).copied().unwrap_or(0.0);
            if !v.is_finite() {
                continue;
            }
            let interval = ser
                .intervals
                .as_ref()
                .and_then(|i| i.get(c).copied().flatten());
            let ci = interval.map_or_else(String::new, |[lo, hi]| {
                format!(
                    ", 95% interval {}–{}",
                    axes.y_format.show(lo),
                    axes.y_format.show(hi)
                )
            });
            let what = if series.len() > 1 {
                format!("{} · {}", categories[c], ser.name)
            } else {
                categories[c].clone()
            };
            let tip = format!("{what}: {}{ci}{}", axes.y_format.show(v), ser.count_note(c));
            let small = ser.small(c);
            let colour = if small {
                SMALL
            } else {
                PALETTE[s % PALETTE.len()]
            };
            let _ = write!(
                svg.buf,
                r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{colour}"{} data-series="{}" data-tip="{}"/>"#,
                n(r.x),
                n(r.y),
                n(r.w),
                n(r.h),
                if small { r#" class="small""# } else { "" },
                esc(&ser.name),
                esc(&tip)
            );
            if let Some([lo, hi]) = interval {
                let (cx, w) = (r.x + r.w / 2.0, (r.w * 0.3).min(6.0));
                let (ylo, yhi) = (y.map(lo), y.map(hi));
                let _ = write!(
                    svg.buf,
                    r#"<path d="M{},{}V{}M{},{}H{}M{},{}H{}" class="ci" data-tip="{}"/>"#,
                    n(cx),
                    n(ylo),
                    n(yhi),
                    n(cx - w),
                    n(ylo),
                    n(cx + w),
                    n(cx - w),
                    n(yhi),
                    n(cx + w),
                    esc(&tip)
                );
            }
        }
    }
    let band = (frame.x1() - frame.x0()) / categories.len().max(1) as f64;
    svg.x_categories(frame, categories, band, |i| {
        frame.x0() + band * (i as f64 + 0.5)
    });
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    svg.legend(frame, &names, &PALETTE, &[]);
    svg.close()
}

/// Lines over categorical x positions (periods), one per series, with a dot per value.
/// NaN values leave a gap.
pub fn lines(
    id: &str,
    title: &str,
    frame: &Frame,
    periods: &[String],
    series: &[Series],
    axes: &Axes,
) -> String {
    let (y, t) = y_scale(
        frame,
        axes,
        series.iter().flat_map(|s| s.values.iter().copied()),
    );
    let x = Scale::new(
        (0.0, periods.len().saturating_sub(1) as f64),
        (frame.x0() + 8.0, frame.x1() - 8.0),
    );
    let mut svg = Svg::open(id, title, frame);
    svg.y_axis(frame, &y, &t, axes);
    for (s, ser) in series.iter().enumerate() {
        let colour = PALETTE[s % PALETTE.len()];
        let mut d = String::new();
        let mut pen_down = false;
        for (i, &v) in ser.values.iter().enumerate().take(periods.len()) {
            if !v.is_finite() || ser.small(i) {
                pen_down = false;
                continue;
            }
            let _ = write!(
                d,
                "{}{},{}",
                if pen_down { "L" } else { "M" },
                n(x.map(i as f64)),
                n(y.map(v))
            );
            pen_down = true;
        }
        let _ = write!(
            svg.buf,
            r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="2" data-series="{}"/>"#,
            esc(&ser.name)
        );
        for (i, &v) in ser.values.iter().enumerate().take(periods.len()) {
            if !v.is_finite() {
                continue;
            }
            // A value on too few members is a hollow grey ring off the line.
            let fill = if ser.small(i) {
                format!(r#"fill="none" stroke="{SMALL}" class="small""#)
            } else {
                format!(r#"fill="{colour}""#)
            };
            let _ = write!(
                svg.buf,
                r#"<circle cx="{}" cy="{}" r="3" {fill} data-tip="{}"/>"#,
                n(x.map(i as f64)),
                n(y.map(v)),
                esc(&format!(
                    "{} · {}: {}{}",
                    periods[i],
                    ser.name,
                    axes.y_format.show(v),
                    ser.count_note(i)
                ))
            );
        }
    }
    let step = (frame.x1() - frame.x0() - 16.0) / periods.len().saturating_sub(1).max(1) as f64;
    svg.x_categories(frame, periods, step, |i| x.map(i as f64));
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    svg.legend(frame, &names, &PALETTE, &[]);
    svg.close()
}

/// One named x–y curve; `dashed` for references (the diagonal of a ROC plot).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
    /// Draw a dot with a tip at each point (for curves of a few points, such as reliability bins).
    pub dots: bool,
}

impl Curve {
    pub fn new(name: &str, points: Vec<(f64, f64)>) -> Self {
        Curve {
            name: name.to_string(),
            points,
            dashed: false,
            dots: false,
        }
    }

    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }

    pub fn dots(mut self) -> Self {
        self.dots = true;
        self
    }
}

/// A vertical marker line at `x` with a label (the 20% mark of a Pareto curve).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: f64,
    pub label: String,
}

/// Curves on numeric axes over fixed domains (`x_range`, `axes.y_range` or 0–1), e.g. ROC,
/// precision–recall, reliability and Pareto curves.
#[allow(clippy::too_many_arguments)]
pub fn curves(
    id: &str,
    title: &str,
    frame: &Frame,
    curves: &[Curve],
    x_range: (f64, f64),
    x_format: Format,
    axes: &Axes,
    markers: &[Marker],
) -> String {
    let (y_lo, y_hi) = axes.y_range.unwrap_or((0.0, 1.0));
    let y = Scale::new((y_lo, y_hi), (frame.y0(), frame.y1()));
    let x = Scale::new(x_range, (frame.x0(), frame.x1()));
    let yt: Vec<f64> = ticks(y_lo, y_hi, 5)
        .into_iter()
        .filter(|&v| v >= y_lo && v <= y_hi)
        .collect();
    let mut svg = Svg::open(id, title, frame);
    svg.y_axis(frame, &y, &yt, axes);
    for t in ticks(x_range.0, x_range.1, 5)
        .into_iter()
        .filter(|&v| v >= x_range.0 && v <= x_range.1)
    {
        let px = x.map(t);
        svg.line(px, frame.y0(), px, frame.y0() + 4.0, "axis");
        svg.text(
            px,
            frame.y0() + X_LABEL_DY,
            "middle",
            "tick",
            &x_format.show(t),
        );
    }
    for m in markers {
        let px = x.map(m.x);
        svg.line(px, frame.y0(), px, frame.y1(), "marker");
        svg.text(px + 4.0, frame.y1() + 12.0, "start", "legend", &m.label);
    }
    let colours: Vec<&str> = curves
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.dashed {
                REFERENCE
            } else {
                PALETTE[i % PALETTE.len()]
            }
        })
        .collect();
    for (c, &colour) in curves.iter().zip(&colours) {
        let mut d = String::new();
        for (k, &(px, py)) in c
            .points
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .enumerate()
        {
            let _ = write!(
                d,
                "{}{},{}",
                if k == 0 { "M" } else { "L" },
                n(x.map(px)),
                n(y.map(py))
            );
        }
        let _ = write!(
            svg.buf,
            r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"{} data-series="{}" data-tip="{}"/>"#,
            if c.dashed {
                r#" stroke-dasharray="4 3""#
            } else {
                ""
            },
            esc(&c.name),
            esc(&c.name)
        );
        if c.dots {
            for &(px, py) in c
                .points
                .iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
            {
                let _ = write!(
                    svg.buf,
                    r#"<circle cx="{}" cy="{}" r="3.5" fill="{colour}" data-tip="{}"/>"#,
                    n(x.map(px)),
                    n(y.map(py)),
                    esc(&format!(
                        "{}: {} → {}",
                        c.name,
                        x_format.show(px),
                        axes.y_format.show(py)
                    ))
                );
            }
        }
    }
    let names: Vec<&str> = curves.iter().map(|c| c.name.as_str()).collect();
    let dashed: Vec<bool> = curves.iter().map(|c| c.dashed).collect();
    svg.legend(frame, &names, &colours, &dashed);
    svg.close()
}

/// A colour from white-blue (0) to dark blue (1).
pub fn heat_colour(t: f64) -> String {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        lerp(247.0, 8.0),
        lerp(251.0, 48.0),
        lerp(255.0, 107.0)
    )
}

/// A heat map: `values[row][col]` coloured against the largest value, each cell showing
/// `labels[row][col]` (lines split at `\n`) and tipping `tips[row][col]`. Rows are drawn top to
/// bottom.
#[allow(clippy::too_many_arguments)]
pub fn heat_map(
    id: &str,
    title: &str,
    frame: &Frame,
    row_names: &[String],
    col_names: &[String],
    values: &[Vec<f64>],
    labels: &[Vec<String>],
    tips: &[Vec<String>],
    axes: &Axes,
) -> String {
    let max = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let cw = (frame.x1() - frame.x0()) / col_names.len().max(1) as f64;
    let ch = (frame.y0() - frame.y1()) / row_names.len().max(1) as f64;
    let mut svg = Svg::open(id, title, frame);
    let get = |m: &[Vec<String>], r: usize, c: usize| {
        m.get(r)
            .and_then(|row| row.get(c))
            .cloned()
            .unwrap_or_default()
    };
    for (r, rname) in row_names.iter().enumerate() {
        let py = frame.y1() + ch * r as f64;
        svg.text(frame.x0() - 6.0, py + ch / 2.0 + 4.0, "end", "tick", rname);
        for c in 0..col_names.len() {
            let v = values
                .get(r)
                .and_then(|row| row.get(c))
                .copied()
                .unwrap_or(0.0);
            let t = if max > 0.0 { v / max } else { 0.0 };
            let rect = Rect {
                x: frame.x0() + cw * c as f64,
                y: py,
                w: cw,
                h: ch,
            };
            svg.rect(&rect, &heat_colour(t), &get(tips, r, c));
            let class = if t > 0.5 { "cell dark" } else { "cell" };
            // A label of several lines (`\n`) is centred as a block, 13 px a line.
            let label = get(labels, r, c);
            let lines: Vec<&str> = label.split('\n').collect();
            let first = py + ch / 2.0 + 4.0 - 6.5 * (lines.len() as f64 - 1.0);
            for (k, line) in lines.iter().enumerate() {
                svg.text(
                    rect.x + cw / 2.0,
                    first + 13.0 * k as f64,
                    "middle",
                    class,
                    line,
                );
            }
        }
    }
    svg.x_categories(frame, col_names, cw, |i| frame.x0() + cw * (i as f64 + 0.5));
    svg.axis_titles(frame, axes);
    svg.close()
}

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

    #[test]
    fn a_bar_of_five_on_a_ten_axis_is_half_the_height() {
        // Plot area 400 × 200 at (56, 28): y0 = 228, y1 = 28. Values 5 and 10 → ticks 0..10.
        let f = Frame::with_plot(400.0, 200.0);
        assert_eq!((f.y0(), f.y1()), (228.0, 28.0));
        let s = [Series::new("members", vec![5.0, 10.0])];
        let axes = Axes::new("", "", Format::Count);
        let (y, t) = y_scale(&f, &axes, s[0].values.iter().copied());
        assert_eq!(t, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let r = bar_layout(&f, 2, &s, &y);
        // Two bands of 200 px; a bar is 80% of its band (160 px), centred: x = 56 + 20.
        assert_eq!(
            r[0][0],
            Rect {
                x: 76.0,
                y: 128.0,
                w: 160.0,
                h: 100.0
            }
        );
        assert_eq!(r[0][1].h, 200.0);
        assert_eq!(r[0][1].x, 276.0);
        let svg = bars("b", "t", &f, &["a".into(), "b".into()], &s, &axes);
        assert!(
            svg.contains(r#"<rect x="76" y="128" width="160" height="100""#),
            "{svg}"
        );
    }

    #[test]
    fn grouped_bars_split_the_group() {
        // One band of 400 px, group 320 px, two series → bars of 160 px side by side.
        let f = Frame::with_plot(400.0, 200.0);
        let s = [Series::new("a", vec![10.0]), Series::new("b", vec![2.5])];
        let y = Scale::new((0.0, 10.0), (f.y0(), f.y1()));
        let r = bar_layout(&f, 1, &s, &y);
        assert_eq!((r[0][0].x, r[0][0].w, r[0][0].h), (96.0, 160.0, 200.0));
        assert_eq!((r[1][0].x, r[1][0].w, r[1][0].h), (256.0, 160.0, 50.0));
        assert_eq!(r[1][0].y, 178.0);
    }

    #[test]
    fn lines_put_points_on_the_scales() {
        // Three periods over x 64..448 (8 px inset): 64, 256, 448; y 0..1 fixed on 228..28.
        let f = Frame::with_plot(400.0, 200.0);
        let axes = Axes::new("month", "share", Format::Percent).y_range(0.0, 1.0);
        let svg = lines(
            "l",
            "t",
            &f,
            &["Jan".into(), "Feb".into(), "Mar".into()],
            &[Series::new("app", vec![0.5, f64::NAN, 1.0])],
            &axes,
        );
        // A gap at the NaN: a second move-to, not a line-to.
        assert!(svg.contains(r#"d="M64,128M448,28""#), "{svg}");
        assert!(svg.contains(r#"data-tip="Jan · app: 50.0%""#));
        assert_eq!(svg.matches("<circle").count(), 2);
    }

    #[test]
    fn curves_use_fixed_unit_axes_and_markers() {
        let f = Frame::with_plot(400.0, 200.0);
        let axes = Axes::new("x", "y", Format::Percent);
        let svg = curves(
            "c",
            "t",
            &f,
            &[
                Curve::new("model", vec![(0.0, 0.0), (0.5, 0.8), (1.0, 1.0)]),
                Curve::new("chance", vec![(0.0, 0.0), (1.0, 1.0)]).dashed(),
            ],
            (0.0, 1.0),
            Format::Percent,
            &axes,
            &[Marker {
                x: 0.2,
                label: "20%".into(),
            }],
        );
        // (0.5, 0.8) → x 56 + 200 = 256, y 228 − 160 = 68.
        assert!(svg.contains(r#"d="M56,228L256,68L456,28""#), "{svg}");
        assert!(svg.contains(r#"stroke-dasharray="4 3""#));
        // The marker at 20%: x = 56 + 80.
        assert!(svg.contains(r#"<line x1="136" y1="228" x2="136" y2="28" class="marker"/>"#));
    }

    #[test]
    fn heat_map_cells_tile_the_plot() {
        // 2 × 2 cells over 400 × 200: 200 × 100 each; the largest value is darkest.
        let f = Frame::with_plot(400.0, 200.0);
        let svg = heat_map(
            "h",
            "t",
            &f,
            &["r2".into(), "r1".into()],
            &["c1".into(), "c2".into()],
            &[vec![0.0, 1.0], vec![2.0, 4.0]],
            &[
                vec!["0".into(), "1".into()],
                vec!["2".into(), "4 <b>".into()],
            ],
            &[vec![], vec![]],
            &Axes::new("FM", "R", Format::Count),
        );
        assert!(
            svg.contains(r##"<rect x="256" y="128" width="200" height="100" fill="#08306b""##),
            "{svg}"
        );
        assert!(svg.contains(r##"<rect x="56" y="28" width="200" height="100" fill="#f7fbff""##));
        assert!(svg.contains("4 &lt;b&gt;"));
        assert_eq!(svg.matches("<rect").count(), 4);
        assert_eq!(heat_colour(0.5), "#8096b5");
    }

    #[test]
    fn long_labels_turn_and_the_chart_grows_under_them() {
        // Five bands of 80 px; "potential loyalist" is 18 × 6.4 = 115 px wide: turned upright,
        // and the bottom grows to 8 + 115.2 + 22 = 145.2 px (the plot keeps 200 px).
        let f = Frame::with_plot(400.0, 200.0);
        let labels: Vec<String> = ["champions", "loyal", "potential loyalist", "new", "at risk"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let g = f.fit_labels(&labels, 5);
        assert!((g.bottom - 145.2).abs() < 0.01, "{}", g.bottom);
        assert_eq!(g.y0() - g.y1(), 200.0);
        let svg = bars(
            "b",
            "t",
            &f,
            &labels,
            &[Series::new("x", vec![1.0; 5])],
            &Axes::new("", "", Format::Count),
        );
        assert_eq!(svg.matches("rotate(-90").count(), 5, "{svg}");
        // Short labels stay level.
        let short: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(f.fit_labels(&short, 2), f);
    }

    #[test]
    fn legend_swatches_take_their_line_colour_and_small_bars_are_grey() {
        let f = Frame::with_plot(400.0, 200.0);
        let svg = curves(
            "c",
            "t",
            &f,
            &[
                Curve::new("model", vec![(0.0, 0.0), (1.0, 1.0)]),
                Curve::new("chance", vec![(0.0, 0.0), (1.0, 1.0)]).dashed(),
            ],
            (0.0, 1.0),
            Format::Percent,
            &Axes::new("x", "y", Format::Percent),
            &[],
        );
        assert!(svg.contains(r##"stroke="#888888" stroke-width="2" stroke-dasharray="4 3" class="swatch" data-series="chance""##), "{svg}");
        assert!(svg.contains(
            r##"stroke="#888888" stroke-width="2" stroke-dasharray="4 3" data-series="chance""##
        ));
        // 3 of 10 with a minimum of 5 is a fact; 1 of 4 is not.
        let s = Series::new("wool", vec![0.3, 0.25])
            .counts(vec![10, 4], 5)
            .intervals(vec![Some([0.108, 0.603]), None]);
        let svg = bars(
            "b",
            "t",
            &f,
            &["a".into(), "b".into()],
            &[s],
            &Axes::new("", "", Format::Percent),
        );
        assert!(svg.contains(r##"fill="#0072B2" data-series="wool" data-tip="a: 30.0%, 95% interval 10.8%–60.3% (n=10)""##), "{svg}");
        assert!(svg.contains(r##"fill="#c3c8cf" class="small" data-series="wool" data-tip="b: 25.0% (n=4, fewer than 5: too few to read as a fact)""##), "{svg}");
        assert_eq!(svg.matches(r#"class="ci""#).count(), 1);
    }
}
