//! The embedded default: a private PostgreSQL cluster inside Kith's data directory.
//!
//! Guarantees: the cluster listens on a Unix socket in the data directory only (no TCP port) with owner-only
//! permissions; it runs as an unprivileged user even when Kith runs as root; it is started and stopped with
//! the Kith process (and asked to shut down by the kernel if Kith dies, through `PR_SET_PDEATHSIG`); a server
//! orphaned by a crash or a stale pid file is recovered on the next start; a failed `initdb` never leaves a
//! half-made cluster behind.

use kith_db::tokio_postgres;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid, User};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The superuser `initdb` creates; it owns the schema and runs migrations.
pub const SUPERUSER: &str = "postgres";
/// The database Kith keeps its data in.
pub const DATABASE: &str = "kith";
const PORT: u16 = 5432;
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Unix socket paths are limited to 107 bytes on Linux.
const MAX_SOCKET_PATH: usize = 100;

/// Why the embedded cluster could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// No PostgreSQL server binaries were found.
    #[error(
        "no PostgreSQL server binaries found (looked for `postgres` and `initdb` on PATH, through `pg_config --bindir` \
         and under /usr/lib/postgresql/*/bin); install them (Debian/Ubuntu: `apt-get install postgresql`) \
         or set DATABASE_URL to use an existing server"
    )]
    NoBinaries,
    /// Another Kith server owns this data directory.
    #[error("another kith server is using the data directory {0}; stop it or choose another KITH_DATA_DIR")]
    InUse(PathBuf),
    /// The unprivileged user cannot reach the data directory.
    #[error(
        "KITH_DATA_DIR {dir}: PostgreSQL runs as the unprivileged user `{user}`, who cannot enter {blocked} \
         (no search permission); choose a KITH_DATA_DIR outside it, e.g. /var/lib/kith"
    )]
    Unreachable {
        /// The data directory.
        dir: PathBuf,
        /// The user PostgreSQL runs as.
        user: String,
        /// The ancestor without search permission.
        blocked: PathBuf,
    },
    /// The data directory path is too long for a Unix socket inside it.
    #[error("KITH_DATA_DIR {0}: the path is too long for a Unix socket inside it; choose a shorter path")]
    PathTooLong(PathBuf),
    /// A step failed; the message says which.
    #[error("{0}")]
    Failed(String),
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

/// A running embedded cluster; stopping it (or dropping this) shuts it down.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    socket_dir: PathBuf,
    child: Option<Child>,
    _lock: Option<Flock<File>>,
}

/// Whether starting may attach to a cluster another Kith process already runs (for one-off commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// `kith serve`: this process must own the cluster.
    Exclusive,
    /// `kith migrate`, `kith user create`: use the running server's cluster if there is one.
    AttachIfRunning,
}

impl EmbeddedPostgres {
    /// Starts (initializing on first use) the cluster under `data_dir`.
    ///
    /// Call it from the thread that lives as long as the server (the main thread): the kernel's parent-death
    /// signal is tied to the thread that spawned the postmaster.
    pub fn start(data_dir: &Path, sharing: Sharing) -> Result<Self, EmbeddedError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(io(format!("cannot create KITH_DATA_DIR {}", data_dir.display())))?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(io(format!("cannot resolve KITH_DATA_DIR {}", data_dir.display())))?;
        let pgdata = data_dir.join("postgres");
        let socket_dir = data_dir.join("run");
        if socket_dir.join(format!(".s.PGSQL.{PORT}")).as_os_str().len() > MAX_SOCKET_PATH {
            return Err(EmbeddedError::PathTooLong(data_dir));
        }

        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(data_dir.join("kith.lock"))
            .map_err(io("cannot open the data directory lock"))?;
        let lock = match Flock::lock(lock_file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err(_) if sharing == Sharing::AttachIfRunning && server_is_ready(&pgdata) => {
                tracing::info!(socket = %socket_dir.display(), "using the embedded PostgreSQL of the running kith server");
                return Ok(EmbeddedPostgres {
                    socket_dir,
                    child: None,
                    _lock: None,
                });
            }
            Err(_) => return Err(EmbeddedError::InUse(data_dir)),
        };

