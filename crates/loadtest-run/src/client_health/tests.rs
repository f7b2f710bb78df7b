//! The client block's rules, field by field.

use super::*;

/// A block with the given numbers on a 16-core machine with 16 runtime workers.
fn block(
    cpu_pct: f64,
    ticks: u64,
    late_ticks: u64,
    run_queue_wait_pct: Option<f64>,
    host_cpu_busy_pct: Option<f64>,
) -> ClientHealth {
    ClientHealth {
        cpu_pct: Some(cpu_pct),
        cores: 16,
        workers: Some(16),
        ticks: Some(ticks),
        late_ticks: Some(late_ticks),
        sched_lag_p99_ms: None,
        sched_lag_max_ms: None,
        run_queue_wait_pct,
        host_cpu_busy_pct,
        client_errors: 0,
        verdict: ClientVerdict::Ok,
        bound: false,
        kernel_stamped_pct: None,
        stamps_late: None,
    }
}

/// Flagged over the goal, within it, or not judged: the ticker's lateness p99 against
/// 0.5 ms, from 100 ticks.
#[test]
fn stamps_are_judged_from_the_lag_p99_of_100_ticks() {
    let mut b = block(2.0, 100, 0, Some(0.0), Some(5.0));
    for (p99, ticks, want) in [
        (Some(0.73), 100, Some(true)),
        (Some(0.51), 1000, Some(true)),
        (Some(0.5), 100, Some(false)),
        (Some(0.2), 100, Some(false)),
        (Some(9.0), 99, None),
        (None, 100, None),
    ] {
        b.sched_lag_p99_ms = p99;
        b.ticks = Some(ticks);
        assert_eq!(b.judge_stamps(), want, "{p99:?} over {ticks} ticks");
    }
    // Kernel stamps on more than 99 % of the reads: on time whatever the ticker says;
    // at 99 % or less the ticker judges.
    b.sched_lag_p99_ms = Some(3.0);
    b.ticks = Some(100);
    for (pct, want) in [
        (Some(100.0), Some(false)),
        (Some(99.1), Some(false)),
        (Some(99.0), Some(true)),
        (Some(0.0), Some(true)),
        (None, Some(true)),
    ] {
        b.kernel_stamped_pct = pct;
        assert_eq!(b.judge_stamps(), want, "{pct:?} % kernel-stamped");
    }
    b.ticks = Some(10);
    b.kernel_stamped_pct = Some(100.0);
    assert_eq!(b.judge_stamps(), Some(false), "judged without ticks");
    b.kernel_stamped_pct = Some(50.0);
    assert_eq!(b.judge_stamps(), None);
    // Stored when known, absent otherwise.
    b.kernel_stamped_pct = Some(99.5);
    let json = serde_json::to_value(b).unwrap();
    assert_eq!(json["kernel_stamped_pct"], 99.5);
    let back: ClientHealth = serde_json::from_value(json).unwrap();
    assert_eq!(back.kernel_stamped_pct, Some(99.5));
    b.kernel_stamped_pct = None;
    assert!(
        serde_json::to_value(b)
            .unwrap()
            .get("kernel_stamped_pct")
            .is_none()
    );
    // Stored when judged, absent otherwise; older files read as not judged.
    b.stamps_late = Some(true);
    let json = serde_json::to_value(b).unwrap();
    assert_eq!(json["stamps_late"], true);
    assert_eq!(
        serde_json::from_value::<ClientHealth>(json)
            .unwrap()
            .stamps_late,
        Some(true)
    );
    b.stamps_late = None;
    let mut json = serde_json::to_value(b).unwrap();
    assert!(json.get("stamps_late").is_none());
    json.as_object_mut().unwrap().remove("verdict");
    assert_eq!(
        serde_json::from_value::<ClientHealth>(json)
            .unwrap()
            .stamps_late,
        None
    );
}

#[test]
fn a_client_error_makes_the_step_client_bound() {
    let mut b = block(2.0, 100, 0, Some(0.0), Some(5.0));
    assert_eq!(b.judge(), ClientVerdict::Ok);
    b.client_errors = 3;
    assert_eq!(b.judge(), ClientVerdict::ClientBound);
    let json = serde_json::to_value(b).unwrap();
    assert_eq!(json["client_errors"], 3);
    let back: ClientHealth = serde_json::from_value(json).unwrap();
    assert_eq!(back.client_errors, 3);
    b.client_errors = 0;
    assert!(
        serde_json::to_value(b)
            .unwrap()
            .get("client_errors")
            .is_none()
    );
}

