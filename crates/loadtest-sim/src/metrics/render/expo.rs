//! The 0.0.4 text format, written the way prometheus_client writes it: `# HELP` and `# TYPE`
//! lines, sorted labels, Go-style numbers and the `_created` families.

use std::fmt::Write as _;

use crate::metrics::Hist;
use crate::metrics::number::go_float;

/// A sample's own labels, after the flavor's base labels.
pub(super) type Labels<'a> = &'a [(&'a str, &'a str)];

/// No labels of its own.
pub(super) const NONE: Labels<'static> = &[];

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Writes families in the 0.0.4 text format the way prometheus_client does.
pub(super) struct Expo<'a> {
    pub(super) out: String,
    /// Labels every sample carries (`engine`, `model_name`).
    pub(super) base: Vec<(&'static str, &'a str)>,
    /// The value of `_created` series; `None`: no `_created` families.
    pub(super) created: Option<String>,
}

impl Expo<'_> {
    pub(super) fn header(&mut self, name: &str, help: &str, kind: Kind) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    pub(super) fn line(&mut self, name: &str, extra: Labels<'_>, value: f64) {
        self.raw_line(name, extra, &go_float(value));
    }

    fn raw_line(&mut self, name: &str, extra: Labels<'_>, value: &str) {
        let mut labels: Vec<(&str, &str)> = self.base.clone();
        labels.extend_from_slice(extra);
        labels.sort_by(|a, b| a.0.cmp(b.0));
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// A counter (name ends in `_total`) with one child per `children` entry.
    pub(super) fn counter(&mut self, name: &str, help: &str, children: &[(Labels<'_>, f64)]) {
        self.header(name, help, Kind::Counter);
        for (labels, v) in children {
            self.line(name, labels, *v);
        }
        let base = name.strip_suffix("_total").unwrap_or(name);
        let labels: Vec<Labels<'_>> = children.iter().map(|c| c.0).collect();
        self.created_family(&format!("{base}_created"), help, &labels);
    }

    pub(super) fn gauge(&mut self, name: &str, help: &str, children: &[(Labels<'_>, f64)]) {
        self.header(name, help, Kind::Gauge);
        for (labels, v) in children {
            self.line(name, labels, *v);
        }
    }

    pub(super) fn histogram(&mut self, name: &str, help: &str, hist: &Hist) {
        self.header(name, help, Kind::Histogram);
        let bucket = format!("{name}_bucket");
        for (le, count) in hist.cumulative() {
            let le = go_float(le);
            self.line(&bucket, &[("le", &le)], count as f64);
        }
        self.line(&format!("{name}_count"), &[], hist.count() as f64);
        self.line(&format!("{name}_sum"), &[], hist.sum());
        self.created_family(&format!("{name}_created"), help, &[NONE]);
    }

    /// The `_created` gauge family prometheus_client prints after a counter or histogram.
    fn created_family(&mut self, name: &str, help: &str, children: &[Labels<'_>]) {
        let Some(created) = self.created.clone() else {
            return;
        };
        self.header(name, help, Kind::Gauge);
        for labels in children {
            self.raw_line(name, labels, &created);
        }
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