        let bindir = find_bindir()?;
        let user = server_user()?;
        check_reachable(&data_dir, &user)?;
        open_to_server_user(&data_dir, &user)?;
        prepare_dir(&socket_dir, &user)?;
        if !pgdata.join("PG_VERSION").exists() {
            init_cluster(&bindir, &data_dir, &pgdata, &user)?;
        }
        write_hba(&pgdata, &user)?;
        recover_stale_server(&pgdata)?;

        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("postgres.log"))
            .map_err(io("cannot open postgres.log"))?;
        let log_err = log.try_clone().map_err(io("cannot open postgres.log"))?;
        let mut command = Command::new(bindir.join("postgres"));
        command
            .arg("-D")
            .arg(&pgdata)
            .arg("-c")
            .arg("listen_addresses=")
            .arg("-c")
            .arg(format!("unix_socket_directories={}", socket_dir.display()))
            .arg("-c")
            .arg("unix_socket_permissions=0700")
            .arg("-c")
            .arg(format!("port={PORT}"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Its own process group: a terminal's Ctrl-C reaches Kith, which then stops Postgres in order.
            .process_group(0);
        run_as(&mut command, &user, true);
        let child = command
            .spawn()
            .map_err(io(format!("cannot start {}", bindir.join("postgres").display())))?;
        let mut server = EmbeddedPostgres {
            socket_dir,
            child: Some(child),
            _lock: Some(lock),
        };
        server.wait_ready(&pgdata, &data_dir)?;
        tracing::info!(data_dir = %data_dir.display(), "embedded PostgreSQL is ready");
        Ok(server)
    }

    fn wait_ready(&mut self, pgdata: &Path, data_dir: &Path) -> Result<(), EmbeddedError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if server_is_ready(pgdata) {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(EmbeddedError::Failed(format!(
                    "embedded PostgreSQL exited during start-up ({status}); see {}",
                    data_dir.join("postgres.log").display()
                )));
            }
            if Instant::now() > deadline {
                return Err(EmbeddedError::Failed(format!(
                    "embedded PostgreSQL was not ready after {}s; see {}",
                    READY_TIMEOUT.as_secs(),
                    data_dir.join("postgres.log").display()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Connection settings for `user` over the cluster's socket.
    pub fn config(&self, user: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.socket_dir)
            .port(PORT)
            .user(user)
            .dbname(DATABASE)
            .application_name("kith");
        config
    }

    /// Creates Kith's database on first start (the cluster's superuser is trusted on the private socket).
    pub async fn ensure_database(&self) -> Result<(), tokio_postgres::Error> {
        let mut admin = self.config(SUPERUSER);
        admin.dbname("postgres");
        let (client, connection) = admin.connect(tokio_postgres::NoTls).await?;
        let driver = tokio::spawn(connection);
        let exists = client
            .query_opt("select 1 from pg_database where datname = $1", &[&DATABASE])
            .await?
            .is_some();
        if !exists {
            client.batch_execute(&format!("create database {DATABASE}")).await?;
        }
        drop(client);
        let _ = driver.await;
        Ok(())
    }

    /// Shuts the cluster down (fast shutdown: sessions are ended, nothing committed is lost) and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGINT);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                tracing::info!("embedded PostgreSQL stopped");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::warn!("embedded PostgreSQL did not stop in time; sending SIGQUIT");
        let _ = kill(pid, Signal::SIGQUIT);
        let _ = child.wait();
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `postmaster.pid` says a live server has finished starting.
fn server_is_ready(pgdata: &Path) -> bool {
    let Ok(text) = fs::read_to_string(pgdata.join("postmaster.pid")) else {
        return false;
    };
    let mut lines = text.lines();
    let alive = lines
        .next()
        .and_then(|pid| pid.trim().parse::<i32>().ok())
        .is_some_and(|pid| kill(Pid::from_raw(pid), None).is_ok());
    alive && lines.nth(6).is_some_and(|status| status.trim() == "ready")
}

/// A server left running by a Kith that crashed is stopped; a stale pid file is removed.
fn recover_stale_server(pgdata: &Path) -> Result<(), EmbeddedError> {
    let pid_file = pgdata.join("postmaster.pid");
    let Ok(text) = fs::read_to_string(&pid_file) else {
        return Ok(());
    };
    let pid = text.lines().next().and_then(|pid| pid.trim().parse::<i32>().ok());
    match pid {
        Some(pid) if pid > 0 && is_postgres(pid) => {
            tracing::warn!(
                pid,
                "stopping a PostgreSQL server left behind by an earlier kith process"
            );
            let pid = Pid::from_raw(pid);
            let _ = kill(pid, Signal::SIGINT);
            let deadline = Instant::now() + STOP_TIMEOUT;
            while kill(pid, None).is_ok() {
                if Instant::now() > deadline {
                    let _ = kill(pid, Signal::SIGQUIT);
                    return Err(EmbeddedError::Failed(format!(
                        "a PostgreSQL server left behind (pid {pid}) did not stop; stop it and start kith again"
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        _ => {
            tracing::warn!("removing a stale postmaster.pid left by a crash");
            fs::remove_file(&pid_file).map_err(io("cannot remove the stale postmaster.pid"))?;
        }
    }
    Ok(())
}

fn is_postgres(pid: i32) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmd| {
            cmd.split(|b| *b == 0)
                .next()
                .is_some_and(|exe| exe.ends_with(b"postgres"))
        })
        .unwrap_or(false)
}

fn init_cluster(bindir: &Path, data_dir: &Path, pgdata: &Path, user: &User) -> Result<(), EmbeddedError> {
    tracing::info!(data_dir = %data_dir.display(), "initializing the embedded PostgreSQL cluster (first start)");
    // initdb into a scratch directory renamed into place, so a failure leaves nothing half-made.
    let scratch = data_dir.join("postgres.init");
    if scratch.exists() {
        fs::remove_dir_all(&scratch).map_err(io("cannot remove an unfinished cluster"))?;
    }
    prepare_dir(&scratch, user)?;
    let mut command = Command::new(bindir.join("initdb"));
    command
        .arg("-D")
        .arg(&scratch)
        .args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        ])
        .stdin(Stdio::null());
    run_as(&mut command, user, false);
    let output = command
        .output()
        .map_err(io(format!("cannot run {}", bindir.join("initdb").display())))?;
    if !output.status.success() {
        let _ = fs::remove_dir_all(&scratch);
        return Err(EmbeddedError::Failed(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    fs::rename(&scratch, pgdata).map_err(io("cannot move the new cluster into place"))
}

/// Client authentication of the embedded cluster, rewritten at every start: only Kith's two login roles, only
/// over the private socket, and no replication (initdb's default trusts every local connection, replication too).
const HBA: &str = "# Written by Kith at every start; changes are overwritten.\n\
    local all postgres trust\n\
    local all kith_authenticator trust\n";

fn write_hba(pgdata: &Path, user: &User) -> Result<(), EmbeddedError> {
    let path = pgdata.join("pg_hba.conf");
    fs::write(&path, HBA).map_err(io(format!("cannot write {}", path.display())))?;
    if Uid::effective() != user.uid {
        nix::unistd::chown(&path, Some(user.uid), Some(user.gid))
            .map_err(|err| EmbeddedError::Failed(format!("cannot give {} to {}: {err}", path.display(), user.name)))?;
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
        .map_err(io(format!("cannot protect {}", path.display())))
}

/// Creates `dir` owned by `user`, readable by them only.
fn prepare_dir(dir: &Path, user: &User) -> Result<(), EmbeddedError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(format!("cannot create {}", dir.display())))?;
    if Uid::effective() != user.uid {
        nix::unistd::chown(dir, Some(user.uid), Some(user.gid))
            .map_err(|err| EmbeddedError::Failed(format!("cannot give {} to {}: {err}", dir.display(), user.name)))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(format!("cannot protect {}", dir.display())))
}

/// Runs the command as `user` (when Kith is root), optionally asking the kernel to stop it if Kith dies.
#[allow(unsafe_code)]
fn run_as(command: &mut Command, user: &User, stop_with_parent: bool) {
    let switch = Uid::effective() != user.uid;
    let (uid, gid) = (user.uid, user.gid);
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe system calls.
    unsafe {
        command.pre_exec(move || {
            if switch {
                nix::unistd::setgroups(&[])?;
                nix::unistd::setgid(gid)?;
                nix::unistd::setuid(uid)?;
            }
            // After the credential change, which would clear it. SIGINT is Postgres's fast shutdown.
            if stop_with_parent {
                nix::sys::prctl::set_pdeathsig(Signal::SIGINT)?;
                if nix::unistd::getppid() != parent {
                    return Err(std::io::Error::other("kith exited during start-up"));
                }
            }
            Ok(())
        });
    }
    if switch && let Some(home) = user.dir.to_str() {
        command.env("HOME", home);
    }
}

/// The user the server runs as: Kith's own user, or an unprivileged one when Kith runs as root
/// (Postgres refuses to run as root).
fn server_user() -> Result<User, EmbeddedError> {
    let current = Uid::effective();
    if !current.is_root() {
        return User::from_uid(current)
            .ok()
            .flatten()
            .ok_or_else(|| EmbeddedError::Failed("cannot look up the current user".into()));
    }
    for name in ["postgres", "kith"] {
        if let Ok(Some(user)) = User::from_name(name) {
            return Ok(user);
        }
    }
    let created = Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "kith",
        ])
        .status();
    match (created, User::from_name("kith")) {
        (Ok(status), Ok(Some(user))) if status.success() => Ok(user),
        _ => Err(EmbeddedError::Failed(
            "kith runs as root and PostgreSQL must not: create an unprivileged user named `kith` (useradd --system kith) \
             or run kith as a normal user"
                .into(),
        )),
    }
}

/// When Kith is root, the server's user may enter (but not list) the data directory: group search only.
fn open_to_server_user(data_dir: &Path, user: &User) -> Result<(), EmbeddedError> {
    if Uid::effective() == user.uid {
        return Ok(());
    }
    nix::unistd::chown(data_dir, None, Some(user.gid))
        .map_err(|err| EmbeddedError::Failed(format!("cannot open {} to {}: {err}", data_dir.display(), user.name)))?;
    fs::set_permissions(data_dir, fs::Permissions::from_mode(0o710))
        .map_err(io(format!("cannot set permissions on {}", data_dir.display())))
}

/// The data directory to use: `preferred`, unless Kith runs as root and the unprivileged user PostgreSQL runs as
/// could not reach it (a clone inside /root, say), in which case `fallback`.
pub fn reachable_data_dir(preferred: &Path, fallback: &Path) -> PathBuf {
    if !Uid::effective().is_root() {
        return preferred.to_path_buf();
    }
    let Some(user) = ["postgres", "kith"]
        .iter()
        .find_map(|name| User::from_name(name).ok().flatten())
    else {
        return preferred.to_path_buf();
    };
    let absolute = std::env::current_dir().map_or_else(|_| preferred.to_path_buf(), |cwd| cwd.join(preferred));
    if check_reachable(&absolute, &user).is_ok() {
        preferred.to_path_buf()
    } else {
        fallback.to_path_buf()
    }
}

/// Every ancestor of the data directory must be searchable by the server's user.
fn check_reachable(data_dir: &Path, user: &User) -> Result<(), EmbeddedError> {
    if Uid::effective() == user.uid {
        return Ok(());
    }
    for dir in data_dir.ancestors().skip(1) {
        let Ok(meta) = fs::metadata(dir) else { continue };
        let mode = meta.mode();
        let searchable = mode & 0o001 != 0
            || (meta.uid() == user.uid.as_raw() && mode & 0o100 != 0)
            || (meta.gid() == user.gid.as_raw() && mode & 0o010 != 0);
        if !searchable {
            return Err(EmbeddedError::Unreachable {
                dir: data_dir.to_path_buf(),
                user: user.name.clone(),
                blocked: dir.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Finds the directory holding `postgres` and `initdb`.
fn find_bindir() -> Result<PathBuf, EmbeddedError> {
    let has_server = |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    if let Some(dir) = std::env::var_os("KITH_PG_BINDIR").map(PathBuf::from) {
        return if has_server(&dir) {
            Ok(dir)
        } else {
            Err(EmbeddedError::NoBinaries)
        };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            // Resolve symlinks: postgres finds its share/ and lib/ relative to its real location.
            if let Ok(real) = dir.join("postgres").canonicalize()
                && let Some(real_dir) = real.parent()
                && has_server(real_dir)
            {
                return Ok(real_dir.to_path_buf());
            }
        }
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").stderr(Stdio::null()).output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if has_server(&dir) {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let dir = entry.path().join("bin");
            has_server(&dir).then_some((version, dir))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir).ok_or(EmbeddedError::NoBinaries)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_data_dir_behind_a_private_parent_falls_back_only_when_root() {
        let private = tempfile::Builder::new()
            .prefix("kith-private-")
            .tempdir_in("/tmp")
            .unwrap();
        fs::set_permissions(private.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let preferred = private.path().join("kith-data");
        let fallback = Path::new("/var/lib/kith-fallback-test");
        let chosen = reachable_data_dir(&preferred, fallback);
        let unprivileged = ["postgres", "kith"]
            .iter()
            .any(|n| User::from_name(n).ok().flatten().is_some());
        if Uid::effective().is_root() && unprivileged {
            assert_eq!(chosen, fallback);
            let open = tempfile::Builder::new()
                .prefix("kith-open-")
                .tempdir_in("/tmp")
                .unwrap();
            fs::set_permissions(open.path(), fs::Permissions::from_mode(0o755)).unwrap();
            let reachable = open.path().join("kith-data");
            assert_eq!(reachable_data_dir(&reachable, fallback), reachable);
        } else {
            assert_eq!(chosen, preferred);
        }
    }
}
