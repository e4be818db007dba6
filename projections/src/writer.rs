//! Buffered writes inside one projection transaction. Consecutive inserts into the same table
//! become one multi-row INSERT; an update of a row still in the buffer changes the buffered row
//! instead of costing a statement; any other statement first flushes the buffer, so the order of
//! effects is the order of events. A batch of bookings thus costs a handful of statements, not
//! several per event.

use sqlx::any::Any;
use sqlx::query::Query;
use sqlx::{AnyConnection, Arguments};

/// A column value (the types every store shares).
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(i64),
    Text(String),
    /// A NULL text value.
    Null,
    /// A NULL integer (PostgreSQL will not store a NULL typed as text in a BIGINT column).
    NullInt,
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}

impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}

impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_string())
    }
}

impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Val::NullInt, Val::Int)
    }
}

impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        v.map_or(Val::Null, Val::Text)
    }
}

struct Pending {
    table: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Val>>,
}

/// Parameters per flushed statement: a whole batch of rows in one statement for most tables,
/// well below SQLite's (32 766) and PostgreSQL's (65 535) limits.
const MAX_PARAMS: usize = 8_000;

pub struct Writer<'c> {
    conn: &'c mut AnyConnection,
    pending: Option<Pending>,
    /// The clients projection's writes of this batch (see [`crate::clients::Batch`]).
    pub(crate) clients: crate::clients::Batch,
}

impl<'c> Writer<'c> {
    pub fn new(conn: &'c mut AnyConnection) -> Self {
        Self {
            conn,
            pending: None,
            clients: Default::default(),
        }
    }

    /// The connection, after writing out anything buffered.
    pub async fn conn(&mut self) -> Result<&mut AnyConnection, sqlx::Error> {
        self.flush().await?;
        Ok(&mut *self.conn)
    }

    /// The connection (after writing out anything buffered) and the clients projection's
    /// writes of the batch, borrowed together.
    pub(crate) async fn conn_and_clients(
        &mut self,
    ) -> Result<(&mut AnyConnection, &mut crate::clients::Batch), sqlx::Error> {
        self.flush().await?;
        Ok((&mut *self.conn, &mut self.clients))
    }

    /// Buffers one row for `table`.
    pub async fn insert(
        &mut self,
        table: &'static str,
        columns: &'static [&'static str],
        row: Vec<Val>,
    ) -> Result<(), sqlx::Error> {
        debug_assert_eq!(row.len(), columns.len());
        let same = self
            .pending
            .as_ref()
            .is_some_and(|p| p.table == table && p.columns == columns);
        if !same {
            self.flush().await?;
            self.pending = Some(Pending {
                table,
                columns,
                rows: Vec::new(),
            });
        }
        let full = match self.pending.as_mut() {
            Some(p) => {
                p.rows.push(row);
                (p.rows.len() + 1) * p.columns.len() > MAX_PARAMS
            }
            None => false,
        };
        if full {
            self.flush().await?;
        }
        Ok(())
    }

    /// The buffered row of `table` whose column `key_column` is `key`, if still unwritten.
    pub fn pending_row(
        &mut self,
        table: &str,
        key_column: usize,
        key: &str,
    ) -> Option<&mut Vec<Val>> {
        let p = self.pending.as_mut().filter(|p| p.table == table)?;
        p.rows
            .iter_mut()
            .rev()
            .find(|r| matches!(r.get(key_column), Some(Val::Text(k)) if k == key))
    }

    /// Drops buffered rows of `table` whose text columns all equal the given keys; true when
    /// any was dropped (so it never reached the database).
    pub fn forget_matching(&mut self, table: &str, keys: &[(usize, &str)]) -> bool {
        let Some(p) = self.pending.as_mut().filter(|p| p.table == table) else {
            return false;
        };
        let before = p.rows.len();
        p.rows.retain(|r| {
            !keys
                .iter()
                .all(|(column, key)| matches!(r.get(*column), Some(Val::Text(k)) if k == key))
        });
        p.rows.len() != before
    }

    /// Writes the buffered rows in one statement.
    pub async fn flush(&mut self) -> Result<(), sqlx::Error> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        insert_rows(self.conn, p.table, p.columns, p.rows, "").await
    }
}

/// Whether `conn` is SQLite's.
pub(crate) fn is_sqlite(conn: &AnyConnection) -> bool {
    conn.backend_name() == "SQLite"
}

/// `n` comma-separated placeholders for the parameters from number `first` on: `$first, …` on
/// PostgreSQL, anonymous `?` on SQLite (a statement then uses `?` only). sqlx binds a numbered
/// SQLite parameter by asking SQLite its name, which SQLite finds by scanning the statement's
/// list of names: quadratic in the parameters, and the largest single cost of a rebuild with
/// hundreds per statement (`salon bench replay`). Anonymous ones have no name to look up.
pub(crate) fn placeholders(sqlite: bool, first: usize, n: usize) -> String {
    let cells: Vec<String> = (first..first + n)
        .map(|i| {
            if sqlite {
                "?".to_string()
            } else {
                format!("${i}")
            }
        })
        .collect();
    cells.join(", ")
}

/// Inserts `rows` into `table` in multi-row statements (as many rows per statement as
/// [`MAX_PARAMS`] allows), each ending with `suffix` (an `ON CONFLICT` clause, or nothing).
pub(crate) async fn insert_rows(
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Val>>,
    suffix: &str,
) -> Result<(), sqlx::Error> {
    let width = columns.len().max(1);
    let per_statement = (MAX_PARAMS / width).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Val>> = rows.by_ref().take(per_statement).collect();
        let sqlite = is_sqlite(conn);
        let values: Vec<String> = (0..chunk.len())
            .map(|r| format!("({})", placeholders(sqlite, r * width + 1, width)))
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {} {suffix}",
            columns.join(", "),
            values.join(", ")
        );
        let query: Query<'_, Any, _> =
            sqlx::query_with(&sql, arguments(chunk.into_iter().flatten())?);
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The values bound as a statement's parameters, in order.
pub(crate) fn arguments(
    values: impl IntoIterator<Item = Val>,
) -> Result<sqlx::any::AnyArguments<'static>, sqlx::Error> {
    let mut args = sqlx::any::AnyArguments::default();
    for v in values {
        let added = match v {
            Val::Int(i) => args.add(i),
            Val::Text(t) => args.add(t),
            Val::Null => args.add(Option::<String>::None),
            Val::NullInt => args.add(Option::<i64>::None),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}
