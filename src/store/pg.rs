//! The store's persistence on PostgreSQL (`--store postgres://…`), for two
//! servers on one store. [`super::Store`] stays what everyone reads (its
//! in-memory [`super::Snapshot`]); this module is where its changes go
//! instead of the data directory's files, one row a file:
//!
//! ```text
//! documents (kind, id, body jsonb)   the JSON files: kind is the file's directory
//!                                    (content/panels, state/versions/{message} …),
//!                                    id its name without .json
//! blobs (kind, name, bytes bytea)    the other files: images, CAP documents
//! audit (n, entry jsonb)             the audit trail, in commit order
//! store_version (version)            raised by every committed change
//! shared_files (name, bytes, sha)    files both servers keep alike (super::shared_files)
//! token_uses (sha256, used_at)       each API token's latest use on any server
//! commit_marks (version, instance)   who committed each of the latest versions
//! plays, online_samples              proof of play and the fleet's online count
//!                                    (state/plays.redb on a file store; [`plays`])
//! ```
//!
//! A commit whose connection drops after COMMIT was sent is not taken
//! for failed: once that transaction has ended, the server reads its mark
//! in `commit_marks` on a new connection and reports the change done if
//! it is there, failed if it is not, and its outcome unknown
//! ([`StoreError::OutcomeUnknown`]) if that cannot be read.
//!
//! Each batch of the group commit is one transaction: its rows, its audit
//! rows and the version raise, committed before the API answers. Writers
//! take turns across the servers (an advisory lock,
//! [`Postgres::take_writers_turn`]) and read what the other server changed
//! before they stage a change, so a change is weighed against the latest
//! store and no write is refused for a change it never touched. The raise
//! is still conditional on the version the writer's snapshot was read at
//! (a turn lost with its connection): a server never writes over a change
//! of another it has not seen (it reads the store again and the caller is
//! told to try again). The commit
//! notifies the channel [`CHANNEL`]; the other servers listen
//! ([`listen`]) and read the store again, and also every
//! [`super::PG_REREAD`] in case a notification was lost.
//!
//! The driver is tokio-postgres; the schema is refinery's migrations
//! (`migrations/postgres`), run at connect. The store is called from
//! blocking code, so each connection runs on a thread of its own and the
//! store waits on the driver's futures with `futures_executor::block_on`
//! (it neither needs nor disturbs the caller's runtime).

use std::path::Path;
use std::sync::Mutex;

use sha2::Digest;
use tokio_postgres::{Client, NoTls};

use super::{AuditEntry, FileOp, StoreError};
use crate::i18n::Reason;

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}
mod plays;

/// The channel a commit notifies, with the committing server's instance
/// id as the payload.
pub const CHANNEL: &str = "bangtin_store";

/// A connection to the store's database, reconnected when it drops.
pub struct Postgres {
    url: String,
    client: Mutex<Option<Client>>,
    /// This server, in the notifications it sends (its own are skipped).
    pub instance: String,
}

/// Everything in the database, read in one transaction.
#[derive(Debug, Default)]
pub struct Everything {
    /// The store's version when it was read (raised by every commit).
    pub version: i64,
    /// (kind, id, the body as JSON text).
    pub documents: Vec<(String, String, String)>,
    /// (kind, name) of every blob.
    pub blobs: Vec<(String, String)>,
}

/// A shared file's bytes and their SHA-256.
pub type SharedFile = (Vec<u8>, Vec<u8>);

/// One row change of a commit.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// A JSON document written (inserted or replaced).
    Document {
        /// Its directory in the file store's layout (`content/panels`, …).
        kind: String,
        /// Its file name without `.json`.
        id: String,
        /// Its content.
        body: serde_json::Value,
    },
    /// A binary file written (an image, a CAP document).
    Blob {
        /// Its directory in the file store's layout.
        kind: String,
        /// Its file name.
        name: String,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// A JSON document removed.
    RemoveDocument {
        /// Its directory in the file store's layout.
        kind: String,
        /// Its file name without `.json`.
        id: String,
    },
    /// A binary file removed.
    RemoveBlob {
        /// Its directory in the file store's layout.
        kind: String,
        /// Its file name.
        name: String,
    },
}

/// Why a commit did not happen.
#[derive(Debug)]
pub enum CommitError {
    /// Another server committed since this one's snapshot was read.
    Stale,
    /// The database refused or could not be reached.
    Failed(StoreError),
    /// COMMIT was sent, no answer came, and whether it went through could
    /// not be learnt ([`StoreError::OutcomeUnknown`]).
    Unknown(StoreError),
}

