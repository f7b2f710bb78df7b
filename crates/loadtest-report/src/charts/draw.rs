//! Drawing a [`Plot`] as SVG with plotters' SVG backend. Text is emitted as SVG `<text>`
//! (no font files are read: plotters' built-in size estimate lays it out).

use plotters::prelude::*;

use super::axis::{Scale, x_scale, y_scale};
use super::spec::{Axis, LOG_RATIO, Plot, Stroke};

/// Chart size in pixels.
const SIZE: (u32, u32) = (900, 520);
const FONT: &str = "sans-serif";

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn values(plot: &Plot, axis: Axis) -> Vec<f64> {
    plot.series
        .iter()
        .filter(|s| s.axis == axis)
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .collect()
}

/// The SVG document of `plot`.
pub(crate) fn svg(plot: &Plot) -> Result<String, String> {
    let loads: Vec<f64> = plot
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    let x = x_scale(&loads);
    let y = y_scale(
        &values(plot, Axis::Primary),
        plot.y_log_when_wide,
        LOG_RATIO,
    );
    let y2 = y_scale(&values(plot, Axis::Secondary), false, LOG_RATIO);
    let has_secondary = plot.series.iter().any(|s| s.axis == Axis::Secondary);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root, plot, &x, &y, &y2, has_secondary)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

fn axis_desc(label: &str, scale: &Scale) -> String {
    if scale.is_log() {
        format!("{label} (log scale)")
    } else {
        label.to_owned()
    }
}

fn draw(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    plot: &Plot,
    x: &Scale,
    y: &Scale,
    y2: &Scale,
    has_secondary: bool,
) -> Result<(), String> {
    let mut chart = ChartBuilder::on(root)
        .caption(&plot.title, (FONT, 22))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(72)
        .right_y_label_area_size(if has_secondary { 72 } else { 8 })
        .build_cartesian_2d(x.clone(), y.clone())
        .map_err(err)?
        .set_secondary_coord(x.clone(), y2.clone());
    let x_fmt = |v: &f64| x.label(*v);
    let y_fmt = |v: &f64| y.label(*v);
    let y2_fmt = |v: &f64| y2.label(*v);
    chart
        .configure_mesh()
        .x_desc(axis_desc(&plot.x_label, x))
        .y_desc(axis_desc(&plot.y_label, y))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(err)?;
    if has_secondary {
        chart
            .configure_secondary_axes()
            .y_desc(plot.y2_label.clone().unwrap_or_default())
            .y_label_formatter(&y2_fmt)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .draw()
            .map_err(err)?;
    }
    for s in &plot.series {
        let scale_y = match s.axis {
            Axis::Primary => y,
            Axis::Secondary => y2,
        };
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter_map(|(a, b)| Some((x.forward(*a)?, scale_y.forward(*b)?)))
            .collect();
        if points.is_empty() {
            continue;
        }
        let line = ShapeStyle::from(&s.color).stroke_width(2);
        let fill = ShapeStyle::from(&s.color).filled();
        let anno = match (s.axis, s.stroke) {
            (Axis::Primary, Stroke::Solid) => chart
                .draw_series(LineSeries::new(points.clone(), line))
                .map_err(err)?,
            (Axis::Primary, Stroke::Dashed) => chart
                .draw_series(DashedLineSeries::new(points.clone(), 9, 5, line))
                .map_err(err)?,
            (Axis::Secondary, Stroke::Solid) => chart
                .draw_secondary_series(LineSeries::new(points.clone(), line))
                .map_err(err)?,
            (Axis::Secondary, Stroke::Dashed) => chart
                .draw_secondary_series(DashedLineSeries::new(points.clone(), 9, 5, line))
                .map_err(err)?,
        };
        let stroke = s.stroke;
        anno.label(s.label.clone()).legend(move |(px, py)| {
            // A 24 px swatch: one unbroken line, or two dashes.
            let (a, b) = match stroke {
                Stroke::Solid => ((0, 12), (12, 24)),
                Stroke::Dashed => ((0, 9), (15, 24)),
            };
            EmptyElement::at((px, py))
                + PathElement::new(vec![(a.0, 0), (a.1, 0)], line)
                + PathElement::new(vec![(b.0, 0), (b.1, 0)], line)
        });
        let circles = || points.iter().map(|p| Circle::new(*p, 4, fill));
        let triangles = || points.iter().map(|p| TriangleMarker::new(*p, 5, fill));
        match (s.axis, s.stroke) {
            (Axis::Primary, Stroke::Solid) => chart.draw_series(circles()).map(|_| ()),
            (Axis::Primary, Stroke::Dashed) => chart.draw_series(triangles()).map(|_| ()),
            (Axis::Secondary, Stroke::Solid) => chart.draw_secondary_series(circles()).map(|_| ()),
            (Axis::Secondary, Stroke::Dashed) => {
                chart.draw_secondary_series(triangles()).map(|_| ())
            }
        }
        .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 14))
        .draw()
        .map_err(err)?;
    Ok(())
}
