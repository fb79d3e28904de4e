//! Reading the whole lineage graph at startup: plain scans (datasets, jobs, job versions, and
//! what each version read and wrote) handed to a [`GraphSink`] (the graph's loader, which joins
//! them by id, and takes edges once it has every version), instead of one join sorted by name in
//! SQL. On Postgres the scans are `COPY … TO STDOUT` in one
//! read-only repeatable-read transaction, parsed here, which is several times faster than
//! decoding rows one by one.

use std::borrow::Cow;

use futures_util::TryStreamExt;
use sqlx::{AnyPool, Connection, Executor, FromRow};

use super::StoreError;
use crate::model::graph::GraphSink;

/// Loads the graph through plain queries (SQLite, or any backend).
pub(super) async fn load(pool: &AnyPool, b: &mut dyn GraphSink) -> Result<(), StoreError> {
    #[derive(FromRow)]
    struct DatasetRow {
        id: String,
        namespace: String,
        name: String,
        dataset_type: Option<String>,
        deleted_at: Option<i64>,
    }
    #[derive(FromRow)]
    struct JobRow {
        id: String,
        namespace: String,
        name: String,
        deleted_at: Option<i64>,
    }
    #[derive(FromRow)]
    struct VersionRow {
        id: String,
        job_id: String,
        valid_from: i64,
        inputs: String,
        outputs: String,
    }
    let mut tx = super::tx::Tx::begin(pool).await?;
    for r in sqlx::query_as::<_, DatasetRow>(
        "SELECT id, namespace, name, dataset_type, deleted_at FROM datasets",
    )
    .fetch_all(&mut *tx)
    .await?
    {
        b.dataset(
            &r.id,
            &r.namespace,
            &r.name,
            r.dataset_type.as_deref(),
            r.deleted_at,
        );
    }
    for r in sqlx::query_as::<_, JobRow>("SELECT id, namespace, name, deleted_at FROM jobs")
        .fetch_all(&mut *tx)
        .await?
    {
        b.job(&r.id, &r.namespace, &r.name, r.deleted_at);
    }
    // Read once, handed over twice: the loader takes edges once it has every version.
    let versions = sqlx::query_as::<_, VersionRow>(
        "SELECT id, job_id, valid_from, inputs, outputs FROM job_versions",
    )
    .fetch_all(&mut *tx)
    .await?;
    for r in &versions {
        b.version(&r.id, &r.job_id, r.valid_from);
    }
    for r in &versions {
        edges(b, &r.id, &r.inputs, &r.outputs)?;
    }
    tx.commit().await?;
    Ok(())
}

/// Loads the graph from Postgres with `COPY … TO STDOUT`, in one read-only transaction so the
/// four scans see the same database.
pub(super) async fn load_postgres(url: &str, b: &mut dyn GraphSink) -> Result<(), StoreError> {
    let mut conn = sqlx::postgres::PgConnection::connect(url).await?;
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    copy_rows(
        &mut conn,
        "COPY datasets (id, namespace, name, dataset_type, deleted_at) TO STDOUT",
        |f| {
            b.dataset(
                &f.text(0)?,
                &f.text(1)?,
                &f.text(2)?,
                f.optional(3)?.as_deref(),
                f.optional_int(4)?,
            );
            Ok(())
        },
    )
    .await?;
    copy_rows(
        &mut conn,
        "COPY jobs (id, namespace, name, deleted_at) TO STDOUT",
        |f| {
            b.job(&f.text(0)?, &f.text(1)?, &f.text(2)?, f.optional_int(3)?);
            Ok(())
        },
    )
    .await?;
    copy_rows(
        &mut conn,
        "COPY job_versions (id, job_id, valid_from) TO STDOUT",
        |f| {
            b.version(&f.text(0)?, &f.text(1)?, f.int(2)?);
            Ok(())
        },
    )
    .await?;
    copy_rows(
        &mut conn,
        "COPY job_versions (id, inputs, outputs) TO STDOUT",
        |f| edges(b, &f.text(0)?, &f.text(1)?, &f.text(2)?),
    )
    .await?;
    conn.execute("COMMIT").await?;
    conn.close().await?;
    Ok(())
}

/// A job version's edges, from its stored inputs and outputs.
fn edges(
    b: &mut dyn GraphSink,
    version_id: &str,
    inputs: &str,
    outputs: &str,
) -> Result<(), StoreError> {
    for (direction, ids) in [("in", inputs), ("out", outputs)] {
        for id in super::rows::dataset_ids(ids)? {
            b.edge(version_id, direction, &id);
        }
    }
    Ok(())
}

