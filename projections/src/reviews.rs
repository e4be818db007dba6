//! The reviews read model, and its reads: the salon's view (every review not archived, with the
//! reviewer's client record) and the public one (approved reviews, without contact details).

use crate::apply::{decode, recorded_at, ApplyError};
use crate::db::ReadDb;
use crate::list::{Filter, FilterKind, ListSpec};
use crate::log::StoredEvent;
use crate::queries::QueryError;
use crate::writer::{Val, Writer};
use domain::review::ReviewEvent;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

type Result<T> = std::result::Result<T, QueryError>;

pub(crate) async fn apply(
    w: &mut Writer<'_>,
    stored: &StoredEvent,
) -> std::result::Result<(), ApplyError> {
    let id = stored.aggregate_id.clone();
    let at = recorded_at(stored);
    let (sets, value): (&str, Option<Val>) = match decode::<ReviewEvent>(stored)? {
        ReviewEvent::ReviewSubmitted { details: d, .. } => {
            sqlx::query(
                "INSERT INTO rm_reviews (id, booking, stylist, service, client, rating, text, \
                 display_name, status, archived, version, created_at, updated_at, \
                 created_position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $10, \
                 $10, $11)",
            )
            .bind(id)
            .bind(d.booking.map(|b| b.to_string()))
            .bind(d.stylist.to_string())
            .bind(d.service.map(|s| s.to_string()))
            .bind(d.client.map(|c| c.to_string()))
            .bind(i64::from(d.text.rating))
            .bind(d.text.text)
            .bind(d.text.display_name)
            .bind(stored.sequence)
            .bind(at)
            .bind(stored.at.position)
            .execute(w.conn().await?)
            .await?;
            return Ok(());
        }
        ReviewEvent::ReviewApproved { .. } => ("status = 'approved'", None),
        ReviewEvent::ReviewHidden { .. } => ("status = 'hidden'", None),
        ReviewEvent::ReviewReplied { reply, .. } => {
            ("reply = $4, replied_at = $2", Some(reply.into()))
        }
        ReviewEvent::ReviewReplyRemoved { .. } => ("reply = NULL, replied_at = NULL", None),
        ReviewEvent::ReviewArchived { .. } => ("archived = 1", None),
    };
    let sql = format!("UPDATE rm_reviews SET updated_at = $2, version = $3, {sets} WHERE id = $1");
    let mut q = sqlx::query(&sql).bind(id).bind(at).bind(stored.sequence);
    if let Some(Val::Text(t)) = value {
        q = q.bind(t);
    }
    q.execute(w.conn().await?).await?;
    Ok(())
}

/// A review. Integrators (any token) see every field; the public sees approved reviews without
/// `booking`, `client`, `client_name` and `client_email` (left out, not null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Review, example = json!({
    "id": "0193c2d4-1b7e-7f30-9a1c-5e2d8b4f6a01",
    "booking": "0193c1a0-55e2-7d1b-8f4a-2c9e0b7d3a15",
    "stylist": "c44e923e-60e5-58b4-a805-a80b72143357",
    "service": "77d5de2f-6c6f-5291-90df-5ba039e90a05",
    "client": "5f1c7b3e-2a9d-5c41-8e6f-0b7a3d2c1e90",
    "client_name": "Ada Lovelace",
    "client_email": "ada@example.com",
    "rating": 5,
    "text": "Best retwist I've had.",
    "display_name": "Ada L.",
    "status": "approved",
    "reply": "Thank you, Ada!",
    "replied_at": "2027-03-03T09:00:00+00:00",
    "created_at": "2027-03-02T18:30:00+00:00",
    "updated_at": "2027-03-03T09:00:00+00:00"
}))]
pub struct ReviewView {
    #[schema(format = Uuid)]
    pub id: String,
    /// The visit reviewed (token holders only; null for a review entered without one).
    #[serde(skip_serializing_if = "Hidden::is_hidden")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub booking: Hidden<String>,
    #[schema(format = Uuid)]
    pub stylist: String,
    #[schema(format = Uuid)]
    pub service: Option<String>,
    /// The reviewer's client record (token holders only).
    #[serde(skip_serializing_if = "Hidden::is_hidden")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub client: Hidden<String>,
    /// The reviewer's name and email from their client record (token holders only).
    #[serde(skip_serializing_if = "Hidden::is_hidden")]
    #[schema(value_type = Option<String>)]
    pub client_name: Hidden<String>,
    #[serde(skip_serializing_if = "Hidden::is_hidden")]
    #[schema(value_type = Option<String>)]
    pub client_email: Hidden<String>,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    pub text: String,
    /// The name the reviewer chose to show.
    pub display_name: String,
    #[schema(pattern = "^(pending|approved|hidden)$")]
    pub status: String,
    /// The salon's answer.
    pub reply: Option<String>,
    #[schema(format = DateTime)]
    pub replied_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// The Review aggregate's version, for the ETag.
    #[serde(skip)]
    pub version: i64,
}

