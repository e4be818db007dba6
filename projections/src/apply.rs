//! What each projection does with each event. Events carry everything the views need, so no
//! projection reads another's tables.

use crate::log::StoredEvent;
use domain::booking::BookingEvent;
use domain::salon::SalonEvent;
use domain::schedule::TimeOff;
use domain::service::{ServiceDetails, ServiceEvent};
use domain::stylist::StylistEvent;
use domain::stylist_day::StylistDayEvent;
use domain::token::ApiTokenEvent;
use sqlx::AnyConnection;
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
}

impl Projection {
    pub const ALL: [Projection; 5] = [
        Projection::Catalog,
        Projection::Bookings,
        Projection::Availability,
        Projection::Audit,
        Projection::Tokens,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Catalog => "catalog",
            Self::Bookings => "bookings",
            Self::Availability => "availability",
            Self::Audit => "audit",
            Self::Tokens => "tokens",
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
            Self::Availability => &["rm_reservations"],
            Self::Audit => &["rm_audit_log"],
            Self::Tokens => &["rm_api_tokens"],
        }
    }

    fn wants(self, aggregate_type: &str) -> bool {
        match self {
            Self::Catalog => matches!(aggregate_type, "Salon" | "Service" | "Stylist"),
            Self::Bookings => aggregate_type == "Booking",
            Self::Availability => aggregate_type == "StylistDay",
            Self::Audit => true,
            Self::Tokens => aggregate_type == "ApiToken",
        }
    }

    /// Applies one event inside the projection's transaction.
    pub async fn apply(
        self,
        conn: &mut AnyConnection,
        event: &StoredEvent,
    ) -> Result<(), ApplyError> {
        if !self.wants(&event.aggregate_type) {
            return Ok(());
        }
        match self {
            Self::Catalog => catalog(conn, event).await,
            Self::Bookings => bookings(conn, event).await,
            Self::Availability => availability(conn, event).await,
            Self::Audit => audit(conn, event).await,
            Self::Tokens => tokens(conn, event).await,
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

fn decode<T: serde::de::DeserializeOwned>(event: &StoredEvent) -> Result<T, ApplyError> {
    serde_json::from_value(event.payload.clone()).map_err(|e| ApplyError::Decode {
        event_type: event.event_type.clone(),
        position: event.at.position,
        message: e.to_string(),
    })
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn recorded_at(event: &StoredEvent) -> String {
    event.audit().recorded_at.to_rfc3339()
}

async fn catalog(conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ApplyError> {
    match event.aggregate_type.as_str() {
        "Salon" => salon(conn, decode(event)?).await,
        "Service" => service(conn, event, decode(event)?).await,
        "Stylist" => stylist(conn, event, decode(event)?).await,
        _ => Ok(()),
    }
}

async fn salon(conn: &mut AnyConnection, event: SalonEvent) -> Result<(), ApplyError> {
    match event {
        SalonEvent::SalonConfigured {
            name,
            time_zone,
            currency,
            policy,
        } => {
            sqlx::query(
                "INSERT INTO rm_salon (id, name, time_zone, currency, policy_json) VALUES ('salon', $1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET name = $1, time_zone = $2, currency = $3, policy_json = $4",
            )
            .bind(name)
            .bind(time_zone.name().to_string())
            .bind(currency.as_str().to_string())
            .bind(json(&policy))
            .execute(&mut *conn)
            .await?;
        }
        SalonEvent::SalonRenamed { name } => {
            sqlx::query("UPDATE rm_salon SET name = $1")
                .bind(name)
                .execute(&mut *conn)
                .await?;
        }
        SalonEvent::TimeZoneChanged { time_zone } => {
            sqlx::query("UPDATE rm_salon SET time_zone = $1")
                .bind(time_zone.name().to_string())
                .execute(&mut *conn)
                .await?;
        }
        SalonEvent::BookingPolicyChanged { policy } => {
            sqlx::query("UPDATE rm_salon SET policy_json = $1")
                .bind(json(&policy))
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

async fn write_service(
    conn: &mut AnyConnection,
    id: &str,
    d: &ServiceDetails,
    created: Option<i64>,
) -> Result<(), ApplyError> {
    let sql = if created.is_some() {
        "INSERT INTO rm_services (id, name, description, duration_minutes, buffer_before_minutes, buffer_after_minutes, \
         price_cents, deposit_cents, currency, active, created_position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10)"
    } else {
        "UPDATE rm_services SET name = $2, description = $3, duration_minutes = $4, buffer_before_minutes = $5, \
         buffer_after_minutes = $6, price_cents = $7, deposit_cents = $8, currency = $9 WHERE id = $1"
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
        .bind(d.currency.as_str().to_string());
    if let Some(position) = created {
        query = query.bind(position);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

async fn service(
    conn: &mut AnyConnection,
    stored: &StoredEvent,
    event: ServiceEvent,
) -> Result<(), ApplyError> {
    match event {
        ServiceEvent::ServiceCreated { id, details } => {
            write_service(conn, &id.to_string(), &details, Some(stored.at.position)).await?
        }
        ServiceEvent::ServiceUpdated { id, details } => {
            write_service(conn, &id.to_string(), &details, None).await?
        }
        ServiceEvent::ServiceArchived { id } => {
            sqlx::query("UPDATE rm_services SET active = 0 WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *conn)
                .await?;
        }
        ServiceEvent::ServiceRestored { id } => {
            sqlx::query("UPDATE rm_services SET active = 1 WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

async fn stylist(
    conn: &mut AnyConnection,
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
                "INSERT INTO rm_stylists (id, name, bio, services_json, hours_json, time_off_json, active, created_position) \
                 VALUES ($1, $2, $3, $4, '{}', '[]', 1, $5)",
            )
            .bind(id.to_string())
            .bind(name)
            .bind(bio)
            .bind(json(&services))
            .bind(stored.at.position)
            .execute(&mut *conn)
            .await?;
        }
        StylistEvent::StylistProfileUpdated { id, name, bio } => {
            sqlx::query("UPDATE rm_stylists SET name = $2, bio = $3 WHERE id = $1")
                .bind(id.to_string())
                .bind(name)
                .bind(bio)
                .execute(&mut *conn)
                .await?;
        }
        StylistEvent::StylistServicesSet { id, services } => {
            sqlx::query("UPDATE rm_stylists SET services_json = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(json(&services))
                .execute(&mut *conn)
                .await?;
        }
        StylistEvent::StylistHoursSet { id, hours } => {
            sqlx::query("UPDATE rm_stylists SET hours_json = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(json(&hours))
                .execute(&mut *conn)
                .await?;
        }
        StylistEvent::TimeOffAdded { id, time_off } => {
            let mut all = current_time_off(conn, &id.to_string()).await?;
            all.push(time_off);
            all.sort_by_key(|t| t.start);
            save_time_off(conn, &id.to_string(), &all).await?;
        }
        StylistEvent::TimeOffRemoved { id, time_off } => {
            let mut all = current_time_off(conn, &id.to_string()).await?;
            all.retain(|t| t.id != time_off);
            save_time_off(conn, &id.to_string(), &all).await?;
        }
        StylistEvent::StylistArchived { id } => {
            sqlx::query("UPDATE rm_stylists SET active = 0 WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *conn)
                .await?;
        }
        StylistEvent::StylistRestored { id } => {
            sqlx::query("UPDATE rm_stylists SET active = 1 WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

async fn current_time_off(conn: &mut AnyConnection, id: &str) -> Result<Vec<TimeOff>, ApplyError> {
    let row = sqlx::query("SELECT time_off_json FROM rm_stylists WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let text: String = match row {
        Some(r) => r.try_get(0)?,
        None => "[]".into(),
    };
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

async fn save_time_off(
    conn: &mut AnyConnection,
    id: &str,
    all: &[TimeOff],
) -> Result<(), ApplyError> {
    sqlx::query("UPDATE rm_stylists SET time_off_json = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(json(&all))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn set_status(
    conn: &mut AnyConnection,
    stored: &StoredEvent,
    status: &str,
) -> Result<(), ApplyError> {
    sqlx::query("UPDATE rm_bookings SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(stored.aggregate_id.clone())
        .bind(status.to_string())
        .bind(recorded_at(stored))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn bookings(conn: &mut AnyConnection, stored: &StoredEvent) -> Result<(), ApplyError> {
    match decode::<BookingEvent>(stored)? {
        BookingEvent::BookingRequested { id, details: d } => {
            let at = recorded_at(stored);
            sqlx::query(
                "INSERT INTO rm_bookings (id, status, deposit_status, service, stylist, start_at, end_at, start_epoch, \
                 client_name, client_email, client_phone, notes, price_cents, deposit_cents, currency, hold_expires_at, \
                 created_at, updated_at) VALUES ($1, 'requested', 'none', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $14)",
            )
            .bind(id.to_string())
            .bind(d.service.to_string())
            .bind(d.stylist.to_string())
            .bind(d.start.to_rfc3339())
            .bind(d.end.to_rfc3339())
            .bind(d.start.timestamp())
            .bind(d.client.name.as_str().to_string())
            .bind(d.client.email.as_str().to_string())
            .bind(d.client.phone.as_str().to_string())
            .bind(d.notes)
            .bind(d.price_cents.get())
            .bind(d.deposit_cents.get())
            .bind(d.currency.as_str().to_string())
            .bind(at)
            .execute(&mut *conn)
            .await?;
        }
        BookingEvent::BookingHeld {
            hold_expires_at, ..
        } => {
            sqlx::query("UPDATE rm_bookings SET status = 'held', deposit_status = 'pending', hold_expires_at = $2, updated_at = $3 WHERE id = $1")
                .bind(stored.aggregate_id.clone())
                .bind(hold_expires_at.to_rfc3339())
                .bind(recorded_at(stored))
                .execute(&mut *conn)
                .await?;
        }
        BookingEvent::BookingConfirmed { .. } => set_status(conn, stored, "confirmed").await?,
        BookingEvent::DepositPaid { .. } => {
            sqlx::query(
                "UPDATE rm_bookings SET deposit_status = 'paid', updated_at = $2 WHERE id = $1",
            )
            .bind(stored.aggregate_id.clone())
            .bind(recorded_at(stored))
            .execute(&mut *conn)
            .await?;
        }
        BookingEvent::HoldExpired { .. } | BookingEvent::BookingCancelled { .. } => {
            set_status(conn, stored, "cancelled").await?
        }
        BookingEvent::BookingCompleted { .. } => set_status(conn, stored, "completed").await?,
        BookingEvent::BookingNoShow { .. } => set_status(conn, stored, "no_show").await?,
    }
    Ok(())
}

async fn availability(conn: &mut AnyConnection, stored: &StoredEvent) -> Result<(), ApplyError> {
    match decode::<StylistDayEvent>(stored)? {
        StylistDayEvent::SlotReserved {
            stylist,
            date,
            booking,
            blocked,
        } => {
            sqlx::query("INSERT INTO rm_reservations (booking, stylist, day, start_epoch, end_epoch) VALUES ($1, $2, $3, $4, $5)")
                .bind(booking.to_string())
                .bind(stylist.to_string())
                .bind(date.to_string())
                .bind(blocked.start.timestamp())
                .bind(blocked.end.timestamp())
                .execute(&mut *conn)
                .await?;
        }
        StylistDayEvent::SlotReleased { booking, .. } => {
            sqlx::query("DELETE FROM rm_reservations WHERE booking = $1")
                .bind(booking.to_string())
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

async fn tokens(conn: &mut AnyConnection, stored: &StoredEvent) -> Result<(), ApplyError> {
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
                .execute(&mut *conn)
                .await?;
        }
        ApiTokenEvent::TokenRevoked { id } => {
            sqlx::query("UPDATE rm_api_tokens SET revoked = 1 WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

async fn audit(conn: &mut AnyConnection, stored: &StoredEvent) -> Result<(), ApplyError> {
    let meta = stored.audit();
    sqlx::query(
        "INSERT INTO rm_audit_log (position, recorded_at, actor, source, aggregate_type, aggregate_id, event_type, summary, \
         reason, request_id, correlation_id, causation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(stored.at.position)
    .bind(meta.recorded_at.to_rfc3339())
    .bind(meta.actor.clone())
    .bind(meta.source.to_string())
    .bind(stored.aggregate_type.clone())
    .bind(stored.aggregate_id.clone())
    .bind(stored.event_type.clone())
    .bind(crate::summary::summarize(stored))
    .bind(meta.reason)
    .bind(meta.request_id)
    .bind(meta.correlation_id)
    .bind(meta.causation_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
