//! Checks of single flag values: each error names the flag, the value and what is expected.

use std::time::Duration;

use anyhow::{Result, bail};
use loadtest_dist::DistSpec;
use loadtest_run::LoadMode;

/// `--base-url` / `--metrics-url`: `http[s]://HOST[:PORT][/prefix]`, normalised as the client
/// uses it (no trailing `/`; for the base URL also no trailing `/v1`).
pub(crate) fn base_url(flag: &str, url: &str) -> Result<String> {
    let shape = url_shape(flag, url)?;
    loadtest_client::normalize_base_url(&shape)
        .map_err(|e| anyhow::anyhow!("invalid {flag} {:?}: {e}", loadtest_client::redact_url(url)))
}

/// `--metrics-url`: any `http[s]://HOST…` URL, used as given (without a trailing `/`).
pub(crate) fn url_shape(flag: &str, url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(trimmed.to_owned()),
        _ => bail!(
            "invalid {flag} {:?}: expected http://HOST[:PORT] or https://HOST[:PORT]",
            loadtest_client::redact_url(url)
        ),
    }
}

/// `--steps` as a list of load levels of `mode`.
pub(crate) fn steps(flag: &str, text: &str, mode: LoadMode) -> Result<Vec<f64>> {
    let mut steps = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let value = match mode {
            LoadMode::Concurrency => match part.parse::<u32>() {
                Ok(n) if n >= 1 => f64::from(n),
                _ => bail!(
                    "invalid {flag} {text:?}: {part:?} is not a whole number >= 1 (expected a comma list of concurrency levels, e.g. 1,2,4,8)"
                ),
            },
            LoadMode::Rate => match part.parse::<f64>() {
                Ok(r) if r.is_finite() && r > 0.0 && r <= 1e6 => r,
                _ => bail!(
                    "invalid {flag} {text:?}: {part:?} is not a rate > 0 (expected a comma list of requests/s, e.g. 0.5,1,2,4)"
                ),
            },
        };
        steps.push(value);
    }
    Ok(steps)
}

/// A number of seconds: finite and `>= 0` (which fields must be `> 0` is the engine's rule,
/// `SweepConfig::validate`).
pub(crate) fn seconds(flag: &str, value: f64) -> Result<Duration> {
    if !(0.0..1e9).contains(&value) {
        bail!("invalid {flag} {value}: expected a number of seconds >= 0");
    }
    Ok(Duration::from_secs_f64(value))
}

/// A token-count distribution spec.
pub(crate) fn dist(flag: &str, text: &str) -> Result<DistSpec> {
    text.parse::<DistSpec>()
        .map_err(|e| anyhow::anyhow!("invalid {flag} {text:?}: {e}"))
}

/// `--extra-body`: a JSON object whose keys the client does not set itself.
pub(crate) fn extra_body(text: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "invalid --extra-body: not JSON ({e}); expected an object, e.g. '{{\"temperature\": 0.7}}'"
        )
    })?;
    let serde_json::Value::Object(map) = value else {
        bail!("invalid --extra-body: expected a JSON object, e.g. '{{\"temperature\": 0.7}}'");
    };
    if let Err(e) = loadtest_client::ExtraFields::new(&map) {
        bail!("invalid --extra-body: {e}");
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_errors_never_echo_credentials() {
        for url in [
            "http://user:hunter22@h:8000/v1",
            "ftp://user:hunter22@h/",
            "http://h/?token=hunter22",
        ] {
            if let Err(e) = base_url("--base-url", url) {
                assert!(!e.to_string().contains("hunter22"), "{e}");
            }
        }
        assert!(base_url("--base-url", "http://user:hunter22@h:8000/v1").is_err());
    }

    #[test]
    fn base_urls_lose_the_v1_suffix() {
        assert_eq!(
            base_url("--base-url", "http://h:8000/v1/").unwrap(),
            "http://h:8000"
        );
        assert_eq!(
            base_url("--base-url", "https://gw/vllm/v1").unwrap(),
            "https://gw/vllm"
        );
        assert!(
            base_url("--base-url", "localhost:8000")
                .unwrap_err()
                .to_string()
                .starts_with("invalid --base-url")
        );
    }

    #[test]
    fn extra_bodies_are_objects_without_reserved_keys() {
        let map = extra_body(r#"{"temperature":0.5,"chat_template_kwargs":{"x":1}}"#).unwrap();
        assert_eq!(map.len(), 2);
        assert!(
            extra_body("[1]")
                .unwrap_err()
                .to_string()
                .contains("object")
        );
        assert!(
            extra_body("{")
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );
        assert!(
            extra_body(r#"{"stream":false}"#)
                .unwrap_err()
                .to_string()
                .contains("\"stream\"")
        );
    }
}