/// A field shown to token holders only: `Hidden::No(value)` is sent (a null when the value is
/// `None`), `Hidden::Yes` is left out of the JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hidden<T> {
    No(Option<T>),
    Yes,
}

impl<T> Hidden<T> {
    fn is_hidden(&self) -> bool {
        matches!(self, Self::Yes)
    }
}

impl<T: Serialize> Serialize for Hidden<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::No(v) => v.serialize(s),
            Self::Yes => s.serialize_none(),
        }
    }
}

impl ReviewView {
    /// The public face: no booking, no client.
    pub fn public(mut self) -> Self {
        self.booking = Hidden::Yes;
        self.client = Hidden::Yes;
        self.client_name = Hidden::Yes;
        self.client_email = Hidden::Yes;
        self
    }
}

const FROM: &str = "rm_reviews r LEFT JOIN rm_clients c ON c.id = r.client";
const COLUMNS: &str = "r.id, r.booking, r.stylist, r.service, r.client, c.name AS client_name, \
    c.email AS client_email, r.rating, r.text, r.display_name, r.status, r.reply, r.replied_at, \
    r.created_at, r.updated_at, r.version";

pub fn review_row(r: &AnyRow) -> Result<ReviewView> {
    Ok(ReviewView {
        id: r.try_get("id")?,
        booking: Hidden::No(r.try_get("booking")?),
        stylist: r.try_get("stylist")?,
        service: r.try_get("service")?,
        client: Hidden::No(r.try_get("client")?),
        client_name: Hidden::No(r.try_get("client_name")?),
        client_email: Hidden::No(r.try_get("client_email")?),
        rating: r.try_get("rating")?,
        text: r.try_get("text")?,
        display_name: r.try_get("display_name")?,
        status: r.try_get("status")?,
        reply: r.try_get("reply")?,
        replied_at: r.try_get("replied_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

/// One review not archived.
pub async fn review(db: &ReadDb, id: &str) -> Result<Option<ReviewView>> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = $1 AND r.archived = 0");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(review_row).transpose()
}

/// How `GET /api/v1/reviews` lists (the route hides archived reviews, and for the public all
/// but approved ones).
pub const REVIEW_LIST: ListSpec = ListSpec {
    table: FROM,
    columns: COLUMNS,
    filters: &[
        Filter::new("stylist", "r.stylist", FilterKind::Exact),
        Filter::new("service", "r.service", FilterKind::Exact),
        Filter::new("booking", "r.booking", FilterKind::Exact),
        Filter::new("client", "r.client", FilterKind::Exact),
        Filter::new(
            "status",
            "r.status",
            FilterKind::Choice(&["pending", "approved", "hidden"]),
        ),
        Filter::new("rating", "r.rating", FilterKind::Number),
        Filter::new("created_at", "r.created_at", FilterKind::Rfc3339),
    ],
    search: &["r.text", "r.display_name"],
    orderings: &[
        ("created_at", "r.created_position"),
        ("updated_at", "r.updated_at"),
        ("rating", "r.rating"),
    ],
    default_ordering: "-created_at",
    key: "r.id",
};
