//! Flags the sweep and `probe` share: `--header 'K: V'`, the api key (`--api-key`, else
//! `OPENAI_API_KEY`, else `VLLM_API_KEY`) and `--endpoint chat|completions`. One
//! implementation of each, so that both commands accept and refuse the same things with the
//! same messages. Stopping on signals is shared through [`super::signals`].

use anyhow::{Result, bail};

/// The environment variables read for the api key, in order.
pub(crate) const API_KEY_VARS: [&str; 2] = ["OPENAI_API_KEY", "VLLM_API_KEY"];

/// Printed (unless quiet) when an `Authorization` header leaves the environment's key unused.
pub(crate) const ENV_KEY_IGNORED_NOTE: &str = "note: --header Authorization is sent; the api key in OPENAI_API_KEY / VLLM_API_KEY is not used";

/// `--header 'Name: value'`, trimmed. An error never shows the value (it may be a secret):
/// not for a text without `:` (it may be `Authorization Bearer sk-…`), and of a bad name
/// only the part before its first invalid character.
pub(crate) fn header(text: &str) -> Result<(String, String)> {
    let Some((name, value)) = text.split_once(':') else {
        bail!("invalid --header: expected 'Name: value' (the text has no ':'; it is not shown)");
    };
    let name = name.trim();
    if name.is_empty() {
        bail!("invalid --header: the name before ':' is empty (expected 'Name: value')");
    }
    if let Some(at) = name.find(|c: char| !is_name_char(c)) {
        let bad = name[at..].chars().next().unwrap_or_default();
        bail!(
            "invalid --header {:?}: {bad:?} is not allowed in a header name (expected 'Name: value'; the rest is not shown)",
            &name[..at]
        );
    }
    let value = value.trim();
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        bail!("invalid --header for {name:?}: the value contains control characters");
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// An HTTP token character (RFC 9110 `tchar`).
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Every `--header`, in order.
pub(crate) fn headers(texts: &[String]) -> Result<Vec<(String, String)>> {
    texts.iter().map(|text| header(text)).collect()
}

/// The api key to send, and where it came from.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ApiKey {
    /// Sent as `Authorization: Bearer …`; `None`: no key.
    pub(crate) key: Option<String>,
    /// The key came from `OPENAI_API_KEY` / `VLLM_API_KEY` (not from `--api-key`).
    pub(crate) from_env: bool,
    /// The environment holds a key, left unused because a `--header Authorization` is given
    /// (worth [`ENV_KEY_IGNORED_NOTE`]: the user may expect the key to be sent).
    pub(crate) env_key_ignored: bool,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("from_env", &self.from_env)
            .field("env_key_ignored", &self.env_key_ignored)
            .finish()
    }
}

/// Resolves the api key: `flag` (`--api-key`), else the first of [`API_KEY_VARS`] that `env`
/// holds; an empty key counts as none. An `Authorization` among `headers` (parsed
/// `--header`s) refuses a `--api-key` (both would set the header) and makes the
/// environment's key unused. `env` reads one variable ([`process_env`] outside tests).
pub(crate) fn api_key(
    flag: Option<&str>,
    headers: &[(String, String)],
    env: impl Fn(&str) -> Option<String>,
) -> Result<ApiKey> {
    let flag = flag.filter(|k| !k.is_empty());
    let auth_header = headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
    if flag.is_some() && auth_header {
        bail!(
            "--api-key and --header 'Authorization: …' both set the Authorization header: give one"
        );
    }
    if let Some(key) = flag {
        return Ok(ApiKey {
            key: Some(key.to_owned()),
            from_env: false,
            env_key_ignored: false,
        });
    }
    let env_key = API_KEY_VARS
        .iter()
        .filter_map(|name| env(name))
        .find(|k| !k.is_empty());
    Ok(if auth_header {
        ApiKey {
            key: None,
            from_env: false,
            env_key_ignored: env_key.is_some(),
        }
    } else {
        ApiKey {
            from_env: env_key.is_some(),
            key: env_key,
            env_key_ignored: false,
        }
    })
}

