//! What each projection does with each event. Events carry everything the views need, so no
//! projection reads another's tables.

use crate::log::StoredEvent;
use crate::writer::{Val, Writer};
use domain::booking::BookingEvent;
use domain::calendar_source::CalendarSourceEvent;
use domain::picture::PictureEvent;
use domain::salon::SalonEvent;
use domain::schedule::TimeOff;
use domain::service::{ServiceDetails, ServiceEvent};
use domain::stylist::StylistEvent;
use domain::stylist_day::StylistDayEvent;
use domain::token::ApiTokenEvent;
use domain::webhook::WebhookEvent;
use sqlx::Row;

/// The projections salon runs. Each has a stable name (its checkpoint row) and owns its tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Projection {
    /// Salon settings, services, stylists (hours, time off).
    Catalog,
    /// Bookings list and detail.
    Bookings,
    /// Reservations of stylists' time, for free slots.
    Availability,
    /// Who did what, when, why: one row per event.
    Audit,
    /// API tokens by hash.
    Tokens,
    /// External calendar sources and their sync state.
    Calendars,
    /// Integrators' outgoing webhook subscriptions.
    Webhooks,
    /// Clients, registered by hand or learned from bookings, with their figures.
    Clients,
    /// Clients' reviews of their visits.
    Reviews,
    /// Which picture the logo, each stylist and each service shows.
    Pictures,
}

