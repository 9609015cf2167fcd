//! A PostgreSQL cluster of one's own on loopback, for the load tests
//! (`loadtest failover`) and the test suite; the server never starts one.
//! `initdb` into a directory, then the server on a free 127.0.0.1 port
//! (trust for loopback only, its socket in that directory), stopped when
//! dropped.
//!
//! The programs are the newest Debian package's
//! (`/usr/lib/postgresql/N/bin`), else those on PATH. PostgreSQL refuses
//! to run as root: then the cluster's files belong to the `postgres` user
//! (made by the Debian package) and its programs run as that user through
//! `setpriv` (util-linux), which switches user and execs, so the child is
//! the server itself and a signal to it reaches PostgreSQL.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// What the cluster promises about its data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Durability {
    /// PostgreSQL's defaults (fsync on): what a province runs, for figures
    /// that mean something.
    Durable,
    /// No fsync and no full-page writes: for tests, which do not test
    /// power loss. Stopped at once (SIGQUIT) when dropped.
    Throwaway,
}

/// A running cluster; stopped when dropped.
pub struct LocalPostgres {
    /// Its loopback port.
    pub port: u16,
    child: Child,
    durability: Durability,
}

impl LocalPostgres {
    /// `initdb` into `dir` (which must be empty or missing), then the
    /// server on a free loopback port; returns once it takes queries.
    pub fn start(dir: &Path, durability: Durability) -> anyhow::Result<LocalPostgres> {
        std::fs::create_dir_all(dir)?;
        if running_as_root() {
            let out = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir)
                .output()
                .context("chown for the postgres user")?;
            if !out.status.success() {
                bail!("chown postgres: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        let data = dir.join("data");
        let mut initdb = server_command("initdb")?;
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]);
        if durability == Durability::Throwaway {
            initdb.arg("--no-sync");
        }
        let out = initdb.output().context("running initdb")?;
        if !out.status.success() {
            bail!("initdb: {}", String::from_utf8_lossy(&out.stderr));
        }
        // A port found free may be taken before the server binds it.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            if let Some(child) = serve(&data, dir, port, durability)? {
                return Ok(LocalPostgres {
                    port,
                    child,
                    durability,
                });
            }
        }
        bail!(
            "PostgreSQL did not start on any of 5 free ports (see {}/postgres.log)",
            dir.display()
        )
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The `postgres://` URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A new, empty database; its URL.
    pub fn create_database(&self, name: &str) -> anyhow::Result<String> {
        self.psql("postgres", &format!("CREATE DATABASE {name}"))?;
        Ok(self.url(name))
    }

    /// Runs `sql` in `db` with psql; its output (unaligned, tuples only).
    pub fn psql(&self, db: &str, sql: &str) -> anyhow::Result<String> {
        let out = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(db))
            .args(["-c", sql])
            .output()
            .context("running psql")?;
        if !out.status.success() {
            bail!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        // SIGINT: a fast shutdown (SIGTERM would wait for every client
        // to leave); SIGQUIT: at once, for data thrown away anyway.
        let signal = match self.durability {
            Durability::Durable => "-INT",
            Durability::Throwaway => "-QUIT",
        };
        let _ = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Starts the server on `port` and waits until it takes queries; `None`
/// when it exited first (the port was taken).
fn serve(
    data: &Path,
    dir: &Path,
    port: u16,
    durability: Durability,
) -> anyhow::Result<Option<Child>> {
    let log = std::fs::File::create(dir.join("postgres.log"))?;
    let mut cmd = server_command("postgres")?;
    cmd.arg("-D")
        .arg(data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(dir)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
        ]);
    if durability == Durability::Throwaway {
        cmd.args(["-c", "fsync=off", "-c", "full_page_writes=off"]);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting postgres")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return Ok(None);
        }
        let ready = Command::new("psql")
            .args(["-X", "-q", "-d", &url, "-c", "select 1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Ok(Some(child));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("PostgreSQL took no queries within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program` from the server's programs, as the `postgres` user when
/// this runs as root.
fn server_command(program: &str) -> anyhow::Result<Command> {
    let path = bin_dir()?.join(program);
    Ok(if running_as_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--reset-env",
        ])
        .arg(path);
        c
    } else {
        Command::new(path)
    })
}

/// Where the server's programs are: the newest Debian install, else the
/// directory of `initdb` on PATH.
fn bin_dir() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((n, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").exists())
        .context("PostgreSQL is not installed (Debian: apt-get install postgresql)")
}
