//! The few places where Postgres and SQLite SQL differ, and helpers to build multi-row
//! statements with numbered placeholders (both backends accept `$N`).

use std::fmt::Write as _;

use sqlx::any::AnyArguments;
use sqlx::query::{Query, QueryAs};
use sqlx::Any;

/// Which database a store runs on. Chosen once, at startup, from the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The backend a database URL names.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }

    /// The name shown in logs and `/readyz`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// One bound value of a generated statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bytes(Vec<u8>),
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Self {
        Arg::Bytes(v)
    }
}

/// Statements sent as one text with their values written in as literals (the simple query
/// protocol): one round trip for all of them, where each bound statement costs one to run and,
/// when its text is new to the connection, another to prepare it. Used where the writer's
/// transaction would otherwise wait for several round trips in a row.
pub struct Script {
    backend: Backend,
    sql: String,
    statements: usize,
}

impl Script {
    pub fn new(backend: Backend) -> Self {
        Script {
            backend,
            sql: String::new(),
            statements: 0,
        }
    }

    /// Appends SQL text as it is (never a value).
    pub fn sql(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    /// Appends a value as a literal.
    pub fn value(&mut self, value: &Arg) -> &mut Self {
        match value {
            Arg::Text(Some(s)) => self.text(s),
            Arg::Text(None) | Arg::Int(None) => self.sql("NULL"),
            Arg::Int(Some(i)) => {
                let _ = write!(self.sql, "{i}");
                self
            }
            Arg::Bytes(b) => {
                self.sql.push_str(match self.backend {
                    Backend::Postgres => "decode('",
                    Backend::Sqlite => "X'",
                });
                self.sql.reserve(b.len() * 2 + 8);
                for byte in b {
                    self.sql
                        .push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
                    self.sql
                        .push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
                }
                self.sql(match self.backend {
                    Backend::Postgres => "', 'hex')",
                    Backend::Sqlite => "'",
                })
            }
        }
    }

    /// Appends a string literal. On Postgres an escape string (`E'…'`, backslashes doubled), so
    /// that it means the same whatever `standard_conforming_strings` says; on SQLite a plain one.
    /// Quotes are doubled on both.
    pub fn text(&mut self, s: &str) -> &mut Self {
        let escape_backslash = self.backend == Backend::Postgres;
        self.sql.reserve(s.len() + 3);
        self.sql.push_str(if escape_backslash { "E'" } else { "'" });
        let mut rest = s;
        loop {
            let found = if escape_backslash {
                memchr::memchr2(b'\'', b'\\', rest.as_bytes())
            } else {
                memchr::memchr(b'\'', rest.as_bytes())
            };
            let Some(i) = found else { break };
            self.sql.push_str(&rest[..=i]);
            self.sql.push_str(&rest[i..=i]);
            rest = &rest[i + 1..];
        }
        self.sql.push_str(rest);
        self.sql.push('\'');
        self
    }

    /// Appends values as literals, separated by commas.
    pub fn values<'v>(&mut self, values: impl IntoIterator<Item = &'v Arg>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.value(v);
        }
        self
    }

    /// Ends a statement; [`Script::run`] answers each one's rows in this order.
    pub fn end(&mut self) {
        self.sql.push_str(";\n");
        self.statements += 1;
    }

    /// Appends another script's statements after these.
    pub fn append(&mut self, other: Script) -> &mut Self {
        self.sql.push_str(&other.sql);
        self.statements += other.statements;
        self
    }

    /// How many statements it holds.
    pub fn statements(&self) -> usize {
        self.statements
    }

    /// Runs every statement, in order, in one round trip; answers the rows of each.
    pub async fn run(
        self,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<Vec<Vec<sqlx::any::AnyRow>>, sqlx::Error> {
        if self.statements == 0 {
            return Ok(Vec::new());
        }
        self.refuse_nul()?;
        let out = gather(sqlx::raw_sql(&self.sql).fetch_many(&mut *conn), Ok).await?;
        self.answered(out)
    }

    /// The same on a native Postgres connection, each row as the `Any` driver makes it of a
    /// Postgres row (so that one reader of rows serves both).
    pub async fn run_pg(
        self,
        conn: &mut sqlx::PgConnection,
    ) -> Result<Vec<Vec<sqlx::any::AnyRow>>, sqlx::Error> {
        if self.statements == 0 {
            return Ok(Vec::new());
        }
        self.refuse_nul()?;
        let results = sqlx::raw_sql(&self.sql).fetch_many(&mut *conn);
        let out = gather(results, |row| sqlx::any::AnyRow::try_from(&row)).await?;
        self.answered(out)
    }

    /// Neither database keeps a NUL in text (a bound value is refused), and the simple query
    /// protocol's text ends at one: refused here, never sent cut short.
    fn refuse_nul(&self) -> Result<(), sqlx::Error> {
        if memchr::memchr(0, self.sql.as_bytes()).is_some() {
            return Err(sqlx::Error::Encode(
                "a value holds a NUL character, which the database cannot store".into(),
            ));
        }
        Ok(())
    }

    /// The answers, if there is one for each statement.
    fn answered<T>(&self, out: Vec<Vec<T>>) -> Result<Vec<Vec<T>>, sqlx::Error> {
        if out.len() != self.statements {
            return Err(sqlx::Error::Protocol(format!(
                "a script of {} statements answered {}",
                self.statements,
                out.len()
            )));
        }
        Ok(out)
    }
}

