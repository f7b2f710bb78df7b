//! `result.json` against its committed schema (`docs/result.schema.json`) and its
//! documentation (`docs/output-format.md`): every field typed as the schema says, no field
//! missing or extra on either side, every field documented.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema() -> Value {
    let text = std::fs::read_to_string(repo().join("docs/result.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The rows of the committed sample run (the report crate's test data).
fn rows() -> Vec<loadtest_run::ResultRow> {
    let dir = repo().join("crates/loadtest-report/tests/data/run_a");
    let mut facts = loadtest_run::read_config(&dir).unwrap();
    facts.settings.tags.insert("commit".into(), "abc123".into());
    let mut steps = loadtest_run::read_step_summary(&dir).unwrap().steps;
    // A step without any latency: every nullable latency is null.
    let mut empty = steps[0].clone();
    empty.ttft_s = None;
    empty.tpot_s = None;
    empty.itl_s = None;
    empty.e2e_s = None;
    steps.push(empty);
    loadtest_run::result_rows(&facts, &steps)
}

/// Checks `value` against the subset of JSON Schema the committed schema uses: `type`
/// (a name or a list), `const`, `properties`, `required`, `additionalProperties`, `items`.
fn check(schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type in schema at {at}"),
        };
        let ok = types.iter().any(|t| match *t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("unknown type {other} in schema at {at}"),
        });
        if !ok {
            errors.push(format!("{at}: {value} is not {types:?}"));
        }
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        errors.push(format!("{at}: {value} is not the constant {c}"));
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            errors.extend(check(items, v, &format!("{at}[{i}]")));
        }
    }
    if let Some(obj) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(name) {
                errors.push(format!("{at}: required field {name} missing"));
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => errors.extend(check(s, v, &format!("{at}.{k}"))),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{at}: field {k} is not in the schema"))
                    }
                    Some(s @ Value::Object(_)) => errors.extend(check(s, v, &format!("{at}.{k}"))),
                    _ => {}
                },
            }
        }
    }
    errors
}

#[test]
fn result_rows_match_the_committed_schema() {
    let schema = schema();
    let value = serde_json::to_value(rows()).unwrap();
    let errors = check(&schema, &value, "result");
    assert!(errors.is_empty(), "{errors:#?}");
    // Every schema field is written (the schema does not promise more than the file has).
    let first = value[0].as_object().unwrap();
    let props = schema["items"]["properties"].as_object().unwrap();
    let written: Vec<&String> = first.keys().collect();
    let promised: Vec<&String> = props.keys().collect();
    assert_eq!(written.len(), promised.len(), "{written:?} vs {promised:?}");
    // The vllm bench serve names dashboards parse.
    for key in [
        "request_throughput",
        "output_throughput",
        "total_token_throughput",
        "mean_ttft_ms",
        "median_ttft_ms",
        "p99_ttft_ms",
        "median_tpot_ms",
        "p99_itl_ms",
        "mean_e2el_ms",
        "completed",
        "num_prompts",
        "max_concurrency",
    ] {
        assert!(first.contains_key(key), "{key}");
    }
    assert_eq!(first["tags"]["commit"], "abc123");
    assert_eq!(
        value[value.as_array().unwrap().len() - 1]["p99_ttft_ms"],
        Value::Null
    );
}

#[test]
fn a_wrong_row_is_caught() {
    let schema = schema();
    let mut value = serde_json::to_value(rows()).unwrap();
    value[0]["completed"] = Value::String("five".into());
    value[0]["surprise"] = Value::Bool(true);
    value[0].as_object_mut().unwrap().remove("p99_ttft_ms");
    let errors = check(&schema, &value, "result");
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn every_field_is_documented() {
    let doc = std::fs::read_to_string(repo().join("docs/output-format.md")).unwrap();
    let section = doc
        .split("## `result.json`")
        .nth(1)
        .expect("docs/output-format.md has a result.json section");
    for name in schema()["items"]["properties"].as_object().unwrap().keys() {
        assert!(
            section.contains(&format!("`{name}`")),
            "result.json field {name} is not documented in docs/output-format.md"
        );
    }
}
