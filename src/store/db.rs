//! The two database backends behind one set of operations: embedded SQLite for a station, PostgreSQL
//! for a province of centers.
//!
//! Every statement is written once, in the SQL both dialects share (`$N` parameters, `ON CONFLICT DO
//! NOTHING`, `IS NOT DISTINCT FROM`, `string_agg`), and run on whichever typed pool the database URL
//! chose: the [`on_pool!`] and [`on_tx!`] macros instantiate a statement for each backend, so rows are
//! decoded by the native driver (no `Any` driver and its type gaps). Where the dialects really differ
//! (claiming a job) the caller matches on [`Pool`] itself.
//!
//! Writers are serialized the same way on both: SQLite by `BEGIN IMMEDIATE`, PostgreSQL by a
//! transaction-scoped advisory lock taken first in every writing transaction. Filing pages in capture
//! order relies on it. On SQLite the writers of one process also queue on an in-process gate before
//! `BEGIN IMMEDIATE`: without it they meet SQLite's busy handler, which sleeps in steps of milliseconds
//! and left a 500-page ingest waiting a second and a half in all.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::error::{Failure, Result};

/// The key of the advisory lock that serializes writers on PostgreSQL.
const WRITER_LOCK: i64 = 0x0073_6f68_6f61; // "sohoa"

/// The in-process writer gate of one SQLite file, shared by every pool opened on it.
fn writer_gate(file: &Path) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Mutex};
    static GATES: LazyLock<Mutex<HashMap<std::path::PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    let mut gates = GATES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    gates.entry(file.to_path_buf()).or_default().clone()
}

/// The one connection a process writes a SQLite file through.
///
/// SQLite keeps a page cache per connection and throws it away whenever another connection has
/// written since: writers taking turns on a pool re-read their B-trees at every transaction (some 160
/// reads a page in a 500-page ingest). One connection keeps its cache across its own writes.
/// Captures and job results want different durability; the writer switches `synchronous` between
/// transactions, under the gate, only when the next one wants the other setting.
#[derive(Debug)]
pub struct SqliteWriter {
    /// A pool of exactly one connection.
    conn: SqlitePool,
    gate: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The connection's `synchronous` now: 0 not set yet, 1 NORMAL, 2 FULL. Changed with the gate held.
    synchronous: std::sync::atomic::AtomicU8,
}

impl SqliteWriter {
    /// Takes the gate and readies the connection for writes of the given durability.
    async fn enter(&self, full: bool) -> Result<tokio::sync::OwnedMutexGuard<()>> {
        use std::sync::atomic::Ordering;
        let gate = self.gate.clone().lock_owned().await;
        let want = if full { 2 } else { 1 };
        if self.synchronous.load(Ordering::Acquire) != want {
            let pragma = if full { "PRAGMA synchronous = FULL" } else { "PRAGMA synchronous = NORMAL" };
            // Unknown until the switch is known done: a cancelled switch may still reach the connection.
            self.synchronous.store(0, Ordering::Release);
            sqlx::query(pragma).execute(&self.conn).await?;
            self.synchronous.store(want, Ordering::Release);
        }
        Ok(gate)
    }

