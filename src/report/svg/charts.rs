//! The charts drawn with the primitives of [`super`]: grouped bars with intervals and small-number
//! marks, lines over periods, x–y curves with reference lines and markers, and heat maps.

use std::fmt::Write;

use super::{
    bar_layout, esc, n, ticks, y_scale, Axes, Format, Frame, Rect, Scale, Series, Svg, PALETTE,
    REFERENCE, SMALL, X_LABEL_DY,
};

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
