//! The run (§3): preflight → warmup → steps → drain → outputs.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use crate::rows::unix_now_s;
use loadtest_client::{Client, ExtraFields};
use tokio::sync::{Semaphore, mpsc};

use crate::cancel::CancelToken;
use crate::config::SweepConfig;
use crate::count::{self, CountPlan};
use crate::dispatch::{ConnectionPacer, DispatchShared, worker, worker_count};
use crate::finalize::{Collected, config_json, finalize, run_facts};
use crate::health::LagRecorder;
use crate::inflight::InflightStarts;
use crate::inputs::InputPlan;
use crate::live::LiveCounters;
use crate::preflight::{PreflightTimeouts, metrics_endpoint, preflight};
use crate::recorder::RecordSink;
use crate::run_dir::{create_exact_run_dir, create_run_dir};
use crate::stats::new_us_histogram;
use crate::timeline::Timeline;
use crate::windows::{WindowWatch, watch_windows};
use crate::{RunOutcome, SweepError, auto_stop, gpu_telemetry, open_loop, recorder, scrape};
use loadtest_run::LoadMode;
use loadtest_run::files;
use loadtest_run::write_json_atomic;

/// How a caller drives and watches a sweep; `RunOptions::default()` runs it to its end.
#[derive(Default)]
pub struct RunOptions {
    /// Stops the run early (Ctrl-C): dispatch stops, in-flight requests are cancelled, and
    /// every output is written for what ran. Before the run began (during preflight) it ends
    /// `run_sweep` at once with [`SweepError::Interrupted`], nothing written.
    pub cancel: CancelToken,
    /// Updated as requests go, for a progress display.
    pub live: Arc<LiveCounters>,
    /// Also receives every finished request's row (besides `requests.jsonl`).
    pub sink: Option<Box<dyn RecordSink>>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("cancel", &self.cancel)
            .field("sink", &self.sink.is_some())
            .finish_non_exhaustive()
    }
}

