//! A PostgreSQL cluster for the tests: `initdb` into a temp dir, the
//! server on a free loopback port (trust for 127.0.0.1 only, its socket
//! in the temp dir), one cluster shared by the tests that run at the same
//! time and stopped when the last of them lets it go. Each test takes its
//! own database ([`Postgres::database`]).
//!
//! PostgreSQL refuses to run as root, and the tests (and CI) run as root:
//! then the cluster's files belong to the `postgres` user (made by the
//! Debian package) and its programs run as that user through `setpriv`
//! (util-linux), which switches user and execs, so the child is the server
//! itself and killing it stops it.
#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::util::free_port;

/// A running cluster; stopped on drop.
pub struct Postgres {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Mutex<Child>,
}

/// The cluster tests share while any of them holds it.
static SHARED: Mutex<Weak<Postgres>> = Mutex::new(Weak::new());

/// Where the server's programs are: the newest Debian install
/// (`/usr/lib/postgresql/N/bin`), else the directory of `initdb` on PATH.
fn bin_dir() -> PathBuf {
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
        return bin;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").exists())
        .expect(
            "PostgreSQL is not installed (tools/test.sh installs the Debian package postgresql)",
        )
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        == 0
}

/// `program` from the server's bin dir, as the `postgres` user when we
/// are root.
fn server_command(program: &str) -> Command {
    let path = bin_dir().join(program);
    if running_as_root() {
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
    }
}

impl Postgres {
    /// The cluster of this test run, started if no test holds one.
    pub fn shared() -> Arc<Postgres> {
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pg) = shared.upgrade() {
            return pg;
        }
        let pg = Arc::new(Postgres::start());
        *shared = Arc::downgrade(&pg);
        pg
    }

    /// A new cluster of its own (for tests that stop or break it).
    pub fn start() -> Postgres {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        if running_as_root() {
            let out = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .output()
                .expect("chown");
            assert!(out.status.success(), "chown: {out:?}");
        }
        let out = server_command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Trust only loopback: initdb's pg_hba.conf says exactly that.
        for _ in 0..5 {
            let port = free_port();
            if let Some(child) = start_server(&data, dir.path(), port) {
                return Postgres {
                    port,
                    dir,
                    child: Mutex::new(child),
                };
            }
        }
        panic!("PostgreSQL did not start on any of 5 free ports");
    }

    /// `postgres://` URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A new, empty database for one test; its URL.
    pub fn database(&self, name: &str) -> String {
        let name = format!(
            "{}_{}",
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            rand_suffix()
        );
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Runs `sql` in `db` with psql; its output (unaligned, tuples only).
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(db))
            .arg("-c")
            .arg(sql)
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn rand_suffix() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}_{n}", std::process::id())
}

/// Starts the server on `port` and waits until it takes queries; `None`
/// when it exited (the port was taken).
fn start_server(data: &Path, dir: &Path, port: u16) -> Option<Child> {
    let mut child = server_command("postgres")
        .arg("-D")
        .arg(data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(dir)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            // A test cluster: durability against power loss is not tested.
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postgres");
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return None;
        }
        let ready = Command::new("psql")
            .args(["-X", "-q", "-d", &url, "-c", "select 1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Some(child);
        }
        assert!(
            Instant::now() < deadline,
            "PostgreSQL did not take queries within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        // SIGQUIT: immediate shutdown (the data is thrown away).
        let _ = Command::new("kill")
            .args(["-QUIT", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
}