/// The store's error for a database failure: the URL without its
/// password, and what the driver said.
pub fn db_error(url: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        path: redact(url).into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// `url` without a password, for messages and logs: rebuilt from what
/// the driver reads in it (user, hosts, port, database), so a password
/// in any form it takes (`user:pass@`, `?password=…`, `password=…` in a
/// key-value string) is left out; an address that does not parse is not
/// echoed at all.
pub fn redact(url: &str) -> String {
    let Ok(c) = url.parse::<tokio_postgres::Config>() else {
        return "postgres://… (an address that does not parse)".into();
    };
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    let port = c
        .get_ports()
        .first()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let user = c.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = c.get_dbname().unwrap_or("");
    format!("postgres://{user}{}{port}/{db}", hosts.join(","))
}

/// Connects to `url` on a thread of its own (the connection lives there
/// until the client is dropped); runs the migrations when `migrate`.
fn connect(url: &str, migrate: bool) -> Result<Client, StoreError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let target = url.to_string();
    std::thread::Builder::new()
        .name("postgres".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                let (mut client, conn) = match tokio_postgres::connect(&target, NoTls).await {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let conn = tokio::spawn(conn);
                if migrate {
                    if let Err(e) = migrate_once(&mut client).await {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
                if tx.send(Ok(client)).is_ok() {
                    if let Ok(Err(e)) = conn.await {
                        tracing::warn!("the store's database connection ended: {e}");
                    }
                }
            });
        })
        .map_err(|e| db_error(url, e))?;
    rx.recv()
        .map_err(|e| db_error(url, e))?
        .map_err(|e| db_error(url, e))
}

/// The advisory lock a server holds from reading the latest store to
/// committing its change ([`Postgres::take_writers_turn`]).
pub const WRITE_LOCK: i64 = 0x6261_6e67_7469_6e03;

/// How many of the latest versions keep their [`Postgres::commit`] mark.
const COMMIT_MARKS_KEPT: i64 = 500;

/// How long a writer waits for its turn ([`Postgres::take_writers_turn`]).
const WRITERS_TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The class of the advisory locks on shared files' names (the second
/// key is the name's hash), held by [`Postgres::update_shared_file`].
pub const SHARED_FILE_LOCK: i32 = 0x6274_0003;

/// How long [`lock_within`]'s wait holds.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// For the session, until the caller resets `lock_timeout`.
    Session,
    /// For the transaction the statement runs in (`SET LOCAL`).
    Transaction,
}

/// Runs `lock`, a statement that waits for a lock, waiting
/// [`WRITERS_TURN_WAIT`] at most (a server cut off while holding the lock
/// keeps it until its session ends): whether the lock was had (`false`:
/// not within the wait; in a transaction, which then has failed).
async fn lock_within(
    c: &impl tokio_postgres::GenericClient,
    wait: Wait,
    lock: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<bool, tokio_postgres::Error> {
    let scope = match wait {
        Wait::Session => "",
        Wait::Transaction => "LOCAL ",
    };
    let ms = WRITERS_TURN_WAIT.as_millis();
    c.batch_execute(&format!("SET {scope}lock_timeout = '{ms}ms'"))
        .await?;
    match c.execute(lock, params).await {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// The advisory lock that servers starting together take in turn to
/// bring the schema up to date (any number that no one else uses).
const MIGRATION_LOCK: i64 = 0x6261_6e67_7469_6e01;

/// Runs the migrations, one server at a time.
async fn migrate_once(client: &mut Client) -> Result<(), String> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| e.to_string())?;
    let out = embedded::migrations::runner()
        .run_async(client)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| e.to_string())?;
    out
}

impl Postgres {
    /// Connects to the store's database and brings its schema up to date.
    pub fn open(url: &str) -> Result<Postgres, StoreError> {
        let client = connect(url, true)?;
        Ok(Postgres {
            url: url.to_string(),
            client: Mutex::new(Some(client)),
            instance: format!("{:016x}", rand::random::<u64>()),
        })
    }

    /// [`campaign`] for the lead on this database.
    pub fn campaign(
        &self,
        state: std::sync::Arc<Leadership>,
        gained: impl Fn(i64) + Send + 'static,
    ) -> std::io::Result<()> {
        campaign(&self.url, state, gained)
    }

    /// [`listen`] to this database.
    pub fn listen(
        &self,
        changed: impl Fn(Option<&str>) -> bool + Send + 'static,
    ) -> std::io::Result<()> {
        listen(&self.url, std::time::Duration::from_secs(1), changed)
    }

    /// Runs `f` with the connection (made again if it dropped), waiting
    /// for its future here.
    fn with<T>(
        &self,
        f: impl AsyncFnOnce(&mut Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut guard = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            *guard = None;
            *guard = Some(connect(&self.url, false)?);
        }
        let client = guard.as_mut().expect("connected above");
        futures_executor::block_on(f(client)).map_err(|e| db_error(&self.url, e))
    }