/// Runs a `COPY … TO STDOUT` (text format) and hands each row's fields to `row`.
async fn copy_rows(
    conn: &mut sqlx::postgres::PgConnection,
    statement: &str,
    mut row: impl FnMut(&CopyFields<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut stream = conn.copy_out_raw(statement).await?;
    let mut parser = CopyText::default();
    while let Some(chunk) = stream.try_next().await? {
        parser.feed(&chunk, &mut row)?;
    }
    parser.end(&mut row)
}

/// Splits `COPY` text-format output into rows; a row may span chunks.
#[derive(Default)]
struct CopyText {
    carry: Vec<u8>,
}

impl CopyText {
    fn feed(
        &mut self,
        mut chunk: &[u8],
        row: &mut impl FnMut(&CopyFields<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if !self.carry.is_empty() {
            let Some(end) = chunk.iter().position(|&c| c == b'\n') else {
                self.carry.extend_from_slice(chunk);
                return Ok(());
            };
            self.carry.extend_from_slice(&chunk[..end]);
            let line = std::mem::take(&mut self.carry);
            row(&CopyFields::split(&line))?;
            chunk = &chunk[end + 1..];
        }
        while let Some(end) = chunk.iter().position(|&c| c == b'\n') {
            row(&CopyFields::split(&chunk[..end]))?;
            chunk = &chunk[end + 1..];
        }
        self.carry.extend_from_slice(chunk);
        Ok(())
    }

    fn end(
        self,
        row: &mut impl FnMut(&CopyFields<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if self.carry.is_empty() {
            Ok(())
        } else {
            row(&CopyFields::split(&self.carry))
        }
    }
}

/// The fields of one `COPY` text-format row: tab-separated, `\N` for NULL, backslash escapes.
struct CopyFields<'a> {
    fields: [&'a [u8]; 8],
    len: usize,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(crate::error::Cause::msg(format!("COPY output: {what}")))
}

impl<'a> CopyFields<'a> {
    fn split(line: &'a [u8]) -> Self {
        let mut fields: [&[u8]; 8] = [&[]; 8];
        let mut len = 0;
        for f in line.split(|&c| c == b'\t') {
            if len < fields.len() {
                fields[len] = f;
            }
            len += 1;
        }
        CopyFields { fields, len }
    }

    fn raw(&self, i: usize) -> Result<Option<&'a [u8]>, StoreError> {
        if i >= self.len.min(self.fields.len()) {
            return Err(corrupt(&format!("a row has no field {i}")));
        }
        Ok(match self.fields[i] {
            b"\\N" => None,
            f => Some(f),
        })
    }

    /// Text, borrowed unless it had escapes.
    fn optional(&self, i: usize) -> Result<Option<Cow<'a, str>>, StoreError> {
        self.raw(i)?.map(unescape).transpose()
    }

    fn text(&self, i: usize) -> Result<Cow<'a, str>, StoreError> {
        self.optional(i)?
            .ok_or_else(|| corrupt(&format!("field {i} is NULL")))
    }

    fn optional_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.raw(i)?
            .map(|f| {
                std::str::from_utf8(f)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| corrupt(&format!("field {i} is not an integer")))
            })
            .transpose()
    }

    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.optional_int(i)?
            .ok_or_else(|| corrupt(&format!("field {i} is NULL")))
    }
}

/// Undoes `COPY`'s text escapes (`\\`, `\t`, `\n`, `\r`, `\b`, `\f`, `\v`, octal `\ooo` and
/// hex `\xhh`).
fn unescape(f: &[u8]) -> Result<Cow<'_, str>, StoreError> {
    if !f.contains(&b'\\') {
        return std::str::from_utf8(f)
            .map(Cow::Borrowed)
            .map_err(|_| corrupt("text is not UTF-8"));
    }
    let mut out = Vec::with_capacity(f.len());
    let mut i = 0;
    while i < f.len() {
        if f[i] != b'\\' || i + 1 == f.len() {
            out.push(f[i]);
            i += 1;
            continue;
        }
        let c = f[i + 1];
        i += 2;
        match c {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match f.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(v as u8);
            }
            b'x' => {
                let mut v = 0u32;
                let mut digits = 0;
                while digits < 2 {
                    match f.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            i += 1;
                            digits += 1;
                        }
                        None => break,
                    }
                }
                if digits == 0 {
                    out.push(b'x');
                } else {
                    out.push(v as u8);
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| corrupt("text is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(chunks: &[&[u8]]) -> Vec<Vec<Option<String>>> {
        let mut out = Vec::new();
        let mut parser = CopyText::default();
        let mut row = |f: &CopyFields<'_>| {
            out.push(
                (0..f.len)
                    .map(|i| f.optional(i).unwrap().map(|s| s.into_owned()))
                    .collect(),
            );
            Ok(())
        };
        for c in chunks {
            parser.feed(c, &mut row).unwrap();
        }
        parser.end(&mut row).unwrap();
        out
    }

    #[test]
    fn copy_text_rows_split_across_chunks_nulls_and_escapes() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            rows(&[
                b"a\t\\N\tb\\\\c\n",
                b"d\\te",
                b"\tf\\nx\\101\\x41\n",
                b"last\tone"
            ]),
            [
                vec![s("a"), None, s("b\\c")],
                vec![s("d\te"), s("f\nxAA")],
                vec![s("last"), s("one")],
            ]
        );
        let f = CopyFields::split(b"12\t\\N\tx");
        assert_eq!(f.int(0).unwrap(), 12);
        assert_eq!(f.optional_int(1).unwrap(), None);
        assert!(f.int(1).is_err(), "NULL where a number is required");
        assert!(f.int(2).is_err(), "not a number");
        assert!(f.text(3).is_err(), "no such field");
    }
}
