//! Lists over one read-model table, in the conventions integrators know from django-filter and
//! DRF: filters by field (`status=confirmed`, `status__in=held,confirmed`,
//! `price_cents__gte=5000`, `start__lt=2027-03-20`), `search` over text columns, `ordering`
//! (`-start,name`), and `limit`/`offset` paging done in SQL with a unique tiebreak, so a page
//! never repeats or skips a row while the order holds still.
//!
//! A resource describes its table once in a [`ListSpec`]; [`ListSpec::parse`] turns the query
//! string into a [`ListQuery`] (or field errors naming each bad parameter), and [`fetch`] runs it.
//!
//! Deep pages: `OFFSET n` makes the database walk past `n` rows, so the last page of a large
//! table would cost far more than the first. When a page lies in the second half of the rows it
//! is read from the other end instead (every ordering reversed, the offset counted from the
//! end) and the rows are turned around, so the last page costs what the first does and the
//! middle page is the dearest.

use crate::db::ReadDb;
use crate::queries::QueryError;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
pub use sqlx::any::AnyRow;

/// How a filterable field is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    /// Text compared exactly (ids, emails): `f`, `f__in`.
    Exact,
    /// One of a fixed set of values: `f`, `f__in`; anything else is a field error.
    Choice(&'static [&'static str]),
    /// A whole number: `f`, `f__in`, `f__gt`, `f__gte`, `f__lt`, `f__lte`.
    Number,
    /// An instant kept as epoch seconds. Values are RFC 3339 instants or local dates (a date
    /// means that whole day in the salon's time zone: `f__gte=D` from its start, `f__lte=D` to
    /// its end, `f=D` within it).
    Epoch,
    /// An instant kept as RFC 3339 UTC text (`…+00:00`, which sorts as time does); values as
    /// for [`FilterKind::Epoch`].
    Rfc3339,
    /// A 0/1 column: `true`/`false`.
    Flag,
    /// A JSON array of ids: `f=ID` keeps rows whose array holds ID, `f__in=A,B` either.
    Member,
}

/// One filterable field: its name in the query string and its column.
#[derive(Debug, Clone, Copy)]
pub struct Filter {
    pub name: &'static str,
    pub column: &'static str,
    pub kind: FilterKind,
}

impl Filter {
    pub const fn new(name: &'static str, column: &'static str, kind: FilterKind) -> Self {
        Self { name, column, kind }
    }

    /// The lookups this field takes (`""` is the plain `name=`).
    pub fn lookups(&self) -> &'static [&'static str] {
        match self.kind {
            FilterKind::Exact | FilterKind::Choice(_) | FilterKind::Member => &["", "in"],
            FilterKind::Number => &["", "in", "gt", "gte", "lt", "lte"],
            FilterKind::Epoch | FilterKind::Rfc3339 => &["", "gt", "gte", "lt", "lte"],
            FilterKind::Flag => &[""],
        }
    }
}

/// How a table is listed.
#[derive(Debug, Clone, Copy)]
pub struct ListSpec {
    pub table: &'static str,
    /// The select list.
    pub columns: &'static str,
    pub filters: &'static [Filter],
    /// Text columns `search=` looks in (case-insensitive substring).
    pub search: &'static [&'static str],
    /// `ordering` names and their columns.
    pub orderings: &'static [(&'static str, &'static str)],
    /// The ordering when none is asked for, e.g. `"-start"`.
    pub default_ordering: &'static str,
    /// A unique column, the last tiebreak of every ordering.
    pub key: &'static str,
}

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

/// A parsed list request, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// `AND`-joined conditions with `$n` placeholders.
    conditions: Vec<String>,
    binds: Vec<Bind>,
    /// (column, descending)
    order: Vec<(&'static str, bool)>,
    pub limit: usize,
    pub offset: usize,
}

/// A bad query parameter: its name and what is wrong, in words.
pub type ParamError = (String, String);

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
const MAX_OFFSET: usize = 1_000_000_000;
const MAX_IN: usize = 100;