    /// Every document and the name of every blob, as of one instant.
    pub fn read_everything(&self) -> Result<Everything, StoreError> {
        self.with(async |c| {
            let tx = c
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let version: i64 = tx
                .query_one("SELECT version FROM store_version", &[])
                .await?
                .get(0);
            let documents = tx
                .query(
                    "SELECT kind, id, body::text FROM documents ORDER BY kind, id",
                    &[],
                )
                .await?
                .into_iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            let blobs = tx
                .query("SELECT kind, name FROM blobs ORDER BY kind, name", &[])
                .await?
                .into_iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            tx.commit().await?;
            Ok(Everything {
                version,
                documents,
                blobs,
            })
        })
    }

    /// Waits for this server's turn to write (the advisory lock
    /// [`WRITE_LOCK`], held by one server at a time), then returns the
    /// version the database is at and whether the turn was had: the
    /// writer reads what changed since and commits before
    /// [`Postgres::end_writers_turn`]. The wait ends after
    /// [`WRITERS_TURN_WAIT`] (a server cut off while holding the turn
    /// keeps it until its session ends): then the writer goes on without
    /// it. Without the turn, or should the connection drop meanwhile
    /// (the lock goes with it), the commit's version check still refuses
    /// a stale write.
    pub fn take_writers_turn(&self) -> Result<(i64, bool), StoreError> {
        self.with(async |c| {
            let lock = "SELECT pg_advisory_lock($1)";
            let had = lock_within(&*c, Wait::Session, lock, &[&WRITE_LOCK]).await?;
            if !had {
                tracing::warn!("no turn to write within {WRITERS_TURN_WAIT:?}: writing without it");
            }
            let version = async {
                c.batch_execute("RESET lock_timeout").await?;
                c.query_one("SELECT version FROM store_version", &[])
                    .await
                    .map(|r| r.get(0))
            }
            .await;
            match version {
                Ok(v) => Ok((v, had)),
                Err(e) => {
                    // No turn kept past a failure: the caller ends none.
                    if had {
                        let _ = c
                            .execute("SELECT pg_advisory_unlock($1)", &[&WRITE_LOCK])
                            .await;
                    }
                    Err(e)
                }
            }
        })
    }

    /// Lets the next server write.
    pub fn end_writers_turn(&self) -> Result<(), StoreError> {
        self.with(async |c| {
            c.execute("SELECT pg_advisory_unlock($1)", &[&WRITE_LOCK])
                .await
                .map(drop)
        })
    }

    /// The version the database is at.
    pub fn version(&self) -> Result<i64, StoreError> {
        self.with(async |c| {
            Ok(c.query_one("SELECT version FROM store_version", &[])
                .await?
                .get(0))
        })
    }

