//! `mlock_contend --timeline` read back: the `TIMELINE`/`TL` lines of one
//! run turned into per-kind point lists, for `bench --plot`'s
//! `timeline.svg` and its summary table.
//!
//! The program prints, for each contending kind that ran,
//!
//! ```text
//! TIMELINE kind=a strategy=NAME mlock_us=D seen=N kept=K shown=S slowest=W
//! TL a T:LAT T:LAT ...
//! ```
//!
//! with T the start of a sample in whole µs since the mlock call began
//! (negative before it) and LAT its latency in µs. A kind's timeline is
//! only accepted whole: its TL lines must hold exactly `shown` points, in
//! time order, every one well formed; anything else is an error naming the
//! kind, so a garbled serial line can never be drawn as data. Other lines
//! are ignored.

use std::collections::BTreeMap;

/// One contending kind's samples around one mlock call.
#[derive(Debug, Clone, PartialEq)]
pub struct KindTimeline {
    /// The kind's letter: `a` mmap+munmap, `b` fault, `c` read maps, `d` spin.
    pub kind: String,
    /// How long that mlock call took, in ms.
    pub mlock_ms: f64,
    /// Samples taken in the window, held after thinning, printed.
    pub seen: u64,
    pub kept: u64,
    /// The points: (ms since the mlock call began, latency in µs), in time
    /// order.
    pub points: Vec<(f64, f64)>,
}

impl KindTimeline {
    /// The points whose interval `[start, start + latency]` overlaps the
    /// mlock call `[0, mlock_ms]`.
    pub fn in_mlock(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.points.iter().copied().filter(|&(t, lat)| t <= self.mlock_ms && t + lat / 1000.0 >= 0.0)
    }
}

/// A `TIMELINE` header seen, and the points of its kind so far.
struct Open {
    header: KindTimeline,
    shown: usize,
    /// The first fault found in its lines.
    fault: Option<String>,
}

/// Collects the timeline lines of one run's output.
#[derive(Default)]
pub struct Parser {
    /// By kind letter, in the order the headers came.
    open: BTreeMap<String, Open>,
    order: Vec<String>,
}

impl Parser {
    /// Takes in one output line (with or without its line end).
    pub fn feed(&mut self, line: &str) {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("TIMELINE ") {
            self.header(rest);
        } else if let Some(rest) = line.strip_prefix("TL ") {
            self.points(rest);
        }
    }

    fn header(&mut self, rest: &str) {
        let f: BTreeMap<&str, &str> = rest.split_whitespace().filter_map(|kv| kv.split_once('=')).collect();
        let Some(kind) = f.get("kind").map(|k| k.to_string()) else { return };
        let num = |k: &str| f.get(k).and_then(|v| v.parse::<u64>().ok());
        let (header, shown, fault) = match (num("mlock_us"), num("seen"), num("kept"), num("shown")) {
            (Some(mlock_us), Some(seen), Some(kept), Some(shown)) => (
                KindTimeline { kind: kind.clone(), mlock_ms: mlock_us as f64 / 1000.0, seen, kept, points: Vec::new() },
                shown as usize,
                None,
            ),
            _ => (
                KindTimeline { kind: kind.clone(), mlock_ms: 0.0, seen: 0, kept: 0, points: Vec::new() },
                0,
                Some(format!("malformed header `TIMELINE {rest}`")),
            ),
        };
        if self.open.insert(kind.clone(), Open { header, shown, fault }).is_some() {
            let o = self.open.get_mut(&kind).expect("just inserted");
            o.fault.get_or_insert(format!("a second TIMELINE header for kind {kind}"));
        } else {
            self.order.push(kind);
        }
    }

    fn points(&mut self, rest: &str) {
        let mut words = rest.split_whitespace();
        let Some(kind) = words.next() else { return };
        let Some(o) = self.open.get_mut(kind) else {
            // Points before their header: remember them as a fault of the
            // kind, so that the kind is not drawn from half its lines.
            let header = KindTimeline { kind: kind.to_string(), mlock_ms: 0.0, seen: 0, kept: 0, points: Vec::new() };
            let fault = Some(format!("TL {kind} line before its TIMELINE header"));
            self.open.insert(kind.to_string(), Open { header, shown: 0, fault });
            self.order.push(kind.to_string());
            return;
        };
        for w in words {
            let point = w.split_once(':').and_then(|(t, lat)| Some((t.parse::<i64>().ok()?, lat.parse::<f64>().ok()?)));
            match point {
                Some((t, lat)) if lat.is_finite() && lat >= 0.0 => {
                    let t_ms = t as f64 / 1000.0;
                    if o.header.points.last().is_some_and(|p| p.0 > t_ms) {
                        o.fault.get_or_insert(format!("point {w} is out of time order"));
                    }
                    o.header.points.push((t_ms, lat));
                }
                _ => {
                    o.fault.get_or_insert(format!("malformed point {w:?}"));
                }
            }
        }
    }

