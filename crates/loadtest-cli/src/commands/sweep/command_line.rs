//! The command line as config.json records it: every word as typed, secret values replaced by
//! `<redacted>` (the engine also replaces the api key and sensitive header values wherever
//! else they appear).

/// Flags whose value is always a secret.
const SECRET_FLAGS: [&str; 1] = ["--api-key"];

/// `args` (without the program name) with secrets redacted; the program name is put first.
pub(crate) fn redacted(program: &str, args: &[String]) -> Vec<String> {
    let mut out = vec![program.to_owned()];
    let mut pending: Option<&str> = None;
    for arg in args {
        if let Some(flag) = pending.take() {
            out.push(redact_value(flag, arg));
            continue;
        }
        match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                out.push(format!("{flag}={}", redact_value(flag, value)));
            }
            _ => {
                if SECRET_FLAGS.contains(&arg.as_str())
                    || matches!(arg.as_str(), "--header" | "--base-url" | "--metrics-url")
                {
                    pending = Some(arg.as_str());
                }
                out.push(arg.clone());
            }
        }
    }
    out
}

fn redact_value(flag: &str, value: &str) -> String {
    if SECRET_FLAGS.contains(&flag) {
        return "<redacted>".to_owned();
    }
    match flag {
        "--header" => match value.split_once(':') {
            Some((name, _)) if loadtest_client::is_sensitive(name.trim()) => {
                format!("{name}: <redacted>")
            }
            Some(_) => value.to_owned(),
            // A malformed header may hold a secret with no colon: never echo it.
            None => "<redacted>".to_owned(),
        },
        "--base-url" | "--metrics-url" => redact_userinfo(value),
        _ => value.to_owned(),
    }
}

/// `scheme://user:pass@host/…` → `scheme://<redacted>@host/…`.
fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}<redacted>{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn secrets_are_redacted_in_both_flag_forms() {
        let line = redacted(
            "vllm-loadtest",
            &words(
                "--api-key sk-1 --api-key=sk-2 --header Authorization:Bearer-x --header=X-Trace:abc --base-url http://u:p@h:1/v1 --steps 1,2",
            ),
        );
        assert_eq!(
            line.join(" "),
            "vllm-loadtest --api-key <redacted> --api-key=<redacted> --header Authorization: <redacted> --header=X-Trace:abc --base-url http://<redacted>@h:1/v1 --steps 1,2"
        );
    }

    #[test]
    fn a_malformed_header_is_never_echoed() {
        let line = redacted("t", &words("--header X-Api-Key-sk-secret"));
        assert_eq!(line, ["t", "--header", "<redacted>"]);
    }
}