/// Whether an `Authorization` header among the raw `--header` texts leaves the environment's
/// key unused (for the note printed before the flags are validated; a header that does not
/// parse is left out, and its error comes with validation).
pub(crate) fn env_key_ignored(
    flag: Option<&str>,
    raw_headers: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> bool {
    let headers: Vec<_> = raw_headers.iter().filter_map(|h| header(h).ok()).collect();
    api_key(flag, &headers, env).is_ok_and(|key| key.env_key_ignored)
}

/// One variable of the process environment (`None` when unset or not UTF-8).
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `--endpoint`: which OpenAI endpoint to stream from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EndpointArg {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/completions`.
    Completions,
}

impl From<EndpointArg> for loadtest_client::Endpoint {
    fn from(e: EndpointArg) -> Self {
        match e {
            EndpointArg::Chat => Self::Chat,
            EndpointArg::Completions => Self::Completions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment holding `vars`.
    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn auth() -> Vec<(String, String)> {
        vec![("authorization".into(), "Bearer sk-header".into())]
    }

    fn key(flag: Option<&str>, headers: &[(String, String)], vars: &[(&str, &str)]) -> ApiKey {
        api_key(flag, headers, env(vars)).unwrap()
    }

    #[test]
    fn an_api_key_and_an_authorization_header_are_refused_together() {
        let err = api_key(Some("sk-flag"), &auth(), env(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--api-key and --header 'Authorization: …' both set the Authorization header: give one"
        );
        assert!(!format!("{err:#}").contains("sk-"));
        // An empty --api-key is no key: the header alone is sent.
        assert_eq!(key(Some(""), &auth(), &[]).key, None);
    }

    #[test]
    fn the_flag_wins_over_the_environment() {
        let k = key(Some("sk-flag"), &[], &[("OPENAI_API_KEY", "sk-env")]);
        assert_eq!(k.key.as_deref(), Some("sk-flag"));
        assert!(!k.from_env && !k.env_key_ignored);
        // Other headers do not matter.
        let other = vec![("X-Api-Key".to_owned(), "x".to_owned())];
        assert_eq!(
            key(Some("sk-flag"), &other, &[]).key.as_deref(),
            Some("sk-flag")
        );
    }

    #[test]
    fn an_authorization_header_wins_over_the_environment() {
        let vars = [("OPENAI_API_KEY", "sk-o"), ("VLLM_API_KEY", "sk-v")];
        let k = key(None, &auth(), &vars);
        assert_eq!(k.key, None);
        assert!(!k.from_env && k.env_key_ignored);
        // Nothing in the environment: nothing to note.
        let k = key(None, &auth(), &[]);
        assert!(k.key.is_none() && !k.env_key_ignored);
        let k = key(None, &auth(), &[("OPENAI_API_KEY", "")]);
        assert!(!k.env_key_ignored);
    }

    #[test]
    fn the_environment_is_read_openai_first_then_vllm() {
        let both = key(
            None,
            &[],
            &[("VLLM_API_KEY", "sk-v"), ("OPENAI_API_KEY", "sk-o")],
        );
        assert_eq!(both.key.as_deref(), Some("sk-o"));
        assert!(both.from_env && !both.env_key_ignored);
        let vllm = key(None, &[], &[("VLLM_API_KEY", "sk-v")]);
        assert_eq!(vllm.key.as_deref(), Some("sk-v"));
        assert!(vllm.from_env);
        // An empty variable is no key: the next one is read.
        let skip = key(
            None,
            &[],
            &[("OPENAI_API_KEY", ""), ("VLLM_API_KEY", "sk-v")],
        );
        assert_eq!(skip.key.as_deref(), Some("sk-v"));
        // So is an empty flag.
        let flag = key(Some(""), &[], &[("OPENAI_API_KEY", "sk-o")]);
        assert_eq!(flag.key.as_deref(), Some("sk-o"));
        assert!(flag.from_env);
    }

    #[test]
    fn empty_everywhere_is_no_key() {
        for vars in [&[][..], &[("OPENAI_API_KEY", ""), ("VLLM_API_KEY", "")][..]] {
            for flag in [None, Some("")] {
                let k = key(flag, &[], vars);
                assert_eq!(k.key, None, "{flag:?} {vars:?}");
                assert!(!k.from_env && !k.env_key_ignored);
            }
        }
    }

    #[test]
    fn the_note_check_reads_raw_headers() {
        let vars = [("VLLM_API_KEY", "sk-v")];
        let raw = |h: &[&str]| h.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(env_key_ignored(
            None,
            &raw(&["AUTHORIZATION: Basic x"]),
            env(&vars)
        ));
        assert!(!env_key_ignored(None, &raw(&["X-A: b"]), env(&vars)));
        assert!(!env_key_ignored(
            None,
            &raw(&["Authorization: x"]),
            env(&[])
        ));
        // Refused together: the error says so, no note.
        assert!(!env_key_ignored(
            Some("sk-flag"),
            &raw(&["Authorization: x"]),
            env(&vars)
        ));
    }

    #[test]
    fn headers_are_trimmed_names_and_values() {
        assert_eq!(
            header("  X-Trace-Id :  abc def ").unwrap(),
            ("X-Trace-Id".to_owned(), "abc def".to_owned())
        );
        // Only the first ':' splits: values may hold more.
        assert_eq!(header("Authorization: Basic a:b").unwrap().1, "Basic a:b");
        assert_eq!(header("X-Empty:").unwrap().1, "");
        assert_eq!(headers(&["A: 1".into(), "B: 2".into()]).unwrap().len(), 2);
    }

    #[test]
    fn malformed_headers_never_show_the_value() {
        for (text, shown) in [
            ("Authorization Bearer sk-5ecret", None),
            ("sk-5ecret", None),
            (
                "Authorization=Bearer sk-5ecret:x",
                Some("\"Authorization\""),
            ),
            ("bad name: sk-5ecret", Some("\"bad\"")),
            ("X-Key: sk-5ecret\u{7}", Some("\"X-Key\"")),
            (": sk-5ecret", None),
        ] {
            let err = format!("{:#}", header(text).unwrap_err());
            assert!(err.starts_with("invalid --header"), "{err}");
            assert!(!err.contains("5ecret"), "{text:?}: {err}");
            if let Some(shown) = shown {
                assert!(err.contains(shown), "{text:?}: {err}");
            }
        }
    }

    #[test]
    fn endpoints_map_to_the_client() {
        use loadtest_client::Endpoint;
        assert_eq!(Endpoint::from(EndpointArg::Chat), Endpoint::Chat);
        assert_eq!(
            Endpoint::from(EndpointArg::Completions),
            Endpoint::Completions
        );
    }
}
