//! Whether a run's sockets fit under this process's open-files limit, counting the
//! descriptors already open (inherited ones included) and the `/metrics` scrapes: a level
//! that cannot fit is refused at start instead of failing requests with EMFILE (recorded as
//! `client_error` if it still happens).

use std::path::Path;

/// Descriptors kept aside for the output files, nvidia-smi, the runtime and DNS.
pub const RESERVED_FDS: u64 = 32;

/// The `/metrics` client's connection pool (one scrape in flight, a few idle).
pub const SCRAPE_FDS: u64 = 4;

/// Descriptors open in this process now (`/proc/self/fd`); `None` where it cannot be read.
pub fn open_descriptors() -> Option<u64> {
    count_entries(Path::new("/proc/self/fd"))
}

fn count_entries(dir: &Path) -> Option<u64> {
    // The directory's own handle, open while it is read, is one of the entries.
    let n = std::fs::read_dir(dir).ok()?.count() as u64;
    Some(n.saturating_sub(1))
}

/// The soft open-files limit of this process (`/proc/self/limits`); `None` where it cannot
/// be read or is unlimited.
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_limit(&text)
}

fn parse_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Descriptors a run of `peak_streams` concurrent streams needs on top of those already
/// open: one socket per stream, the scrapes, and [`RESERVED_FDS`].
pub fn descriptors_needed(peak_streams: u64, scrapes: bool, open_now: u64) -> u64 {
    open_now + peak_streams + if scrapes { SCRAPE_FDS } else { 0 } + RESERVED_FDS
}

/// `Err` with a one-line explanation when `peak_streams` cannot fit under `limit` with
/// `open_now` descriptors already open.
pub fn check(
    peak_streams: u64,
    scrapes: bool,
    open_now: u64,
    limit: Option<u64>,
) -> Result<(), String> {
    let Some(limit) = limit else { return Ok(()) };
    let needed = descriptors_needed(peak_streams, scrapes, open_now);
    if needed > limit {
        return Err(format!(
            "a peak of {peak_streams} concurrent streams needs about {needed} open files ({open_now} already open, {} for scrapes and files), but the limit is {limit} (raise it with `ulimit -n`, close inherited descriptors, or lower --steps / --max-inflight)",
            needed - open_now - peak_streams
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_is_open_and_what_is_needed() {
        let before = open_descriptors();
        if let Some(before) = before {
            let held: Vec<_> = (0..10)
                .map(|_| std::fs::File::open("/dev/null").unwrap())
                .collect();
            assert!(open_descriptors().unwrap() >= before + 10);
            drop(held);
        }
        assert_eq!(descriptors_needed(100, true, 500), 636);
        assert!(check(100, true, 500, Some(1024)).is_ok());
        let err = check(100, true, 900, Some(1024)).unwrap_err();
        assert!(
            err.contains("900 already open") && err.contains("limit is 1024"),
            "{err}"
        );
        assert!(check(u64::MAX / 2, true, 0, None).is_ok());
    }

    #[test]
    fn reads_the_soft_limit() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n";
        assert_eq!(parse_limit(text), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_limit(unlimited), None);
    }
}
