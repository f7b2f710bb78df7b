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
//! # Checking a spec before a run
//!
//! A spec whose bounds hold little of its distribution is redrawn most of the time and,
//! past [`MAX_RESAMPLES`] misses, clamped: `lognormal:400:100:128:4096`, written as
//! mean:std in tokens, has median `e^400` and gives 4096 on every draw.
//! [`DistSpec::clamp_check`] draws [`CLAMP_CHECK_SAMPLES`] values with a fixed seed through
//! the sampler's own code and reports the shares redrawn and clamped at each bound;
//! [`ClampReport::advice`] turns a report past [`CLAMP_ADVICE_THRESHOLD`] (clamped) or
//! [`REDRAW_ADVICE_THRESHOLD`] (redrawn) into a sentence for the user, with the spec most
//! likely meant when a log-normal `mu` looks like a token count.
//!
//! ```
//! use loadtest_dist::DistSpec;
//!
//! let spec: DistSpec = "lognormal:400:100:128:4096".parse()?;
//! let report = spec.clamp_check();
//! assert!(report.share_clamped_at_max() > 0.99);
//! let advice = report.advice().unwrap_or_default();
//! assert!(advice.contains("use lognormal:5.99:0.25:128:4096"));
//! # Ok::<(), loadtest_dist::SpecError>(())
//! ```
//!
//! # Sampling
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

mod clamp;
mod sampler;
mod spec;

pub use clamp::{
    CLAMP_ADVICE_THRESHOLD, CLAMP_CHECK_SAMPLES, CLAMP_CHECK_SEED, ClampReport,
    REDRAW_ADVICE_THRESHOLD, TOKEN_LIKE_MU,
};
pub use sampler::{MAX_RESAMPLES, Sampler, derive_seed};
pub use spec::{DistSpec, SpecError};
