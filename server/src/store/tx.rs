//! Transactions that cannot outlive a failure. A connection whose transaction did not commit is
//! closed, never handed back to the pool: after a failed statement or COMMIT (a full disk, an I/O
//! error, a lost connection) the database may have rolled back, or may still hold the
//! transaction open, and a pooled connection in either state would make the next request's
//! writes vanish or lock the database. Closing it rolls back whatever is left; the pool opens a
//! fresh connection when it needs one, so the server heals once the cause goes away.

use std::ops::{Deref, DerefMut};

use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, PgConnection, PgPool, Postgres};

use super::apply::{Announce, Conn, Writes};
use super::dialect::Script;
use super::{Backend, StoreError};

/// An open transaction on a pooled connection; dropped without `commit`, it closes the
/// connection.
pub struct Tx {
    conn: PoolConnection<Any>,
    /// Whether the transaction ended cleanly (committed, or rolled back on purpose).
    committed: bool,
}

impl Tx {
    /// Starts a transaction that reads only, or reads and then writes.
    pub async fn begin(pool: &AnyPool) -> Result<Tx, StoreError> {
        Self::start(pool, "BEGIN").await
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so it waits for another writer instead of failing half-way.
    pub async fn begin_write(pool: &AnyPool, backend: Backend) -> Result<Tx, StoreError> {
        Self::start(pool, Self::write_begin(backend)).await
    }

    /// The statement that begins a writing transaction on a backend.
    fn write_begin(backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// The same, holding a transaction-scoped advisory lock on Postgres (taken with the
    /// `BEGIN`, in the same round trip); SQLite's `BEGIN IMMEDIATE` already excludes other writers.
    pub async fn begin_write_locked(
        pool: &AnyPool,
        backend: Backend,
        lock: i64,
    ) -> Result<Tx, StoreError> {
        let empty = Script::new(backend);
        Ok(Self::begin_write_locked_with(pool, backend, lock, empty)
            .await?
            .0)
    }

    /// The same, running `script` in the new transaction in the same round trip as the `BEGIN`;
    /// answers the rows of each of the script's statements.
    pub async fn begin_write_locked_with(
        pool: &AnyPool,
        backend: Backend,
        lock: i64,
        script: Script,
    ) -> Result<(Tx, Vec<Vec<sqlx::any::AnyRow>>), StoreError> {
        let (all, begun) = Self::locked_script(backend, lock, script, false);
        let mut conn = pool.acquire().await?;
        let answers = opened(all.run(&mut conn).await, &mut conn, begun)?;
        let tx = Tx {
            conn,
            committed: false,
        };
        Ok((tx, answers))
    }

    /// The `BEGIN`, the lock (Postgres) and `script`; how many statements come before it. With
    /// `session` (Postgres), the lock is held for the connection's session, and no transaction
    /// is begun.
    fn locked_script(
        backend: Backend,
        lock: i64,
        script: Script,
        session: bool,
    ) -> (Script, usize) {
        let mut all = Script::new(backend);
        if !session {
            all.sql(Self::write_begin(backend)).end();
        }
        if backend == Backend::Postgres {
            let function = if session {
                "pg_advisory_lock"
            } else {
                "pg_advisory_xact_lock"
            };
            // As text: the lock function returns `void`, which rows cannot carry.
            all.sql(&format!("SELECT {function}({lock})::text")).end();
        }
        let begun = all.statements();
        all.append(script);
        (all, begun)
    }

    async fn start(pool: &AnyPool, begin: &str) -> Result<Tx, StoreError> {
        let mut conn = pool.acquire().await?;
        let started = {
            let c: &mut AnyConnection = &mut conn;
            c.execute(begin).await
        };
        if let Err(e) = started {
            conn.close_on_drop();
            return Err(e.into());
        }
        Ok(Tx {
            conn,
            committed: false,
        })
    }

    /// Commits. On failure the connection is closed (rolling back whatever is left) and the
    /// error says so: nothing of this transaction may be acknowledged.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        let c: &mut AnyConnection = &mut self.conn;
        c.execute("COMMIT").await?;
        self.committed = true;
        Ok(())
    }
}

impl Tx {
    /// Rolls back on purpose (a dry run); the connection goes back to the pool if that worked.
    pub async fn rollback(mut self) -> Result<(), StoreError> {
        let c: &mut AnyConnection = &mut self.conn;
        c.execute("ROLLBACK").await?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.close_on_drop();
        }
    }
}

impl Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// The writer's transaction: on the `Any` driver, or on a native Postgres connection (see
/// [`Conn`]); dropped without committing, it closes its connection, as [`Tx`] does.
pub enum WriteTx {
    Any(Tx),
    Pg(PgTx),
}

/// A batch's transaction on a native Postgres connection.
pub struct PgTx {
    /// Handed, once committed, to the task that releases a lock held for the session.
    conn: Option<PoolConnection<Postgres>>,
    /// A transaction is open (`BEGIN`); otherwise each statement commits on its own.
    open: bool,
    /// The writer's lock is held for the session, not for the transaction.
    session: bool,
    committed: bool,
}

