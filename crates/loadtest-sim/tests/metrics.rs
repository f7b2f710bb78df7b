//! `/metrics`: vLLM V1 names, types, labels and buckets as in the real capture, counters that
//! equal what was sent, and the V0 and SGLang flavors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{chat_body, fixture, get, post, sample, samples};
use loadtest_sim::{MetricsFlavor, Profile, SimConfig, SimHandle, Simulator};

async fn sim(flavor: MetricsFlavor, profile: Profile) -> SimHandle {
    Simulator::start(SimConfig {
        profile,
        metrics_flavor: flavor,
        ttft: Duration::from_millis(2),
        itl: Duration::from_millis(1),
        step_base: Duration::from_micros(500),
        step_per_seq: Duration::from_micros(50),
        prefill_per_token: Duration::from_micros(1),
        max_model_len: 2048,
        mean_output_tokens: 8,
        ..SimConfig::ephemeral()
    })
    .await
    .unwrap()
}

/// `name -> type` of every `# TYPE` line.
fn types(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (n, t) = l.split_once(' ').unwrap();
            (n.to_owned(), t.to_owned())
        })
        .collect()
}

/// Label names of the first sample of `family` (as `name{`), sorted as printed.
fn label_names(text: &str, prefix: &str) -> Vec<String> {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}"));
    let inner = &line[line.find('{').unwrap() + 1..line.rfind('}').unwrap()];
    inner
        .split("\",")
        .map(|kv| kv.split('=').next().unwrap().to_owned())
        .collect()
}

