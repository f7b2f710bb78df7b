//! Where prompts come from: `--prompt-text`, `--prompt-file` or `--input-size`, and
//! `--input-mode` to pick when several are given.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use loadtest_client::Prompt;
use loadtest_run::PromptFileFacts;
use loadtest_sweep::inputs::InputSource;
use loadtest_sweep::prompt_file::load_prompt_file;

use super::InputMode;
use super::values;

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
