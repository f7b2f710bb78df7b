//! Child processes measured from outside: CPU time (user + system, all threads) and peak RSS,
//! read from procfs without reaping the child first, so nothing is lost to a race.
//!
//! A watcher thread samples `/proc/<pid>/status` (`VmHWM`, the kernel's own high-water mark of
//! the resident set) every [`SAMPLE`] and `/proc/<pid>/stat`. When the child has exited it is a
//! zombie until it is waited for: its `stat` then holds the final CPU time of every thread of
//! the process (exited threads included), and only after reading it does the watcher reap it.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How often the watcher samples procfs.
const SAMPLE: Duration = Duration::from_millis(20);
/// Kernel clock ticks per second in `/proc/<pid>/stat` (USER_HZ, 100 on every Linux target).
const USER_HZ: u64 = 100;
/// The resolution of the CPU times read here: one clock tick.
pub const CPU_TICK: Duration = Duration::from_millis(1000 / USER_HZ);

/// What a finished child cost.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// How it exited.
    pub status: ExitStatus,
    /// User CPU time, all threads (10 ms resolution).
    pub user: Duration,
    /// System CPU time, all threads (10 ms resolution).
    pub system: Duration,
    /// Peak resident set (`VmHWM`) last seen before it exited, KiB.
    pub peak_rss_kib: u64,
    /// Wall time from spawn to exit.
    pub wall: Duration,
}

impl Usage {
    /// User + system.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }
}

/// Runs `cmd` to completion (stdout and stderr to `log`) and measures it.
pub fn run_measured(cmd: Command, log: &Path) -> Result<Usage> {
    run_measured_with(cmd, log, || Ok(()))
}

/// Like [`run_measured`], calling `meanwhile` once the child is started (it may sleep; the
/// child is not reaped before its CPU time is read, and `VmHWM` is a high-water mark, so
/// nothing is lost while it runs).
pub fn run_measured_with(
    mut cmd: Command,
    log: &Path,
    meanwhile: impl FnOnce() -> Result<()>,
) -> Result<Usage> {
    let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = file.try_clone().context("duplicating the log handle")?;
    cmd.stdin(Stdio::null()).stdout(file).stderr(err);
    let program = format!("{:?}", cmd.get_program());
    let started = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("could not start {program}"))?;
    if let Err(err) = meanwhile() {
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        return Err(err);
    }
    watch(child, started)
}

fn watch(mut child: Child, started: Instant) -> Result<Usage> {
    let pid = child.id();
    let stat_path = format!("/proc/{pid}/stat");
    let status_path = format!("/proc/{pid}/status");
    let mut peak_rss_kib = 0;
    let mut last_ticks = None;
    loop {
        let stat = std::fs::read_to_string(&stat_path)
            .ok()
            .and_then(|s| parse_stat(&s));
        match stat {
            Some(stat) if stat.state == 'Z' || stat.state == 'X' => {
                last_ticks = Some((stat.utime, stat.stime));
                break;
            }
            Some(stat) => {
                last_ticks = Some((stat.utime, stat.stime));
                if let Some(hwm) = std::fs::read_to_string(&status_path)
                    .ok()
                    .and_then(|s| vm_hwm_kib(&s))
                {
                    peak_rss_kib = peak_rss_kib.max(hwm);
                }
            }
            // No procfs entry: it cannot have been reaped (only we wait for it), so there is
            // no procfs at all. Fall back to waiting without figures.
            None => break,
        }
        std::thread::sleep(SAMPLE);
    }
    let status = child.wait().context("waiting for the child")?;
    let wall = started.elapsed();
    let Some((utime, stime)) = last_ticks else {
        bail!("no /proc/{pid}/stat: CPU time cannot be measured on this system");
    };
    let ticks = |t: u64| Duration::from_millis(t * 1000 / USER_HZ);
    Ok(Usage {
        status,
        user: ticks(utime),
        system: ticks(stime),
        peak_rss_kib,
        wall,
    })
}

struct Stat {
    state: char,
    utime: u64,
    stime: u64,
}

/// Fields of `/proc/<pid>/stat`: state (3), utime (14), stime (15). The command name (2) may
/// hold spaces and parentheses, so fields are counted after its last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        utime: fields.get(11)?.parse().ok()?,
        stime: fields.get(12)?.parse().ok()?,
    })
}

/// `VmHWM:  123456 kB` from `/proc/<pid>/status`.
fn vm_hwm_kib(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_the_name() {
        let s = "42 (a b) c) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 3";
        let stat = parse_stat(s).unwrap();
        assert_eq!((stat.state, stat.utime, stat.stime), ('S', 250, 31));
    }

    #[test]
    fn hwm_line() {
        assert_eq!(vm_hwm_kib("Name:\tx\nVmHWM:\t   20480 kB\n"), Some(20480));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn measures_a_busy_child() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"]);
        let log = std::env::temp_dir().join(format!("xtask-proc-{}.log", std::process::id()));
        let usage = run_measured(cmd, &log).unwrap();
        let _ = std::fs::remove_file(&log);
        assert!(usage.status.success());
        assert!(usage.cpu() > Duration::ZERO, "{usage:?}");
        assert!(usage.peak_rss_kib > 0);
    }
}
