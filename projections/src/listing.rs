//! Filtered, ordered, paged reads of one read-model table: conditions and their parameters are
//! collected here, and the count and the page are two statements with the same conditions.
//! Values are always bound, never spliced; column names come from the callers' constants.

use crate::db::ReadDb;
use crate::queries::QueryError;
use crate::writer::Val;
use sqlx::any::AnyRow;
use sqlx::Row;

/// Comparison operators a filter may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Cmp {
    fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Lt => "<",
            Self::Lte => "<=",
        }
    }
}

/// The WHERE clause being built.
#[derive(Debug, Default, Clone)]
pub struct Conditions {
    conds: Vec<String>,
    binds: Vec<Val>,
}

impl Conditions {
    fn param(&mut self, v: Val) -> String {
        self.binds.push(v);
        format!("${}", self.binds.len())
    }

    /// `column <op> value`.
    pub fn cmp(&mut self, column: &'static str, op: Cmp, value: impl Into<Val>) -> &mut Self {
        let p = self.param(value.into());
        self.conds.push(format!("{column} {} {p}", op.sql()));
        self
    }

    /// `column IN (values)`; an empty list matches nothing.
    pub fn any_of(&mut self, column: &'static str, values: Vec<Val>) -> &mut Self {
        if values.is_empty() {
            self.conds.push("1 = 0".into());
            return self;
        }
        let ps: Vec<String> = values.into_iter().map(|v| self.param(v)).collect();
        self.conds.push(format!("{column} IN ({})", ps.join(", ")));
        self
    }

    /// A raw condition without parameters (callers' constants only).
    pub fn raw(&mut self, sql: &'static str) -> &mut Self {
        self.conds.push(sql.into());
        self
    }

    /// Any of `columns` contains `text`, ignoring case.
    pub fn search(&mut self, columns: &[&'static str], text: &str) -> &mut Self {
        let escaped = text
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let p = self.param(Val::Text(format!("%{escaped}%")));
        let any: Vec<String> = columns
            .iter()
            .map(|c| format!("LOWER(COALESCE({c}, '')) LIKE {p} ESCAPE '\\'"))
            .collect();
        self.conds.push(format!("({})", any.join(" OR ")));
        self
    }

    fn clause(&self) -> String {
        if self.conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conds.join(" AND "))
        }
    }

    fn bind<'q>(
        &self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for v in &self.binds {
            query = match v.clone() {
                Val::Int(i) => query.bind(i),
                Val::Text(t) => query.bind(t),
                Val::Null => query.bind(Option::<String>::None),
            };
        }
        query
    }

    /// How many rows of `from` match, and the page of them in `order` (which must end in a
    /// unique column, so pages never overlap or skip).
    pub async fn page<T>(
        &self,
        db: &ReadDb,
        from: &str,
        columns: &str,
        order: &str,
        (limit, offset): (usize, usize),
        row: impl Fn(&AnyRow) -> Result<T, QueryError>,
    ) -> Result<(usize, Vec<T>), QueryError> {
        let clause = self.clause();
        let count_sql = format!("SELECT COUNT(*) FROM {from}{clause}");
        let count: i64 = self
            .bind(sqlx::query(&count_sql))
            .fetch_one(db.pool())
            .await?
            .try_get(0)?;
        let n = self.binds.len();
        let sql = format!(
            "SELECT {columns} FROM {from}{clause} ORDER BY {order} LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let rows = self
            .bind(sqlx::query(&sql))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(db.pool())
            .await?;
        let results = rows.iter().map(row).collect::<Result<Vec<T>, _>>()?;
        Ok((usize::try_from(count).unwrap_or(0), results))
    }
}

/// One key of an ordering, checked against the columns a list allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderKey {
    pub column: &'static str,
    pub descending: bool,
}

/// `ORDER BY` text for `keys`, ending with `tiebreak` (a unique column) so the order is total.
/// NULLs sort as the smallest value on both stores.
pub fn order_by(keys: &[OrderKey], tiebreak: &'static str) -> String {
    let mut parts: Vec<String> = keys
        .iter()
        .map(|k| {
            let dir = if k.descending { "DESC" } else { "ASC" };
            // PostgreSQL puts NULLs last ascending, SQLite first: say it, so both agree.
            let nulls = if k.descending {
                "NULLS LAST"
            } else {
                "NULLS FIRST"
            };
            format!("{} {dir} {nulls}", k.column)
        })
        .collect();
    let last_desc = keys.last().is_some_and(|k| k.descending);
    parts.push(format!(
        "{tiebreak} {}",
        if last_desc { "DESC" } else { "ASC" }
    ));
    parts.join(", ")
}
