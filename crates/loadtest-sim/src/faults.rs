//! Which fault, if any, hits a request: drawn from the seed and the request's number.

use rand::RngExt;

use crate::Faults;
use crate::seeded::{self, Stream};

/// The fault one request gets. Event numbers count token events from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultPlan {
    /// Behave.
    None,
    /// Answer 500 before generating.
    Http500,
    /// Answer 429 before generating.
    Http429,
    /// Close the connection instead of sending token event `event` (and all after it).
    Disconnect {
        /// First token event not sent.
        event: u64,
    },
    /// Pause before sending token event `event`.
    Stall {
        /// Token event delayed by the stall.
        event: u64,
    },
    /// Send token event `event` with its JSON cut in half.
    Malformed {
        /// Token event broken.
        event: u64,
    },
    /// Hold every event of the stream and send them together once the last one is produced.
    Buffer,
}

/// The kinds of fault, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    Http500 = 0,
    Http429 = 1,
    Disconnect = 2,
    Stall = 3,
    Malformed = 4,
    MetricsGarbage = 5,
}

/// Number of [`FaultKind`]s.
pub(crate) const FAULT_KINDS: usize = 6;

impl FaultPlan {
    /// The plan of request `index` that will send `events` token events.
    pub(crate) fn draw(faults: &Faults, seed: u64, index: u64, events: u64) -> FaultPlan {
        let mut rng = seeded::rng(seed, Stream::Fault, index);
        // Always draw every number, so one probability does not shift another's stream.
        let draws: [f64; 5] = std::array::from_fn(|_| seeded::unit(&mut rng));
        let mid = |rng: &mut rand::rngs::StdRng| {
            if events >= 2 {
                rng.random_range(1..events)
            } else {
                0
            }
        };
        if draws[0] < faults.http_500 {
            FaultPlan::Http500
        } else if draws[1] < faults.http_429 {
            FaultPlan::Http429
        } else if draws[2] < faults.disconnect {
            FaultPlan::Disconnect {
                event: mid(&mut rng).max(u64::from(events >= 1)),
            }
        } else if draws[3] < faults.stall_probability {
            FaultPlan::Stall {
                event: mid(&mut rng),
            }
        } else if draws[4] < faults.malformed {
            FaultPlan::Malformed {
                event: rng.random_range(0..events.max(1)),
            }
        } else if buffer_draw(seed, index) < faults.buffer {
            FaultPlan::Buffer
        } else {
            FaultPlan::None
        }
    }
}

/// The buffer fault's draw, from its own generator: the stream of the earlier faults (and
/// the events they pick) stays what it was before this fault existed.
fn buffer_draw(seed: u64, index: u64) -> f64 {
    const SALT: u64 = 0xB0FF_E2ED_5EED_0001;
    seeded::unit(&mut seeded::rng(seed ^ SALT, Stream::Fault, index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_zero_and_one() {
        let none = Faults::default();
        assert!((0..1000).all(|i| FaultPlan::draw(&none, 1, i, 16) == FaultPlan::None));
        let all = Faults {
            disconnect: 1.0,
            ..Faults::default()
        };
        for i in 0..1000 {
            match FaultPlan::draw(&all, 1, i, 16) {
                FaultPlan::Disconnect { event } => assert!((1..16).contains(&event)),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn rate_is_close_to_the_probability() {
        let f = Faults {
            malformed: 0.25,
            ..Faults::default()
        };
        let hits = (0..10_000)
            .filter(|&i| matches!(FaultPlan::draw(&f, 3, i, 8), FaultPlan::Malformed { .. }))
            .count();
        assert!((2300..2700).contains(&hits), "{hits}");
    }

    #[test]
    fn buffer_is_drawn_last_and_on_its_own() {
        let all = Faults {
            buffer: 1.0,
            ..Faults::default()
        };
        assert!((0..1000).all(|i| FaultPlan::draw(&all, 1, i, 16) == FaultPlan::Buffer));
        // Another fault that hits wins; one that does not leaves the buffer draw alone.
        let both = Faults {
            http_500: 1.0,
            buffer: 1.0,
            ..Faults::default()
        };
        assert_eq!(FaultPlan::draw(&both, 1, 0, 16), FaultPlan::Http500);
        let quarter = Faults {
            buffer: 0.25,
            ..Faults::default()
        };
        let hits = (0..10_000)
            .filter(|&i| FaultPlan::draw(&quarter, 3, i, 8) == FaultPlan::Buffer)
            .count();
        assert!((2300..2700).contains(&hits), "{hits}");
        // Adding the buffer fault does not move where a disconnect happens.
        let cut = Faults {
            disconnect: 0.5,
            ..Faults::default()
        };
        let cut_and_buffer = Faults {
            buffer: 0.5,
            ..cut.clone()
        };
        for i in 0..1000 {
            let a = FaultPlan::draw(&cut, 5, i, 16);
            let b = FaultPlan::draw(&cut_and_buffer, 5, i, 16);
            if matches!(a, FaultPlan::Disconnect { .. }) {
                assert_eq!(a, b);
            }
        }
    }
}