    /// Every kind's timeline, in the order of their headers, or why one
    /// of them cannot be used.
    pub fn finish(mut self) -> Result<Vec<KindTimeline>, String> {
        let mut out = Vec::new();
        for kind in &self.order {
            let o = self.open.remove(kind).expect("every kind in order is open");
            if let Some(f) = o.fault {
                return Err(format!("timeline of kind {kind}: {f}"));
            }
            if o.header.points.len() != o.shown {
                return Err(format!("timeline of kind {kind}: {} points where the header says shown={}", o.header.points.len(), o.shown));
            }
            out.push(o.header);
        }
        Ok(out)
    }
}

/// The timelines in `lines` (one run's output).
pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Vec<KindTimeline>, String> {
    let mut p = Parser::default();
    for l in lines {
        p.feed(l);
    }
    p.finish()
}

/// Checks a one-repetition `mlock_contend --timeline` run against its own
/// RESULT line: the writer's (a) timeline is there and whole, its header's
/// mlock time is RESULT's `mlock_ms`, and its slowest sample that
/// overlapped the mlock is RESULT's `a_max` (the slowest samples are never
/// thinned out, and the times are relative to that mlock). RESULT rounds
/// to whole µs and ms/100, the timeline truncates to 0.1 µs and whole µs,
/// so values may differ by 1 µs and overlaps are judged with 2 µs to
/// spare. `Ok` says what it found.
pub fn check_against_result(serial: &str) -> Result<String, String> {
    let kinds = parse(serial.lines())?;
    let a = kinds.iter().find(|k| k.kind == "a").ok_or("no TIMELINE of kind a")?;
    let r = serial.lines().rev().find_map(crate::bench::parse_result).ok_or("no RESULT line")?;
    let num = |k: &str| r.get(k).and_then(|v| v.parse::<f64>().ok()).ok_or(format!("RESULT line lacks a number {k}="));
    let (a_max, mlock_ms) = (num("a_max")?, num("mlock_ms")?);
    if (a.mlock_ms - mlock_ms).abs() > 0.011 {
        return Err(format!("TIMELINE mlock_us={} but RESULT mlock_ms={mlock_ms}", a.mlock_ms * 1000.0));
    }
    if !(a.points.len() as u64 <= a.kept && a.kept <= a.seen) {
        return Err(format!("TIMELINE of (a): shown={} kept={} seen={} are not in order", a.points.len(), a.kept, a.seen));
    }
    const SLACK_MS: f64 = 0.002;
    let overlaps = |&(t, lat): &(f64, f64), slack: f64| t <= a.mlock_ms + slack && t + lat / 1000.0 >= -slack;
    let found = a.points.iter().find(|p| (p.1 - a_max).abs() <= 1.0 && overlaps(p, SLACK_MS));
    let Some(&(at, lat)) = found else {
        return Err(format!("RESULT a_max={a_max} us, but no (a) point of the timeline overlapping the mlock has that latency"));
    };
    if let Some(p) = a.points.iter().find(|p| p.1 > a_max + 1.0 && overlaps(p, -SLACK_MS)) {
        return Err(format!("(a) point {p:?} overlaps the mlock and is slower than RESULT a_max={a_max} us"));
    }
    Ok(format!(
        "timeline: (a) {} points of {} samples; the slowest in the mlock, {lat} us at {at:+.3} ms, is RESULT's a_max",
        a.points.len(),
        a.seen
    ))
}

/// One kernel's timeline run: a strategy (or `linux RELEASE`) and its
/// kinds.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub label: String,
    pub kinds: Vec<KindTimeline>,
}

impl Run {
    fn kind(&self, kind: &str) -> Option<&KindTimeline> {
        self.kinds.iter().find(|k| k.kind == kind)
    }

    /// The mlock call's time (every kind's header repeats it).
    pub fn mlock_ms(&self) -> Option<f64> {
        self.kinds.first().map(|k| k.mlock_ms)
    }
}

