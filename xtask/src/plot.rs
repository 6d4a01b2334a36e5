//! `cargo xtask bench --plot DIR`: the bench's rows as SVG line charts,
//! one line per kernel (each population strategy, and Linux with
//! `--linux`), against the region size:
//!
//! - `latency-a-mmap.svg`, `latency-b-fault.svg`, `latency-c-maps.svg`: for
//!   one contending operation, the largest (left) and the 99th-percentile
//!   (right) latency of the operations that overlapped an mlock call;
//! - `mlock-pages-per-s.svg`: how fast mlock populated the region;
//! - `timeline.svg` (when the bench ran with `--timeline`): one run per
//!   kernel at one region size, one panel each, sharing both axes: each
//!   printed mmap+munmap (the writer, kind a) as a step at its latency
//!   (log) from its start to its end, in ms since the mlock call began,
//!   the call itself shaded (see [`crate::timeline`]).
//!
//! Both axes are logarithmic (latencies span microseconds to seconds).
//! Values that are missing (a boot without a RESULT line) or zero (a kind
//! that saw no sample) are left out of a line rather than drawn as zero.
//! Text sizes are estimated (plotters without fonts), which is all SVG
//! needs: the viewer renders the text.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::bench::Measured;
use crate::error::{Error, Result};

/// One line of a chart: a kernel and its (region MiB, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// One line per kernel, in the order the rows name them, of `value`
/// against region size; points without a positive value are left out.
pub fn series(rows: &[Measured], value: impl Fn(&Measured) -> Option<f64>) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for r in rows {
        let i = match out.iter().position(|s| s.label == r.label) {
            Some(i) => i,
            None => {
                out.push(Series { label: r.label.clone(), points: Vec::new() });
                out.len() - 1
            }
        };
        if let Some(v) = value(r).filter(|v| *v > 0.0 && v.is_finite()) {
            out[i].points.push((r.size_mib as f64, v));
        }
    }
    for s in &mut out {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// A logarithmic axis range around `values`, with room below and
/// `above` times the largest value above (for the legend).
fn log_range(values: impl Iterator<Item = f64>, above: f64) -> Option<std::ops::Range<f64>> {
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    (lo.is_finite() && hi > 0.0).then(|| lo / 1.6..hi * above)
}

/// Line colours that stay apart on white (the "tab10" set).
const COLOURS: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// The colour of series `i`; Linux is drawn in black.
fn colour(label: &str, i: usize) -> RGBColor {
    if label.starts_with("linux") {
        BLACK
    } else {
        COLOURS[i % COLOURS.len()]
    }
}

/// Draws one chart of `series` into `area`.
fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    series: &[Series],
) -> std::result::Result<(), String> {
    let all = || series.iter().flat_map(|s| s.points.iter());
    // The legend sits in room left above the data: its share of the
    // plot's height, about 16 px per series of about 400, taken on the
    // log axis.
    let legend = ((series.len() as f64 * 16.0 + 24.0) / 400.0).min(0.6);
    let span = log_range(all().map(|p| p.1), 1.6).map_or(1.0, |r| r.end / r.start);
    let above = 1.6 * span.powf(legend / (1.0 - legend));
    let (Some(x), Some(y)) = (log_range(all().map(|p| p.0), 1.6), log_range(all().map(|p| p.1), above)) else {
        area.titled(title, ("sans-serif", 20)).map_err(|e| e.to_string())?;
        return Ok(());
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x.log_scale().base(2.0), y.log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("region (MiB)")
        .y_desc(y_desc)
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, s) in series.iter().enumerate() {
        let c = colour(&s.label, i);
        let width = if s.label.starts_with("linux") { 3 } else { 2 };
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(width)).point_size(4))
            .map_err(|e| e.to_string())?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(width)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The contending operations: RESULT letter, file-name part, title.
const KINDS: [(&str, &str, &str); 3] = [
    ("a", "mmap", "(a) mmap+munmap, a writer"),
    ("b", "fault", "(b) first-touch fault, a reader"),
    ("c", "maps", "(c) read /proc/self/maps, a reader"),
];

/// Draws one SVG file of `size` pixels with `draw`.
fn svg_file(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> std::result::Result<(), String>,
) -> Result<()> {
    let fail = |e: String| Error::new(format!("plotting {}: {e}", path.display()));
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    draw(&root).map_err(fail)?;
    root.present().map_err(|e| fail(e.to_string()))
}

