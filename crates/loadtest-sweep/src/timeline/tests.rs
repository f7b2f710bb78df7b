//! The timeline's unit tests.

use super::*;

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn phases_in_order() {
    let t = Timeline::new(&[2.0, 10.0], S(5), S(4), S(10), S(1));
    let at = |s: f64| t.at(Duration::from_secs_f64(s));
    assert_eq!(at(0.0).phase, Phase::Warmup);
    assert_eq!(at(0.0).target, 2.0);
    assert_eq!(at(5.0).phase, Phase::Ramp);
    assert_eq!(at(5.0).target, 2.0); // ramp from the warmup level
    assert_eq!((at(9.5).phase, at(9.5).target), (Phase::Measure, 2.0));
    assert_eq!(at(19.5).phase, Phase::Cooldown);
    assert_eq!(at(19.5).target, 0.0);
    let mid_ramp = at(22.0);
    assert_eq!((mid_ramp.step, mid_ramp.phase), (1, Phase::Ramp));
    assert!((mid_ramp.target - 6.0).abs() < 1e-9, "{}", mid_ramp.target);
    assert_eq!(at(30.0).phase, Phase::Measure);
    assert_eq!(at(40.5).phase, Phase::Drain);
    assert_eq!(t.end(), S(35));
    assert_eq!(t.measure_step_at(S(12)), Some(0));
    assert_eq!(t.measure_step_at(S(20)), None);
}

#[test]
fn ramps_last_until_the_new_connections_can_have_opened() {
    // 2,000 connections/s: 1,000 slots take 0.5 s, 19,900 take 9.95 s.
    let t = Timeline::with_connect_rate(
        &[1000.0, 19_900.0, 64.0, 20_000.0],
        S(0),
        S(1),
        S(10),
        S(0),
        2000.0,
    );
    let ramps: Vec<f64> = t
        .steps()
        .iter()
        .map(|s| s.ramp_len().as_secs_f64())
        .collect();
    // Step 0: 0.5 s < the 1 s ramp; step 1: 18,900 new slots = 9.45 s; step 2: none new;
    // step 3: 100 new slots above the 19,900 already open.
    assert_eq!(ramps, [1.0, 9.45, 1.0, 1.0]);
    // A warmup counts for step 0's slots: 2 s of warmup, 19,900 slots need 9.95 s.
    let t = Timeline::with_connect_rate(&[19_900.0], S(2), S(0), S(10), S(0), 2000.0);
    assert!((t.steps()[0].ramp_len().as_secs_f64() - 7.95).abs() < 1e-9);
    assert_eq!(t.at(Duration::from_secs_f64(9.9)).phase, Phase::Ramp);
    assert_eq!(t.at(Duration::from_secs_f64(9.96)).phase, Phase::Measure);
    // A fast enough rate changes nothing.
    let fast = Timeline::with_connect_rate(&[2.0, 10.0], S(5), S(4), S(10), S(1), 1e6);
    let plain = Timeline::new(&[2.0, 10.0], S(5), S(4), S(10), S(1));
    assert_eq!(fast.steps(), plain.steps());
}

#[test]
fn no_warmup_ramps_from_zero() {
    let t = Timeline::new(&[8.0], S(0), S(4), S(10), S(0));
    assert!((t.at(S(1)).target - 2.0).abs() < 1e-9);
    assert_eq!(t.at(S(4)).phase, Phase::Measure);
}

#[test]
fn count_edges_are_open_until_learned() {
    let t = Timeline::counted(&[2.0, 4.0], 7, 3, Duration::ZERO, S(1));
    assert!(t.is_counted());
    assert_eq!((t.num_prompts(), t.warmup_requests()), (Some(7), 3));
    // The warmup runs until its requests have finished; nothing after it is known.
    assert_eq!(t.warmup(), OPEN);
    assert_eq!(t.at(S(100)).phase, Phase::Warmup);
    assert_eq!(t.end(), OPEN);
    let clone = t.clone();
    t.close_warmup(S(2));
    // Every holder sees it: step 0 starts at once (no ramp), its end unknown.
    assert_eq!(clone.warmup(), S(2));
    let s0 = clone.step(0).unwrap();
    assert_eq!(
        (s0.ramp_start, s0.measure_start, s0.measure_end),
        (S(2), S(2), OPEN)
    );
    assert_eq!(clone.at(S(50)).phase, Phase::Measure);
    assert_eq!(clone.at(S(50)).phase_end, Some(OPEN));
    assert_eq!(clone.step(1).unwrap().measure_start, OPEN);
    assert_eq!(clone.measure_step_at(S(50)), Some(0));
    t.close_step(0, S(5));
    t.close_step(0, S(9)); // known already: ignored
    let s0 = t.step(0).unwrap();
    assert_eq!((s0.measure_end, s0.cooldown_end), (S(5), S(6)));
    assert_eq!(t.at(S(5)).phase, Phase::Cooldown);
    assert_eq!(t.step(1).unwrap().measure_start, S(6));
    assert_eq!(t.at(S(7)).phase, Phase::Measure);
    assert_eq!(t.at(S(7)).step, 1);
    t.close_step(1, S(8));
    assert_eq!(t.end(), S(9));
    assert_eq!(t.at(S(9)).phase, Phase::Drain);
    // A time timeline ignores closes.
    let plain = Timeline::new(&[1.0], S(1), S(0), S(2), S(0));
    plain.close_step(0, S(1));
    plain.close_warmup(S(0));
    assert_eq!(
        (plain.step(0).unwrap().measure_end, plain.end()),
        (S(3), S(3))
    );
}

#[tokio::test]
async fn sleep_until_follows_edges_learned_meanwhile() {
    let t = Timeline::counted(&[1.0], 5, 0, Duration::ZERO, Duration::ZERO);
    let run_start = std::time::Instant::now();
    let waiter = {
        let t = t.clone();
        tokio::spawn(async move {
            t.sleep_until(run_start, |t| t.step(0).map_or(OPEN, |s| s.measure_end))
                .await;
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    t.close_step(0, run_start.elapsed());
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the waiter did not wake")
        .unwrap();
}
