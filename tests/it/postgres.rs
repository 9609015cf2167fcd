//! A PostgreSQL cluster for the tests (`bangtin::local_postgres`, with
//! durability traded for speed): one cluster shared by the tests that run
//! at the same time and stopped when the last of them lets it go. Each
//! test takes its own database ([`Postgres::database`]).
#![allow(dead_code)]

use std::sync::{Arc, Mutex, Weak};

use bangtin::local_postgres::{Durability, LocalPostgres};

/// A running cluster; stopped on drop.
pub struct Postgres {
    pub port: u16,
    cluster: LocalPostgres,
    /// Removed after the cluster stopped (fields drop in order).
    _dir: tempfile::TempDir,
}

/// The cluster tests share while any of them holds it.
static SHARED: Mutex<Weak<Postgres>> = Mutex::new(Weak::new());

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
        let cluster = LocalPostgres::start(dir.path(), Durability::Throwaway)
            .unwrap_or_else(|e| panic!("PostgreSQL for the tests: {e:#} (tools/test.sh installs the Debian package postgresql)"));
        Postgres {
            port: cluster.port,
            cluster,
            _dir: dir,
        }
    }

    /// `postgres://` URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        self.cluster.url(db)
    }

    /// A new, empty database for one test; its URL.
    pub fn database(&self, name: &str) -> String {
        let name = format!(
            "{}_{}",
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            rand_suffix()
        );
        self.cluster
            .create_database(&name)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Runs `sql` in `db` with psql; its output (unaligned, tuples only).
    pub fn sql(&self, db: &str, sql: &str) -> String {
        self.cluster
            .psql(db, sql)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }
}

fn rand_suffix() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}_{n}", std::process::id())
}
