//! Distribution specs for token counts, and a seeded sampler whose draw for request `i`
//! depends only on `(seed, i)`.
//!
//! A spec is one of:
//!
//! | spec | meaning |
//! |---|---|
//! | `128` | always 128 |
//! | `normal:<mean>:<std>:<min>:<max>` | normal, rounded, truncated to `[min, max]` |
//! | `lognormal:<mu>:<sigma>:<min>:<max>` | log-normal; `mu`, `sigma` of the underlying normal |
//! | `uniform:<min>:<max>` | uniform integers, both ends included |
//!
//! Draws outside `[min, max]` are redrawn; after [`MAX_RESAMPLES`] misses the last draw is
//! clamped. Because every draw is a pure function of `(seed, index)`, a run reproduces whatever
//! order or timing its requests are issued in.
//!
//! ```
//! use loadtest_dist::{DistSpec, Sampler};
//!
//! let spec: DistSpec = "normal:256:64:32:1024".parse()?;
//! assert_eq!(spec.to_string(), "normal:256:64:32:1024");
//!
//! let sampler = Sampler::new(spec, 42);
//! let first = sampler.sample(0);
//! assert!((32..=1024).contains(&first));
//! // The same (seed, index) always gives the same value, in any order.
//! let _ = sampler.sample(7);
//! assert_eq!(sampler.sample(0), first);
//! # Ok::<(), loadtest_dist::SpecError>(())
//! ```

mod sampler;
mod spec;

pub use sampler::{MAX_RESAMPLES, Sampler, derive_seed};
pub use spec::{DistSpec, SpecError};