/// Runs a whole sweep: checks `config` ([`SweepConfig::validate`]), then preflight, warmup,
/// the steps, the drain, and writes the run folder (the report included).
pub async fn run_sweep(config: SweepConfig, options: RunOptions) -> Result<RunOutcome, SweepError> {
    let RunOptions { cancel, live, sink } = options;
    config.validate()?;
    let _finished = live.finish_on_drop(); // readers learn the run is over, on every way out
    let timeline = config.timeline();
    if timeline.is_empty() {
        return Err(SweepError::Usage {
            message: "no steps to run".to_owned(),
        });
    }
    let workers = match config.load_mode {
        LoadMode::Concurrency => worker_count(&timeline, config.max_inflight),
        LoadMode::Rate => 0,
    };
    let mut client_config = config.target.client.clone();
    client_config.pool_size = match config.load_mode {
        LoadMode::Concurrency => workers.max(1),
        LoadMode::Rate => config.max_inflight,
    };
    let extra = if config.extra_body.is_empty() {
        None
    } else {
        Some(
            ExtraFields::new(&config.extra_body).map_err(|e| SweepError::Usage {
                message: format!("invalid extra body: {e}"),
            })?,
        )
    };
    // The sockets must fit beside what is already open (inherited descriptors included).
    let peak_streams = match config.load_mode {
        LoadMode::Concurrency => workers,
        LoadMode::Rate => config.max_inflight,
    } as u64;
    crate::fd_budget::check(
        peak_streams,
        config.target.metrics_url.is_some(),
        crate::fd_budget::open_descriptors().unwrap_or(0),
        crate::fd_budget::open_files_limit(),
    )
    .map_err(|message| SweepError::Usage { message })?;
    let client = Client::new(&client_config).map_err(SweepError::Client)?;
    let metrics = match &config.target.metrics_url {
        Some(url) => Some(metrics_endpoint(
            &client_config,
            url,
            config.target.metrics_credentials,
        )?),
        None => None,
    };
    let timeouts = PreflightTimeouts::new(
        config.target.client.request_timeout,
        scrape_timeout(config.poll_interval),
    );
    let server = preflight(
        &client,
        config.target.model.as_deref(),
        metrics.as_ref(),
        timeouts,
        &cancel,
    )
    .await?;
    // `--start-at`: every shard begins its warmup at the same instant.
    let mut start_warnings = Vec::new();
    if let Some(at) = config.start_at {
        match crate::start_at::wait_until(at, &cancel).await {
            None => return Err(SweepError::Interrupted),
            Some(late) if late > crate::start_at::LATE_START_WARNING => start_warnings.push(format!(
                "the run started {:.1} s after --start-at {} (preflight took longer, or the instant had passed): shards that started on time ran that long alone",
                late.as_secs_f64(),
                crate::start_at::format_start_at(at)
            )),
            Some(_) => {}
        }
    }
    let started_at = time::OffsetDateTime::now_utc();
    let stamp = started_at
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "run".to_owned());
    let run_dir = match &config.run_dir {
        Some(dir) => create_exact_run_dir(dir)?,
        None => create_run_dir(&config.output_dir, &config.run_name, &stamp)?,
    };
    let facts = run_facts(&config, &server, &run_dir, started_at);
    let opened = (|| {
        write_json_atomic(&run_dir.join(files::CONFIG), &config_json(&facts, None))?;
        Ok::<_, loadtest_run::OutputError>((
            recorder::open_requests_file(&run_dir.join(files::REQUESTS))?,
            scrape::create_csv(&run_dir.join(files::VLLM_METRICS))?,
            gpu_telemetry::create_csv(&run_dir.join(files::GPU_METRICS))?,
        ))
    })();
    let (requests_file, vllm_csv, gpu_csv) = match opened {
        Ok(files) => files,
        Err(err) => {
            // Nothing ran: leave no half-made run folder behind.
            let _ = std::fs::remove_dir_all(&run_dir);
            return Err(err.into());
        }
    };

    let run_start = Instant::now();
    let run_start_unix_s = unix_now_s();
    let stop_background = CancelToken::new();
    let lag = Arc::new(LagRecorder::default());
    let lag_task = {
        let (lag, live) = (Arc::clone(&lag), Arc::clone(&live));
        let busy = move || live.inflight() >= crate::health::BUSY_INFLIGHT;
        tokio::spawn(async move { lag.run(busy).await })
    };
    let scrape_task = metrics.map(|endpoint| {
        let setup = scrape::ScrapeSetup {
            client: endpoint.client,
            path: endpoint.path,
            interval: config.poll_interval,
            timeout: scrape_timeout(config.poll_interval),
            timeline: timeline.clone(),
            run_start,
            run_start_unix_s,
        };
        tokio::spawn(scrape::run(setup, vllm_csv, stop_background.clone()))
    });
    let gpu_task = tokio::spawn(gpu_telemetry::run(
        config.gpu.clone(),
        timeline.clone(),
        run_start,
        run_start_unix_s,
        gpu_csv,
        stop_background.clone(),
    ));
    let (rows_tx, rows_rx) = mpsc::unbounded_channel();
    let step_accumulators = recorder::new_steps(&timeline);
    let recorder_task = {
        let timeline = timeline.clone();
        let slo = config.slo.clone();
        let steps = Arc::clone(&step_accumulators);
        // With --tokenizer the engine counted every prompt it built (an embedding program's
        // own source says nothing of how its counts were made).
        let counted = config.tokenizer.is_some()
            && !matches!(config.input, crate::inputs::InputSource::Custom(_));
        tokio::task::spawn_blocking(move || {
            recorder::record(rows_rx, requests_file, timeline, slo, counted, sink, steps)
        })
    };
    let cancel_inflight = CancelToken::new();
    // Dispatch stops on Ctrl-C, or when `--steps auto` has seen enough.
    let stop_dispatch = CancelToken::new();
    let forward_cancel = {
        let (cancel, stop) = (cancel.clone(), stop_dispatch.clone());
        tokio::spawn(async move {
            cancel.cancelled().await;
            stop.cancel();
        })
    };
    let inflight = Arc::new(InflightStarts::new(timeline.steps().len()));
    // At each window's end: what it left unfinished, and `--steps auto`'s decision.
    let window_end_task = tokio::spawn(auto_stop::watch(auto_stop::AutoWatch {
        rule: config.auto_stop,
        knee: config.knee,
        slo: config.slo.clone(),
        timeline: timeline.clone(),
        run_start,
        steps: Arc::clone(&step_accumulators),
        inflight: Arc::clone(&inflight),
        stop_dispatch: stop_dispatch.clone(),
        stop: stop_background.clone(),
    }));
    let itl: Arc<[std::sync::Mutex<hdrhistogram::Histogram<u64>>]> = timeline
        .steps()
        .iter()
        .map(|_| std::sync::Mutex::new(new_us_histogram()))
        .collect();
    let dispatch = Arc::new(DispatchShared {
        client,
        inputs: InputPlan::new(config.input.clone(), config.max_output_tokens, config.seed)
            .with_tokenizer(config.tokenizer.clone())
            .with_shared_prefix(config.shared_prefix, config.seed),
        timeline: timeline.clone(),
        endpoint: config.target.endpoint,
        model: Arc::from(server.model.as_str()),
        ignore_eos: config.ignore_eos,
        extra,
        run_start,
        run_start_unix_s,
        next_id: AtomicU64::new(0),
        shard: config.shard,
        live: Arc::clone(&live),
        inflight,
        itl: Arc::clone(&itl),
        rows: rows_tx,
        stop_dispatch: stop_dispatch.clone(),
        cancel_inflight: cancel_inflight.clone(),
        inflight_cap: Semaphore::new(config.max_inflight),
        pacer: ConnectionPacer::new(
            run_start,
            Duration::from_secs_f64(1.0 / config.connect_rate_per_s),
        ),
        conversations: config.conversations.as_ref().map(|c| {
            Arc::new(crate::conversation::ConversationPlan::new(
                c,
                config.seed,
                config.tokenizer.clone(),
            ))
        }),
    });
    let dispatch_lag: Arc<[std::sync::Mutex<hdrhistogram::Histogram<u64>>]> = timeline
        .steps()
        .iter()
        .map(|_| std::sync::Mutex::new(new_us_histogram()))
        .collect();
    // `--num-prompts`: steps that end by count.
    let counted = CountPlan::new(&timeline, config.shard, run_start).map(Arc::new);
    if let Some(plan) = &counted {
        live.set_counted(Arc::clone(plan));
    }
    let dispatcher = match config.load_mode {
        LoadMode::Concurrency => {
            let mut tasks = tokio::task::JoinSet::new();
            for slot in 0..workers {
                match &counted {
                    Some(plan) => {
                        tasks.spawn(count::worker(Arc::clone(&dispatch), Arc::clone(plan), slot))
                    }
                    None => tasks.spawn(worker(Arc::clone(&dispatch), slot)),
                };
            }
            DispatchTasks::Workers(tasks)
        }
        LoadMode::Rate => {
            let shared = Arc::clone(&dispatch);
            let runtime = tokio::runtime::Handle::current();
            let lag = Arc::clone(&dispatch_lag);
            // Each shard draws its own arrivals (at its share of the rate): independent
            // processes at R/n add up to one at R.
            let seed = match config.shard.count() {
                1 => config.seed,
                _ => loadtest_dist::derive_seed(config.seed, &format!("shard {}", config.shard)),
            };
            let arrival = config.arrival;
            let counted = counted.clone();
            DispatchTasks::OpenLoop(tokio::task::spawn_blocking(move || match counted {
                Some(plan) => count::dispatch_open(shared, plan, arrival, seed, runtime, lag),
                None => open_loop::dispatch(shared, arrival, seed, runtime, lag),
            }))
        }
    };
    let windows_task = tokio::spawn(watch_windows(WindowWatch {
        timeline: timeline.clone(),
        run_start,
        live: Arc::clone(&live),
        lag: Arc::clone(&lag),
        cancel: stop_dispatch.clone(),
    }));

    // Wait for the schedule to end (or Ctrl-C), then give in-flight requests until the drain
    // deadline.
    // (A count step's end, and so the schedule's, is learned when its requests finish.)
    tokio::select! {
        () = timeline.sleep_until(run_start, Timeline::end) => {}
        () = stop_dispatch.cancelled() => {}
    }
    let interrupted_at = cancel.is_cancelled().then(|| run_start.elapsed());
    if interrupted_at.is_some() {
        cancel_inflight.cancel();
    }
    let drain_deadline = Instant::now() + config.target.client.request_timeout;
    let mut worker_tasks = dispatcher.into_tasks().await;
    let drained = tokio::select! {
        () = async { while worker_tasks.join_next().await.is_some() {} } => true,
        () = tokio::time::sleep_until(drain_deadline.into()) => false,
        () = cancel.cancelled(), if interrupted_at.is_none() => false,
    };
    if !drained {
        cancel_inflight.cancel();
        while worker_tasks.join_next().await.is_some() {}
    }
    let interrupted_at =
        interrupted_at.or_else(|| cancel.is_cancelled().then(|| run_start.elapsed()));
    let unsent_arrivals = dispatch.inflight.unsent_arrivals();
    drop(dispatch);
    forward_cancel.abort();
    stop_background.cancel();
    let (auto_stopped, mut window_ends) = window_end_task.await.unwrap_or_default();
    for (end, unsent) in window_ends.iter_mut().zip(unsent_arrivals) {
        end.unsent_arrivals = unsent;
    }
    let windows = windows_task.await.unwrap_or_default();
    lag_task.abort();
    let recorded = recorder_task.await.map_err(|e| SweepError::Internal {
        message: format!("recorder task failed: {e}"),
    })?;
    let scraped = match scrape_task {
        Some(task) => Some(task.await.map_err(|e| SweepError::Internal {
            message: format!("scrape task failed: {e}"),
        })?),
        None => None,
    };
    let gpu = gpu_task.await.map_err(|e| SweepError::Internal {
        message: format!("GPU task failed: {e}"),
    })?;
    finalize(Collected {
        facts,
        preflight_warnings: server
            .version_warning
            .into_iter()
            .chain(start_warnings)
            .collect(),
        metrics_preflight_warning: server.metrics_warning,
        timeline: &timeline,
        interrupted_at,
        recorded,
        itl: &itl,
        dispatch_lag: &dispatch_lag,
        auto_stopped,
        window_ends,
        scraped,
        gpu,
        windows,
        run_dir,
    })
}

/// The request tasks of either dispatcher.
enum DispatchTasks {
    /// Closed loop: one task per slot.
    Workers(tokio::task::JoinSet<()>),
    /// Open loop: the dispatcher thread, which hands back the requests still running.
    OpenLoop(tokio::task::JoinHandle<tokio::task::JoinSet<()>>),
}

impl DispatchTasks {
    /// The tasks to wait for; for the open loop, once its schedule has ended or was stopped.
    async fn into_tasks(self) -> tokio::task::JoinSet<()> {
        match self {
            DispatchTasks::Workers(tasks) => tasks,
            DispatchTasks::OpenLoop(thread) => match thread.await {
                Ok(tasks) => tasks,
                Err(err) => {
                    tracing::error!(%err, "the open-loop dispatcher failed");
                    tokio::task::JoinSet::new()
                }
            },
        }
    }
}

/// A scrape may take up to the poll interval, but never less than 2 s or more than 30 s.
fn scrape_timeout(poll_interval: Duration) -> Duration {
    poll_interval.clamp(Duration::from_secs(2), Duration::from_secs(30))
}
