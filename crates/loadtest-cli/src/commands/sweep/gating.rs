//! The regression-gating flags (`--fail-on`, `--fail-on-slo`, `--tag`, `--repeat`) checked
//! into the config.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use loadtest_run::Threshold;
use loadtest_sweep::config::SweepConfig;

use super::SweepArgs;

/// Most trials `--repeat` accepts.
pub(crate) const MAX_REPEAT: u32 = 100;

/// Sets `config.thresholds` and `config.tags` from the flags; call after the steps are set.
pub(crate) fn apply(args: &SweepArgs, config: &mut SweepConfig) -> Result<()> {
    let mut thresholds = Vec::new();
    for text in &args.fail_on {
        thresholds.push(threshold(text, config)?);
    }
    if args.fail_on_slo {
        thresholds.push(threshold("slo", config)?);
    }
    config.thresholds = thresholds;
    config.tags = tags(&args.tags)?;
    if let Some(n) = args.repeat
        && !(1..=MAX_REPEAT).contains(&n)
    {
        bail!("invalid --repeat {n}: expected 1..={MAX_REPEAT}");
    }
    Ok(())
}

fn threshold(text: &str, config: &SweepConfig) -> Result<Threshold> {
    let t: Threshold = text
        .parse()
        .map_err(|e| anyhow::anyhow!("invalid --fail-on {text:?}: {e}"))?;
    if t.needs_slo() && config.slo.is_none() {
        bail!(
            "invalid --fail-on {text:?}: it needs --slo (goodput and slo are measured against it)"
        );
    }
    if let Some(load) = t.at_load
        && config.auto_stop.is_none()
        && !config.steps.iter().any(|s| t.applies_to(*s))
    {
        bail!(
            "invalid --fail-on {text:?}: no step runs at load {load} (the steps are {:?})",
            config.steps
        );
    }
    Ok(t)
}

/// `--tag k=v` labels: a key of letters, digits, `_`, `-` or `.`, each key once.
fn tags(given: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for text in given {
        let Some((key, value)) = text.split_once('=') else {
            bail!("invalid --tag {text:?}: expected KEY=VALUE, e.g. --tag commit=abc123");
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            bail!(
                "invalid --tag {text:?}: the key {key:?} must be letters, digits, '_', '-' or '.'"
            );
        }
        if out
            .insert(key.to_owned(), value.trim().to_owned())
            .is_some()
        {
            bail!("invalid --tag {text:?}: the key {key:?} is given twice");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked() {
        let t = tags(&["commit=abc".into(), "gpu = H100".into()]).unwrap();
        assert_eq!(t["commit"], "abc");
        assert_eq!(t["gpu"], "H100");
        assert!(
            tags(&["x".into()])
                .unwrap_err()
                .to_string()
                .contains("KEY=VALUE")
        );
        assert!(tags(&["a b=1".into()]).is_err());
        assert!(
            tags(&["a=1".into(), "a=2".into()])
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }
}