    /// Opens a writing transaction. A connection left inside a transaction by a failed commit (a full
    /// disk, an I/O error: SQLite may have rolled back on its own, sqlx still counts the transaction
    /// open) refuses every later `BEGIN`; it is closed and the next one opened, so one failed write
    /// never stops the writes after it.
    async fn begin(&self, full: bool) -> Result<(Transaction<'static, Sqlite>, tokio::sync::OwnedMutexGuard<()>)> {
        let gate = self.enter(full).await?;
        match self.conn.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => Ok((tx, gate)),
            Err(e) if e.to_string().contains("transaction depth") => {
                tracing::warn!(alarm = true, "the database connection was left in a failed transaction; reopening it");
                drop(gate);
                self.reopen().await?;
                let gate = self.enter(full).await?;
                Ok((self.conn.begin_with("BEGIN IMMEDIATE").await?, gate))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Closes the writer's connection; the pool opens a new one at the next write (with the options'
    /// `synchronous = FULL`, which `enter` then sets as each transaction needs).
    async fn reopen(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        let _gate = self.gate.clone().lock_owned().await;
        let conn = self.conn.acquire().await?;
        self.synchronous.store(0, Ordering::Release);
        conn.close().await?;
        Ok(())
    }
}

/// How one [`Pool`] of a SQLite file writes: through the file's one writer, durable at each commit
/// (`full`) or not.
#[derive(Clone, Debug)]
pub struct SqliteWrites {
    writer: std::sync::Arc<SqliteWriter>,
    full: bool,
}

/// A connection pool of either backend.
#[derive(Clone, Debug)]
pub enum Pool {
    /// The embedded database file: connections for reading, and its writer.
    Sqlite(SqlitePool, SqliteWrites),
    /// A PostgreSQL server shared by several workers.
    Postgres(PgPool),
}

/// Where the statements of a [`Tx`] run: in a transaction, or one at a time on a connection.
pub enum Work<DB: sqlx::Database> {
    /// A transaction.
    Tx(Transaction<'static, DB>),
    /// Autocommit: each statement is its own transaction.
    Statement(sqlx::pool::PoolConnection<DB>),
}

impl<DB: sqlx::Database> Work<DB> {
    /// The connection statements go to.
    pub fn conn(&mut self) -> &mut DB::Connection {
        match self {
            Work::Tx(t) => t,
            Work::Statement(c) => c,
        }
    }

    async fn commit(self) -> Result<()> {
        if let Work::Tx(t) = self {
            t.commit().await?;
        }
        Ok(())
    }

    async fn rollback(self) -> Result<()> {
        if let Work::Tx(t) = self {
            t.rollback().await?;
        }
        Ok(())
    }
}

/// An open transaction of either backend.
pub enum Tx {
    /// SQLite, with this process's writer gate held when the transaction writes.
    Sqlite(Work<Sqlite>, Option<tokio::sync::OwnedMutexGuard<()>>),
    /// PostgreSQL.
    Postgres(Work<Postgres>),
}

/// Runs one expression with `$p` bound to the pool of whichever backend is in use; the expression is
/// compiled once per backend.
#[macro_export]
#[doc(hidden)]
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::store::db::Pool::Sqlite($p, _) => $body,
            $crate::store::db::Pool::Postgres($p) => $body,
        }
    };
}

/// Runs one expression with `$c` bound to the connection of an open [`Tx`]; use it as `&mut *$c`.
#[macro_export]
#[doc(hidden)]
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::store::db::Tx::Sqlite(t, _) => {
                let $c = t.conn();
                $body
            }
            $crate::store::db::Tx::Postgres(t) => {
                let $c = t.conn();
                $body
            }
        }
    };
}

pub use crate::{on_pool, on_tx};

/// Which backend a database URL names, and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(std::path::PathBuf),
    /// A `postgres://` URL.
    Postgres(String),
}

impl Location {
    /// Reads `--database`: `postgres://…`/`postgresql://…`, `sqlite://PATH` or a plain file path.
    pub fn parse(url: &str) -> Location {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Location::Postgres(url.to_string())
        } else {
            Location::Sqlite(url.strip_prefix("sqlite://").unwrap_or(url).into())
        }
    }

    /// The location with any password replaced, for logs and messages.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(s), Some(at)) if at > s => {
                    let user = &url[s + 3..at];
                    let user = user.split(':').next().unwrap_or("");
                    format!("{}{user}@{}", &url[..s + 3], &url[at + 1..])
                }
                _ => url.clone(),
            },
        }
    }
}