#[test]
fn verdict_table() {
    use ClientVerdict::{ClientBound, HostContended, Ok};
    let cases = [
        // 1–3 % CPU, run-queue wait high, host busy, lag sustained: other processes.
        (
            "low cpu, busy host, lag",
            block(2.0, 95, 12, Some(40.0), Some(98.0)),
            HostContended,
        ),
        (
            "low cpu, host busy, no schedstat",
            block(3.0, 100, 5, None, Some(97.0)),
            HostContended,
        ),
        // At the ceiling: 95 % of every core the runtime can use.
        (
            "95 % of the ceiling",
            block(0.95 * 1600.0, 100, 0, Some(1.0), Some(99.0)),
            ClientBound,
        ),
        (
            "at the ceiling on a busy host",
            block(1500.0, 100, 30, Some(50.0), Some(100.0)),
            ClientBound,
        ),
        (
            "just under the ceiling, on time",
            block(1430.0, 100, 1, Some(1.0), Some(95.0)),
            Ok,
        ),
        // One 16 ms spike: not a p99.
        (
            "one spike in 100 ticks",
            block(2.0, 100, 1, Some(1.0), Some(20.0)),
            Ok,
        ),
        (
            "one spike in 100 ticks, busy host",
            block(2.0, 100, 1, Some(40.0), Some(99.0)),
            Ok,
        ),
        // Few ticks: one late tick is a spike, two are sustained.
        (
            "one spike in 40 ticks",
            block(2.0, 40, 1, Some(1.0), Some(20.0)),
            Ok,
        ),
        (
            "two late in 40 ticks, quiet host",
            block(2.0, 40, 2, Some(1.0), Some(20.0)),
            ClientBound,
        ),
        (
            "two late in 40 ticks, busy host",
            block(2.0, 40, 2, Some(30.0), Some(99.0)),
            HostContended,
        ),
        // Many ticks: more than 1 % late is behind, 1 % is not.
        (
            "1 % of 1000 late",
            block(50.0, 1000, 10, Some(1.0), None),
            Ok,
        ),
        (
            "1.1 % of 1000 late",
            block(50.0, 1000, 11, Some(1.0), None),
            ClientBound,
        ),
        // Behind with the threads never waiting for a CPU: the client's own work.
        (
            "lag, no run-queue wait, busy host",
            block(50.0, 100, 20, Some(2.0), Some(99.0)),
            ClientBound,
        ),
        (
            "lag, nothing known of the host",
            block(50.0, 100, 20, None, None),
            ClientBound,
        ),
        // The client's threads waited behind each other (in-process simulator, more
        // threads than cores) on an otherwise idle machine: its own work, not the host.
        (
            "lag, run-queue wait high, machine otherwise idle",
            block(150.0, 100, 20, Some(40.0), Some(14.0)),
            ClientBound,
        ),
        (
            "lag, run-queue wait high, a hog on another core",
            block(150.0, 100, 20, Some(40.0), Some(45.0)),
            HostContended,
        ),
        (
            "lag, wait unknown, others busy",
            block(16.0, 100, 20, None, Some(40.0)),
            HostContended,
        ),
        (
            "lag, wait unknown, only this process busy",
            block(1200.0, 100, 20, None, Some(80.0)),
            ClientBound,
        ),
        (
            "contended but on time",
            block(2.0, 100, 0, Some(60.0), Some(100.0)),
            Ok,
        ),
    ];
    for (name, health, want) in cases {
        assert_eq!(health.judge(), want, "{name}");
    }
}

#[test]
fn ceiling_is_the_workers_capped_at_the_cores() {
    let mut h = block(95.0, 100, 0, None, None);
    h.workers = Some(1);
    assert_eq!(h.cpu_ceiling_pct(), 100.0);
    assert_eq!(h.judge(), ClientVerdict::ClientBound);
    h.workers = Some(64);
    assert_eq!(h.cpu_ceiling_pct(), 1600.0);
    assert_eq!(h.judge(), ClientVerdict::Ok);
    h.workers = None;
    assert_eq!(h.cpu_ceiling_pct(), 1600.0);
}

#[test]
fn verdict_serialises_snake_case_and_round_trips() {
    let mut h = block(2.0, 95, 12, Some(40.0), Some(98.0));
    h.verdict = h.judge();
    let json = serde_json::to_value(h).unwrap();
    assert_eq!(json["verdict"], "host_contended");
    assert_eq!(json["late_ticks"], 12);
    let back: ClientHealth = serde_json::from_value(json).unwrap();
    assert_eq!(back, h);
}

#[test]
fn old_blocks_load_with_the_verdict_from_bound() {
    let old = r#"{"cpu_pct": 14.3, "cores": 2, "sched_lag_p99_ms": 6.8,
        "sched_lag_max_ms": 8.5, "bound": true}"#;
    let h: ClientHealth = serde_json::from_str(old).unwrap();
    assert_eq!(h.verdict, ClientVerdict::ClientBound);
    assert_eq!((h.ticks, h.run_queue_wait_pct), (None, None));
    let ok: ClientHealth = serde_json::from_str(&old.replace("true", "false")).unwrap();
    assert_eq!(ok.verdict, ClientVerdict::Ok);
}