impl ListSpec {
    /// Parses the query string's pairs. `limit`, `offset`, `ordering`, `search` and every
    /// filter are read; keys in `ignore` belong to the caller (e.g. `format`); any other key
    /// is an error, so a mistyped filter is not silently ignored.
    pub fn parse(
        &self,
        pairs: &[(String, String)],
        ignore: &[&str],
        tz: Tz,
    ) -> Result<ListQuery, Vec<ParamError>> {
        let mut errors: Vec<ParamError> = Vec::new();
        let mut q = ListQuery {
            conditions: Vec::new(),
            binds: Vec::new(),
            order: Vec::new(),
            limit: DEFAULT_LIMIT,
            offset: 0,
        };
        let mut ordering = None;
        for (key, value) in pairs {
            let value = value.trim();
            match key.as_str() {
                "limit" => match number(value, 1, MAX_LIMIT) {
                    Some(n) => q.limit = n,
                    None => errors.push(bad(
                        key,
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    )),
                },
                "offset" => match number(value, 0, MAX_OFFSET) {
                    Some(n) => q.offset = n,
                    None => errors.push(bad(
                        key,
                        format!("must be a whole number from 0 to {MAX_OFFSET}"),
                    )),
                },
                "ordering" => ordering = Some(value.to_string()),
                "search" if !self.search.is_empty() => {
                    if value.is_empty() {
                        continue;
                    }
                    if value.chars().count() > 200 {
                        errors.push(bad(key, "must be at most 200 characters"));
                        continue;
                    }
                    let pattern = format!("%{}%", escape_like(&value.to_lowercase()));
                    let n = q.push(Bind::Text(pattern));
                    let any: Vec<String> = self
                        .search
                        .iter()
                        .map(|c| format!("LOWER({c}) LIKE ${n} ESCAPE '\\'"))
                        .collect();
                    q.conditions.push(format!("({})", any.join(" OR ")));
                }
                k if ignore.contains(&k) => {}
                k => {
                    let (name, lookup) = k.split_once("__").unwrap_or((k, ""));
                    let Some(filter) = self.filters.iter().find(|f| f.name == name) else {
                        errors.push(bad(
                            k,
                            format!("is not a filter here; filters: {}", self.filter_names()),
                        ));
                        continue;
                    };
                    if !filter.lookups().contains(&lookup) {
                        let takes: Vec<String> = filter
                            .lookups()
                            .iter()
                            .map(|l| {
                                if l.is_empty() {
                                    name.to_string()
                                } else {
                                    format!("{name}__{l}")
                                }
                            })
                            .collect();
                        errors.push(bad(
                            k,
                            format!("is not a lookup of {name}; it takes {}", takes.join(", ")),
                        ));
                        continue;
                    }
                    if let Err(message) = q.filter(filter, lookup, value, tz) {
                        errors.push(bad(k, message));
                    }
                }
            }
        }
        let ordering = ordering
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| self.default_ordering.to_string());
        for part in ordering.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (desc, name) = match part.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, part),
            };
            match self.orderings.iter().find(|(n, _)| *n == name) {
                Some((_, column)) if !q.order.iter().any(|(c, _)| c == column) => {
                    q.order.push((column, desc))
                }
                Some(_) => {}
                None => errors.push(bad(
                    "ordering",
                    format!(
                        "{name:?} is not a field to order by; use one of {} (prefix - for descending)",
                        self.orderings.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                    ),
                )),
            }
        }
        if !q.order.iter().any(|(c, _)| *c == self.key) {
            let desc = q.order.first().is_some_and(|(_, d)| *d);
            q.order.push((self.key, desc));
        }
        if errors.is_empty() {
            Ok(q)
        } else {
            Err(errors)
        }
    }

    fn filter_names(&self) -> String {
        let mut names: Vec<&str> = self.filters.iter().map(|f| f.name).collect();
        if !self.search.is_empty() {
            names.push("search");
        }
        names.extend(["ordering", "limit", "offset"]);
        names.join(", ")
    }
}

