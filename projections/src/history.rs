//! The history an integrator reads: the audit log (`rm_audit_log`, one readable row per event)
//! and the event log itself, both listed with filters (`projections::list`).

use crate::db::ReadDb;
use crate::list::{Filter, FilterKind, ListQuery, ListSpec};
use crate::queries::QueryError;
use migrations::Backend;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

type Result<T> = std::result::Result<T, QueryError>;

/// The paths an event can come by (its `source`).
pub const SOURCES: &[&str] = &[
    "spa", "panel", "api", "webhook", "intake", "cli", "job", "import",
];

/// One audit entry: who did what, when, why, by which path, because of what.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = AuditEntry, example = json!({
    "position": 1042, "recorded_at": "2027-03-02T14:12:09.114+00:00",
    "actor": "token:front-desk", "source": "api",
    "aggregate_type": "Booking", "aggregate_id": "0193b1f2-1c9e-7d3a-8f21-5b6a7c8d9e0f",
    "event_type": "BookingCancelled",
    "summary": "Booking 0193b1f2-1c9e-7d3a-8f21-5b6a7c8d9e0f cancelled by the owner",
    "reason": "client called in sick", "request_id": "5b2f0c4e-3a8f-4f7e-9d8a-0e1c2b3a4d5f",
    "correlation_id": null, "causation_id": null
}))]
pub struct AuditEntry {
    /// The event's place in the log.
    pub position: i64,
    /// When it was recorded (RFC 3339, UTC).
    pub recorded_at: String,
    /// `client`, `owner`, `partner`, `token:<name>`, `stripe`, `calendar:<source>`, `system`.
    pub actor: String,
    /// The path it came by: `spa`, `panel`, `api`, `webhook`, `intake`, `cli`, `job`, `import`.
    pub source: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_type: String,
    /// What happened, in words.
    pub summary: String,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
}

const AUDIT_COLUMNS: &str = "position, recorded_at, actor, source, aggregate_type, aggregate_id, \
    event_type, summary, reason, request_id, correlation_id, causation_id";

/// The audit log listed with filters, newest first unless asked otherwise.
pub const AUDIT_LIST: ListSpec = ListSpec {
    table: "rm_audit_log",
    columns: AUDIT_COLUMNS,
    filters: &[
        Filter::new("position", "position", FilterKind::Number),
        Filter::new("recorded", "recorded_at", FilterKind::Rfc3339),
        Filter::new("actor", "actor", FilterKind::Exact),
        Filter::new("source", "source", FilterKind::Choice(SOURCES)),
        Filter::new("aggregate_type", "aggregate_type", FilterKind::Exact),
        Filter::new("aggregate_id", "aggregate_id", FilterKind::Exact),
        Filter::new("type", "event_type", FilterKind::Exact),
        Filter::new("request_id", "request_id", FilterKind::Exact),
        Filter::new("correlation_id", "correlation_id", FilterKind::Exact),
    ],
    search: &["summary", "reason"],
    orderings: &[("position", "position")],
    default_ordering: "-position",
    key: "position",
};

pub fn audit_row(r: &AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        position: r.try_get("position")?,
        recorded_at: r.try_get("recorded_at")?,
        actor: r.try_get("actor")?,
        source: r.try_get("source")?,
        aggregate_type: r.try_get("aggregate_type")?,
        aggregate_id: r.try_get("aggregate_id")?,
        event_type: r.try_get("event_type")?,
        summary: r.try_get("summary")?,
        reason: r.try_get("reason")?,
        request_id: r.try_get("request_id")?,
        correlation_id: r.try_get("correlation_id")?,
        causation_id: r.try_get("causation_id")?,
    })
}

/// One event of the log, as exported (ARCHITECTURE §6).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = LoggedEvent, example = json!({
    "position": 1042, "aggregate_type": "Booking",
    "aggregate_id": "0193b1f2-1c9e-7d3a-8f21-5b6a7c8d9e0f", "sequence": 4,
    "event_type": "BookingCancelled", "event_version": "1",
    "payload": {"BookingCancelled": {"id": "0193b1f2-1c9e-7d3a-8f21-5b6a7c8d9e0f", "by": "owner"}},
    "metadata": {"actor": "token:front-desk", "source": "api", "reason": "client called in sick",
                 "request_id": "5b2f0c4e-3a8f-4f7e-9d8a-0e1c2b3a4d5f",
                 "recorded_at": "2027-03-02T14:12:09.114Z"}
}))]
pub struct LoggedEvent {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The event's number within its aggregate (from 1).
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// The audit fields: `actor`, `source`, `reason`, `request_id`, `correlation_id`,
    /// `causation_id`, `recorded_at`.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
}