impl Projection {
    pub const ALL: [Projection; 10] = [
        Projection::Catalog,
        Projection::Bookings,
        Projection::Availability,
        Projection::Audit,
        Projection::Tokens,
        Projection::Calendars,
        Projection::Webhooks,
        Projection::Clients,
        Projection::Reviews,
        Projection::Pictures,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Catalog => "catalog",
            Self::Bookings => "bookings",
            Self::Availability => "availability",
            Self::Audit => "audit",
            Self::Tokens => "tokens",
            Self::Calendars => "calendars",
            Self::Webhooks => "webhooks",
            Self::Clients => "clients",
            Self::Reviews => "reviews",
            Self::Pictures => "pictures",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The tables this projection owns (cleared on rebuild).
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Self::Catalog => &["rm_salon", "rm_services", "rm_stylists"],
            Self::Bookings => &["rm_bookings"],
            Self::Availability => &["rm_reservations", "rm_external_busy"],
            Self::Audit => &["rm_audit_log"],
            Self::Tokens => &["rm_api_tokens"],
            Self::Calendars => &["rm_calendar_sources"],
            Self::Webhooks => &["rm_webhook_subscriptions"],
            Self::Clients => &["rm_clients", "rm_client_bookings"],
            Self::Reviews => &["rm_reviews"],
            Self::Pictures => &["rm_pictures"],
        }
    }

    /// The non-unique indexes of [`Self::tables`] that the projection's own statements look
    /// rows up by. A rebuild's shadow tables carry only these and the unique ones (the keys
    /// its upserts name): every other index serves readers of the live tables, which keep
    /// theirs, and would only slow the rebuild down.
    pub fn lookup_indexes(self) -> &'static [&'static str] {
        match self {
            // A forgotten client's bookings are scrubbed by client.
            Self::Bookings => &["rm_bookings_client_id"],
            // A calendar's busy times are replaced day by day.
            Self::Availability => &["rm_external_busy_day"],
            // A forgotten client's summaries are rewritten by client.
            Self::Audit => &["rm_audit_log_client_id"],
            // Figures are recomputed from the client's bookings.
            Self::Clients => &["rm_client_bookings_client"],
            Self::Catalog
            | Self::Tokens
            | Self::Calendars
            | Self::Webhooks
            | Self::Reviews
            | Self::Pictures => &[],
        }
    }

    fn wants(self, aggregate_type: &str) -> bool {
        match self {
            Self::Catalog => matches!(aggregate_type, "Salon" | "Service" | "Stylist"),
            // Client events: a forgotten client's bookings are scrubbed.
            Self::Bookings => matches!(aggregate_type, "Booking" | "Client"),
            Self::Availability => aggregate_type == "StylistDay",
            Self::Audit => true,
            Self::Tokens => aggregate_type == "ApiToken",
            Self::Calendars => aggregate_type == "CalendarSource",
            Self::Webhooks => aggregate_type == "WebhookSubscription",
            Self::Clients => matches!(aggregate_type, "Client" | "Booking"),
            Self::Reviews => aggregate_type == "Review",
            Self::Pictures => aggregate_type == "Picture",
        }
    }

    /// Ends a batch of events inside the projection's transaction: work left for the end of
    /// the batch (the clients' buffered writes and figures).
    pub async fn finish(self, w: &mut Writer<'_>) -> Result<(), ApplyError> {
        match self {
            Self::Clients => crate::clients::finish(w).await,
            _ => Ok(()),
        }
    }

    /// Applies one event inside the projection's transaction.
    pub async fn apply(self, w: &mut Writer<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
        if !self.wants(&event.aggregate_type) {
            return Ok(());
        }
        match self {
            Self::Catalog => catalog(w, event).await,
            Self::Bookings => bookings(w, event).await,
            Self::Availability => availability(w, event).await,
            Self::Audit => audit(w, event).await,
            Self::Tokens => tokens(w, event).await,
            Self::Calendars => calendars(w, event).await,
            Self::Webhooks => webhooks(w, event).await,
            Self::Clients => crate::clients::apply(w, event).await,
            Self::Reviews => crate::reviews::apply(w, event).await,
            Self::Pictures => pictures(w, event).await,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    /// The payload does not decode as the event its type names: a bug or a missing upcaster.
    #[error("cannot decode {event_type} at position {position}: {message}")]
    Decode {
        event_type: String,
        position: i64,
        message: String,
    },
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(event: &StoredEvent) -> Result<T, ApplyError> {
    T::deserialize(&event.payload).map_err(|e| ApplyError::Decode {
        event_type: event.event_type.clone(),
        position: event.at.position,
        message: e.to_string(),
    })
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// The client an opened personal event names (`client_id`, added when it was opened; see
/// `migrations::pii`): a booking's or a waitlist entry's client, a client event's own id.
pub(crate) fn client_id_of(event: &StoredEvent) -> Option<String> {
    if event.aggregate_type == "Client" {
        return Some(event.aggregate_id.clone());
    }
    let body = event.payload.get(&event.event_type)?;
    body.get("details")
        .or_else(|| body.get("entry"))?
        .get("client_id")?
        .as_str()
        .map(str::to_string)
}

pub(crate) fn recorded_at(event: &StoredEvent) -> String {
    event.audit().recorded_at.to_rfc3339()
}

/// The picture each subject shows now (`rm_pictures`, keyed by the subject).
async fn pictures(w: &mut Writer<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
    match decode::<PictureEvent>(event)? {
        PictureEvent::PictureSet {
            subject,
            sha256,
            content_type,
            width,
            height,
        } => {
            let file = domain::picture::file_name(&sha256, &content_type);
            sqlx::query(
                "INSERT INTO rm_pictures (subject, sha256, content_type, width, height, file, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (subject) DO UPDATE SET \
                 sha256 = $2, content_type = $3, width = $4, height = $5, file = $6, version = $7",
            )
            .bind(subject.to_string())
            .bind(sha256)
            .bind(content_type)
            .bind(i64::from(width))
            .bind(i64::from(height))
            .bind(file)
            .bind(event.sequence)
            .execute(w.conn().await?)
            .await?;
        }
        PictureEvent::PictureRemoved { subject } => {
            sqlx::query("DELETE FROM rm_pictures WHERE subject = $1")
                .bind(subject.to_string())
                .execute(w.conn().await?)
                .await?;
        }
    }
    Ok(())
}

async fn catalog(w: &mut Writer<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
    match event.aggregate_type.as_str() {
        "Salon" => salon(w, event, decode(event)?).await,
        "Service" => service(w, event, decode(event)?).await,
        "Stylist" => stylist(w, event, decode(event)?).await,
        _ => Ok(()),
    }
}

async fn salon(
    w: &mut Writer<'_>,
    stored: &StoredEvent,
    event: SalonEvent,
) -> Result<(), ApplyError> {
    let version = stored.sequence;
    // Every event but the first changes one part of the one row.
    let (set, value): (&str, String) = match event {
        SalonEvent::SalonConfigured {
            name,
            time_zone,
            currency,
            policy,
            open,
            demo,
        } => {
            sqlx::query(
                "INSERT INTO rm_salon (id, name, time_zone, currency, policy_json, open, demo, version) \
                 VALUES ('salon', $1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO UPDATE SET name = $1, time_zone = $2, currency = $3, policy_json = $4, \
                 open = $5, demo = $6, version = $7",
            )
            .bind(name)
            .bind(time_zone.name().to_string())
            .bind(currency.as_str().to_string())
            .bind(json(&policy))
            .bind(i64::from(open))
            .bind(i64::from(demo))
            .bind(version)
            .execute(w.conn().await?)
            .await?;
            return Ok(());
        }
        SalonEvent::ContactChanged { contact } => {
            sqlx::query("UPDATE rm_salon SET address = $1, phone = $2, email = $3, version = $4")
                .bind(contact.address)
                .bind(contact.phone)
                .bind(contact.email)
                .bind(version)
                .execute(w.conn().await?)
                .await?;
            return Ok(());
        }
        SalonEvent::OpenedForBookings | SalonEvent::ClosedForBookings => {
            let open = matches!(event, SalonEvent::OpenedForBookings);
            sqlx::query("UPDATE rm_salon SET open = $1, version = $2")
                .bind(i64::from(open))
                .bind(version)
                .execute(w.conn().await?)
                .await?;
            return Ok(());
        }
        SalonEvent::SalonRenamed { name } => ("name", name),
        SalonEvent::TimeZoneChanged { time_zone } => ("time_zone", time_zone.name().to_string()),
        SalonEvent::CurrencyChanged { currency } => ("currency", currency.as_str().to_string()),
        SalonEvent::BookingPolicyChanged { policy } => ("policy_json", json(&policy)),
        SalonEvent::OpeningHoursChanged { hours } => ("opening_hours_json", json(&hours)),
        SalonEvent::ClosuresChanged { closures } => ("closures_json", json(&closures)),
        SalonEvent::PolicyTextChanged { text } => ("policy_text", text),
    };
    sqlx::query(&format!("UPDATE rm_salon SET {set} = $1, version = $2"))
        .bind(value)
        .bind(version)
        .execute(w.conn().await?)
        .await?;
    // One salon, one currency: its services' prices are read in the salon's currency.
    if set == "currency" {
        sqlx::query(
            "UPDATE rm_services SET currency = (SELECT currency FROM rm_salon WHERE id = 'salon')",
        )
        .execute(w.conn().await?)
        .await?;
    }
    Ok(())
}

async fn write_service(
    w: &mut Writer<'_>,
    stored: &StoredEvent,
    id: &str,
    d: &ServiceDetails,
    created: Option<i64>,
) -> Result<(), ApplyError> {
    let sql = if created.is_some() {
        "INSERT INTO rm_services (id, name, description, duration_minutes, buffer_before_minutes, buffer_after_minutes, \
         price_cents, deposit_cents, currency, version, active, created_position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11)"
    } else {
        "UPDATE rm_services SET name = $2, description = $3, duration_minutes = $4, buffer_before_minutes = $5, \
         buffer_after_minutes = $6, price_cents = $7, deposit_cents = $8, currency = $9, version = $10 WHERE id = $1"
    };
    let mut query = sqlx::query(sql)
        .bind(id.to_string())
        .bind(d.name.clone())
        .bind(d.description.clone())
        .bind(i64::from(d.duration_minutes))
        .bind(i64::from(d.buffer_before_minutes))
        .bind(i64::from(d.buffer_after_minutes))
        .bind(d.price_cents.get())
        .bind(d.deposit_cents.get())
        .bind(d.currency.as_str().to_string())
        .bind(stored.sequence);
    if let Some(position) = created {
        query = query.bind(position);
    }
    query.execute(w.conn().await?).await?;
    Ok(())
}

async fn service(
    w: &mut Writer<'_>,
    stored: &StoredEvent,
    event: ServiceEvent,
) -> Result<(), ApplyError> {
    match event {
        ServiceEvent::ServiceCreated { id, details } => {
            write_service(
                w,
                stored,
                &id.to_string(),
                &details,
                Some(stored.at.position),
            )
            .await?
        }
        ServiceEvent::ServiceUpdated { id, details } => {
            write_service(w, stored, &id.to_string(), &details, None).await?
        }
        ServiceEvent::ServiceArchived { id } => {
            sqlx::query("UPDATE rm_services SET active = 0, version = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(stored.sequence)
                .execute(w.conn().await?)
                .await?;
        }
        ServiceEvent::ServiceRestored { id } => {
            sqlx::query("UPDATE rm_services SET active = 1, version = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(stored.sequence)
                .execute(w.conn().await?)
                .await?;
        }
    }
    Ok(())
}

async fn stylist(
    w: &mut Writer<'_>,
    stored: &StoredEvent,
    event: StylistEvent,
) -> Result<(), ApplyError> {
    match event {
        StylistEvent::StylistHired {
            id,
            name,
            bio,
            services,
        } => {
            sqlx::query(
                "INSERT INTO rm_stylists (id, name, bio, services_json, hours_json, time_off_json, active, created_position, version) \
                 VALUES ($1, $2, $3, $4, '{}', '[]', 1, $5, $6)",
            )
            .bind(id.to_string())
            .bind(name)
            .bind(bio)
            .bind(json(&services))
            .bind(stored.at.position)
            .bind(stored.sequence)
            .execute(w.conn().await?)
            .await?;
            return Ok(());
        }
        StylistEvent::StylistProfileUpdated { id, name, bio } => {
            sqlx::query("UPDATE rm_stylists SET name = $2, bio = $3 WHERE id = $1")
                .bind(id.to_string())
                .bind(name)
                .bind(bio)
                .execute(w.conn().await?)
                .await?;
        }
        StylistEvent::StylistServicesSet { id, services } => {
            sqlx::query("UPDATE rm_stylists SET services_json = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(json(&services))
                .execute(w.conn().await?)
                .await?;
        }
        StylistEvent::StylistHoursSet { id, hours } => {
            sqlx::query("UPDATE rm_stylists SET hours_json = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(json(&hours))
                .execute(w.conn().await?)
                .await?;
        }
        StylistEvent::TimeOffAdded { id, time_off } => {
            let mut all = current_time_off(w, &id.to_string()).await?;
            all.push(time_off);
            all.sort_by_key(|t| t.start);
            save_time_off(w, &id.to_string(), &all).await?;
        }
        StylistEvent::TimeOffRemoved { id, time_off } => {
            let mut all = current_time_off(w, &id.to_string()).await?;
            all.retain(|t| t.id != time_off);
            save_time_off(w, &id.to_string(), &all).await?;
        }
        StylistEvent::StylistArchived { id } => {
            sqlx::query("UPDATE rm_stylists SET active = 0 WHERE id = $1")
                .bind(id.to_string())
                .execute(w.conn().await?)
                .await?;
        }
        StylistEvent::StylistRestored { id } => {
            sqlx::query("UPDATE rm_stylists SET active = 1 WHERE id = $1")
                .bind(id.to_string())
                .execute(w.conn().await?)
                .await?;
        }
    }
    // Every later event moves the stylist's version (its ETag).
    sqlx::query("UPDATE rm_stylists SET version = $2 WHERE id = $1")
        .bind(stored.aggregate_id.clone())
        .bind(stored.sequence)
        .execute(w.conn().await?)
        .await?;
    Ok(())
}

async fn current_time_off(w: &mut Writer<'_>, id: &str) -> Result<Vec<TimeOff>, ApplyError> {
    let row = sqlx::query("SELECT time_off_json FROM rm_stylists WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(w.conn().await?)
        .await?;
    let text: String = match row {
        Some(r) => r.try_get(0)?,
        None => "[]".into(),
    };
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

async fn save_time_off(w: &mut Writer<'_>, id: &str, all: &[TimeOff]) -> Result<(), ApplyError> {
    sqlx::query("UPDATE rm_stylists SET time_off_json = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(json(&all))
        .execute(w.conn().await?)
        .await?;
    Ok(())
}

/// The columns of `rm_bookings` in insert order, and the indexes of those updated later.
const BOOKING_COLUMNS: &[&str] = &[
    "id",
    "status",
    "deposit_status",
    "service",
    "stylist",
    "start_at",
    "end_at",
    "start_epoch",
    "client_name",
    "client_email",
    "client_phone",
    "notes",
    "price_cents",
    "deposit_cents",
    "currency",
    "hold_expires_at",
    "created_at",
    "updated_at",
    "checkout_url",
    "cancelled_by",
    "refund_status",
    "version",
    "client_id",
];
const B_STATUS: usize = 1;
const B_DEPOSIT: usize = 2;
const B_HOLD: usize = 15;
const B_UPDATED: usize = 17;
const B_START_AT: usize = 5;
const B_END_AT: usize = 6;
const B_START_EPOCH: usize = 7;
const B_CHECKOUT: usize = 18;
const B_CANCELLED_BY: usize = 19;
const B_REFUND: usize = 20;
const B_VERSION: usize = 21;
const B_NOTES: usize = 11;

/// Sets columns of a booking: in the buffered row when it is not written yet, else by UPDATE.
async fn update_booking(
    w: &mut Writer<'_>,
    stored: &StoredEvent,
    changes: &[(usize, Val)],
) -> Result<(), ApplyError> {
    let at = recorded_at(stored);
    // Every event moves the booking's version (its ETag), whatever else it changes.
    let version = (B_VERSION, Val::Int(stored.sequence));
    let changes: Vec<(usize, Val)> = changes.iter().cloned().chain([version]).collect();
    if let Some(row) = w.pending_row("rm_bookings", 0, &stored.aggregate_id) {
        for (column, value) in changes {
            row[column] = value;
        }
        row[B_UPDATED] = at.into();
        return Ok(());
    }
    let sets: Vec<String> = changes
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("{} = ${}", BOOKING_COLUMNS[*c], i + 3))
        .collect();
    let sql = format!(
        "UPDATE rm_bookings SET updated_at = $2, {} WHERE id = $1",
        sets.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(stored.aggregate_id.clone()).bind(at);
    for (_, value) in changes {
        query = match value {
            Val::Int(i) => query.bind(i),
            Val::Text(t) => query.bind(t),
            Val::Null => query.bind(Option::<String>::None),
            Val::NullInt => query.bind(Option::<i64>::None),
        };
    }
    query.execute(w.conn().await?).await?;
    Ok(())
}

async fn set_status(
    w: &mut Writer<'_>,
    stored: &StoredEvent,
    status: &str,
) -> Result<(), ApplyError> {
    update_booking(w, stored, &[(B_STATUS, status.into())]).await
}

/// What a forgotten client's bookings show instead of their contact details and notes.
async fn scrub_bookings(w: &mut Writer<'_>, client: &str) -> Result<(), ApplyError> {
    sqlx::query(
        "UPDATE rm_bookings SET client_name = $2, client_email = '', client_phone = '', \
         notes = NULL WHERE client_id = $1",
    )
    .bind(client.to_string())
    .bind(migrations::pii::ERASED_NAME)
    .execute(w.conn().await?)
    .await?;
    Ok(())
}

/// Whether the booking's client was erased (its contact reads as erased).
async fn booking_erased(w: &mut Writer<'_>, stored: &StoredEvent) -> Result<bool, ApplyError> {
    const EMAIL: usize = 9;
    if let Some(row) = w.pending_row("rm_bookings", 0, &stored.aggregate_id) {
        return Ok(matches!(&row[EMAIL], Val::Text(t) if t.is_empty()));
    }
    let email: Option<String> =
        sqlx::query_scalar("SELECT client_email FROM rm_bookings WHERE id = $1")
            .bind(stored.aggregate_id.clone())
            .fetch_optional(w.conn().await?)
            .await?;
    Ok(email.is_some_and(|e| e.is_empty()))
}

async fn bookings(w: &mut Writer<'_>, stored: &StoredEvent) -> Result<(), ApplyError> {
    if stored.aggregate_type == "Client" {
        if stored.event_type == "ClientForgotten" {
            scrub_bookings(w, &stored.aggregate_id).await?;
        }
        return Ok(());
    }
    match decode::<BookingEvent>(stored)? {
        BookingEvent::BookingRequested { id, details: d } => {
            let at = recorded_at(stored);
            let row: Vec<Val> = vec![
                id.to_string().into(),
                "requested".into(),
                "none".into(),
                d.service.to_string().into(),
                d.stylist.to_string().into(),
                d.start.to_rfc3339().into(),
                d.end.to_rfc3339().into(),
                d.start.timestamp().into(),
                d.client.name.as_str().into(),
                d.client.email.as_str().into(),
                d.client.phone.as_str().into(),
                d.notes.into(),
                d.price_cents.get().into(),
                d.deposit_cents.get().into(),
                d.currency.as_str().into(),
                Val::Null,
                at.clone().into(),
                at.into(),
                Val::Null,
                Val::Null,
                Val::Null,
                stored.sequence.into(),
                client_id_of(stored).into(),
            ];
            w.insert("rm_bookings", BOOKING_COLUMNS, row).await?;
        }
        BookingEvent::BookingHeld {
            hold_expires_at, ..
        } => {
            let changes = [
                (B_STATUS, "held".into()),
                (B_DEPOSIT, "pending".into()),
                (B_HOLD, hold_expires_at.to_rfc3339().into()),
            ];
            update_booking(w, stored, &changes).await?;
        }
        BookingEvent::BookingConfirmed { .. } => set_status(w, stored, "confirmed").await?,
        BookingEvent::CheckoutStarted { url, .. } => {
            update_booking(w, stored, &[(B_CHECKOUT, url.into())]).await?
        }
        BookingEvent::DepositPaid { .. } => {
            update_booking(w, stored, &[(B_DEPOSIT, "paid".into())]).await?
        }
        BookingEvent::DepositFailed { .. } => update_booking(w, stored, &[]).await?,
        BookingEvent::HoldExpired { .. } => {
            let changes = [
                (B_STATUS, "cancelled".into()),
                (B_CANCELLED_BY, "hold_expired".into()),
            ];
            update_booking(w, stored, &changes).await?
        }
        BookingEvent::BookingCancelled { by, .. } => {
            let by = by.map_or(Val::Null, |b| b.as_str().into());
            let changes = [(B_STATUS, "cancelled".into()), (B_CANCELLED_BY, by)];
            update_booking(w, stored, &changes).await?
        }
        BookingEvent::BookingRescheduled { start, end, .. } => {
            let changes = [
                (B_START_AT, start.to_rfc3339().into()),
                (B_END_AT, end.to_rfc3339().into()),
                (B_START_EPOCH, start.timestamp().into()),
            ];
            update_booking(w, stored, &changes).await?
        }
        BookingEvent::RefundRequested { .. } => {
            update_booking(w, stored, &[(B_REFUND, "requested".into())]).await?
        }
        BookingEvent::DepositRefunded { .. } => {
            let changes = [
                (B_DEPOSIT, "refunded".into()),
                (B_REFUND, "refunded".into()),
            ];
            update_booking(w, stored, &changes).await?
        }
        BookingEvent::RefundFailed { .. } => {
            update_booking(w, stored, &[(B_REFUND, "failed".into())]).await?
        }
        BookingEvent::DepositForfeited { .. } => {
            update_booking(w, stored, &[(B_REFUND, "kept".into())]).await?
        }
        BookingEvent::BookingCompleted { .. } => set_status(w, stored, "completed").await?,
        BookingEvent::BookingNoShow { .. } => set_status(w, stored, "no_show").await?,
        BookingEvent::BookingNotesChanged { notes, .. } => {
            // The salon's notes on an erased client's booking are not shown again.
            let notes = if booking_erased(w, stored).await? {
                None
            } else {
                notes
            };
            update_booking(w, stored, &[(B_NOTES, notes.into())]).await?
        }
    }
    Ok(())
}

const RESERVATION_COLUMNS: &[&str] = &["booking", "stylist", "day", "start_epoch", "end_epoch"];

async fn availability(w: &mut Writer<'_>, stored: &StoredEvent) -> Result<(), ApplyError> {
    match decode::<StylistDayEvent>(stored)? {
        StylistDayEvent::SlotReserved {
            stylist,
            date,
            booking,
            blocked,
        } => {
            let row: Vec<Val> = vec![
                booking.to_string().into(),
                stylist.to_string().into(),
                date.to_string().into(),
                blocked.start.timestamp().into(),
                blocked.end.timestamp().into(),
            ];
            w.insert("rm_reservations", RESERVATION_COLUMNS, row)
                .await?;
        }
        StylistDayEvent::SlotReleased { booking, date, .. } => {
            // A booking being moved holds time on two days for a moment: release one day's.
            let (booking, day) = (booking.to_string(), date.to_string());
            if !w.forget_matching("rm_reservations", &[(0, &booking), (2, &day)]) {
                sqlx::query("DELETE FROM rm_reservations WHERE booking = $1 AND day = $2")
                    .bind(booking)
                    .bind(day)
                    .execute(w.conn().await?)
                    .await?;
            }
        }
        StylistDayEvent::ExternalBusyChanged {
            stylist,
            date,
            source,
            busy,
        } => {
            let (stylist, day, source) =
                (stylist.to_string(), date.to_string(), source.to_string());
            sqlx::query(
                "DELETE FROM rm_external_busy WHERE stylist = $1 AND day = $2 AND source = $3",
            )
            .bind(stylist.clone())
            .bind(day.clone())
            .bind(source.clone())
            .execute(w.conn().await?)
            .await?;
            for b in busy {
                let row: Vec<Val> = vec![
                    stylist.clone().into(),
                    day.clone().into(),
                    source.clone().into(),
                    b.start.timestamp().into(),
                    b.end.timestamp().into(),
                ];
                w.insert("rm_external_busy", EXTERNAL_BUSY_COLUMNS, row)
                    .await?;
            }
        }
    }
    Ok(())
}

const EXTERNAL_BUSY_COLUMNS: &[&str] = &["stylist", "day", "source", "start_epoch", "end_epoch"];

async fn calendars(w: &mut Writer<'_>, stored: &StoredEvent) -> Result<(), ApplyError> {
    let id = stored.aggregate_id.clone();
    match decode::<CalendarSourceEvent>(stored)? {
        CalendarSourceEvent::CalendarSourceRegistered { settings, .. } => {
            sqlx::query(
                "INSERT INTO rm_calendar_sources (id, stylist, kind, name, url, username, calendar_id, \
                 has_credentials, sync_minutes, write_back, created_at, created_position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(id)
            .bind(settings.stylist.to_string())
            .bind(settings.kind.as_str().to_string())
            .bind(settings.name)
            .bind(settings.url)
            .bind(settings.username)
            .bind(settings.calendar_id)
            .bind(i64::from(settings.sealed_credentials.is_some()))
            .bind(i64::from(settings.sync_minutes))
            .bind(i64::from(settings.write_back))
            .bind(recorded_at(stored))
            .bind(stored.at.position)
            .execute(w.conn().await?)
            .await?;
        }
        CalendarSourceEvent::CalendarSourceUpdated { settings } => {
            sqlx::query(
                "UPDATE rm_calendar_sources SET name = $2, url = $3, username = $4, calendar_id = $5, \
                 has_credentials = $6, sync_minutes = $7, write_back = $8 WHERE id = $1",
            )
            .bind(id)
            .bind(settings.name)
            .bind(settings.url)
            .bind(settings.username)
            .bind(settings.calendar_id)
            .bind(i64::from(settings.sealed_credentials.is_some()))
            .bind(i64::from(settings.sync_minutes))
            .bind(i64::from(settings.write_back))
            .execute(w.conn().await?)
            .await?;
        }
        CalendarSourceEvent::CalendarSourceRemoved { .. } => {
            sqlx::query("UPDATE rm_calendar_sources SET removed = 1, busy_count = 0 WHERE id = $1")
                .bind(id)
                .execute(w.conn().await?)
                .await?;
        }
        CalendarSourceEvent::ExternalBusySynced {
            window,
            busy,
            synced_at,
            ..
        } => {
            sqlx::query(
                "UPDATE rm_calendar_sources SET busy_count = $2, window_start = $3, window_end = $4, \
                 last_changed_at = $5, failing_error = NULL, failing_since = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(busy.len() as i64)
            .bind(window.start.to_rfc3339())
            .bind(window.end.to_rfc3339())
            .bind(synced_at.to_rfc3339())
            .execute(w.conn().await?)
            .await?;
        }
        CalendarSourceEvent::CalendarSyncRecovered { .. } => {
            sqlx::query(
                "UPDATE rm_calendar_sources SET failing_error = NULL, failing_since = NULL WHERE id = $1",
            )
            .bind(id)
            .execute(w.conn().await?)
            .await?;
        }
        CalendarSourceEvent::CalendarSyncFailed { error, failed_at } => {
            sqlx::query(
                "UPDATE rm_calendar_sources SET failing_error = $2, \
                 failing_since = COALESCE(failing_since, $3) WHERE id = $1",
            )
            .bind(id)
            .bind(error)
            .bind(failed_at.to_rfc3339())
            .execute(w.conn().await?)
            .await?;
        }
    }
    Ok(())
}

async fn webhooks(w: &mut Writer<'_>, stored: &StoredEvent) -> Result<(), ApplyError> {
    let id = stored.aggregate_id.clone();
    let at = recorded_at(stored);
    match decode::<WebhookEvent>(stored)? {
        WebhookEvent::WebhookSubscriptionCreated {
            settings,
            secret_fingerprint,
            ..
        } => {
            sqlx::query(
                "INSERT INTO rm_webhook_subscriptions (id, url, events_json, description, active, \
                 secret_fingerprint, created_at, updated_at, created_position) \
                 VALUES ($1, $2, $3, $4, 1, $5, $6, $6, $7)",
            )
            .bind(id)
            .bind(settings.url)
            .bind(json(&settings.events))
            .bind(settings.description)
            .bind(secret_fingerprint)
            .bind(at)
            .bind(stored.at.position)
            .execute(w.conn().await?)
            .await?;
        }
        WebhookEvent::WebhookSubscriptionUpdated { settings, .. } => {
            sqlx::query(
                "UPDATE rm_webhook_subscriptions SET url = $2, events_json = $3, description = $4, \
                 updated_at = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(settings.url)
            .bind(json(&settings.events))
            .bind(settings.description)
            .bind(at)
            .execute(w.conn().await?)
            .await?;
        }
        WebhookEvent::WebhookSubscriptionPaused { .. } => {
            set_webhook_active(w, id, false, at).await?
        }
        WebhookEvent::WebhookSubscriptionResumed { .. } => {
            set_webhook_active(w, id, true, at).await?
        }
        WebhookEvent::WebhookSecretRotated {
            secret_fingerprint, ..
        } => {
            sqlx::query(
                "UPDATE rm_webhook_subscriptions SET secret_fingerprint = $2, updated_at = $3 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(secret_fingerprint)
            .bind(at)
            .execute(w.conn().await?)
            .await?;
        }
        WebhookEvent::WebhookPinged { .. } => {}
        WebhookEvent::WebhookSubscriptionDeleted { .. } => {
            sqlx::query(
                "UPDATE rm_webhook_subscriptions SET deleted = 1, active = 0, updated_at = $2 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(at)
            .execute(w.conn().await?)
            .await?;
        }
    }
    Ok(())
}

async fn set_webhook_active(
    w: &mut Writer<'_>,
    id: String,
    active: bool,
    at: String,
) -> Result<(), ApplyError> {
    sqlx::query("UPDATE rm_webhook_subscriptions SET active = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(i64::from(active))
        .bind(at)
        .execute(w.conn().await?)
        .await?;
    Ok(())
}

async fn tokens(w: &mut Writer<'_>, stored: &StoredEvent) -> Result<(), ApplyError> {
    match decode::<ApiTokenEvent>(stored)? {
        ApiTokenEvent::TokenCreated {
            id,
            name,
            scope,
            secret_hash,
        } => {
            sqlx::query("INSERT INTO rm_api_tokens (id, name, scope, secret_hash, revoked, created_at) VALUES ($1, $2, $3, $4, 0, $5)")
                .bind(id.to_string())
                .bind(name)
                .bind(scope.as_str().to_string())
                .bind(secret_hash)
                .bind(recorded_at(stored))
                .execute(w.conn().await?)
                .await?;
        }
        ApiTokenEvent::TokenRenamed { id, name } => {
            sqlx::query("UPDATE rm_api_tokens SET name = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(name)
                .execute(w.conn().await?)
                .await?;
        }
        ApiTokenEvent::TokenScopeChanged { id, scope } => {
            sqlx::query("UPDATE rm_api_tokens SET scope = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(scope.as_str().to_string())
                .execute(w.conn().await?)
                .await?;
        }
        ApiTokenEvent::TokenRevoked { id } => {
            sqlx::query("UPDATE rm_api_tokens SET revoked = 1 WHERE id = $1")
                .bind(id.to_string())
                .execute(w.conn().await?)
                .await?;
        }
    }
    Ok(())
}

const AUDIT_COLUMNS: &[&str] = &[
    "position",
    "recorded_at",
    "actor",
    "source",
    "aggregate_type",
    "aggregate_id",
    "event_type",
    "summary",
    "reason",
    "request_id",
    "correlation_id",
    "causation_id",
    "client_id",
];

async fn audit(w: &mut Writer<'_>, stored: &StoredEvent) -> Result<(), ApplyError> {
    let meta = stored.audit();
    let row: Vec<Val> = vec![
        stored.at.position.into(),
        meta.recorded_at.to_rfc3339().into(),
        meta.actor.into(),
        meta.source.to_string().into(),
        stored.aggregate_type.as_str().into(),
        stored.aggregate_id.as_str().into(),
        stored.event_type.as_str().into(),
        crate::summary::summarize(stored).into(),
        meta.reason.into(),
        meta.request_id.into(),
        meta.correlation_id.into(),
        meta.causation_id.into(),
        client_id_of(stored).into(),
    ];
    w.insert("rm_audit_log", AUDIT_COLUMNS, row).await?;
    if stored.event_type == "ClientForgotten" {
        scrub_audit(w, &stored.aggregate_id).await?;
    }
    Ok(())
}

/// Rewrites the summaries that named a forgotten client (a booking's "requested by <name>").
async fn scrub_audit(w: &mut Writer<'_>, client: &str) -> Result<(), ApplyError> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT position, aggregate_id, summary FROM rm_audit_log \
         WHERE client_id = $1 AND event_type = 'BookingRequested'",
    )
    .bind(client.to_string())
    .fetch_all(w.conn().await?)
    .await?;
    for (position, booking, summary) in rows {
        let scrubbed = crate::summary::requested_by(&booking, migrations::pii::ERASED_NAME, {
            // The summary ends " for <start>"; the name before it is what goes.
            summary.rfind(" for ").map_or("", |i| &summary[i + 5..])
        });
        sqlx::query("UPDATE rm_audit_log SET summary = $2 WHERE position = $1")
            .bind(position)
            .bind(scrubbed)
            .execute(w.conn().await?)
            .await?;
    }
    Ok(())
}