/// One panel of `timeline.svg`: a kernel, its mlock call's time and one
/// kind's points.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub label: String,
    pub mlock_ms: f64,
    /// (ms since the mlock began, latency µs); points of zero latency
    /// (below the 0.1 µs the program prints) are left out, as a log axis
    /// cannot show them.
    pub points: Vec<(f64, f64)>,
}

impl Panel {
    /// The slowest point whose call overlapped the mlock call.
    pub fn slowest_in_mlock(&self) -> Option<(f64, f64)> {
        let m = self.mlock_ms;
        self.points
            .iter()
            .copied()
            .filter(|&(t, lat)| t <= m && t + lat / 1000.0 >= 0.0)
            .max_by(|x, y| x.1.total_cmp(&y.1))
    }
}

/// One panel per run that has a timeline of `kind`, in the runs' order.
pub fn panels(runs: &[Run], kind: &str) -> Vec<Panel> {
    runs.iter()
        .filter_map(|r| {
            let k = r.kind(kind)?;
            let points = k.points.iter().copied().filter(|p| p.1 > 0.0 && p.1.is_finite()).collect();
            Some(Panel { label: r.label.clone(), mlock_ms: k.mlock_ms, points })
        })
        .collect()
}

/// The points of a line that draws each call as a step at its latency
/// from its start to its end: `(t, lat)` becomes `(t, lat)` and
/// `(t + lat, lat)` (t in ms, lat in µs). One thread's calls follow each
/// other, so a long wait is one long flat step, not a single spike.
pub fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points.iter().flat_map(|&(t, lat)| [(t, lat), (t + lat / 1000.0, lat)]).collect()
}

/// The ranges every panel shares: time (ms) and latency (µs), each with
/// some room around the data (and above it for the legend); `None` if
/// there is no point at all.
pub fn shared_ranges(panels: &[Panel]) -> Option<(std::ops::Range<f64>, std::ops::Range<f64>)> {
    let points = || panels.iter().flat_map(|p| p.points.iter());
    let (t0, t1) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let (l0, l1) = points().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    if !t0.is_finite() || !l0.is_finite() {
        return None;
    }
    // The mlock calls themselves are inside the time range too.
    let t1 = panels.iter().map(|p| p.mlock_ms).fold(t1, f64::max);
    // And the ends of the calls (the steps' right ends).
    let t1 = points().map(|p| p.0 + p.1 / 1000.0).fold(t1, f64::max);
    let t0 = t0.min(0.0);
    let pad = (t1 - t0).max(1.0) * 0.02;
    Some((t0 - pad..t1 + pad, l0 / 1.6..l1 * 4.0))
}