/// A script's results, statement by statement: each one's rows, made `T` by `convert`.
async fn gather<Done, Row, T>(
    mut results: impl futures_util::Stream<Item = Result<sqlx::Either<Done, Row>, sqlx::Error>> + Unpin,
    convert: impl Fn(Row) -> Result<T, sqlx::Error>,
) -> Result<Vec<Vec<T>>, sqlx::Error> {
    use futures_util::TryStreamExt;
    let mut out = Vec::new();
    let mut current = Vec::new();
    while let Some(item) = results.try_next().await? {
        match item {
            sqlx::Either::Left(_) => out.push(std::mem::take(&mut current)),
            sqlx::Either::Right(row) => current.push(convert(row)?),
        }
    }
    Ok(out)
}

/// Binds arguments in order.
pub fn bind_all<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    args: &'q [Arg],
) -> Query<'q, Any, AnyArguments<'q>> {
    for a in args {
        q = match a {
            Arg::Text(v) => q.bind(v.as_deref()),
            Arg::Int(v) => q.bind(*v),
            Arg::Bytes(v) => q.bind(v.as_slice()),
        };
    }
    q
}

/// Binds arguments in order, for a query that maps rows to a type.
pub fn bind_all_as<'q, O>(
    mut q: QueryAs<'q, Any, O, AnyArguments<'q>>,
    args: &'q [Arg],
) -> QueryAs<'q, Any, O, AnyArguments<'q>> {
    for a in args {
        q = match a {
            Arg::Text(v) => q.bind(v.as_deref()),
            Arg::Int(v) => q.bind(*v),
            Arg::Bytes(v) => q.bind(v.as_slice()),
        };
    }
    q
}

/// `$1,$2,…,$n`.
pub fn list(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// At most this many bound values per statement (well under both backends' limits).
pub const MAX_PARAMS: usize = 30_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_number_placeholders() {
        assert_eq!(list(3), "$1,$2,$3");
    }

    #[test]
    fn script_literals_are_escaped_for_each_backend() {
        let values = [
            Arg::from("it's"),
            Arg::from("back\\slash"),
            Arg::Text(None),
            Arg::Int(Some(-7)),
            Arg::Bytes(vec![0, 0xab]),
        ];
        let mut pg = Script::new(Backend::Postgres);
        pg.values(&values);
        assert_eq!(
            pg.sql,
            "E'it''s', E'back\\\\slash', NULL, -7, decode('00ab', 'hex')"
        );
        let mut lite = Script::new(Backend::Sqlite);
        lite.values(&values);
        assert_eq!(lite.sql, "'it''s', 'back\\slash', NULL, -7, X'00ab'");
    }
}
