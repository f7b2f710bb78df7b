//! Values read off a run's steps that several renderers need (the summary, the charts, the
//! comparison): one definition each.

use loadtest_run::StepSummary;

/// True when at least one step has a server block.
pub(crate) fn has_server(steps: &[StepSummary]) -> bool {
    steps.iter().any(|s| s.server.is_some())
}

/// True when at least one step has GPU data.
pub(crate) fn has_gpu(steps: &[StepSummary]) -> bool {
    steps.iter().any(|s| !s.gpu.is_empty())
}

/// Mean GPU utilisation over the step's GPUs, percent.
pub(crate) fn gpu_util_pct(step: &StepSummary) -> Option<f64> {
    let values: Vec<f64> = step
        .gpu
        .iter()
        .filter_map(|g| crate::format::finite(g.util_gpu_mean_pct))
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Mean power of all the step's GPUs together, W.
pub(crate) fn gpu_power_w(step: &StepSummary) -> Option<f64> {
    let values: Vec<f64> = step
        .gpu
        .iter()
        .filter_map(|g| crate::format::finite(g.power_mean_w))
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}
