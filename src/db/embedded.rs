//! A private PostgreSQL cluster started from the system's binaries: the embedded
//! default for one-command runs, and the database the integration tests use.
//!
//! PostgreSQL refuses to run as root, so when we are root the cluster belongs to an
//! unprivileged user (`postgres`, or `sportello` created on the spot).

use std::{
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context};
use sqlx::{postgres::PgConnectOptions, Connection, PgConnection};

const PG_BIN_DIRS: &[&str] =
    &["/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"];

pub struct Cluster {
    data_dir: PathBuf,
    socket_dir: PathBuf,
    /// Present when this process started the server and must stop it.
    child: Option<Child>,
}

impl Cluster {
    /// Starts the cluster in `dir` (initialising it the first time), or attaches to
    /// the one already running there.
    pub async fn start(dir: &Path, fast_and_unsafe: bool) -> anyhow::Result<Self> {
        let dir = std::path::absolute(dir)?;
        let data_dir = dir.join("data");
        let socket_dir = dir.join("run");
        let bin = pg_bin_dir()?;
        let owner = unprivileged_owner()?;
        std::fs::create_dir_all(&socket_dir)?;
        if let Some((uid, gid)) = owner {
            ensure_reachable(&dir)?;
            chown_tree(&dir, uid, gid)?;
        }
        let mut cluster = Self { data_dir, socket_dir, child: None };
        if cluster.accepts_connections().await {
            return Ok(cluster);
        }
        if !cluster.data_dir.join("PG_VERSION").exists() {
            std::fs::create_dir_all(&cluster.data_dir)?;
            std::fs::set_permissions(&cluster.data_dir, std::fs::Permissions::from_mode(0o700))?;
            if let Some((uid, gid)) = owner {
                chown_tree(&cluster.data_dir, uid, gid)?;
            }
            let mut initdb = Command::new(bin.join("initdb"));
            initdb
                .arg("-D")
                .arg(&cluster.data_dir)
                .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
                .stdout(Stdio::null());
            as_owner(&mut initdb, owner);
            let status = initdb.status().context("running initdb")?;
            if !status.success() {
                bail!("initdb failed for {}", cluster.data_dir.display());
            }
        }
        let _ = std::fs::remove_file(cluster.data_dir.join("postmaster.pid"));
        let mut postgres = Command::new(bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&cluster.data_dir)
            .arg("-k")
            .arg(&cluster.socket_dir)
            .args(["-c", "listen_addresses=", "-c", "max_connections=300", "-c", "shared_buffers=128MB"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file(&dir)?));
        if fast_and_unsafe {
            postgres.args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }
        as_owner(&mut postgres, owner);
        // Die with us: the server must not outlive the process that owns it.
        unsafe {
            postgres.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGINT).map_err(std::io::Error::from)
            });
        }
        cluster.child = Some(spawn_from_long_lived_thread(postgres)?);
        for _ in 0..300 {
            if cluster.accepts_connections().await {
                return Ok(cluster);
            }
            if let Some(status) = cluster.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("postgres exited with {status}; see {}", dir.join("postgres.log").display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("postgres did not accept connections within 15 s; see {}", dir.join("postgres.log").display())
    }

    /// Connection options for `role` on `database` over the cluster's unix socket.
    pub fn options(&self, role: &str, database: &str) -> PgConnectOptions {
        PgConnectOptions::new().socket(&self.socket_dir).username(role).database(database)
    }

    pub fn superuser(&self) -> PgConnectOptions {
        self.options("postgres", "postgres")
    }

    async fn accepts_connections(&self) -> bool {
        if !self.socket_dir.join(".s.PGSQL.5432").exists() {
            return false;
        }
        PgConnection::connect_with(&self.superuser()).await.is_ok()
    }

    /// Stops the server if this process started it (fast shutdown, as `pg_ctl -m fast`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The parent-death signal fires when the *thread* that forked exits, so the fork
/// happens on a thread that lives as long as the process.
fn spawn_from_long_lived_thread(mut command: Command) -> anyhow::Result<Child> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new().name("postgres-parent".into()).spawn(move || {
        let _ = tx.send(command.spawn());
        loop {
            std::thread::park();
        }
    })?;
    rx.recv()?.context("starting postgres")
}

fn log_file(dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("postgres.log");
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    Ok(file)
}

fn pg_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(dir.into());
    }
    PG_BIN_DIRS
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join("postgres").exists())
        .context("PostgreSQL server binaries not found: install Debian's `postgresql` package (or set PG_BIN_DIR)")
}

/// `Some((uid, gid))` of the user the cluster must run as when we are root.
fn unprivileged_owner() -> anyhow::Result<Option<(u32, u32)>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "sportello"] {
        if let Some(user) = nix::unistd::User::from_name(name)? {
            return Ok(Some((user.uid.as_raw(), user.gid.as_raw())));
        }
    }
    let status = Command::new("useradd")
        .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "sportello"])
        .status()
        .context("creating the unprivileged user `sportello`")?;
    if !status.success() {
        bail!("useradd sportello failed");
    }
    let user = nix::unistd::User::from_name("sportello")?.context("user sportello")?;
    Ok(Some((user.uid.as_raw(), user.gid.as_raw())))
}

fn as_owner(command: &mut Command, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        // std drops root's supplementary groups when it switches user.
        command.uid(uid).gid(gid);
    }
}

/// The unprivileged owner must be able to walk down to the cluster directory.
fn ensure_reachable(dir: &Path) -> anyhow::Result<()> {
    for ancestor in dir.ancestors().skip(1) {
        let mode = std::fs::metadata(ancestor)?.permissions().mode();
        if mode & 0o001 == 0 {
            bail!(
                "PostgreSQL runs as an unprivileged user, who cannot enter {} (mode {:o}); \
                 set SPORTELLO_DATA_DIR to a folder outside it, e.g. /var/lib/sportello",
                ancestor.display(),
                mode & 0o777
            );
        }
    }
    Ok(())
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> anyhow::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}
