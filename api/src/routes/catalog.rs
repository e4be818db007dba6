//! The DRF list envelope `{count, next, previous, results}` every list answers with, and its
//! paging. The salon, services and stylists have their own modules.

use crate::problem::FieldError;
use axum::http::Uri;
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// `limit` and `offset` as sent (strings, so a bad value gets a field error, not a 400 blob).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many results to return (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, example = 20)]
    pub limit: Option<String>,
    /// How many results to skip.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000, example = 0)]
    pub offset: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub offset: usize,
}

impl PageParams {
    pub fn parse(&self) -> Result<Page, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut number =
            |field: &str, raw: &Option<String>, default: usize, max: usize, min: usize| -> usize {
                match raw.as_deref().map(str::trim) {
                    None | Some("") => default,
                    Some(text) => match text.parse::<usize>() {
                        Ok(n) if n >= min && n <= max => n,
                        _ => {
                            errors.push(FieldError::new(
                                field,
                                format!("must be a whole number from {min} to {max}"),
                            ));
                            default
                        }
                    },
                }
            };
        let limit = number("limit", &self.limit, DEFAULT_LIMIT, MAX_LIMIT, 1);
        let offset = number("offset", &self.offset, 0, 1_000_000_000, 0);
        if errors.is_empty() {
            Ok(Page { limit, offset })
        } else {
            Err(errors)
        }
    }
}

/// The DRF list envelope: one page of `results` out of `count`, with links to the pages
/// around it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    /// How many results there are in all pages.
    pub count: usize,
    /// The next page (path and query), or null on the last.
    #[schema(example = "/api/v1/services?limit=2&offset=2")]
    pub next: Option<String>,
    /// The previous page (path and query), or null on the first.
    #[schema(example = json!(null))]
    pub previous: Option<String>,
    pub results: Vec<T>,
}

fn link(uri: &Uri, limit: usize, offset: usize) -> String {
    let mut pairs: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("limit=") && !p.starts_with("offset="))
        .map(str::to_string)
        .collect();
    pairs.push(format!("limit={limit}"));
    pairs.push(format!("offset={offset}"));
    format!("{}?{}", uri.path(), pairs.join("&"))
}

/// Pages an in-memory list (the catalog is small: a salon has tens of services, not thousands).
pub fn paginate<T>(all: Vec<T>, page: Page, uri: &Uri) -> Paged<T> {
    let count = all.len();
    let results = all.into_iter().skip(page.offset).take(page.limit).collect();
    page_of(results, count, page, uri)
}

/// The envelope of one page already cut out of `count` rows (by the database's LIMIT/OFFSET).
pub fn page_of<T>(results: Vec<T>, count: usize, page: Page, uri: &Uri) -> Paged<T> {
    let next =
        (page.offset + page.limit < count).then(|| link(uri, page.limit, page.offset + page.limit));
    let previous =
        (page.offset > 0).then(|| link(uri, page.limit, page.offset.saturating_sub(page.limit)));
    Paged {
        count,
        next,
        previous,
        results,
    }
}
