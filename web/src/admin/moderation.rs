//! Reviews: the owner approves (the review shows on the booking site), hides, and replies.

use super::view::{self, Chrome, Ctx, Errors, Pager};
use super::{error_page, execute, failed, metadata, see_other, Admin, Owner, Posted};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use domain::ids::ReviewId;
use domain::review::{Review, ReviewCommand, ReviewStatus};
use projections::list;
use projections::reviews::{review_row, REVIEW_LIST};
use std::collections::HashMap;

pub(super) fn routes() -> Router<Admin> {
    Router::new()
        .route("/admin/reviews", get(reviews))
        .route("/admin/reviews/{id}", post(moderate))
}

const PER_PAGE: usize = 20;
const STATUSES: &[(&str, &str)] = &[
    ("pending", "Waiting"),
    ("approved", "Approved"),
    ("hidden", "Hidden"),
    ("", "All"),
];

pub struct ReviewCard {
    pub id: String,
    pub stars: String,
    pub rating: i64,
    pub text: String,
    pub by: String,
    pub about: String,
    pub when: String,
    pub status: String,
    pub reply: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/reviews.html")]
struct ReviewsPage {
    chrome: Chrome,
    status: String,
    statuses: &'static [(&'static str, &'static str)],
    cards: Vec<ReviewCard>,
    count: usize,
    pager: Pager,
    /// The review whose form was refused, and why.
    failed: String,
    errors: Errors,
}

async fn reviews_page(
    admin: &Admin,
    session: &crate::auth::Session,
    p: &HashMap<String, String>,
    failed_id: &str,
    errors: Errors,
) -> Response {
    let ctx = or_page!(Ctx::load(admin).await);
    // Waiting reviews first: that is the owner's work.
    let status = p
        .get("status")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "pending".into());
    let page = view::page_number(p.get("page").map(String::as_str));
    let mut pairs = vec![
        ("limit".to_string(), PER_PAGE.to_string()),
        ("offset".to_string(), ((page - 1) * PER_PAGE).to_string()),
    ];
    if !status.is_empty() {
        pairs.push(("status".into(), status.clone()));
    }
    let mut query = match REVIEW_LIST.parse(&pairs, &[], ctx.tz) {
        Ok(q) => q,
        Err(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Reviews can be listed as waiting, approved, hidden or all.",
            )
        }
    };
    query.and_sql("r.archived = 0");
    let (rows, count) = match list::fetch(admin.read(), &REVIEW_LIST, &query, review_row).await {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let cards = rows
        .into_iter()
        .map(|r| ReviewCard {
            stars: "★".repeat(r.rating.clamp(0, 5) as usize)
                + &"☆".repeat((5 - r.rating.clamp(0, 5)) as usize),
            rating: r.rating,
            by: r.display_name.clone(),
            about: match &r.service {
                Some(s) => format!("{} with {}", ctx.name(s), ctx.name(&r.stylist)),
                None => ctx.name(&r.stylist).to_string(),
            },
            when: ctx.when(&r.created_at),
            reply: r.reply.clone().unwrap_or_default(),
            status: r.status,
            text: r.text,
            id: r.id,
        })
        .collect();
    let base = view::with_query("/admin/reviews", &[("status", &status)]);
    let chrome = view::chrome(
        admin,
        &ctx,
        session,
        "reviews",
        p.get("done").map(String::as_str),
    )
    .await;
    let code = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        code,
        ReviewsPage {
            chrome,
            status,
            statuses: STATUSES,
            cards,
            count,
            pager: Pager::new(&base, page, PER_PAGE, count),
            failed: failed_id.to_string(),
            errors,
        },
    )
        .into_response()
}

async fn reviews(
    State(admin): State<Admin>,
    Owner(session): Owner,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    reviews_page(&admin, &session, &p, "", Errors::default()).await
}

async fn moderate(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    if ReviewId::parse(&id).is_err() {
        return error_page(StatusCode::NOT_FOUND, "There is no such review.");
    }
    let back = form.text("back_status");
    let (command, code) = match form.get("action") {
        Some("approve") => (
            ReviewCommand::Moderate {
                status: Some(ReviewStatus::Approved),
                reply: None,
            },
            "approved",
        ),
        Some("hide") => (
            ReviewCommand::Moderate {
                status: Some(ReviewStatus::Hidden),
                reply: None,
            },
            "hidden",
        ),
        Some("reply") => {
            let reply = form.text("reply");
            if reply.chars().count() > 2000 {
                let mut errors = Errors::default();
                errors.add("reply", "A reply can be at most 2000 characters.");
                let p = HashMap::from([("status".to_string(), back)]);
                return reviews_page(&admin, &session, &p, &id, errors).await;
            }
            (
                ReviewCommand::Moderate {
                    status: None,
                    reply: Some(reply),
                },
                "replied",
            )
        }
        _ => return error_page(StatusCode::BAD_REQUEST, "Choose approve, hide or reply."),
    };
    match execute::<Review>(&admin, &id, command, &metadata(&session, &form)).await {
        Ok(n) => see_other(&view::with_query(
            "/admin/reviews",
            &[
                ("status", &back),
                ("done", if n > 0 { code } else { "unchanged" }),
            ],
        )),
        Err(m) => {
            let mut errors = Errors::default();
            errors.add("review", m);
            let p = HashMap::from([("status".to_string(), back)]);
            reviews_page(&admin, &session, &p, &id, errors).await
        }
    }
}
