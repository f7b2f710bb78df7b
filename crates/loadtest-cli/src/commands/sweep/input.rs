//! Where prompts come from: `--prompt-text`, `--prompt-file`, `--input-size` or `--dataset`,
//! `--input-mode` to pick when several of the first three are given, and `--tokenizer` to
//! count them.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use loadtest_client::Prompt;
use loadtest_run::PromptFileFacts;
use loadtest_sweep::config::SweepConfig;
use loadtest_sweep::dataset::{
    DEFAULT_POOL_SIZE, DatasetFormat, DatasetOptions, DatasetSpec, load_dataset,
};
use loadtest_sweep::inputs::InputSource;
use loadtest_sweep::prefix::SharedPrefix;
use loadtest_sweep::prompt_file::load_prompt_file;
use loadtest_sweep::tokenize::TokenCounter;

use super::values;
use super::{InputMode, SweepArgs};

/// The input source the flags choose, and the prompt file's facts for config.json.
pub(crate) fn source(
    mode: Option<InputMode>,
    prompt_text: Option<String>,
    prompt_file: Option<PathBuf>,
    input_size: Option<String>,
) -> Result<(InputSource, Option<PromptFileFacts>)> {
    let given: Vec<InputMode> = [
        prompt_text.is_some().then_some(InputMode::FixedPrompt),
        prompt_file.is_some().then_some(InputMode::PromptFile),
        input_size.is_some().then_some(InputMode::Synthetic),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mode = match (mode, given.as_slice()) {
        (Some(mode), _) => mode,
        (None, [one]) => *one,
        (None, []) => bail!(
            "no input given: use --prompt-text TEXT, --prompt-file FILE or --input-size N (synthetic prompts)"
        ),
        (None, _) => bail!(
            "--prompt-text, --prompt-file and --input-size exclude each other: give one (or pick with --input-mode)"
        ),
    };
    match mode {
        InputMode::FixedPrompt => {
            let text = prompt_text.context("--input-mode fixed-prompt needs --prompt-text")?;
            if text.trim().is_empty() {
                bail!("invalid --prompt-text: the prompt is empty");
            }
            Ok((InputSource::FixedPrompt(Prompt::text(&text)), None))
        }
        InputMode::PromptFile => {
            let path = prompt_file.context("--input-mode prompt-file needs --prompt-file")?;
            let (prompts, facts) = load_prompt_file(&path)?;
            Ok((InputSource::PromptFile(prompts.into()), Some(facts)))
        }
        InputMode::Synthetic => {
            let size = input_size.context("--input-mode synthetic needs --input-size")?;
            Ok((
                InputSource::Synthetic(values::dist("--input-size", &size)?),
                None,
            ))
        }
    }
}

/// The workload flags: `--tokenizer`, `--dataset` and its filters, `--output-len`, and the
/// `vllm bench serve` habits `--dataset-name` / `--dataset-path` mapped onto `--dataset`.
#[derive(Debug, Default)]
pub(crate) struct Workload {
    /// The loaded `--tokenizer`.
    pub(crate) tokenizer: Option<Arc<TokenCounter>>,
    dataset: Option<(DatasetSpec, String)>,
    min_prompt_tokens: Option<u64>,
    max_prompt_tokens: Option<u64>,
    max_model_len: Option<u64>,
    pool_size: Option<u64>,
    use_output_len: bool,
    shared_prefix: Option<SharedPrefix>,
}

impl Workload {
    /// Takes the workload flags out of `args`, loading the tokenizer (a missing path is an
    /// error naming it; nothing is downloaded).
    pub(crate) fn take(args: &mut SweepArgs) -> Result<Self> {
        let tokenizer = match args.tokenizer.take() {
            Some(path) => Some(Arc::new(
                TokenCounter::load(&path)
                    .map_err(|e| anyhow::anyhow!("invalid --tokenizer: {e}"))?,
            )),
            None => None,
        };
        let dataset = match (
            args.dataset.take(),
            args.dataset_name.take(),
            args.dataset_path.take(),
        ) {
            (Some(_), _, Some(_)) | (Some(_), Some(_), _) => bail!(
                "--dataset and --dataset-name/--dataset-path exclude each other: give --dataset FORMAT:PATH"
            ),
            (Some(text), None, None) => {
                let spec = text.parse::<DatasetSpec>().map_err(|e| {
                    anyhow::anyhow!(
                        "invalid --dataset {:?}: {e}",
                        loadtest_client::sanitize_error(&text)
                    )
                })?;
                Some((spec, "--dataset"))
            }
            (None, name, path) => habit_dataset(name.as_deref(), path)?,
        };
        let dataset = dataset.map(|(spec, flag)| (spec, flag.to_owned()));
        let use_output_len = match args.output_len.take().as_deref().map(str::trim) {
            None => false,
            Some("dataset") => true,
            Some(other) => bail!(
                "invalid --output-len {:?}: expected `dataset` (each row's own answer length; otherwise use --max-output-tokens)",
                loadtest_client::sanitize_error(other)
            ),
        };
        let workload = Workload {
            tokenizer,
            dataset,
            min_prompt_tokens: args.dataset_min_prompt_tokens.take(),
            max_prompt_tokens: args.dataset_max_prompt_tokens.take(),
            max_model_len: args.max_model_len.take(),
            pool_size: args.dataset_pool_size.take(),
            use_output_len,
            shared_prefix: match (args.shared_prefix_tokens.take(), args.prefix_groups.take()) {
                (Some(tokens), groups) => {
                    let shared = SharedPrefix {
                        tokens,
                        groups: groups.unwrap_or(1),
                    };
                    shared.check().map_err(|e| {
                        anyhow::anyhow!(
                            "invalid --shared-prefix-tokens {tokens} --prefix-groups {}: {e}",
                            shared.groups
                        )
                    })?;
                    Some(shared)
                }
                (None, Some(_)) => bail!("--prefix-groups needs --shared-prefix-tokens"),
                (None, None) => None,
            },
        };
        if workload.dataset.is_none() {
            for (given, flag) in [
                (
                    workload.min_prompt_tokens.is_some(),
                    "--dataset-min-prompt-tokens",
                ),
                (
                    workload.max_prompt_tokens.is_some(),
                    "--dataset-max-prompt-tokens",
                ),
                (workload.max_model_len.is_some(), "--max-model-len"),
                (workload.pool_size.is_some(), "--dataset-pool-size"),
                (workload.use_output_len, "--output-len"),
            ] {
                if given {
                    bail!("{flag} applies to --dataset only");
                }
            }
        }
        if workload.pool_size == Some(0) {
            bail!("invalid --dataset-pool-size 0: expected at least 1 row");
        }
        if workload.max_model_len == Some(0) {
            bail!("invalid --max-model-len 0: expected at least 1 token");
        }
        if let (Some(min), Some(max)) = (workload.min_prompt_tokens, workload.max_prompt_tokens)
            && min > max
        {
            bail!("--dataset-min-prompt-tokens {min} is above --dataset-max-prompt-tokens {max}");
        }
        Ok(workload)
    }

    /// Puts the tokenizer and the shared prefix into `config` (whose input is chosen): a
    /// shared prefix needs synthetic prompts (`--input-size`).
    pub(crate) fn apply(self, config: &mut SweepConfig) -> Result<()> {
        if self.shared_prefix.is_some() && !matches!(config.input, InputSource::Synthetic(_)) {
            bail!("--shared-prefix-tokens applies to synthetic prompts (--input-size) only");
        }
        config.tokenizer = self.tokenizer;
        config.shared_prefix = self.shared_prefix;
        Ok(())
    }

    /// A dataset was asked for.
    pub(crate) fn has_dataset(&self) -> bool {
        self.dataset.is_some()
    }

    /// The dataset's input source, read now (one streaming pass); `None` without `--dataset`.
    /// `other_input` says whether `--prompt-text`, `--prompt-file`, `--input-size` or
    /// `--input-mode` was given too (refused). `turns`: `--turns dataset` (keep every turn).
    pub(crate) fn dataset_source(
        &self,
        other_input: bool,
        seed: u64,
        max_output_tokens: Option<&str>,
        turns: bool,
    ) -> Result<Option<InputSource>> {
        let Some((spec, flag)) = &self.dataset else {
            return Ok(None);
        };
        if other_input {
            bail!(
                "{flag} and --prompt-text, --prompt-file, --input-size or --input-mode exclude each other: give one input"
            );
        }
        let reserve = match max_output_tokens {
            Some(text) => values::dist("--max-output-tokens", text)?.bounds().1,
            None => 128,
        };
        let options = DatasetOptions {
            seed,
            pool_size: self.pool_size.unwrap_or(DEFAULT_POOL_SIZE),
            min_prompt_tokens: self.min_prompt_tokens,
            max_prompt_tokens: self.max_prompt_tokens,
            max_model_len: self.max_model_len,
            use_output_len: self.use_output_len,
            output_reserve: reserve,
            turns,
        };
        let pool = load_dataset(spec, &options, self.tokenizer.as_deref())
            .map_err(|e| anyhow::anyhow!("invalid {flag}: {e}"))?;
        Ok(Some(InputSource::Dataset(Arc::new(pool))))
    }
}

/// `vllm bench serve`'s `--dataset-name NAME --dataset-path PATH`: `sharegpt` and `custom`
/// (JSONL with `prompt`) map onto `--dataset`; `random` (or none) means synthetic prompts.
fn habit_dataset(
    name: Option<&str>,
    path: Option<PathBuf>,
) -> Result<Option<(DatasetSpec, &'static str)>> {
    let format = match name.map(str::trim) {
        None | Some("random") => {
            if path.is_some() {
                bail!(
                    "--dataset-path needs --dataset-name sharegpt or custom; or give --dataset sharegpt:PATH / jsonl:PATH"
                );
            }
            return Ok(None);
        }
        Some("sharegpt") => DatasetFormat::ShareGpt,
        Some("custom") => DatasetFormat::Jsonl,
        Some(other) => bail!(
            "--dataset-name {:?} is not supported: use --dataset sharegpt:PATH or jsonl:PATH, --input-size N for random prompts, or --prompt-file FILE",
            loadtest_client::sanitize_error(other)
        ),
    };
    let Some(path) = path else {
        bail!(
            "--dataset-name {} needs --dataset-path PATH (or give --dataset {}:PATH)",
            name.unwrap_or_default(),
            format.as_str()
        );
    };
    Ok(Some((
        DatasetSpec { format, path },
        "--dataset-name/--dataset-path",
    )))
}