    /// The documents of `kind`: (id, body as JSON text).
    pub fn documents(&self, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.with(async |c| {
            Ok(c.query(
                "SELECT id, body::text FROM documents WHERE kind = $1 ORDER BY id",
                &[&kind],
            )
            .await?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })
    }

    /// One blob's bytes, if there is one.
    pub fn blob(&self, kind: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(async |c| {
            Ok(c.query_opt(
                "SELECT bytes FROM blobs WHERE kind = $1 AND name = $2",
                &[&kind, &name],
            )
            .await?
            .map(|r| r.get(0)))
        })
    }

    /// Keeps a blob whose name is its content (a CAP document by its
    /// hash): written once, outside any change.
    pub fn put_blob(&self, kind: &str, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.with(async |c| {
            c.execute(
                "INSERT INTO blobs (kind, name, bytes) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&kind, &name, &bytes],
            )
            .await
            .map(|_| ())
        })
    }

    /// Every panel's reserved sequence mark ([`super::seq`]).
    pub fn seq_marks(&self) -> Result<Vec<(String, u32)>, StoreError> {
        let rows = self.with(async |c| c.query("SELECT panel, mark FROM seq_marks", &[]).await)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let m: i64 = r.get(1);
                (r.get(0), u32::try_from(m).unwrap_or(u32::MAX))
            })
            .collect())
    }

    /// Raises panels' marks (never lowers one), in one statement. With
    /// `epoch`, only while the database's leader epoch is still that one:
    /// the leader row is read `FOR SHARE`, so a takeover (which raises the
    /// epoch) waits for this to commit and then reads these marks, or this
    /// sees the new epoch and reserves nothing. A server deposed without
    /// knowing it (a partition) can therefore never reserve numbers the
    /// new leader also hands out: every frame of a later epoch has a
    /// higher seq than any frame of an earlier one. Returns whether the
    /// marks were raised.
    pub fn raise_seq_marks(
        &self,
        marks: &[(&str, u32)],
        epoch: Option<i64>,
    ) -> Result<bool, StoreError> {
        let panels: Vec<&str> = marks.iter().map(|(p, _)| *p).collect();
        let values: Vec<i64> = marks.iter().map(|(_, m)| i64::from(*m)).collect();
        self.with(async |c| {
            let tx = c.transaction().await?;
            if let Some(epoch) = epoch {
                let now: i64 = tx
                    .query_one("SELECT epoch FROM leader FOR SHARE", &[])
                    .await?
                    .get(0);
                if now != epoch {
                    return Ok(false);
                }
            }
            tx.execute(
                "INSERT INTO seq_marks (panel, mark) SELECT * FROM unnest($1::text[], $2::bigint[]) \
                 ON CONFLICT (panel) DO UPDATE SET mark = GREATEST(seq_marks.mark, EXCLUDED.mark)",
                &[&panels, &values],
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// A shared file's bytes and SHA-256 ([`super::shared_files`]).
    pub fn shared_file(&self, name: &str) -> Result<Option<SharedFile>, StoreError> {
        self.with(async |c| {
            Ok(c.query_opt(
                "SELECT bytes, sha FROM shared_files WHERE name = $1",
                &[&name],
            )
            .await?
            .map(|r| (r.get(0), r.get(1))))
        })
    }

    /// The SHA-256 of every shared file.
    pub fn shared_shas(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.with(async |c| {
            Ok(c.query("SELECT name, sha FROM shared_files", &[])
                .await?
                .into_iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }

    /// Offers a shared file: kept only if there is none (the first server
    /// to offer it wins).
    pub fn offer_shared_file(
        &self,
        name: &str,
        bytes: &[u8],
        sha: &[u8],
    ) -> Result<(), StoreError> {
        self.replace_shared_file(name, bytes, sha, None).map(drop)
    }

    /// Replaces a shared file if it is still the version `was` (its
    /// SHA-256; `None`: there is none); whether it did.
    pub fn replace_shared_file(
        &self,
        name: &str,
        bytes: &[u8],
        sha: &[u8],
        was: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        self.with(async |c| {
            let n = match was {
                Some(was) => {
                    c.execute(
                        "UPDATE shared_files SET bytes = $2, sha = $3 WHERE name = $1 AND sha = $4",
                        &[&name, &bytes, &sha, &was],
                    )
                    .await?
                }
                None => {
                    c.execute(
                        "INSERT INTO shared_files (name, bytes, sha) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        &[&name, &bytes, &sha],
                    )
                    .await?
                }
            };
            Ok(n == 1)
        })
    }

    /// Changes a shared file with no lost update: in one transaction,
    /// under a lock on the file's name that every server takes for it,
    /// reads the database's copy, asks `change` for the new bytes (from
    /// that copy: `None` when there is none) and writes them. The new
    /// bytes once committed; nothing is written when `change` fails.
    pub fn update_shared_file(
        &self,
        name: &str,
        change: impl FnOnce(Option<SharedFile>) -> Result<Vec<u8>, StoreError>,
    ) -> Result<Vec<u8>, StoreError> {
        self.with(async |c| {
            let tx = c.transaction().await?;
            // A row lock would not cover a file that has no row yet.
            let lock = "SELECT pg_advisory_xact_lock($1, hashtext($2))";
            if !lock_within(&tx, Wait::Transaction, lock, &[&SHARED_FILE_LOCK, &name]).await? {
                tracing::warn!(file = name, "another server holds this file: not written");
                return Ok(Err(StoreError::conflict(Reason::ChangedElsewhere)));
            }
            let there = tx
                .query_opt(
                    "SELECT bytes, sha FROM shared_files WHERE name = $1",
                    &[&name],
                )
                .await?
                .map(|r| (r.get(0), r.get(1)));
            let next = match change(there) {
                Ok(next) => next,
                Err(e) => return Ok(Err(e)),
            };
            let sha = sha2::Sha256::digest(&next).to_vec();
            tx.execute(
                "INSERT INTO shared_files (name, bytes, sha) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET bytes = EXCLUDED.bytes, sha = EXCLUDED.sha",
                &[&name, &next, &sha],
            )
            .await?;
            tx.commit().await?;
            Ok(Ok(next))
        })?
    }

    /// Notes tokens' uses, by the token's SHA-256 (hex): a later time
    /// replaces an earlier one, never the reverse.
    pub fn note_token_uses(
        &self,
        uses: &[(String, chrono::DateTime<chrono::Utc>)],
    ) -> Result<(), StoreError> {
        let shas: Vec<&str> = uses.iter().map(|(s, _)| s.as_str()).collect();
        let times: Vec<chrono::DateTime<chrono::Utc>> = uses.iter().map(|(_, t)| *t).collect();
        self.with(async |c| {
            c.execute(
                "INSERT INTO token_uses (sha256, used_at) \
                 SELECT * FROM unnest($1::text[], $2::timestamptz[]) \
                 ON CONFLICT (sha256) DO UPDATE \
                 SET used_at = GREATEST(token_uses.used_at, EXCLUDED.used_at)",
                &[&shas, &times],
            )
            .await
            .map(drop)
        })
    }

    /// Every token's latest use on any server: (SHA-256 in hex, when).
    pub fn token_uses(&self) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, StoreError> {
        self.with(async |c| {
            Ok(c.query("SELECT sha256, used_at FROM token_uses", &[])
                .await?
                .into_iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }

    /// Every blob, with its bytes: (kind, name, bytes).
    pub fn blobs(&self) -> Result<Vec<(String, String, Vec<u8>)>, StoreError> {
        self.with(async |c| {
            Ok(c.query(
                "SELECT kind, name, bytes FROM blobs ORDER BY kind, name",
                &[],
            )
            .await?
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
        })
    }

    /// The whole audit trail, oldest first.
    pub fn audit_all(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self.with(async |c| c.query("SELECT entry FROM audit ORDER BY n", &[]).await)?;
        rows.into_iter()
            .map(|r| {
                serde_json::from_value(r.get(0)).map_err(|e| StoreError::Io {
                    path: "audit".into(),
                    source: e.into(),
                })
            })
            .collect()
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_tail(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self.with(async |c| {
            c.query(
                "SELECT entry FROM audit ORDER BY n DESC LIMIT $1",
                &[&(limit.min(i64::MAX as usize) as i64)],
            )
            .await
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|r| serde_json::from_value(r.get(0)).ok())
            .collect())
    }

    /// Appends audit entries on their own (a change kept outside the
    /// store); their row numbers, to take them back with
    /// [`Postgres::remove_audit`].
    pub fn append_audit(&self, entries: &[AuditEntry]) -> Result<Vec<i64>, StoreError> {
        let values = audit_values(entries);
        self.with(async |c| {
            let mut ns = Vec::new();
            for v in &values {
                let r = c
                    .query_one("INSERT INTO audit (entry) VALUES ($1) RETURNING n", &[v])
                    .await?;
                ns.push(r.get(0));
            }
            Ok(ns)
        })
    }

    /// Takes back audit rows whose change failed.
    pub fn remove_audit(&self, ns: &[i64]) -> Result<(), StoreError> {
        self.with(async |c| {
            c.execute("DELETE FROM audit WHERE n = ANY($1)", &[&ns])
                .await
                .map(|_| ())
        })
    }

    /// Commits `rows` and `audit` in one transaction if the database is
    /// still at `expected`; the version it is at afterwards.
    pub fn commit(
        &self,
        expected: i64,
        rows: &[Row],
        audit: &[AuditEntry],
    ) -> Result<i64, CommitError> {
        let values = audit_values(audit);
        let instance = self.instance.clone();
        // The version this commit raises to, once it has sent COMMIT.
        let committing = std::cell::Cell::new(None);
        let out = self.with(async |c| {
            let tx = c.transaction().await?;
            let raised = tx
                .query_opt(
                    "UPDATE store_version SET version = version + 1 WHERE version = $1 RETURNING version",
                    &[&expected],
                )
                .await?;
            let Some(raised) = raised else {
                return Ok(None);
            };
            let raised: i64 = raised.get(0);
            tx.execute(
                "INSERT INTO commit_marks (version, instance) VALUES ($1, $2)",
                &[&raised, &instance],
            )
            .await?;
            tx.execute(
                "DELETE FROM commit_marks WHERE version < $1",
                &[&(raised - COMMIT_MARKS_KEPT)],
            )
            .await?;
            for row in rows {
                apply(&tx, row).await?;
            }
            for v in &values {
                tx.execute("INSERT INTO audit (entry) VALUES ($1)", &[v])
                    .await?;
            }
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &instance])
                .await?;
            committing.set(Some(raised));
            tx.commit().await?;
            Ok(Some(raised))
        });
        match (out, committing.get()) {
            (Ok(Some(v)), _) => Ok(v),
            (Ok(None), _) => Err(CommitError::Stale),
            (Err(e), None) => Err(CommitError::Failed(e)),
            // The COMMIT was sent and no answer came: ask.
            (Err(e), Some(v)) => match self.committed(v) {
                Ok(true) => {
                    tracing::warn!(
                        version = v,
                        "the commit's answer was lost, but it was committed: {e}"
                    );
                    Ok(v)
                }
                Ok(false) => Err(CommitError::Failed(e)),
                Err(check) => {
                    tracing::error!(version = v, "whether a commit whose answer was lost went through is not known ({check}): {e}");
                    Err(CommitError::Unknown(StoreError::OutcomeUnknown {
                        source: std::io::Error::other(e.to_string()),
                    }))
                }
            },
        }
    }

    /// Whether this server committed the store's version `v`, asked on a
    /// new connection once the transaction that may have done it has
    /// ended (its lock on the version row is waited for, 10 s at most).
    fn committed(&self, v: i64) -> Result<bool, StoreError> {
        let instance = self.instance.clone();
        self.with(async |c| {
            let tx = c.transaction().await?;
            tx.batch_execute("SET LOCAL lock_timeout = '10s'").await?;
            tx.query_one("SELECT version FROM store_version FOR SHARE", &[])
                .await?;
            let by: Option<String> = tx
                .query_opt(
                    "SELECT instance FROM commit_marks WHERE version = $1",
                    &[&v],
                )
                .await?
                .map(|r| r.get(0));
            tx.commit().await?;
            Ok(by.as_deref() == Some(instance.as_str()))
        })
    }
}

fn audit_values(entries: &[AuditEntry]) -> Vec<serde_json::Value> {
    entries
        .iter()
        .map(|a| serde_json::to_value(a).expect("audit entry serializes"))
        .collect()
}

async fn apply(
    tx: &tokio_postgres::Transaction<'_>,
    row: &Row,
) -> Result<u64, tokio_postgres::Error> {
    match row {
        Row::Document { kind, id, body } => {
            tx.execute(
                "INSERT INTO documents (kind, id, body) VALUES ($1, $2, $3) \
                 ON CONFLICT (kind, id) DO UPDATE SET body = EXCLUDED.body",
                &[kind, id, body],
            )
            .await
        }
        Row::Blob { kind, name, bytes } => {
            tx.execute(
                "INSERT INTO blobs (kind, name, bytes) VALUES ($1, $2, $3) \
                 ON CONFLICT (kind, name) DO UPDATE SET bytes = EXCLUDED.bytes",
                &[kind, name, bytes],
            )
            .await
        }
        Row::RemoveDocument { kind, id } => {
            tx.execute(
                "DELETE FROM documents WHERE kind = $1 AND id = $2",
                &[kind, id],
            )
            .await
        }
        Row::RemoveBlob { kind, name } => {
            tx.execute(
                "DELETE FROM blobs WHERE kind = $1 AND name = $2",
                &[kind, name],
            )
            .await
        }
    }
}

/// The (kind, name) of a file under `root`: its directory relative to the
/// root, with `/` between parts, and its file name.
pub fn key(root: &Path, path: &Path) -> Option<(String, String)> {
    let rel = path.strip_prefix(root).ok()?;
    let name = rel.file_name()?.to_str()?.to_string();
    let dir = rel.parent()?;
    let kind = dir
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<Vec<_>>>()?
        .join("/");
    Some((kind, name))
}

/// The row changes that the file operations `ops` (under `root`) stand
/// for: a `.json` file is a document, any other a blob.
pub(super) fn rows(root: &Path, ops: &[&FileOp]) -> Result<Vec<Row>, StoreError> {
    let mut out = Vec::new();
    let mut write = |path: &Path, bytes: Option<&[u8]>| -> Result<(), StoreError> {
        let (kind, name) = key(root, path).ok_or_else(|| StoreError::Io {
            path: path.into(),
            source: std::io::Error::other("not a file of the store"),
        })?;
        let row = match (name.strip_suffix(".json"), bytes) {
            (Some(id), Some(b)) => Row::Document {
                kind,
                id: id.to_string(),
                body: serde_json::from_slice(b).map_err(|e| StoreError::Io {
                    path: path.into(),
                    source: e.into(),
                })?,
            },
            (Some(id), None) => Row::RemoveDocument {
                kind,
                id: id.to_string(),
            },
            (None, Some(b)) => Row::Blob {
                kind,
                name,
                bytes: b.to_vec(),
            },
            (None, None) => Row::RemoveBlob { kind, name },
        };
        out.push(row);
        Ok(())
    };
    for op in ops {
        match op {
            FileOp::Write(p, b) => write(p, Some(b))?,
            FileOp::Remove(p) => write(p, None)?,
            FileOp::Batch { files, .. } => {
                for (p, b) in files {
                    write(p, Some(b))?;
                }
            }
        }
    }
    Ok(out)
}

/// Listens on [`CHANNEL`] on a connection of its own (made again when it
/// drops, after `retry`), calling `changed` with each notification's
/// payload, and once after every (re)connection (a notification may have
/// been missed meanwhile). Runs until `changed` returns false.
pub fn listen(
    url: &str,
    retry: std::time::Duration,
    changed: impl Fn(Option<&str>) -> bool + Send + 'static,
) -> std::io::Result<()> {
    let url = url.to_string();
    on_own_thread("postgres-listen", move || async move {
        loop {
            match listen_once(&url, &changed).await {
                Ok(false) => return,
                Ok(true) => {}
                Err(e) => tracing::warn!(
                    "listening for other servers' changes ({}): {e}",
                    redact(&url)
                ),
            }
            if !changed(None) {
                return;
            }
            tokio::time::sleep(retry).await;
        }
    })
}

/// Runs `work` on a thread of its own, on a runtime of its own.
fn on_own_thread<F: std::future::Future<Output = ()>>(
    name: &str,
    work: impl FnOnce() -> F + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(work()),
                Err(e) => tracing::error!("no runtime for the database connection: {e}"),
            }
        })
        .map(|_| ())
}

/// One connection's worth of [`listen`]: Ok(false) when `changed` said
/// stop, Ok(true) when the connection ended.
async fn listen_once(
    url: &str,
    changed: &impl Fn(Option<&str>) -> bool,
) -> Result<bool, tokio_postgres::Error> {
    use futures_util::StreamExt;
    let (client, mut conn) = tokio_postgres::connect(url, NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let pump = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    let _ = tx.send(Some(n.payload().to_string()));
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(None);
                    return Err(e);
                }
            }
        }
        Ok(())
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    // Whatever happened before the LISTEN took effect.
    if !changed(None) {
        return Ok(false);
    }
    while let Some(payload) = rx.recv().await {
        match payload {
            Some(p) => {
                if !changed(Some(&p)) {
                    return Ok(false);
                }
            }
            None => break,
        }
    }
    match pump.await {
        Ok(Err(e)) => Err(e),
        _ => Ok(true),
    }
}

/// The advisory lock the leader holds on a connection of its own.
const LEADER_LOCK: i64 = 0x6261_6e67_7469_6e02;

/// Whether this server leads (runs the player and publishes), and the
/// epoch it took the lead in: exactly one server at a time holds the
/// advisory lock [`LEADER_LOCK`] on a dedicated connection ([`campaign`]).
#[derive(Debug, Default)]
pub struct Leadership {
    leading: std::sync::atomic::AtomicBool,
    epoch: std::sync::atomic::AtomicI64,
    /// The epoch whose sequence marks the player read after it took the
    /// lead ([`Leadership::ready`]); 0 from a loss of the lead until then.
    ready: std::sync::atomic::AtomicI64,
}

impl Leadership {
    /// True while this server holds the lock on a live connection.
    pub fn leading(&self) -> bool {
        self.leading.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The epoch of this server's last takeover (0: never led).
    pub fn epoch(&self) -> i64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the player's frames may go out: this server leads, and
    /// its player has taken the lead of this epoch (its sequence numbers
    /// read again above the last leader's, [`super::seq::SeqAllocator::took_lead`]).
    /// A frame the player made while it followed, with a number the
    /// leader may also have used, is never sent, even when the lead
    /// comes between its number and its sending.
    pub fn sends(&self) -> bool {
        let ready = self.ready.load(std::sync::atomic::Ordering::SeqCst);
        self.leading() && ready != 0 && ready == self.epoch()
    }

    /// The player took the lead of `epoch`: its numbers from now on were
    /// reserved under it ([`Leadership::sends`]).
    pub fn ready(&self, epoch: i64) {
        self.ready.store(epoch, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Whether this server acts for the fleet (runs the player's output and
/// publishes): the one server of a file store always does (epoch 0); on
/// the PostgreSQL store, while it holds the lead ([`Leadership`]).
#[derive(Clone, Default)]
pub struct Lead(Option<std::sync::Arc<Leadership>>);

impl Lead {
    /// The lead this server campaigns for on the PostgreSQL store.
    pub fn contested(l: std::sync::Arc<Leadership>) -> Lead {
        Lead(Some(l))
    }

    /// The contested lead (`None` on a file store).
    pub fn contest(&self) -> Option<&std::sync::Arc<Leadership>> {
        self.0.as_ref()
    }

    /// Whether this server leads now ([`Leadership::leading`]).
    pub fn leading(&self) -> bool {
        self.0.as_ref().is_none_or(|l| l.leading())
    }

    /// Whether the player's frames may go out ([`Leadership::sends`]).
    pub fn sends(&self) -> bool {
        self.0.as_ref().is_none_or(|l| l.sends())
    }

    /// The epoch of this server's last takeover (0 on a file store, or
    /// before it first led).
    pub fn epoch(&self) -> i64 {
        self.0.as_ref().map_or(0, |l| l.epoch())
    }
}

/// How often a server tries for the lead, and checks the connection
/// that holds it.
const LEADER_POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// How long the lead's session may sit idle before the database ends it
/// (and frees the lock): a few of its once-a-second checks missed.
const LEADER_IDLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Tries for the lead at `url` until this server gets it, on a thread and
/// a connection of its own; on each takeover raises the epoch in the
/// database, sets `state` and calls `gained` with the new epoch. The
/// connection is checked every second: when it fails or does not answer
/// within two, the lead is given up at once (PostgreSQL frees the lock of
/// a closed connection, so another server takes over), and tried for
/// again.
pub fn campaign(
    url: &str,
    state: std::sync::Arc<Leadership>,
    gained: impl Fn(i64) + Send + 'static,
) -> std::io::Result<()> {
    let url = url.to_string();
    on_own_thread("postgres-leader", move || async move {
        loop {
            if let Err(e) = lead_once(&url, &state, &gained).await {
                tracing::warn!("the lead ({}): {e}", redact(&url));
            }
            state.ready.store(0, std::sync::atomic::Ordering::SeqCst);
            if state
                .leading
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                tracing::error!("no longer the leader: publishing stopped");
            }
            tokio::time::sleep(LEADER_POLL).await;
        }
    })
}

/// One connection's worth of [`campaign`]: returns when it fails.
async fn lead_once(
    url: &str,
    state: &Leadership,
    gained: &impl Fn(i64),
) -> Result<(), tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    let conn = tokio::spawn(conn);
    // The lock lives as long as this session. If the link goes silent (a
    // partition: nothing closes the socket), the database would keep the
    // session, and the lock, until TCP keep-alive gives up (two hours by
    // default): no server could lead. This session asks something every
    // second, so the database may end it after a few idle seconds instead
    // (PostgreSQL 14 and newer).
    if let Err(e) = client
        .simple_query(&format!(
            "SET idle_session_timeout = '{}ms'",
            LEADER_IDLE_LIMIT.as_millis()
        ))
        .await
    {
        tracing::warn!(
            "the lead's session cannot end itself when idle (PostgreSQL before 14?): {e}"
        );
    }
    loop {
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])
            .await?
            .get(0);
        if got {
            break;
        }
        tokio::time::sleep(LEADER_POLL).await;
    }
    let epoch: i64 = client
        .query_one("UPDATE leader SET epoch = epoch + 1 RETURNING epoch", &[])
        .await?
        .get(0);
    // Leading before the new epoch shows: a sequence allocator that sees
    // the epoch must also see the lead, or it would take itself for a
    // follower and hand out numbers it never reserved. No ready mark of
    // an earlier lead survives into this one (`sends` waits for the
    // player to take this lead).
    state.ready.store(0, std::sync::atomic::Ordering::SeqCst);
    state
        .leading
        .store(true, std::sync::atomic::Ordering::SeqCst);
    state
        .epoch
        .store(epoch, std::sync::atomic::Ordering::SeqCst);
    tracing::info!(epoch, "leader: this server runs the player and publishes");
    gained(epoch);
    loop {
        tokio::time::sleep(LEADER_POLL).await;
        let alive = tokio::time::timeout(2 * LEADER_POLL, client.simple_query("SELECT 1")).await;
        match alive {
            Ok(Ok(_)) if !conn.is_finished() => {}
            Ok(Err(e)) => return Err(e),
            _ => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn files_become_rows_by_directory_and_name() {
        let root = PathBuf::from("/data");
        let ops = [
            FileOp::Write(root.join("content/panels/p1.json"), b"{\"a\": 1}".to_vec()),
            FileOp::Write(root.join("content/assets/ab.png"), vec![1, 2]),
            FileOp::Remove(root.join("state/versions/m1/3.json")),
            FileOp::Remove(root.join("content/assets/ab.png")),
        ];
        let refs: Vec<&FileOp> = ops.iter().collect();
        let got = rows(&root, &refs).unwrap();
        assert_eq!(
            got,
            vec![
                Row::Document {
                    kind: "content/panels".into(),
                    id: "p1".into(),
                    body: serde_json::json!({"a": 1}),
                },
                Row::Blob {
                    kind: "content/assets".into(),
                    name: "ab.png".into(),
                    bytes: vec![1, 2],
                },
                Row::RemoveDocument {
                    kind: "state/versions/m1".into(),
                    id: "3".into(),
                },
                Row::RemoveBlob {
                    kind: "content/assets".into(),
                    name: "ab.png".into(),
                },
            ]
        );
        let outside = [FileOp::Write(PathBuf::from("/etc/x.json"), b"{}".to_vec())];
        assert!(rows(&root, &[&outside[0]]).is_err());
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("postgres://bangtin:s3cret@db:5432/bangtin"),
            "postgres://bangtin@db:5432/bangtin"
        );
        assert_eq!(redact("postgres://db/x"), "postgres://db:5432/x");
        for with_password in [
            "postgres://db/bangtin?password=s3cret",
            "postgresql://bangtin@db/bangtin?password=s3cret&sslmode=disable",
            "host=db user=bangtin password=s3cret dbname=bangtin",
            "postgres://bangtin:s3cret@",
        ] {
            let shown = redact(with_password);
            assert!(!shown.contains("s3cret"), "{with_password} → {shown}");
        }
        assert_eq!(
            redact("host=db user=bangtin password=s3cret dbname=bangtin"),
            "postgres://bangtin@db/bangtin"
        );
    }
}
