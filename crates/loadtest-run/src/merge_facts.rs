//! What config.json says about a run folder made by `vllm-loadtest merge` from the folders of
//! a sharded run.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One shard folder a merged run was made from (config.json's `merged_from`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedShard {
    /// The shard's run folder, as given to `merge`.
    pub dir: PathBuf,
    /// Its index (`settings.shard.index` of its config.json).
    pub shard: u32,
    /// The merged server block, `vllm_metrics.csv` and `vllm_step_deltas.json` are this
    /// shard's (it scraped `/metrics`, and no shard of a lower index did).
    pub server_metrics: bool,
    /// The merged GPU blocks and `gpu_metrics.csv` are this shard's.
    pub gpu: bool,
}