fn bad(key: &str, message: impl Into<String>) -> ParamError {
    (key.to_string(), message.into())
}

fn number(raw: &str, min: usize, max: usize) -> Option<usize> {
    raw.parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An instant filter's value: an instant, or a local date (its whole day).
enum When {
    At(DateTime<Utc>),
    Day(DateTime<Utc>, DateTime<Utc>),
}

fn when(raw: &str, tz: Tz) -> Result<When, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(When::At(t.with_timezone(&Utc)));
    }
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) if raw.len() == 10 => {
            let start = domain::availability::local_to_utc(tz, d.and_time(chrono::NaiveTime::MIN));
            let next = d
                .checked_add_signed(Duration::days(1))
                .ok_or_else(|| "is too far in the future".to_string())?;
            let end = domain::availability::local_to_utc(tz, next.and_time(chrono::NaiveTime::MIN));
            Ok(When::Day(start, end))
        }
        _ => Err(format!(
            "{raw:?} is not a date (YYYY-MM-DD) or an RFC 3339 time with an offset"
        )),
    }
}

impl ListQuery {
    fn push(&mut self, bind: Bind) -> usize {
        self.binds.push(bind);
        self.binds.len()
    }

    fn compare(&mut self, column: &str, op: &str, bind: Bind) {
        let n = self.push(bind);
        self.conditions.push(format!("{column} {op} ${n}"));
    }

    fn filter(&mut self, f: &Filter, lookup: &str, raw: &str, tz: Tz) -> Result<(), String> {
        let op = match lookup {
            "" => "=",
            "gt" => ">",
            "gte" => ">=",
            "lt" => "<",
            "lte" => "<=",
            _ => "IN",
        };
        match f.kind {
            FilterKind::Exact | FilterKind::Choice(_) | FilterKind::Number => {
                let values: Vec<&str> = if op == "IN" {
                    raw.split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .collect()
                } else {
                    vec![raw]
                };
                if values.is_empty() || values.len() > MAX_IN {
                    return Err(format!(
                        "must list 1 to {MAX_IN} values, separated by commas"
                    ));
                }
                let mut binds = Vec::with_capacity(values.len());
                for v in values {
                    binds.push(match f.kind {
                        FilterKind::Choice(allowed) if !allowed.contains(&v) => {
                            return Err(format!("{v:?} is not one of {}", allowed.join(", ")))
                        }
                        FilterKind::Number => Bind::Int(
                            v.parse::<i64>()
                                .map_err(|_| format!("{v:?} is not a whole number"))?,
                        ),
                        _ if v.is_empty() => return Err("must not be empty".into()),
                        _ if v.len() > 320 => return Err("is too long".into()),
                        _ => Bind::Text(v.to_string()),
                    });
                }
                if op == "IN" {
                    let marks: Vec<String> = binds
                        .into_iter()
                        .map(|b| format!("${}", self.push(b)))
                        .collect();
                    self.conditions
                        .push(format!("{} IN ({})", f.column, marks.join(", ")));
                } else if let Some(b) = binds.pop() {
                    self.compare(f.column, op, b);
                }
            }
            FilterKind::Member => {
                let values: Vec<&str> = raw
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .collect();
                if values.is_empty() || values.len() > MAX_IN || (op != "IN" && values.len() > 1) {
                    return Err(format!("must list 1 to {MAX_IN} ids, separated by commas"));
                }
                let mut any = Vec::new();
                for v in values {
                    if v.len() > 64 || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                        return Err(format!("{v:?} is not an id"));
                    }
                    let n = self.push(Bind::Text(format!("%\"{}\"%", v.to_ascii_lowercase())));
                    any.push(format!("{} LIKE ${n}", f.column));
                }
                self.conditions.push(format!("({})", any.join(" OR ")));
            }
            FilterKind::Flag => {
                let v = match raw.to_ascii_lowercase().as_str() {
                    "true" | "1" => 1,
                    "false" | "0" => 0,
                    _ => return Err(format!("{raw:?} is not true or false")),
                };
                self.compare(f.column, "=", Bind::Int(v));
            }
            FilterKind::Epoch | FilterKind::Rfc3339 => {
                let bind = |t: DateTime<Utc>| match f.kind {
                    FilterKind::Epoch => Bind::Int(t.timestamp()),
                    _ => Bind::Text(t.to_rfc3339()),
                };
                match (when(raw, tz)?, op) {
                    (When::At(t), op) => self.compare(f.column, op, bind(t)),
                    (When::Day(start, end), "=") => {
                        self.compare(f.column, ">=", bind(start));
                        self.compare(f.column, "<", bind(end));
                    }
                    (When::Day(start, _), "<") => self.compare(f.column, "<", bind(start)),
                    (When::Day(_, end), "<=") => self.compare(f.column, "<", bind(end)),
                    (When::Day(_, end), ">") => self.compare(f.column, ">=", bind(end)),
                    (When::Day(start, _), _) => self.compare(f.column, ">=", bind(start)),
                }
            }
        }
        Ok(())
    }

    fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    fn order_clause(&self, reversed: bool) -> String {
        let parts: Vec<String> = self
            .order
            .iter()
            .map(|(c, desc)| format!("{c} {}", if *desc != reversed { "DESC" } else { "ASC" }))
            .collect();
        parts.join(", ")
    }

    /// Adds a condition without a value (fixed SQL of the caller's, never from the request).
    pub fn and_sql(&mut self, sql: &'static str) {
        self.conditions.push(sql.to_string());
    }

    /// Adds `column IN (…)` over `values` (at least one), bound as placeholders.
    pub fn and_in(&mut self, column: &str, values: Vec<Bind>) {
        let marks: Vec<String> = values
            .into_iter()
            .map(|b| format!("${}", self.push(b)))
            .collect();
        self.conditions
            .push(format!("{column} IN ({})", marks.join(", ")));
    }

    /// Adds a condition the caller fixes (not from the query string), e.g. hiding archived rows
    /// from the public. `sql` holds `{}` where the placeholder goes.
    pub fn and(&mut self, sql: &str, bind: Bind) {
        let n = self.push(bind);
        self.conditions.push(sql.replace("{}", &format!("${n}")));
    }
}

