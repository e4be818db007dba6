//! List endpoints over read-model tables: the query string read as django-filter and DRF read
//! it (see `projections::list` for filters, `search`, `ordering` and SQL paging), answered
//! with the DRF envelope `{count, next, previous, results}`. A bad parameter is a 422 naming
//! it; an unknown one too, so a mistyped filter never silently lists everything.

use crate::problem::{FieldError, Problem};
use crate::routes::catalog::{page_of, Page, Paged};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Uri;
use projections::list::{fetch, AnyRow, Bind, ListQuery, ListSpec};
use projections::queries::QueryError;

/// The query string as its pairs, in order (a key may come more than once).
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub pairs: Vec<(String, String)>,
    pub uri: Uri,
}

impl ListParams {
    /// The value of `key` (the last one given), trimmed.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
    }

    /// Takes `key` out of the pairs (for parameters the handler reads itself).
    pub fn take(&mut self, key: &str) -> Option<String> {
        let value = self.get(key).map(str::to_string);
        self.pairs.retain(|(k, _)| k != key);
        value
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let crate::extract::ApiQuery(pairs) =
            crate::extract::ApiQuery::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await?;
        // As everywhere in this API, a parameter given twice is a malformed request (which
        // of the two was meant?); a range is two lookups: `start__gte=…&start__lt=…`.
        let mut seen = std::collections::HashSet::new();
        if let Some((key, _)) = pairs.iter().find(|(k, _)| !seen.insert(k.as_str())) {
            return Err(Problem::bad_request(format!(
                "The query parameter `{key}` is given more than once."
            )));
        }
        Ok(Self {
            pairs,
            uri: parts.uri.clone(),
        })
    }
}

fn param_errors(errors: Vec<(String, String)>) -> Problem {
    Problem::validation(
        errors
            .into_iter()
            .map(|(field, message)| FieldError::new(field, message))
            .collect(),
    )
}

/// Parses the list parameters against `spec` (dates read in the salon's time zone).
pub async fn parse(
    state: &AppState,
    spec: &ListSpec,
    params: &ListParams,
) -> Result<ListQuery, Problem> {
    let tz = projections::queries::salon(&state.read).await?.time_zone;
    parse_in(spec, params, tz)
}

/// As [`parse`], for a caller that already has the salon's time zone.
pub fn parse_in(
    spec: &ListSpec,
    params: &ListParams,
    tz: chrono_tz::Tz,
) -> Result<ListQuery, Problem> {
    spec.parse(&params.pairs, &[], tz).map_err(param_errors)
}

/// The `active` parameter of the catalog lists: absent or `true` lists what is in use (the menu,
/// the bookable stylists), `false` what is archived, `all` both.
pub fn only_active(query: &mut ListQuery, active: Option<&str>) -> Result<(), Problem> {
    match active.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("true") | Some("1") => query.and("active = {}", Bind::Int(1)),
        Some("false") | Some("0") => query.and("active = {}", Bind::Int(0)),
        Some("all") => {}
        Some(other) => {
            return Err(Problem::validation(vec![FieldError::new(
                "active",
                format!("{other:?} is not true, false or all"),
            )]))
        }
    }
    Ok(())
}

/// Runs a parsed list and wraps the page in the DRF envelope, with links that keep the
/// request's filters.
pub async fn run<T>(
    state: &AppState,
    spec: &ListSpec,
    query: &ListQuery,
    uri: &Uri,
    row: impl Fn(&AnyRow) -> Result<T, QueryError>,
) -> Result<Paged<T>, Problem> {
    let (results, count) = fetch(&state.read, spec, query, row).await?;
    let page = Page {
        limit: query.limit,
        offset: query.offset,
    };
    Ok(page_of(results, count, page, uri))
}