impl WriteTx {
    /// Begins with the writer's lock and runs `script` in the same round trip; the rows of each
    /// of the script's statements.
    pub async fn begin(
        pool: &WritePool,
        lock: i64,
        script: Script,
    ) -> Result<(WriteTx, Vec<Vec<AnyRow>>), StoreError> {
        Self::start(pool, lock, script, false).await
    }

    /// The same for one batch of events: on a native Postgres connection the writer's lock is
    /// taken for the session, and no transaction is opened. The reads that follow need none
    /// (every writer of the model's rows holds the lock), and the batch's writes go as one
    /// statement, which commits on its own as its answer comes back ([`WriteTx::commit`]): one
    /// round trip fewer than `BEGIN` … `COMMIT`. Then the lock is released beside the next
    /// batch's start. A batch that must write in more than one statement opens a transaction
    /// first (`Conn::hold`).
    pub async fn begin_batch(
        pool: &WritePool,
        lock: i64,
        script: Script,
    ) -> Result<(WriteTx, Vec<Vec<AnyRow>>), StoreError> {
        Self::start(pool, lock, script, true).await
    }

    async fn start(
        pool: &WritePool,
        lock: i64,
        script: Script,
        session: bool,
    ) -> Result<(WriteTx, Vec<Vec<AnyRow>>), StoreError> {
        match pool {
            WritePool::Any(pool, backend) => {
                let (tx, answers) =
                    Tx::begin_write_locked_with(pool, *backend, lock, script).await?;
                Ok((WriteTx::Any(tx), answers))
            }
            WritePool::Pg(pool) => {
                let (all, begun) = Tx::locked_script(Backend::Postgres, lock, script, session);
                let mut conn = pool.acquire().await?;
                // A lock held for the session outlives a failed statement: `opened` closes the
                // connection, and the lock goes with its session.
                let answers = opened(all.run_pg(&mut conn).await, &mut conn, begun)?;
                let tx = PgTx {
                    conn: Some(conn),
                    open: !session,
                    session,
                    committed: false,
                };
                Ok((WriteTx::Pg(tx), answers))
            }
        }
    }

    /// The connection, for the transaction's statements.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            WriteTx::Any(tx) => Conn::Any(tx),
            WriteTx::Pg(tx) => Conn::Pg(tx.conn.as_mut().expect("not yet committed"), &mut tx.open),
        }
    }

    /// Sends the writes and what the commit announces, and commits: in a transaction, the
    /// writes, then the rest with the `COMMIT`; outside one (a batch begun with
    /// [`WriteTx::begin_batch`] that wrote nothing yet), all as one statement, committed when
    /// its answer comes. If a statement fails, what follows does not run: the connection is
    /// closed and nothing commits.
    pub async fn commit(
        mut self,
        writes: Writes,
        announce: Announce,
        backend: Backend,
    ) -> Result<(), StoreError> {
        match &mut self {
            WriteTx::Pg(PgTx {
                conn: Some(conn),
                open: false,
                ..
            }) => writes.send_alone(conn, announce).await?,
            _ => {
                let mut then = announce.script(backend);
                then.sql("COMMIT").end();
                writes.send(&mut self.conn(), then).await?;
            }
        }
        match &mut self {
            WriteTx::Any(tx) => tx.committed = true,
            WriteTx::Pg(tx) => {
                tx.committed = true;
                if tx.session {
                    release(tx.conn.take().expect("not yet committed"));
                }
            }
        }
        Ok(())
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if let (Some(conn), false) = (&mut self.conn, self.committed) {
            conn.close_on_drop();
        }
    }
}

/// Releases the writer's lock held for a connection's session, in a task of its own: the batch
/// has committed and is answered meanwhile, and the next one, on another connection, is granted
/// the lock when this lets it go. A connection that could not release it is closed (its session
/// and the lock with it), never handed back to the pool holding it — also if the task is dropped
/// unfinished.
fn release(conn: PoolConnection<Postgres>) {
    struct Releasing(Option<PoolConnection<Postgres>>);
    impl Drop for Releasing {
        fn drop(&mut self) {
            if let Some(conn) = &mut self.0 {
                conn.close_on_drop();
            }
        }
    }
    let mut held = Releasing(Some(conn));
    tokio::spawn(async move {
        let conn: &mut PgConnection = held.0.as_mut().expect("held");
        if conn
            .execute("SELECT pg_advisory_unlock_all()::text")
            .await
            .is_ok()
        {
            // Back to the pool.
            drop(held.0.take());
        }
    });
}

/// The answers of a transaction's opening script without those of the `begun` statements
/// before the caller's; if it failed, `conn` is closed when dropped (the transaction may be
/// open on it).
fn opened<DB: sqlx::Database>(
    ran: Result<Vec<Vec<AnyRow>>, sqlx::Error>,
    conn: &mut PoolConnection<DB>,
    begun: usize,
) -> Result<Vec<Vec<AnyRow>>, StoreError> {
    match ran {
        Ok(mut answers) => {
            answers.drain(..begun);
            Ok(answers)
        }
        Err(e) => {
            conn.close_on_drop();
            Err(e.into())
        }
    }
}

/// Where the writer's transactions come from: the `Any` pool, or (Postgres) a native one.
pub enum WritePool {
    Any(AnyPool, Backend),
    Pg(PgPool),
}