fn les(text: &str, family: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}_bucket{{")))
        .map(|l| {
            let at = l.find("le=\"").unwrap() + 4;
            l[at..at + l[at..].find('"').unwrap()].to_owned()
        })
        .collect()
}

/// Sends a mix of requests; returns (requests, prompt tokens, completion tokens).
async fn traffic(sim: &SimHandle) -> (u64, u64, u64) {
    let addr = sim.local_addr();
    let mut handles = Vec::new();
    for i in 0..12u64 {
        let stream = i % 3 != 0;
        let extra = match (i % 2 == 0, stream) {
            (true, true) => r#","ignore_eos":true,"stream_options":{"include_usage":true}"#,
            (true, false) => r#","ignore_eos":true"#,
            (false, _) => "",
        };
        let body = chat_body(3 + i as usize, 5 + i, stream, extra);
        handles.push(tokio::spawn(async move {
            post(addr, "/v1/chat/completions", &body).await
        }));
    }
    let (mut prompt, mut completion) = (0, 0);
    for (i, h) in handles.into_iter().enumerate() {
        let reply = h.await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        prompt += 3 + i as u64;
        completion += if reply.content_type().starts_with("text/event-stream") {
            // Count tokens from continuous knowledge: the usage event, or one per content event.
            let events = reply.events();
            match events
                .iter()
                .filter_map(|(_, e)| serde_json::from_str::<serde_json::Value>(e).ok())
                .find(|v| v["choices"].as_array().is_some_and(Vec::is_empty))
            {
                Some(usage) => usage["usage"]["completion_tokens"].as_u64().unwrap(),
                None => events.len() as u64 - 2, // role event and [DONE]
            }
        } else {
            reply.json()["usage"]["completion_tokens"].as_u64().unwrap()
        };
    }
    (12, prompt, completion)
}

#[tokio::test]
async fn v1_counters_equal_what_was_sent() {
    for profile in [Profile::Fixed, Profile::Batching] {
        let sim = sim(MetricsFlavor::V1, profile).await;
        let (n, prompt, completion) = traffic(&sim).await;
        let reply = get(sim.local_addr(), "/metrics").await;
        assert_eq!(
            reply.content_type(),
            "text/plain; version=1.0.0; charset=utf-8"
        );
        let text = reply.text();
        let l = r#"{engine="0",model_name="tiny-llama"}"#;
        assert_eq!(
            sample(&text, &format!("vllm:prompt_tokens_total{l}")),
            prompt as f64
        );
        assert_eq!(
            sample(&text, &format!("vllm:generation_tokens_total{l}")),
            completion as f64
        );
        let ok = |reason: &str| {
            sample(
                &text,
                &format!(
                    r#"vllm:request_success_total{{engine="0",finished_reason="{reason}",model_name="tiny-llama"}}"#
                ),
            )
        };
        assert_eq!(ok("stop") + ok("length"), n as f64, "{profile:?}");
        assert!(ok("length") >= 6.0, "ignore_eos requests end by length");
        for family in [
            "time_to_first_token_seconds",
            "e2e_request_latency_seconds",
            "request_prompt_tokens",
        ] {
            assert_eq!(
                sample(&text, &format!("vllm:{family}_count{l}")),
                n as f64,
                "{family}"
            );
        }
        assert_eq!(
            sample(&text, &format!("vllm:request_prompt_tokens_sum{l}")),
            prompt as f64
        );
        assert_eq!(
            sample(&text, &format!("vllm:request_generation_tokens_sum{l}")),
            completion as f64
        );
        // Every request generated at least 1 token: ITL observations = tokens - requests
        // (one token per event here).
        assert_eq!(
            sample(&text, &format!("vllm:inter_token_latency_seconds_count{l}")),
            (completion - n) as f64
        );
        assert_eq!(sample(&text, &format!("vllm:num_requests_running{l}")), 0.0);
        assert_eq!(sample(&text, &format!("vllm:kv_cache_usage_perc{l}")), 0.0);
        let events = sample(&text, "loadtest_sim:token_events_total");
        assert_eq!(events, sim.truth().token_events as f64);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn v1_names_types_labels_and_buckets_match_the_capture() {
    let sim = sim(MetricsFlavor::V1, Profile::Fixed).await;
    post(
        sim.local_addr(),
        "/v1/chat/completions",
        &chat_body(3, 4, true, ""),
    )
    .await;
    let ours = get(sim.local_addr(), "/metrics").await.text();
    let real = fixture("metrics_after_load.txt");
    let (our_types, real_types) = (types(&ours), types(&real));
    let vllm: BTreeSet<&String> = real_types
        .keys()
        .filter(|k| k.starts_with("vllm:"))
        .collect();
    for family in &vllm {
        assert_eq!(our_types.get(*family), real_types.get(*family), "{family}");
    }
    for family in [
        "vllm:num_requests_running",
        "vllm:generation_tokens_total",
        "vllm:request_success_total",
        "vllm:num_requests_waiting_by_reason",
        "vllm:admission_rejections_total",
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:inter_token_latency_seconds_count",
        "vllm:generation_tokens_created",
    ] {
        let prefix = format!("{family}{{");
        assert_eq!(
            label_names(&ours, &prefix),
            label_names(&real, &prefix),
            "{family}"
        );
    }
    for family in [
        "vllm:time_to_first_token_seconds",
        "vllm:inter_token_latency_seconds",
        "vllm:e2e_request_latency_seconds",
        "vllm:request_queue_time_seconds",
        "vllm:request_prefill_time_seconds",
        "vllm:request_decode_time_seconds",
        "vllm:request_prompt_tokens",
        "vllm:request_generation_tokens",
        "vllm:iteration_tokens_total",
        "vllm:request_params_n",
        "vllm:request_num_preemptions",
    ] {
        assert_eq!(les(&ours, family), les(&real, family), "{family}");
    }
    // Histogram sample order: buckets, then _count, then _sum, like the capture.
    let order: Vec<&str> = ours
        .lines()
        .filter(|l| l.starts_with("vllm:time_to_first_token_seconds_"))
        .map(|l| l.split('{').next().unwrap())
        .collect();
    assert_eq!(
        order[order.len() - 3..],
        [
            "vllm:time_to_first_token_seconds_count",
            "vllm:time_to_first_token_seconds_sum",
            "vllm:time_to_first_token_seconds_created"
        ]
    );
    // Values are written the way prometheus_client writes them.
    assert!(samples(&ours).iter().all(|(k, _)| !k.contains(' ')));
    assert!(
        ours.lines()
            .any(|l| l.starts_with("vllm:generation_tokens_created{") && l.contains("e+09"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn v0_and_sglang_flavors() {
    let v0 = sim(MetricsFlavor::V0, Profile::Fixed).await;
    post(
        v0.local_addr(),
        "/v1/chat/completions",
        &chat_body(3, 4, true, r#","ignore_eos":true"#),
    )
    .await;
    let reply = get(v0.local_addr(), "/metrics").await;
    assert_eq!(
        reply.content_type(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = reply.text();
    let t = types(&text);
    for (name, kind) in [
        ("vllm:gpu_cache_usage_perc", "gauge"),
        ("vllm:num_requests_swapped", "gauge"),
        ("vllm:time_per_output_token_seconds", "histogram"),
        ("vllm:generation_tokens_total", "counter"),
        ("vllm:iteration_tokens_total", "histogram"),
    ] {
        assert_eq!(t.get(name).map(String::as_str), Some(kind), "{name}");
    }
    assert!(!text.contains("engine=\""));
    assert!(!text.contains("_created"));
    assert_eq!(
        sample(
            &text,
            r#"vllm:generation_tokens_total{model_name="tiny-llama"}"#
        ),
        4.0
    );
    assert_eq!(
        sample(
            &text,
            r#"vllm:time_per_output_token_seconds_count{model_name="tiny-llama"}"#
        ),
        3.0
    );
    v0.shutdown().await;

    let sg = sim(MetricsFlavor::Sglang, Profile::Fixed).await;
    post(
        sg.local_addr(),
        "/v1/chat/completions",
        &chat_body(3, 4, true, r#","ignore_eos":true"#),
    )
    .await;
    let text = get(sg.local_addr(), "/metrics").await.text();
    for name in [
        "sglang:num_running_reqs",
        "sglang:num_queue_reqs",
        "sglang:token_usage",
        "sglang:time_to_first_token_seconds",
        "sglang:inter_token_latency_seconds",
    ] {
        assert!(types(&text).contains_key(name), "{name}");
    }
    assert_eq!(
        sample(
            &text,
            r#"sglang:generation_tokens_total{model_name="tiny-llama"}"#
        ),
        4.0
    );
    assert_eq!(
        sample(
            &text,
            r#"sglang:num_requests_total{model_name="tiny-llama"}"#
        ),
        1.0
    );
    assert!(!text.contains("vllm:"));
    sg.shutdown().await;
}

#[tokio::test]
async fn gauges_show_running_and_waiting_under_load() {
    let sim = Simulator::start(SimConfig {
        max_num_seqs: 2,
        step_base: Duration::from_millis(5),
        ..SimConfig::ephemeral()
    })
    .await
    .unwrap();
    let addr = sim.local_addr();
    let mut handles = Vec::new();
    for _ in 0..6 {
        handles.push(tokio::spawn(async move {
            post(
                addr,
                "/v1/chat/completions",
                &chat_body(10, 40, true, r#","ignore_eos":true"#),
            )
            .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    let text = get(addr, "/metrics").await.text();
    let l = r#"{engine="0",model_name="tiny-llama"}"#;
    assert_eq!(sample(&text, &format!("vllm:num_requests_running{l}")), 2.0);
    assert_eq!(sample(&text, &format!("vllm:num_requests_waiting{l}")), 4.0);
    assert!(sample(&text, &format!("vllm:kv_cache_usage_perc{l}")) > 0.0);
    for h in handles {
        h.await.unwrap();
    }
    sim.shutdown().await;
}