const EVENT_FILTERS_SQLITE: &[Filter] = &[
    Filter::new("position", "position", FilterKind::Number),
    Filter::new("type", "event_type", FilterKind::Exact),
    Filter::new("aggregate_type", "aggregate_type", FilterKind::Exact),
    Filter::new("aggregate_id", "aggregate_id", FilterKind::Exact),
    Filter::new(
        "actor",
        "json_extract(metadata, '$.actor')",
        FilterKind::Exact,
    ),
    Filter::new(
        "source",
        "json_extract(metadata, '$.source')",
        FilterKind::Choice(SOURCES),
    ),
    Filter::new(
        "recorded",
        "CAST(strftime('%s', json_extract(metadata, '$.recorded_at')) AS INTEGER)",
        FilterKind::Epoch,
    ),
];

const EVENT_FILTERS_POSTGRES: &[Filter] = &[
    Filter::new("position", "position", FilterKind::Number),
    Filter::new("type", "event_type", FilterKind::Exact),
    Filter::new("aggregate_type", "aggregate_type", FilterKind::Exact),
    Filter::new("aggregate_id", "aggregate_id", FilterKind::Exact),
    Filter::new("actor", "(metadata->>'actor')", FilterKind::Exact),
    Filter::new(
        "source",
        "(metadata->>'source')",
        FilterKind::Choice(SOURCES),
    ),
    Filter::new(
        "recorded",
        "CAST(EXTRACT(EPOCH FROM CAST(metadata->>'recorded_at' AS timestamptz)) AS BIGINT)",
        FilterKind::Epoch,
    ),
];

/// The event log listed with filters, in log order unless asked otherwise.
pub fn event_list(backend: Backend) -> ListSpec {
    let (columns, filters) = match backend {
        Backend::Sqlite => (
            "position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata",
            EVENT_FILTERS_SQLITE,
        ),
        Backend::Postgres => (
            "position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
             payload::text AS payload, metadata::text AS metadata",
            EVENT_FILTERS_POSTGRES,
        ),
    };
    ListSpec {
        table: "events",
        columns,
        filters,
        search: &[],
        orderings: &[("position", "position")],
        default_ordering: "position",
        key: "position",
    }
}

/// Restricts an event list to what every later read will also see: on PostgreSQL, only
/// events of transactions older than every running one (a position can commit after a higher
/// one; listing it late would let a reader paging by `position__gt` skip it).
pub fn settled_only(db: &ReadDb, query: &mut ListQuery) {
    if db.backend() == Backend::Postgres {
        query.and_sql("txid < pg_snapshot_xmin(pg_current_snapshot())");
    }
}

/// Upcasts listed events and opens their personal data (or shows it erased), as every reader
/// of the log does (`migrations::pii`).
pub async fn open_events(db: &ReadDb, events: &mut [LoggedEvent]) -> Result<()> {
    migrations::pii::open_all(
        db,
        events
            .iter_mut()
            .map(|e| (e.event_type.as_str(), &mut e.event_version, &mut e.payload))
            .collect(),
    )
    .await?;
    Ok(())
}

pub fn event_row(r: &AnyRow) -> Result<LoggedEvent> {
    let payload: String = r.try_get("payload")?;
    let metadata: String = r.try_get("metadata")?;
    Ok(LoggedEvent {
        position: r.try_get("position")?,
        aggregate_type: r.try_get("aggregate_type")?,
        aggregate_id: r.try_get("aggregate_id")?,
        sequence: r.try_get("sequence")?,
        event_type: r.try_get("event_type")?,
        event_version: r.try_get("event_version")?,
        payload: serde_json::from_str(&payload).map_err(|e| QueryError::Corrupt(e.to_string()))?,
        metadata: serde_json::from_str(&metadata)
            .map_err(|e| QueryError::Corrupt(e.to_string()))?,
    })
}
