//! Fuzz target: any text through the distribution-spec parser must never panic; a spec that
//! parses prints back to itself and samples inside its bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadtest_dist::{DistSpec, Sampler};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = text.parse::<DistSpec>() else {
        return;
    };
    let printed = spec.to_string();
    assert_eq!(printed.parse::<DistSpec>().ok(), Some(spec), "{text:?} → {printed:?}");
    let (min, max) = spec.bounds();
    assert!(1 <= min && min <= max, "{text:?}: bounds {min}..{max}");
    let sampler = Sampler::new(spec, u64::from(data.len() as u32));
    for index in 0..4 {
        let v = sampler.sample(index);
        assert!((min..=max).contains(&v), "{text:?}: {v} outside {min}..={max}");
    }
});