/// The timeline's figures, one row per run: the mlock call's time; the
/// writer's (a) slowest operation overlapping it, when it began (ms into
/// the mlock) and its share of the mlock's time; how many of (a)'s
/// operations overlapping it took 1 ms or more; the slowest (b) and (c)
/// operations overlapping it.
pub fn summary_table(runs: &[Run]) -> Vec<String> {
    let w = runs.iter().map(|r| r.label.len()).max().unwrap_or(0).max(18);
    let mut out = vec![format!(
        "{:<w$} {:>9} {:>13} {:>9} {:>8} {:>10} {:>13} {:>13}",
        "kernel", "mlock_ms", "(a) max_ms", "at_ms", "max/ml", "(a) >=1ms", "(b) max_ms", "(c) max_ms"
    )];
    for r in runs {
        let slowest = |kind: &str| r.kind(kind).and_then(|k| k.in_mlock().max_by(|x, y| x.1.total_cmp(&y.1)));
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let a = slowest("a");
        let mlock = r.mlock_ms();
        let share = a.zip(mlock).filter(|(_, m)| *m > 0.0).map(|((_, lat), m)| lat / 1000.0 / m);
        let long = r.kind("a").map(|k| k.in_mlock().filter(|p| p.1 >= 1000.0).count());
        out.push(format!(
            "{:<w$} {:>9} {:>13} {:>9} {:>8} {:>10} {:>13} {:>13}",
            r.label,
            ms(mlock),
            ms(a.map(|p| p.1 / 1000.0)),
            a.map_or("-".to_string(), |p| format!("{:+.2}", p.0)),
            share.map_or("-".to_string(), |v| format!("{v:.2}")),
            long.map_or("-".to_string(), |n| n.to_string()),
            ms(slowest("b").map(|p| p.1 / 1000.0)),
            ms(slowest("c").map(|p| p.1 / 1000.0)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "\
mlock_contend: strategy=hold-write region=64 MiB (16384 pages) reps=1 threads=3 kinds=abc pause=100 ms
TIMELINE kind=a strategy=hold-write mlock_us=41399 seen=263 kept=263 shown=4 slowest=4
TL a -167954:198.3 -12:14.9
[    1.234] INFO  some kernel line in between
TL a 1354:40474.2 41833:2524.1\r
TIMELINE kind=b strategy=hold-write mlock_us=41399 seen=861 kept=861 shown=2 slowest=2
TL b 5:1.5 6:0.0
timeline: 4 lines, 200 bytes in 1.00 ms
RESULT strategy=hold-write region_mib=64 mlock_ms=41.40 a_max=40474
";

    #[test]
    fn parses_each_kind_in_ms_and_us() {
        let t = parse(RUN.lines()).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].kind, "a");
        assert_eq!((t[0].mlock_ms, t[0].seen, t[0].kept), (41.399, 263, 263));
        assert_eq!(t[0].points, vec![(-167.954, 198.3), (-0.012, 14.9), (1.354, 40474.2), (41.833, 2524.1)]);
        assert_eq!(t[1].kind, "b");
        assert_eq!(t[1].points, vec![(0.005, 1.5), (0.006, 0.0)]);
        // Overlapping [0, 41.399 ms]: the one that ends 2.9 us into it, the
        // stall, and not the one at 41.833 ms nor the early one.
        assert_eq!(t[0].in_mlock().collect::<Vec<_>>(), vec![(-0.012, 14.9), (1.354, 40474.2)]);
    }

    #[test]
    fn no_timeline_is_empty_not_an_error() {
        assert_eq!(parse(["RESULT strategy=x a_max=1", "TLB flush"]), Ok(vec![]));
    }

    #[test]
    fn a_lost_or_garbled_line_rejects_the_kind() {
        // A TL line lost: fewer points than the header promises.
        let lost: Vec<&str> = RUN.lines().filter(|l| !l.starts_with("TL a 1354")).collect();
        let e = parse(lost).unwrap_err();
        assert!(e.contains("kind a") && e.contains("2 points") && e.contains("shown=4"), "{e}");
        // A point cut short by noise on the serial line.
        let cut = RUN.replace("41833:2524.1", "41833:25x");
        assert!(parse(cut.lines()).unwrap_err().contains("malformed point \"41833:25x\""));
        let neg = RUN.replace("6:0.0", "6:-1.0");
        assert!(parse(neg.lines()).unwrap_err().contains("kind b"));
        // Points out of time order (two runs' lines mixed).
        let swapped = RUN.replace("TL a -167954:198.3 -12:14.9", "TL a -12:14.9 -167954:198.3");
        assert!(parse(swapped.lines()).unwrap_err().contains("out of time order"));
        // TL lines without their header, and a header without numbers.
        assert!(parse(["TL c 1:2.0"]).unwrap_err().contains("before its TIMELINE header"));
        assert!(parse(["TIMELINE kind=c mlock_us=x seen=1 kept=1 shown=0"]).unwrap_err().contains("malformed header"));
        // Two headers of one kind (two runs' output mixed).
        let twice = format!("{RUN}TIMELINE kind=b strategy=x mlock_us=1 seen=0 kept=0 shown=0\n");
        assert!(parse(twice.lines()).unwrap_err().contains("a second TIMELINE header for kind b"));
    }

    #[test]
    fn checked_against_the_result_line() {
        // RUN: a_max 40474 us is the 40474.2 us point 1.354 ms into the
        // 41.399 ms mlock; RESULT mlock_ms 41.40.
        assert!(check_against_result(RUN).unwrap().contains("40474.2 us at +1.354 ms"));
        // The stall missing from the timeline (thinned out, or another
        // repetition's) fails.
        let e = check_against_result(&RUN.replace("1354:40474.2", "1354:404.2")).unwrap_err();
        assert!(e.contains("a_max=40474"), "{e}");
        // Times not relative to that mlock: the stall is not in it.
        assert!(check_against_result(&RUN.replace("1354:40474.2", "-41354:40474.2")).is_err());
        // A slower writer sample in the mlock than RESULT's maximum.
        let e = check_against_result(&RUN.replace("41833:2524.1", "40000:90000.0")).unwrap_err();
        assert!(e.contains("slower than RESULT a_max"), "{e}");
        // The header's mlock time is another call's.
        assert!(check_against_result(&RUN.replace("mlock_us=41399 seen=263", "mlock_us=51399 seen=263")).is_err());
        assert!(check_against_result(&RUN.replace("kind=a", "kind=d").replace("TL a", "TL d")).unwrap_err().contains("kind a"));
        assert!(check_against_result(&RUN.replace("RESULT", "RESOLT")).unwrap_err().contains("RESULT"));
        assert!(check_against_result(&RUN.replace("seen=263 kept=263", "seen=2 kept=2")).unwrap_err().contains("not in order"));
    }

    fn run(label: &str, text: &str) -> Run {
        Run { label: label.into(), kinds: parse(text.lines()).unwrap() }
    }

    #[test]
    fn one_panel_per_run_with_that_kind() {
        let runs = vec![
            run("hold-write", RUN),
            Run { label: "linux 6.1".into(), kinds: vec![] },
            run("yield-to-waiters", "TIMELINE kind=a mlock_us=50000 seen=2 kept=2 shown=2 slowest=2\nTL a -3:12.0 20000:900.5"),
        ];
        let p = panels(&runs, "a");
        // The run without a timeline has no panel.
        assert_eq!(p.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["hold-write", "yield-to-waiters"]);
        assert_eq!(p[0].mlock_ms, 41.399);
        assert_eq!(p[0].points, vec![(-167.954, 198.3), (-0.012, 14.9), (1.354, 40474.2), (41.833, 2524.1)]);
        assert_eq!(p[0].slowest_in_mlock(), Some((1.354, 40474.2)));
        assert_eq!(p[1].points, vec![(-0.003, 12.0), (20.0, 900.5)]);
        // The zero-latency point of (b) is not drawn on the log axis.
        let b = panels(&runs, "b");
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].points, vec![(0.005, 1.5)]);
        assert_eq!(panels(&runs, "c"), vec![]);

        let (x, y) = shared_ranges(&p).unwrap();
        // Time: from the earliest start to the latest end of a call or an
        // mlock (the 2524 us call at 41.833 ms ends at 44.357 ms; the 50 ms
        // mlock later), with 2% room either side.
        let pad = (50.0 + 167.954) * 0.02;
        assert!((x.start - (-167.954 - pad)).abs() < 1e-9 && (x.end - (50.0 + pad)).abs() < 1e-9, "{x:?}");
        assert!((y.start - 12.0 / 1.6).abs() < 1e-9 && (y.end - 40474.2 * 4.0).abs() < 1e-6, "{y:?}");
        let (x, _) = shared_ranges(&p[..1]).unwrap();
        assert!((x.end - (41.833 + 2.5241 + (41.833 + 2.5241 + 167.954) * 0.02)).abs() < 1e-9, "{x:?}");
        assert_eq!(shared_ranges(&[]), None);
    }

    #[test]
    fn each_call_is_a_step_from_its_start_to_its_end() {
        let s = steps(&[(-1.0, 10.0), (1.354, 40474.2)]);
        let want = [(-1.0, 10.0), (-0.99, 10.0), (1.354, 40474.2), (41.8282, 40474.2)];
        assert_eq!(s.len(), want.len());
        assert!(s.iter().zip(want).all(|(p, w)| (p.0 - w.0).abs() < 1e-9 && p.1 == w.1), "{s:?}");
        assert_eq!(steps(&[]), vec![]);
    }

    #[test]
    fn summary_has_the_writers_stall_in_the_mlock() {
        let runs = vec![
            run("hold-write", RUN),
            // A slower call after the mlock (at 60 ms) is not "in" it.
            run(
                "yield-to-waiters",
                "TIMELINE kind=a mlock_us=50000 seen=3 kept=3 shown=3 slowest=3\nTL a -3:12.0 20000:900.5 60000:5000.0",
            ),
            Run { label: "linux 6.1".into(), kinds: vec![] },
        ];
        let t = summary_table(&runs);
        assert!(t[0].contains("(a) max_ms") && t[0].contains("at_ms") && t[0].contains("(a) >=1ms"), "{}", t[0]);
        let cells = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
        // hold-write: the 40.5 ms stall 1.35 ms in; (b)'s slowest in the
        // mlock is 1.5 us; no (c).
        assert_eq!(cells(&t[1]), ["hold-write", "41.40", "40.47", "+1.35", "0.98", "1", "0.00", "-"]);
        assert_eq!(cells(&t[2]), ["yield-to-waiters", "50.00", "0.90", "+20.00", "0.02", "0", "-", "-"]);
        assert_eq!(cells(&t[3]), ["linux", "6.1", "-", "-", "-", "-", "-", "-", "-"]);
    }
}
