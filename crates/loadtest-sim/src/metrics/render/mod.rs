//! The exposition text, in vLLM V1, vLLM V0 or SGLang names: each flavor is a table of
//! [`Family`] (name, help, and where each sample's value comes from), written in table order,
//! then the simulator's own metrics.

mod expo;
mod sglang;
mod v0;
mod v1;

use expo::{Expo, Labels, NONE};

use super::{H, Metrics, Scalars, State};
use crate::MetricsFlavor;
use crate::metrics::number::go_float;

/// What a counter or gauge sample reads: the engine's counters and gauges, and the KV cache
/// usage (0–1).
struct Now<'a> {
    c: &'a Scalars,
    kv_usage: f64,
}

/// A sample's value.
type Value = fn(&Now<'_>) -> f64;

/// A family's samples: own labels and value, in print order.
type Samples = &'static [(Labels<'static>, Value)];

/// What a family prints.
enum Series {
    Counter(Samples),
    Gauge(Samples),
    Histogram(H),
}

/// One metric family of a flavor's table.
struct Family {
    name: &'static str,
    help: &'static str,
    series: Series,
}

const fn counter(name: &'static str, help: &'static str, samples: Samples) -> Family {
    Family {
        name,
        help,
        series: Series::Counter(samples),
    }
}

const fn gauge(name: &'static str, help: &'static str, samples: Samples) -> Family {
    Family {
        name,
        help,
        series: Series::Gauge(samples),
    }
}

const fn histogram(name: &'static str, help: &'static str, id: H) -> Family {
    Family {
        name,
        help,
        series: Series::Histogram(id),
    }
}

// Values the tables read.
const ZERO: Value = |_| 0.0;
const ONE: Value = |_| 1.0;
const RUNNING: Value = |n| n.c.running as f64;
const WAITING: Value = |n| n.c.waiting as f64;
const KV_USAGE: Value = |n| n.kv_usage;
const PROMPT_TOKENS: Value = |n| n.c.prompt_tokens as f64;
const GENERATION_TOKENS: Value = |n| n.c.generation_tokens as f64;
const PREEMPTIONS: Value = |n| n.c.preemptions as f64;
const SUCCESS_STOP: Value = |n| n.c.success_stop as f64;
const SUCCESS_LENGTH: Value = |n| n.c.success_length as f64;

/// The simulator's own metrics: the same in every flavor, never `_created`, no base labels.
const SIM_OWN: &[Family] = &[
    counter(
        "loadtest_sim:token_events_total",
        "Token events the simulator wrote to sockets.",
        &[(NONE, |n| n.c.token_events as f64)],
    ),
    histogram(
        "loadtest_sim:event_lateness_seconds",
        "How late each token event left the simulator, against its own schedule (actual write minus scheduled time).",
        H::Lateness,
    ),
];

/// Writes `families` in order.
fn write_families(e: &mut Expo<'_>, families: &[Family], s: &State, kv_usage: f64) {
    let now = Now {
        c: &s.scalars,
        kv_usage,
    };
    let values = |samples: Samples| -> Vec<(Labels<'static>, f64)> {
        samples
            .iter()
            .map(|(labels, value)| (*labels, value(&now)))
            .collect()
    };
    for f in families {
        match f.series {
            Series::Counter(samples) => e.counter(f.name, f.help, &values(samples)),
            Series::Gauge(samples) => e.gauge(f.name, f.help, &values(samples)),
            Series::Histogram(id) => e.histogram(f.name, f.help, s.hist(id)),
        }
    }
}

/// The `/metrics` body for `flavor`.
pub(crate) fn render(metrics: &Metrics, flavor: MetricsFlavor, model: &str) -> String {
    let state = metrics.lock().clone();
    let kv_usage = if metrics.kv_capacity_tokens == 0 {
        0.0
    } else {
        (state.scalars.kv_used_tokens as f64 / metrics.kv_capacity_tokens as f64).min(1.0)
    };
    let mut e = Expo {
        out: String::with_capacity(48 * 1024),
        base: match flavor {
            MetricsFlavor::V1 => vec![("engine", "0"), ("model_name", model)],
            MetricsFlavor::V0 | MetricsFlavor::Sglang => vec![("model_name", model)],
        },
        created: match flavor {
            MetricsFlavor::V1 => Some(go_float(metrics.created_unix_s)),
            MetricsFlavor::V0 | MetricsFlavor::Sglang => None,
        },
    };
    match flavor {
        MetricsFlavor::V1 => v1::write(&mut e, &state, kv_usage, metrics.kv_capacity_tokens),
        MetricsFlavor::V0 => write_families(&mut e, v0::FAMILIES, &state, kv_usage),
        MetricsFlavor::Sglang => write_families(&mut e, sglang::FAMILIES, &state, kv_usage),
    }
    e.created = None;
    e.base.clear();
    write_families(&mut e, SIM_OWN, &state, kv_usage);
    e.out
}