/// Writes the charts into `dir` (created if needed); returns their paths.
pub fn write_plots(dir: &Path, rows: &[Measured]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::new(format!("creating {}: {e}", dir.display())))?;
    let mut written = Vec::new();
    for (kind, short, title) in KINDS {
        let path = dir.join(format!("latency-{kind}-{short}.svg"));
        svg_file(&path, (1200, 500), |root| {
            let (left, right) = root.split_horizontally(600);
            for (area, stat) in [(&left, "max"), (&right, "p99")] {
                let s = series(rows, |r| r.num(&format!("{kind}_{stat}")));
                chart(area, &format!("{title}: {stat} during mlock"), &format!("{stat} latency (us)"), &s)?;
            }
            Ok(())
        })?;
        written.push(path);
    }
    let path = dir.join("mlock-pages-per-s.svg");
    svg_file(&path, (700, 500), |root| {
        chart(root, "mlock population speed", "pages/s", &series(rows, |r| r.num("pages_per_s")))
    })?;
    written.push(path);
    Ok(written)
}

/// Writes `timeline.svg` into `dir` (created if needed): one panel per
/// run of `runs`, which were booted at `size_mib`, each with the writer's
/// (a) operations as steps (see [`crate::timeline::steps`]); returns its
/// path.
pub fn write_timeline(dir: &Path, runs: &[crate::timeline::Run], size_mib: u64) -> Result<PathBuf> {
    use crate::timeline::{panels, shared_ranges, steps};
    std::fs::create_dir_all(dir).map_err(|e| Error::new(format!("creating {}: {e}", dir.display())))?;
    let panels = panels(runs, "a");
    let path = dir.join("timeline.svg");
    let height = 50 + 170 * panels.len().max(1) as u32;
    svg_file(&path, (1000, height), |root| {
        let title = format!("(a) mmap+munmap, a writer, around one mlock of {size_mib} MiB (shaded): each call from its start to its end");
        let body = root.titled(&title, ("sans-serif", 18)).map_err(|e| e.to_string())?;
        let Some((x, y)) = shared_ranges(&panels) else { return Ok(()) };
        let areas = body.split_evenly((panels.len(), 1));
        for (n, (p, area)) in panels.iter().zip(&areas).enumerate() {
            let caption = match p.slowest_in_mlock() {
                Some((t, lat)) => {
                    format!(
                        "{}: mlock {:.1} ms; the slowest call in it {:.1} ms, began at {:+.1} ms",
                        p.label,
                        p.mlock_ms,
                        lat / 1000.0,
                        t
                    )
                }
                None => format!("{}: mlock {:.1} ms", p.label, p.mlock_ms),
            };
            let mut chart = ChartBuilder::on(area)
                .caption(caption, ("sans-serif", 15))
                .margin(6)
                .x_label_area_size(28)
                .y_label_area_size(60)
                .build_cartesian_2d(x.clone(), y.clone().log_scale())
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc(if n + 1 == panels.len() { "ms since the mlock call began" } else { "" })
                .y_desc("latency (us)")
                .x_labels(12)
                .y_labels(6)
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| format!("{v:.0}"))
                .light_line_style(TRANSPARENT)
                .draw()
                .map_err(|e| e.to_string())?;
            let shade = RGBColor(0x99, 0x99, 0x99).mix(0.25).filled();
            chart
                .draw_series(std::iter::once(Rectangle::new([(0.0, y.start), (p.mlock_ms, y.end)], shade)))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new(steps(&p.points), colour(&p.label, 3).stroke_width(1)))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::parse_result;

    fn m(label: &str, size: u64, line: &str) -> Measured {
        Measured { label: label.into(), size_mib: size, result: parse_result(line) }
    }

    fn rows() -> Vec<Measured> {
        vec![
            m("hold-write", 64, "RESULT mlock_ms=200 pages_per_s=80000 a_max=190000 a_p99=180000 b_max=5 c_max=0"),
            m("linux 6.1.0-57-cloud-amd64", 64, "RESULT mlock_ms=100 pages_per_s=160000 a_max=99000 a_p99=900 b_max=7"),
            m("hold-write", 256, "RESULT mlock_ms=800 pages_per_s=81920 a_max=790000 a_p99=700000 b_max=6"),
            Measured { label: "linux 6.1.0-57-cloud-amd64".into(), size_mib: 256, result: None },
        ]
    }

    #[test]
    fn one_series_per_kernel_without_missing_or_zero_points() {
        let s = series(&rows(), |r| r.num("a_max"));
        assert_eq!(
            s,
            vec![
                Series { label: "hold-write".into(), points: vec![(64.0, 190000.0), (256.0, 790000.0)] },
                Series { label: "linux 6.1.0-57-cloud-amd64".into(), points: vec![(64.0, 99000.0)] },
            ]
        );
        // c_max=0 (no sample) and absent fields leave no point.
        let s = series(&rows(), |r| r.num("c_max"));
        assert!(s.iter().all(|s| s.points.is_empty()), "{s:?}");
    }

    #[test]
    fn writes_one_svg_per_kind_and_one_for_speed() {
        let dir = std::env::temp_dir().join(format!("xtask-plots-{}", std::process::id()));
        let written = write_plots(&dir, &rows()).unwrap();
        let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["latency-a-mmap.svg", "latency-b-fault.svg", "latency-c-maps.svg", "mlock-pages-per-s.svg"]);
        let a = std::fs::read_to_string(dir.join("latency-a-mmap.svg")).unwrap();
        assert!(a.starts_with("<svg") && a.contains("hold-write") && a.contains("linux 6.1.0-57-cloud-amd64"), "{a}");
        assert!(a.contains("max during mlock") && a.contains("p99 during mlock"));
        // Two lines (one per kernel) in each of the two panels, plus their
        // legend marks.
        assert!(a.matches("<polyline").count() >= 4, "{a}");
        let speed = std::fs::read_to_string(dir.join("mlock-pages-per-s.svg")).unwrap();
        assert!(speed.contains("mlock population speed") && speed.contains("pages/s") && speed.contains("hold-write"));
        // No data at all still gives a (titled, empty) chart, not an error.
        let c = std::fs::read_to_string(dir.join("latency-c-maps.svg")).unwrap();
        assert!(c.contains("(c) read /proc/self/maps"), "{c}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn timeline_has_a_panel_per_kernel_and_the_stall_in_its_caption() {
        use crate::timeline::{parse, Run};
        let text = |mlock_us: u64, stall: &str| {
            format!(
                "TIMELINE kind=a mlock_us={mlock_us} seen=3 kept=3 shown=3 slowest=3\nTL a -50000:20.0 {stall} 90000:25.0\n\
                 TIMELINE kind=b mlock_us={mlock_us} seen=2 kept=2 shown=2 slowest=2\nTL b -40000:3.0 10:4.0\n"
            )
        };
        let runs = vec![
            Run { label: "hold-write".into(), kinds: parse(text(80000, "1000:79000.0").lines()).unwrap() },
            Run { label: "linux 6.1.0-57-cloud-amd64".into(), kinds: parse(text(60000, "30000:400.0").lines()).unwrap() },
        ];
        let dir = std::env::temp_dir().join(format!("xtask-timeline-{}", std::process::id()));
        let path = write_timeline(&dir, &runs, 64).unwrap();
        assert_eq!(path, dir.join("timeline.svg"));
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("around one mlock of 64 MiB"), "{svg}");
        assert!(svg.contains("hold-write: mlock 80.0 ms; the slowest call in it 79.0 ms, began at +1.0 ms"), "{svg}");
        assert!(
            svg.contains("linux 6.1.0-57-cloud-amd64: mlock 60.0 ms; the slowest call in it 0.4 ms, began at +30.0 ms"),
            "{svg}"
        );
        // One line in each panel: the writer's three calls as steps (two
        // points each; the axes' lines have two in all), and each mlock
        // shaded.
        let points = |l: &str| l.split('"').skip_while(|a| !a.ends_with("points=")).nth(1).map_or(0, |p| p.split_whitespace().count());
        let lines: Vec<usize> = svg.lines().filter(|l| l.starts_with("<polyline")).map(points).filter(|&n| n > 2).collect();
        assert_eq!(lines, [6, 6], "{svg}");
        assert!(svg.matches("<rect").count() >= 3, "{svg}");
        // No timeline at all: a titled, empty picture, not an error.
        let path = write_timeline(&dir, &[], 64).unwrap();
        assert!(std::fs::read_to_string(path).unwrap().contains("around one mlock of 64 MiB"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
