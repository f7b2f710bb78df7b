//! A throwaway one-node Slurm cluster on localhost: its own munge daemon (key, socket), its own
//! `slurm.conf` with free ports, slurmctld and slurmd as root, all under one temporary folder
//! and all stopped when the [`Cluster`] is dropped. Nothing under /etc is read or written.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The Debian packages the cluster needs.
const PACKAGES: [&str; 2] = ["slurm-wlm", "munge"];
/// The binaries they bring.
const BINARIES: [&str; 7] = [
    "munged",
    "mungekey",
    "slurmctld",
    "slurmd",
    "srun",
    "sbatch",
    "sinfo",
];

/// Installs slurm-wlm and munge with apt-get when a binary is missing (root only).
pub(crate) fn ensure_installed() -> Result<()> {
    let missing: Vec<&str> = BINARIES
        .into_iter()
        .filter(|b| which(b).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!(
        "e2e-slurm: {} missing; installing {}",
        missing.join(", "),
        PACKAGES.join(" ")
    );
    run(Command::new("apt-get").arg("update").arg("-q"))
        .context("apt-get update (slurm-wlm and munge are installed as root)")?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(PACKAGES)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    match BINARIES.into_iter().find(|b| which(b).is_none()) {
        Some(b) => bail!(
            "{b} is still missing after installing {}",
            PACKAGES.join(" ")
        ),
        None => Ok(()),
    }
}

/// A running cluster; stopped (and its folder left for inspection) when dropped.
pub(crate) struct Cluster {
    dir: PathBuf,
    /// The `slurm.conf` every Slurm command must be given (`SLURM_CONF`).
    pub(crate) conf: PathBuf,
    munged_pid: PathBuf,
}

impl Cluster {
    /// Starts munged, slurmctld and slurmd under `dir` and waits for the node to be idle.
    pub(crate) fn start(dir: &Path) -> Result<Cluster> {
        let munge = dir.join("munge");
        for sub in [&munge, &dir.join("state"), &dir.join("spool")] {
            std::fs::create_dir_all(sub).with_context(|| format!("creating {}", sub.display()))?;
        }
        set_mode(&munge, 0o700)?;
        let key = munge.join("munge.key");
        run(Command::new("mungekey")
            .arg("--create")
            .arg(format!("--keyfile={}", key.display())))?;
        set_mode(&key, 0o400)?;
        let socket = munge.join("munge.socket");
        let cluster = Cluster {
            dir: dir.to_owned(),
            conf: dir.join("slurm.conf"),
            munged_pid: munge.join("munged.pid"),
        };
        run(Command::new("munged")
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", cluster.munged_pid.display()))
            .arg(format!("--log-file={}", munge.join("munged.log").display()))
            .arg(format!(
                "--seed-file={}",
                munge.join("munged.seed").display()
            ))
            .arg("--force"))?;
        let host = hostname()?;
        let conf = slurm_conf(dir, &host, &socket, free_port()?, free_port()?);
        std::fs::write(&cluster.conf, conf).context("writing slurm.conf")?;
        run(Command::new("slurmctld")
            .arg("-f")
            .arg(&cluster.conf)
            .arg("-i"))?;
        run(Command::new("slurmd").arg("-f").arg(&cluster.conf))?;
        cluster.wait_idle(Duration::from_secs(60))?;
        println!("e2e-slurm: one-node cluster up ({host}, {})", dir.display());
        Ok(cluster)
    }

    /// A Slurm client command (`srun`, `sbatch`, …) pointed at this cluster.
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("SLURM_CONF", &self.conf);
        command
    }

    fn wait_idle(&self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            let out = self.command("sinfo").args(["-h", "-o", "%t"]).output();
            let state = out
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            if state == "idle" {
                return Ok(());
            }
            if started.elapsed() > limit {
                bail!(
                    "the node is {state:?}, not idle, after {limit:?} (see {}/slurmctld.log and slurmd.log)",
                    self.dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // slurmctld stops the slurmd daemons too; then munge. Each is waited for (a few
        // seconds at most), so nothing of the cluster outlives the task.
        // The pids are read first: the daemons remove their pid files as they stop.
        let pids: Vec<u32> = [
            self.dir.join("slurmctld.pid"),
            self.dir.join("slurmd.pid"),
            self.munged_pid.clone(),
        ]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok()?.trim().parse().ok())
        .collect();
        let _ = self.command("scontrol").arg("shutdown").output();
        for pid in &pids {
            let _ = Command::new("kill").arg(pid.to_string()).output();
        }
        let alive = |pid: &u32| Path::new(&format!("/proc/{pid}")).exists();
        let started = Instant::now();
        while pids.iter().any(alive) && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(100));
        }
        println!("e2e-slurm: cluster stopped");
    }
}

fn slurm_conf(dir: &Path, host: &str, socket: &Path, ctld_port: u16, slurmd_port: u16) -> String {
    let d = dir.display();
    // 8 CPUs declared (config_overrides) so that 4 tasks fit however many cores there are.
    format!(
        "ClusterName=loadtest-e2e
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
AuthInfo=socket={socket}
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
NodeName={host} NodeAddr=127.0.0.1 CPUs=8 RealMemory=1000 State=UNKNOWN
PartitionName=e2e Nodes={host} Default=YES MaxTime=INFINITE State=UP
",
        socket = socket.display()
    )
}

fn run(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    let out = command
        .output()
        .with_context(|| format!("could not start {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn which(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(binary))
        .find(|p| p.is_file())
}

fn hostname() -> Result<String> {
    let out = Command::new("hostname").output().context("hostname")?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if name.is_empty() {
        bail!("hostname printed nothing");
    }
    // Slurm wants the short name.
    Ok(name.split('.').next().unwrap_or(&name).to_owned())
}

/// A port free now (bound on 127.0.0.1:0, then released for the daemon to take).
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))
}