impl Pool {
    /// Opens a SQLite file (created when missing) and applies migrations: one pool whose commits are
    /// durable when they return, and one whose commits are not, sharing the file's connections.
    ///
    /// WAL with `synchronous=FULL`: a commit is on disk when it returns, which is what lets an inbox
    /// file be removed right after it. `NORMAL` is for job results a power cut may lose and re-run.
    pub async fn sqlite(path: &Path) -> Result<(Pool, Pool)> {
        let opts = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| Failure::transient("database options", e))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_millis(500))
            // 1 MiB of page cache per connection: enough for the hot rows, flat whatever the archive size.
            .pragma("cache_size", "-1024");
        let opening = |e| Failure::transient(format!("opening the database {}", path.display()), e);
        // Kept for the life of the pool: a new connection would start at FULL whatever `synchronous` says.
        let conn = SqlitePoolOptions::new()
            .max_connections(1)
            // Its own connection, kept open: no liveness ping at each hand-out.
            .test_before_acquire(false)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with(opts.clone())
            .await
            .map_err(opening)?;
        sqlx::migrate!("migrations/sqlite")
            .run(&conn)
            .await
            .map_err(|e| Failure::transient("applying database migrations", e))?;
        let readers = SqlitePoolOptions::new().max_connections(3).connect_with(opts).await.map_err(opening)?;
        let writer = std::sync::Arc::new(SqliteWriter {
            conn,
            gate: writer_gate(path),
            synchronous: std::sync::atomic::AtomicU8::new(2),
        });
        let durable = SqliteWrites { writer: writer.clone(), full: true };
        let fast = SqliteWrites { writer, full: false };
        Ok((Pool::Sqlite(readers.clone(), durable), Pool::Sqlite(readers, fast)))
    }

    /// Connects to PostgreSQL and applies migrations (the migrator takes its own lock, so workers
    /// starting together apply them once).
    pub async fn postgres(url: &str) -> Result<Pool> {
        let shown = Location::Postgres(url.to_string()).display();
        let opts = PgConnectOptions::from_str(url).map_err(|e| {
            Failure::transient(format!("reading the database URL {shown} (expected postgres://user@host:port/db)"), e)
        })?;
        let pool = PgPoolOptions::new()
            // Writers queue on the advisory lock while holding a connection: room for all of them
            // (capture, workers, housekeeping) and the readers beside.
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            // Each borrowed connection is pinged, and the ping also asks whether its session is
            // read-only: one opened while the database was (a standby, an administrator's switch)
            // stays so after the database takes writes again, so it is closed and a new one opened.
            .test_before_acquire(false)
            .before_acquire(|conn, _| {
                Box::pin(async move {
                    let read_only: String = sqlx::query_scalar("SELECT current_setting('transaction_read_only')")
                        .fetch_one(&mut *conn)
                        .await?;
                    Ok(read_only != "on")
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| Failure::transient(format!("connecting to the database {shown}"), e))?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| Failure::transient("applying database migrations", e))?;
        Ok(Pool::Postgres(pool))
    }

    /// A transaction for reading, or writing what no other writer can race (one row by key).
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Pool::Sqlite(p, _) => Tx::Sqlite(Work::Tx(p.begin().await?), None),
            Pool::Postgres(p) => Tx::Postgres(Work::Tx(p.begin().await?)),
        })
    }

    /// A writing transaction that excludes every other writer until it ends.
    pub async fn begin_write(&self) -> Result<Tx> {
        Ok(match self {
            Pool::Sqlite(_, w) => {
                let (tx, gate) = w.writer.begin(w.full).await?;
                Tx::Sqlite(Work::Tx(tx), Some(gate))
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITER_LOCK).execute(&mut *tx).await?;
                Tx::Postgres(Work::Tx(tx))
            }
        })
    }

    /// A connection for one write statement outside a transaction (a job claim, a heartbeat): on
    /// SQLite the file's writer, with this process's other writers held back until it is dropped; on
    /// PostgreSQL any connection of the pool.
    pub async fn autocommit(&self) -> Result<Tx> {
        Ok(match self {
            Pool::Sqlite(_, w) => {
                let gate = w.writer.enter(w.full).await?;
                Tx::Sqlite(Work::Statement(w.writer.conn.acquire().await?), Some(gate))
            }
            Pool::Postgres(p) => Tx::Postgres(Work::Statement(p.acquire().await?)),
        })
    }

    /// True for PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Pool::Postgres(_))
    }

    /// Closes every connection (tests drop databases afterwards).
    pub async fn close(&self) {
        match self {
            Pool::Sqlite(p, w) => {
                p.close().await;
                w.writer.conn.close().await;
            }
            Pool::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    /// Makes the transaction's writes durable.
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t, _gate) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Ends the transaction without writing, and at once. A transaction merely dropped is rolled back
    /// only when its connection is next used — until then, on PostgreSQL, it keeps holding the
    /// writers' advisory lock — so every early return after [`Pool::begin_write`] rolls back.
    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(t, _gate) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend_and_hide_passwords() {
        assert_eq!(Location::parse("data/sohoa.db"), Location::Sqlite("data/sohoa.db".into()));
        assert_eq!(Location::parse("sqlite:///tmp/x.db"), Location::Sqlite("/tmp/x.db".into()));
        let pg = Location::parse("postgres://clerk:secret@db.local:5432/sohoa");
        assert_eq!(pg.display(), "postgres://clerk@db.local:5432/sohoa");
        assert_eq!(Location::parse("postgresql://h/db").display(), "postgresql://h/db");
    }
}
