//! The one-shot probe that picks a field list nvidia-smi accepts.

use std::io::ErrorKind;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::watch;

use super::shared::{Shared, excerpt};
use super::status::{Unavailable, exit_code_meaning};
use super::stop::stopped;
use crate::fields::{FULL_FIELDS, QueryField, SAFE_FIELDS, query_arg};
use crate::parse::parse_line;

/// Why probing ended without a field list.
pub(crate) enum ProbeEnd {
    Stopped,
    Unavailable(Unavailable),
}

enum Attempt {
    Accepted,
    Rejected {
        field: Option<String>,
        message: String,
    },
    Failed(Unavailable),
}

/// Base command shared by the probe and the long-lived child.
pub(crate) fn base_command(binary: &Path, fields: &[QueryField]) -> Command {
    let mut cmd = Command::new(binary);
    cmd.arg(query_arg(fields))
        .arg("--format=csv,noheader,nounits")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// The spawn error as an [`Unavailable`].
pub(crate) fn spawn_unavailable(binary: &Path, error: &std::io::Error) -> Unavailable {
    if error.kind() == ErrorKind::NotFound {
        Unavailable::BinaryNotFound {
            binary: binary.to_owned(),
        }
    } else {
        Unavailable::SpawnFailed {
            binary: binary.to_owned(),
            error: error.to_string(),
        }
    }
}

/// `x` out of `Field "x" is not a valid field to query.`
fn rejected_field(text: &str) -> Option<String> {
    let rest = &text[text.find("Field \"")? + 7..];
    Some(rest[..rest.find('"')?].to_owned())
}

async fn attempt(binary: &Path, fields: &[QueryField], timeout: Duration) -> Attempt {
    let child = match base_command(binary, fields).spawn() {
        Ok(child) => child,
        Err(e) => return Attempt::Failed(spawn_unavailable(binary, &e)),
    };
    // On timeout the future, and with it the child, is dropped: kill_on_drop kills it.
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => {
            return Attempt::Failed(Unavailable::ProbeTimedOut {
                binary: binary.to_owned(),
                timeout,
            });
        }
        Ok(Err(e)) => return Attempt::Failed(spawn_unavailable(binary, &e)),
        Ok(Ok(output)) => output,
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first_line = stderr
        .lines()
        .chain(stdout.lines())
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(excerpt)
        .unwrap_or_else(|| "(no output)".to_owned());
    let code = output.status.code();
    if output.status.success() {
        let gpus = stdout
            .lines()
            .filter(|l| parse_line(l, fields).is_ok())
            .count();
        return if gpus > 0 {
            Attempt::Accepted
        } else {
            Attempt::Failed(Unavailable::NoGpus {
                binary: binary.to_owned(),
                output: first_line,
            })
        };
    }
    let all = format!("{stderr}\n{stdout}");
    if code == Some(2) || all.contains("is not a valid field") {
        return Attempt::Rejected {
            field: rejected_field(&all),
            message: first_line,
        };
    }
    Attempt::Failed(Unavailable::QueryFailed {
        binary: binary.to_owned(),
        code,
        meaning: exit_code_meaning(code),
        message: first_line,
    })
}

/// Runs the query once without `-lms` (full list first). A field nvidia-smi names as invalid
/// is dropped and the probe repeated; a rejection that names no known field falls back to
/// [`SAFE_FIELDS`]. Each fallback adds a warning.
pub(crate) async fn probe_fields(
    binary: &Path,
    timeout: Duration,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
) -> Result<Vec<QueryField>, ProbeEnd> {
    let mut fields = FULL_FIELDS.to_vec();
    let mut tried_safe = false;
    for _ in 0..FULL_FIELDS.len() + 2 {
        let result = tokio::select! {
            () = stopped(stop) => return Err(ProbeEnd::Stopped),
            r = attempt(binary, &fields, timeout) => r,
        };
        match result {
            Attempt::Accepted => return Ok(fields),
            Attempt::Failed(why) => return Err(ProbeEnd::Unavailable(why)),
            Attempt::Rejected { field, message } => {
                let known = field.as_deref().and_then(QueryField::from_name);
                if let Some(f) = known
                    && f != QueryField::Index
                    && fields.contains(&f)
                {
                    fields.retain(|&g| g != f);
                    shared.warn(format!(
                        "nvidia-smi rejected field `{f}` ({message}); querying without it"
                    ));
                } else if !tried_safe {
                    tried_safe = true;
                    fields = SAFE_FIELDS.to_vec();
                    shared.warn(format!(
                        "nvidia-smi rejected the field list ({message}); falling back to {}",
                        query_arg(&fields)
                    ));
                } else {
                    return Err(ProbeEnd::Unavailable(Unavailable::QueryFailed {
                        binary: binary.to_owned(),
                        code: Some(2),
                        meaning: exit_code_meaning(Some(2)),
                        message,
                    }));
                }
            }
        }
    }
    Err(ProbeEnd::Unavailable(Unavailable::QueryFailed {
        binary: binary.to_owned(),
        code: Some(2),
        meaning: exit_code_meaning(Some(2)),
        message: "every field list was rejected".to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::rejected_field;

    #[test]
    fn names_the_rejected_field() {
        assert_eq!(
            rejected_field("Field \"clocks.sm\" is not a valid field to query.").as_deref(),
            Some("clocks.sm")
        );
        assert_eq!(rejected_field("Field \"unterminated"), None);
        assert_eq!(rejected_field("Invalid combination"), None);
    }
}
