//! The few places where Postgres and SQLite SQL differ, and helpers to build multi-row
//! statements with numbered placeholders (both backends accept `$N`).

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

    /// A suffix for reads inside the writer's transaction that will be followed by writes.
    pub fn lock_rows(self) -> &'static str {
        match self {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
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

/// `($1,$2),($3,$4)…` for `rows` rows of `cols` columns, numbering from `$1`.
pub fn value_rows(rows: usize, cols: usize) -> String {
    value_rows_from(rows, cols, 1)
}

/// The same, numbering from `$first`.
pub fn value_rows_from(rows: usize, cols: usize, first: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            s.push('$');
            s.push_str(&(r * cols + c + first).to_string());
        }
        s.push(')');
    }
    s
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

/// How many rows of `cols` columns fit in one statement.
pub fn rows_per_statement(cols: usize) -> usize {
    (MAX_PARAMS / cols.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_rows_number_placeholders_across_rows() {
        assert_eq!(value_rows(2, 2), "($1,$2),($3,$4)");
        assert_eq!(value_rows_from(1, 2, 5), "($5,$6)");
        assert_eq!(list(3), "$1,$2,$3");
    }
}