fn bound<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &[Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        query = match b {
            Bind::Text(t) => query.bind(t.clone()),
            Bind::Int(i) => query.bind(*i),
        };
    }
    query
}

/// One page of a list after `after` in the order of its key, ascending (keyset paging: the
/// query's filters plus `key > after`, no count, no offset), so a whole filtered list can be
/// streamed page by page at the cost of the first page each time. The query's own ordering,
/// limit and offset are not used.
pub async fn page_after<T>(
    db: &ReadDb,
    spec: &ListSpec,
    q: &ListQuery,
    after: i64,
    limit: i64,
    row: impl Fn(&AnyRow) -> Result<T, QueryError>,
) -> Result<Vec<T>, QueryError> {
    let n = q.binds.len();
    let key = format!("{} > ${}", spec.key, n + 1);
    let filter = if q.conditions.is_empty() {
        format!(" WHERE {key}")
    } else {
        format!("{} AND {key}", q.where_clause())
    };
    let sql = format!(
        "SELECT {} FROM {}{filter} ORDER BY {} ASC LIMIT ${}",
        spec.columns,
        spec.table,
        spec.key,
        n + 2
    );
    let rows = bound(sqlx::query(&sql), &q.binds)
        .bind(after)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(row).collect()
}

/// Runs a list: the total count of matching rows, and the rows of the page, mapped by `row`.
pub async fn fetch<T>(
    db: &ReadDb,
    spec: &ListSpec,
    q: &ListQuery,
    row: impl Fn(&AnyRow) -> Result<T, QueryError>,
) -> Result<(Vec<T>, usize), QueryError> {
    use sqlx::Row;
    let filter = q.where_clause();
    let count_sql = format!("SELECT COUNT(*) FROM {}{filter}", spec.table);
    let count: i64 = bound(sqlx::query(&count_sql), &q.binds)
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let count = usize::try_from(count).unwrap_or(0);
    if q.offset >= count {
        return Ok((Vec::new(), count));
    }
    let end = q.offset.saturating_add(q.limit).min(count);
    // Read from whichever end is nearer (see the module comment).
    let reversed = q.offset > count - end;
    let (limit, offset) = if reversed {
        (end - q.offset, count - end)
    } else {
        (end - q.offset, q.offset)
    };
    let n = q.binds.len();
    let sql = format!(
        "SELECT {} FROM {}{filter} ORDER BY {} LIMIT ${} OFFSET ${}",
        spec.columns,
        spec.table,
        q.order_clause(reversed),
        n + 1,
        n + 2
    );
    let rows = bound(sqlx::query(&sql), &q.binds)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(db.pool())
        .await?;
    let mut out = rows
        .iter()
        .map(row)
        .collect::<Result<Vec<T>, QueryError>>()?;
    if reversed {
        out.reverse();
    }
    Ok((out, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: ListSpec = ListSpec {
        table: "t",
        columns: "id",
        filters: &[
            Filter::new(
                "status",
                "status",
                FilterKind::Choice(&["held", "confirmed"]),
            ),
            Filter::new("price_cents", "price_cents", FilterKind::Number),
            Filter::new("start", "start_epoch", FilterKind::Epoch),
            Filter::new("active", "active", FilterKind::Flag),
        ],
        search: &["name", "email"],
        orderings: &[("start", "start_epoch"), ("name", "name")],
        default_ordering: "start",
        key: "id",
    };

    fn pairs(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    fn parse(q: &str) -> Result<ListQuery, Vec<ParamError>> {
        SPEC.parse(&pairs(q), &["format"], chrono_tz::America::New_York)
    }

    #[test]
    fn filters_become_conditions_with_placeholders() {
        let q = parse("status__in=held,confirmed&price_cents__gte=5000&search=Ad_a").unwrap();
        assert_eq!(
            q.where_clause(),
            " WHERE status IN ($1, $2) AND price_cents >= $3 AND (LOWER(name) LIKE $4 ESCAPE '\\' OR LOWER(email) LIKE $4 ESCAPE '\\')"
        );
        assert_eq!(q.binds[3], Bind::Text("%ad\\_a%".into()));
    }

    #[test]
    fn a_local_date_means_the_whole_day_in_the_salon_zone() {
        let q = parse("start=2027-03-14").unwrap();
        // 2027-03-14 is the 23-hour day of the spring change in New York.
        let start = DateTime::parse_from_rfc3339("2027-03-14T05:00:00Z")
            .unwrap()
            .timestamp();
        let end = DateTime::parse_from_rfc3339("2027-03-15T04:00:00Z")
            .unwrap()
            .timestamp();
        assert_eq!(q.binds, vec![Bind::Int(start), Bind::Int(end)]);
        let q = parse("start__lte=2027-03-14").unwrap();
        assert_eq!(q.where_clause(), " WHERE start_epoch < $1");
        assert_eq!(q.binds, vec![Bind::Int(end)]);
    }

    #[test]
    fn ordering_takes_descending_fields_and_always_ends_on_the_key() {
        let q = parse("ordering=-start,name").unwrap();
        assert_eq!(q.order_clause(false), "start_epoch DESC, name ASC, id DESC");
        assert_eq!(q.order_clause(true), "start_epoch ASC, name DESC, id ASC");
        assert_eq!(
            parse("").unwrap().order_clause(false),
            "start_epoch ASC, id ASC"
        );
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let errors = parse("limit=0&stauts=held&status=done&price_cents__gte=x&start__in=1&ordering=colour&active=maybe&format=csv")
            .unwrap_err();
        let names: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "limit",
                "stauts",
                "status",
                "price_cents__gte",
                "start__in",
                "active",
                "ordering"
            ]
        );
    }
}
