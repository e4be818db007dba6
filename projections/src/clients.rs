//! The clients read model: every client registered by hand or seen in a booking (one per
//! normalised email), with the figures an integrator expects, recomputed from the client's
//! bookings once per batch that changed them.
//!
//! Personal data (name, email, phone, notes) is written by [`write_contact`] and
//! [`seen_in_booking`] and read by [`client_row`] only.

use crate::apply::{decode, recorded_at, ApplyError};
use crate::db::ReadDb;
use crate::list::{Filter, FilterKind, ListSpec};
use crate::log::StoredEvent;
use crate::queries::QueryError;
use crate::writer::{arguments, insert_rows, is_sqlite, placeholders, Val, Writer};
use domain::booking::BookingEvent;
use domain::client::{ClientDetails, ClientEvent};
use domain::ids::ClientId;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet, HashMap};

type Result<T> = std::result::Result<T, QueryError>;

pub(crate) async fn apply(
    w: &mut Writer<'_>,
    stored: &StoredEvent,
) -> std::result::Result<(), ApplyError> {
    match stored.aggregate_type.as_str() {
        "Client" => client_event(w, stored, decode(stored)?).await,
        "Booking" => booking_event(w, stored, decode(stored)?).await,
        _ => Ok(()),
    }
}

/// The contact columns of a client: the only statement that writes personal data.
async fn write_contact(
    w: &mut Writer<'_>,
    id: &str,
    name: &str,
    email: &str,
    phone: Option<&str>,
    notes: Option<&str>,
) -> std::result::Result<(), ApplyError> {
    sqlx::query(
        "UPDATE rm_clients SET name = $2, email = $3, email_key = $4, phone = $5, \
         notes = COALESCE($6, notes) WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(name.to_string())
    .bind(email.to_string())
    .bind(email.to_lowercase())
    .bind(phone.map(str::to_string))
    .bind(notes.map(str::to_string))
    .execute(w.conn().await?)
    .await?;
    Ok(())
}

/// A client seen in a booking: created with the booking's contact details when new; a client
/// only seen in bookings is known by their latest booking's details, while one registered by
/// hand keeps the details the salon gave. Buffered in the batch (this and [`write_contact`] are
/// the code that writes personal data).
fn seen_in_booking(
    batch: &mut Batch,
    stored: &StoredEvent,
    id: &str,
    name: &str,
    email: &str,
    phone: Option<&str>,
) {
    let at = recorded_at(stored);
    if let Some(&i) = batch.seen_at.get(id) {
        // Seen before in this batch: the first sighting stays its creation, the latest its
        // contact.
        let row = &mut batch.seen[i];
        row[1] = email.to_lowercase().into();
        row[2] = name.into();
        row[3] = email.into();
        row[4] = phone.map(str::to_string).into();
        row[6] = at.into();
        return;
    }
    batch.seen_at.insert(id.to_string(), batch.seen.len());
    batch.seen.push(vec![
        id.into(),
        email.to_lowercase().into(),
        name.into(),
        email.into(),
        phone.map(str::to_string).into(),
        at.clone().into(),
        at.into(),
        stored.at.position.into(),
    ]);
}

const SEEN_COLUMNS: &[&str] = &[
    "id",
    "email_key",
    "name",
    "email",
    "phone",
    "created_at",
    "updated_at",
    "created_position",
];
const SEEN_UPSERT: &str = "ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
    email = excluded.email, email_key = excluded.email_key, phone = excluded.phone, \
    updated_at = excluded.updated_at WHERE rm_clients.registered <> 1";

const BOOKING_COLUMNS: &[&str] = &[
    "booking",
    "client",
    "status",
    "start_at",
    "start_epoch",
    "price_cents",
    "kept_cents",
    "currency",
];
/// Where a booking's status sits in a [`BOOKING_COLUMNS`] row, and so on.
const BOOKING: usize = 0;
const CLIENT: usize = 1;
const STATUS: usize = 2;
const START_AT: usize = 3;
const START_EPOCH: usize = 4;
const PRICE: usize = 5;
const KEPT: usize = 6;
const CURRENCY: usize = 7;

/// The clients projection's writes in one batch of events, held in memory and written in a
/// few multi-row statements when the batch ends (or before a client event, so effects keep
/// the events' order): the clients seen in bookings (one upsert row each), the bookings
/// requested (their later changes in the same batch patch the row), and changes to bookings
/// requested in earlier batches (one statement per status, whatever the number of bookings).
#[derive(Default)]
pub(crate) struct Batch {
    seen: Vec<Vec<Val>>,
    seen_at: HashMap<String, usize>,
    requested: Vec<Vec<Val>>,
    requested_at: HashMap<String, usize>,
    changed: BTreeMap<String, Change>,
    /// Clients whose figures the batch changed, and bookings of earlier batches it changed
    /// whose client is looked up when the batch ends.
    touched: BTreeSet<String>,
    touched_bookings: BTreeSet<String>,
}

/// The latest values of an earlier booking's changed columns.
#[derive(Default)]
struct Change {
    status: Option<&'static str>,
    start: Option<(String, i64)>,
    kept: Option<i64>,
}

impl Batch {
    fn requested(&mut self, row: Vec<Val>) {
        let Some(Val::Text(booking)) = row.first() else {
            return;
        };
        // A booking is requested once; a second request changes nothing (as ON CONFLICT).
        if self.requested_at.contains_key(booking) {
            return;
        }
        self.requested_at
            .insert(booking.clone(), self.requested.len());
        self.requested.push(row);
    }

    /// The booking's row when requested in this batch, else its pending change.
    fn booking(&mut self, booking: &str) -> std::result::Result<&mut Vec<Val>, &mut Change> {
        match self.requested_at.get(booking) {
            Some(&i) => Ok(&mut self.requested[i]),
            None => Err(self.changed.entry(booking.to_string()).or_default()),
        }
    }

    fn status(&mut self, booking: &str, status: &'static str) {
        match self.booking(booking) {
            Ok(row) => row[STATUS] = status.into(),
            Err(change) => change.status = Some(status),
        }
    }

    fn start(&mut self, booking: &str, at: String, epoch: i64) {
        match self.booking(booking) {
            Ok(row) => {
                row[START_AT] = at.into();
                row[START_EPOCH] = epoch.into();
            }
            Err(change) => change.start = Some((at, epoch)),
        }
    }

    fn kept(&mut self, booking: &str, cents: i64) {
        match self.booking(booking) {
            Ok(row) => row[KEPT] = cents.into(),
            Err(change) => change.kept = Some(cents),
        }
    }

    /// Notes that `booking`'s client needs their figures recomputed.
    fn touch(&mut self, booking: &str) {
        match self
            .requested_at
            .get(booking)
            .map(|&i| &self.requested[i][1])
        {
            Some(Val::Text(client)) => {
                self.touched.insert(client.clone());
            }
            _ => {
                self.touched_bookings.insert(booking.to_string());
            }
        }
    }
}

/// Writes the batch's buffered rows and changes. `figures` holds the final figures of
/// clients the batch touched, when the batch ends: a client first seen in this batch gets
/// them in its upsert, and those written are taken out of the map.
async fn write_batch(
    conn: &mut AnyConnection,
    batch: &mut Batch,
    figures: &mut BTreeMap<String, Figures>,
) -> std::result::Result<(), ApplyError> {
    let seen = std::mem::take(&mut batch.seen);
    let requested = std::mem::take(&mut batch.requested);
    let changed = std::mem::take(&mut batch.changed);
    batch.seen_at.clear();
    batch.requested_at.clear();
    if seen.is_empty() && requested.is_empty() && changed.is_empty() {
        return Ok(());
    }
    if figures.is_empty() {
        insert_rows(conn, "rm_clients", SEEN_COLUMNS, seen, SEEN_UPSERT).await?;
    } else {
        let seen: Vec<Vec<Val>> = seen
            .into_iter()
            .map(|mut row| {
                let f = match row.first() {
                    Some(Val::Text(id)) => figures.remove(id),
                    _ => None,
                };
                row.extend(f.unwrap_or_default().values());
                row
            })
            .collect();
        let columns: Vec<&str> = SEEN_COLUMNS.iter().chain(FIGURE_COLUMNS).copied().collect();
        insert_rows(conn, "rm_clients", &columns, seen, &SEEN_WITH_FIGURES).await?;
    }
    insert_rows(
        conn,
        "rm_client_bookings",
        BOOKING_COLUMNS,
        requested,
        "ON CONFLICT (booking) DO NOTHING",
    )
    .await?;
    let mut by_status: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for (booking, change) in changed {
        if let Some(status) = change.status {
            by_status.entry(status).or_default().push(booking.clone());
        }
        if let Some((at, epoch)) = change.start {
            sqlx::query(
                "UPDATE rm_client_bookings SET start_at = $2, start_epoch = $3 WHERE booking = $1",
            )
            .bind(booking.clone())
            .bind(at)
            .bind(epoch)
            .execute(&mut *conn)
            .await?;
        }
        if let Some(cents) = change.kept {
            sqlx::query("UPDATE rm_client_bookings SET kept_cents = $2 WHERE booking = $1")
                .bind(booking)
                .bind(cents)
                .execute(&mut *conn)
                .await?;
        }
    }
    for (status, bookings) in by_status {
        for chunk in bookings.chunks(RECOMPUTE_CHUNK) {
            let sqlite = is_sqlite(conn);
            let sql = format!(
                "UPDATE rm_client_bookings SET status = {} WHERE booking IN ({})",
                placeholders(sqlite, 1, 1),
                placeholders(sqlite, 2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(status);
            for b in chunk {
                q = q.bind(b.clone());
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// [`SEEN_UPSERT`] when the rows carry their figures too: a client registered by hand keeps
/// the contact the salon gave, but their figures are always the new ones. Built once.
static SEEN_WITH_FIGURES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let keep = |c: &str| {
        format!(
            "{c} = CASE WHEN rm_clients.registered <> 1 THEN excluded.{c} ELSE rm_clients.{c} END"
        )
    };
    let contact = ["name", "email", "email_key", "phone", "updated_at"].map(keep);
    let figures = FIGURE_COLUMNS.iter().map(|c| format!("{c} = excluded.{c}"));
    let sets: Vec<String> = contact.into_iter().chain(figures).collect();
    format!("ON CONFLICT (id) DO UPDATE SET {}", sets.join(", "))
});

/// Writes what the batch buffered so far (before a client event, whose statements must see
/// it).
async fn flush_batch(w: &mut Writer<'_>) -> std::result::Result<(), ApplyError> {
    let (conn, batch) = w.conn_and_clients().await?;
    write_batch(conn, batch, &mut BTreeMap::new()).await
}

/// Makes sure the client's row exists (first seen now), without touching its contact.
async fn ensure_row(
    w: &mut Writer<'_>,
    stored: &StoredEvent,
    id: &str,
) -> std::result::Result<(), ApplyError> {
    let at = recorded_at(stored);
    sqlx::query(
        "INSERT INTO rm_clients (id, email_key, name, email, created_at, updated_at, \
         created_position) VALUES ($1, '', '', '', $2, $2, $3) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(at)
    .bind(stored.at.position)
    .execute(w.conn().await?)
    .await?;
    Ok(())
}

async fn touch(
    w: &mut Writer<'_>,
    stored: &StoredEvent,
    id: &str,
    sets: &'static str,
) -> std::result::Result<(), ApplyError> {
    let sql = format!("UPDATE rm_clients SET updated_at = $2, version = $3{sets} WHERE id = $1");
    sqlx::query(&sql)
        .bind(id.to_string())
        .bind(recorded_at(stored))
        .bind(stored.sequence)
        .execute(w.conn().await?)
        .await?;
    Ok(())
}

async fn set_details(
    w: &mut Writer<'_>,
    id: &str,
    d: &ClientDetails,
) -> std::result::Result<(), ApplyError> {
    write_contact(
        w,
        id,
        d.name.as_str(),
        d.email.as_str(),
        d.phone.as_ref().map(|p| p.as_str()),
        Some(&d.notes),
    )
    .await
}

async fn client_event(
    w: &mut Writer<'_>,
    stored: &StoredEvent,
    event: ClientEvent,
) -> std::result::Result<(), ApplyError> {
    // Bookings' writes buffered so far come first.
    flush_batch(w).await?;
    let id = stored.aggregate_id.clone();
    match event {
        ClientEvent::ClientRegistered { details, .. } => {
            ensure_row(w, stored, &id).await?;
            set_details(w, &id, &details).await?;
            touch(w, stored, &id, ", registered = 1, archived = 0").await?;
        }
        ClientEvent::ClientUpdated { details, .. } => {
            set_details(w, &id, &details).await?;
            touch(w, stored, &id, "").await?;
        }
        ClientEvent::ClientArchived { .. } => touch(w, stored, &id, ", archived = 1").await?,
        ClientEvent::ClientRestored { .. } => touch(w, stored, &id, ", archived = 0").await?,
        ClientEvent::ClientForgotten { .. } => {
            ensure_row(w, stored, &id).await?;
            sqlx::query(
                "UPDATE rm_clients SET name = $2, email = '', email_key = '', phone = NULL, \
                 notes = '' WHERE id = $1",
            )
            .bind(id.clone())
            .bind(migrations::pii::ERASED_NAME)
            .execute(w.conn().await?)
            .await?;
            touch(w, stored, &id, "").await?;
        }
    }
    Ok(())
}

/// Bookings per statement when recomputing figures (well below both stores' parameter limits).
const RECOMPUTE_CHUNK: usize = 400;
/// Clients whose figures one statement writes (12 parameters each).
const FIGURES_PER_STATEMENT: usize = 75;

/// A booking as it counts in its client's figures: `(start_epoch, booking)` orders them.
type Dated = (i64, String, String);

/// The columns of [`Figures::values`], in order.
const FIGURE_COLUMNS: &[&str] = &[
    "bookings_count",
    "upcoming",
    "completed",
    "no_shows",
    "cancellations",
    "first_visit_epoch",
    "first_visit_at",
    "last_visit_epoch",
    "last_visit_at",
    "total_spent_cents",
    "currency",
];

/// One client's figures, added up from their bookings.
#[derive(Default)]
struct Figures {
    bookings: i64,
    upcoming: i64,
    completed: i64,
    no_shows: i64,
    cancellations: i64,
    /// Earliest and latest completed appointment: (epoch, booking, start_at).
    first: Option<Dated>,
    last: Option<Dated>,
    spent: i64,
    /// The latest booking of any status: (epoch, booking, currency).
    latest: Option<Dated>,
}

fn text(row: &[Val], i: usize) -> String {
    match row.get(i) {
        Some(Val::Text(t)) => t.clone(),
        _ => String::new(),
    }
}

fn int(row: &[Val], i: usize) -> i64 {
    match row.get(i) {
        Some(Val::Int(n)) => *n,
        _ => 0,
    }
}

impl Figures {
    /// Counts one booking, a row of [`BOOKING_COLUMNS`].
    fn add(&mut self, row: &[Val]) {
        let booking = text(row, BOOKING);
        let epoch = int(row, START_EPOCH);
        self.bookings += 1;
        match text(row, STATUS).as_str() {
            "requested" | "held" | "confirmed" => self.upcoming += 1,
            "completed" => {
                self.completed += 1;
                self.spent += int(row, PRICE);
                let visit = (epoch, booking.clone(), text(row, START_AT));
                if self
                    .first
                    .as_ref()
                    .is_none_or(|f| (visit.0, &visit.1) < (f.0, &f.1))
                {
                    self.first = Some(visit.clone());
                }
                if self
                    .last
                    .as_ref()
                    .is_none_or(|l| (visit.0, &visit.1) > (l.0, &l.1))
                {
                    self.last = Some(visit);
                }
            }
            "no_show" => self.no_shows += 1,
            "cancelled" => self.cancellations += 1,
            _ => {}
        }
        self.spent += int(row, KEPT);
        if self
            .latest
            .as_ref()
            .is_none_or(|l| (epoch, &booking) > (l.0, &l.1))
        {
            self.latest = Some((epoch, booking, text(row, CURRENCY)));
        }
    }

    /// The [`FIGURE_COLUMNS`] values (a client without bookings has the columns' defaults).
    fn values(&self) -> Vec<Val> {
        vec![
            self.bookings.into(),
            self.upcoming.into(),
            self.completed.into(),
            self.no_shows.into(),
            self.cancellations.into(),
            self.first.as_ref().map(|v| v.0).into(),
            self.first.as_ref().map(|v| v.2.clone()).into(),
            self.last.as_ref().map(|v| v.0).into(),
            self.last.as_ref().map(|v| v.2.clone()).into(),
            self.spent.into(),
            self.latest
                .as_ref()
                .map_or_else(|| "USD".to_string(), |v| v.2.clone())
                .into(),
        ]
    }
}

/// Ends the batch: the figures of every client it touched are computed in Rust from those
/// clients' bookings as stored (one read by client id, so the planner looks them up by index
/// however large the tables grow) with the batch's buffered bookings and changes laid over
/// them; then the buffer is written, a client first seen in this batch getting their figures
/// in the same upsert, and the other touched clients' figures in one `UPDATE … FROM (VALUES
/// …)` per few dozen clients (was a dozen subqueries per client, 30 ms a batch on
/// PostgreSQL, and then an update of every new client's row right after its insert).
pub(crate) async fn finish(w: &mut Writer<'_>) -> std::result::Result<(), ApplyError> {
    let (conn, batch) = w.conn_and_clients().await?;
    let sqlite = is_sqlite(conn);
    let mut clients = std::mem::take(&mut batch.touched);
    clients.extend(batch.seen_at.keys().cloned());
    let bookings: Vec<String> = std::mem::take(&mut batch.touched_bookings)
        .into_iter()
        .collect();
    for chunk in bookings.chunks(RECOMPUTE_CHUNK) {
        let sql = format!(
            "SELECT DISTINCT client FROM rm_client_bookings WHERE booking IN ({})",
            placeholders(sqlite, 1, chunk.len())
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        for b in chunk {
            q = q.bind(b.clone());
        }
        clients.extend(q.fetch_all(&mut *conn).await?);
    }
    // Every booking of those clients as it will stand once the batch is written.
    let clients: Vec<String> = clients.into_iter().collect();
    let mut rows: HashMap<String, Vec<Val>> = HashMap::new();
    for chunk in clients.chunks(RECOMPUTE_CHUNK) {
        let sql = format!(
            "SELECT {} FROM rm_client_bookings WHERE client IN ({})",
            BOOKING_COLUMNS.join(", "),
            placeholders(sqlite, 1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for c in chunk {
            q = q.bind(c.clone());
        }
        for row in q.fetch_all(&mut *conn).await? {
            let stored = stored_booking(&row)?;
            rows.insert(text(&stored, BOOKING), stored);
        }
    }
    for (booking, change) in &batch.changed {
        if let Some(row) = rows.get_mut(booking) {
            if let Some(status) = change.status {
                row[STATUS] = status.into();
            }
            if let Some((at, epoch)) = &change.start {
                row[START_AT] = at.clone().into();
                row[START_EPOCH] = (*epoch).into();
            }
            if let Some(cents) = change.kept {
                row[KEPT] = cents.into();
            }
        }
    }
    for row in &batch.requested {
        // Written with ON CONFLICT DO NOTHING: a booking already stored stays as it is.
        rows.entry(text(row, BOOKING))
            .or_insert_with(|| row.clone());
    }
    let mut figures: BTreeMap<String, Figures> = clients
        .into_iter()
        .map(|c| (c, Figures::default()))
        .collect();
    for row in rows.values() {
        if let Some(f) = figures.get_mut(&text(row, CLIENT)) {
            f.add(row);
        }
    }
    write_batch(conn, batch, &mut figures).await?;
    // Clients touched but not first seen in this batch.
    let figures: Vec<(String, Figures)> = figures.into_iter().collect();
    let width = FIGURE_COLUMNS.len() + 1;
    for chunk in figures.chunks(FIGURES_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| format!("({})", placeholders(sqlite, r * width + 1, width)))
            .collect();
        let sets: Vec<String> = FIGURE_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = v.column{}", i + 2))
            .collect();
        let sql = format!(
            "UPDATE rm_clients SET {} FROM (VALUES {}) AS v WHERE rm_clients.id = v.column1",
            sets.join(", "),
            values.join(", ")
        );
        let mut args = Vec::with_capacity(chunk.len() * width);
        for (client, f) in chunk {
            args.push(Val::Text(client.clone()));
            args.extend(f.values());
        }
        sqlx::query_with(&sql, arguments(args)?)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A row of `rm_client_bookings` as [`BOOKING_COLUMNS`] values.
fn stored_booking(row: &AnyRow) -> std::result::Result<Vec<Val>, sqlx::Error> {
    Ok(vec![
        row.try_get::<String, _>("booking")?.into(),
        row.try_get::<String, _>("client")?.into(),
        row.try_get::<String, _>("status")?.into(),
        row.try_get::<String, _>("start_at")?.into(),
        row.try_get::<i64, _>("start_epoch")?.into(),
        row.try_get::<i64, _>("price_cents")?.into(),
        row.try_get::<i64, _>("kept_cents")?.into(),
        row.try_get::<String, _>("currency")?.into(),
    ])
}

async fn booking_event(
    w: &mut Writer<'_>,
    stored: &StoredEvent,
    event: BookingEvent,
) -> std::result::Result<(), ApplyError> {
    let booking = stored.aggregate_id.clone();
    let batch = &mut w.clients;
    match event {
        BookingEvent::BookingRequested { details: d, .. } => {
            // Opened events name the client (an erased email no longer does).
            let client = crate::apply::client_id_of(stored)
                .unwrap_or_else(|| ClientId::for_email(&d.client.email).to_string());
            seen_in_booking(
                batch,
                stored,
                &client,
                d.client.name.as_str(),
                d.client.email.as_str(),
                // An erased client has no phone (as when forgotten live).
                Some(d.client.phone.as_str()).filter(|p| !p.is_empty()),
            );
            batch.requested(vec![
                booking.clone().into(),
                client.into(),
                "requested".into(),
                d.start.to_rfc3339().into(),
                d.start.timestamp().into(),
                d.price_cents.get().into(),
                0.into(),
                d.currency.as_str().into(),
            ]);
        }
        BookingEvent::BookingHeld { .. } => batch.status(&booking, "held"),
        BookingEvent::BookingConfirmed { .. } => batch.status(&booking, "confirmed"),
        BookingEvent::HoldExpired { .. } | BookingEvent::BookingCancelled { .. } => {
            batch.status(&booking, "cancelled")
        }
        BookingEvent::BookingCompleted { .. } => batch.status(&booking, "completed"),
        BookingEvent::BookingNoShow { .. } => batch.status(&booking, "no_show"),
        BookingEvent::BookingRescheduled { start, .. } => {
            batch.start(&booking, start.to_rfc3339(), start.timestamp())
        }
        BookingEvent::DepositForfeited { amount_cents, .. } => {
            batch.kept(&booking, amount_cents.get())
        }
        // Nothing the figures show.
        BookingEvent::CheckoutStarted { .. }
        | BookingEvent::DepositPaid { .. }
        | BookingEvent::DepositFailed { .. }
        | BookingEvent::RefundRequested { .. }
        | BookingEvent::DepositRefunded { .. }
        | BookingEvent::RefundFailed { .. }
        | BookingEvent::BookingNotesChanged { .. } => return Ok(()),
    }
    // The client's figures: once per batch, in `finish`.
    w.clients.touch(&booking);
    Ok(())
}

/// A client as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ClientRecord, example = json!({
    "id": "5f1c7b3e-2a9d-5c41-8e6f-0b7a3d2c1e90",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "+12125550142",
    "notes": "Prefers mornings.",
    "registered": true,
    "archived": false,
    "created_at": "2027-03-01T09:12:44.102+00:00",
    "updated_at": "2027-03-02T10:00:00+00:00",
    "bookings_count": 4,
    "upcoming": 1,
    "completed": 2,
    "no_shows": 0,
    "cancellations": 1,
    "first_visit": "2027-01-12T15:00:00+00:00",
    "last_visit": "2027-02-23T14:30:00+00:00",
    "total_spent_cents": 19000,
    "currency": "USD"
}))]
pub struct ClientView {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub email: String,
    /// E.164 (`+` and digits).
    pub phone: Option<String>,
    /// The salon's notes; never shown to the client.
    pub notes: String,
    /// Registered by hand (or edited) rather than only seen in bookings.
    pub registered: bool,
    pub archived: bool,
    /// When the client was first seen (registered or first booking).
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Every booking the client made, whatever became of it.
    pub bookings_count: i64,
    /// Bookings still to come (requested, held or confirmed).
    pub upcoming: i64,
    pub completed: i64,
    pub no_shows: i64,
    /// Cancelled by anyone, unpaid holds that ran out included.
    pub cancellations: i64,
    /// Start of the first completed appointment.
    #[schema(format = DateTime)]
    pub first_visit: Option<String>,
    /// Start of the latest completed appointment.
    #[schema(format = DateTime)]
    pub last_visit: Option<String>,
    /// Prices of completed appointments plus deposits kept (no-shows, late cancellations),
    /// integer cents in `currency`.
    pub total_spent_cents: i64,
    pub currency: String,
    /// The Client aggregate's version (0 while only seen in bookings), for the ETag.
    #[serde(skip)]
    pub version: i64,
}

const COLUMNS: &str =
    "id, name, email, phone, notes, registered, archived, created_at, updated_at, \
    bookings_count, upcoming, completed, no_shows, cancellations, first_visit_at, last_visit_at, \
    total_spent_cents, currency, version";

/// Reads one row; with [`write_contact`], the only code that touches personal data.
pub fn client_row(r: &AnyRow) -> Result<ClientView> {
    Ok(ClientView {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        notes: r.try_get("notes")?,
        registered: r.try_get::<i64, _>("registered")? != 0,
        archived: r.try_get::<i64, _>("archived")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        bookings_count: r.try_get("bookings_count")?,
        upcoming: r.try_get("upcoming")?,
        completed: r.try_get("completed")?,
        no_shows: r.try_get("no_shows")?,
        cancellations: r.try_get("cancellations")?,
        first_visit: r.try_get("first_visit_at")?,
        last_visit: r.try_get("last_visit_at")?,
        total_spent_cents: r.try_get("total_spent_cents")?,
        currency: r.try_get("currency")?,
        version: r.try_get("version")?,
    })
}

/// One client, archived or not.
pub async fn client(db: &ReadDb, id: &str) -> Result<Option<ClientView>> {
    let sql = format!("SELECT {COLUMNS} FROM rm_clients WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(client_row).transpose()
}

/// How `GET /api/v1/clients` lists: filters, search and orderings. Archived clients are left
/// out unless `archived` is asked for (the route adds that condition).
pub const CLIENT_LIST: ListSpec = ListSpec {
    table: "rm_clients",
    columns: COLUMNS,
    filters: &[
        Filter::new("archived", "archived", FilterKind::Flag),
        Filter::new("registered", "registered", FilterKind::Flag),
        Filter::new("created_at", "created_at", FilterKind::Rfc3339),
        Filter::new("first_visit", "first_visit_epoch", FilterKind::Epoch),
        Filter::new("last_visit", "last_visit_epoch", FilterKind::Epoch),
        Filter::new("bookings_count", "bookings_count", FilterKind::Number),
        Filter::new("upcoming", "upcoming", FilterKind::Number),
        Filter::new("completed", "completed", FilterKind::Number),
        Filter::new("no_shows", "no_shows", FilterKind::Number),
        Filter::new("cancellations", "cancellations", FilterKind::Number),
        Filter::new("total_spent_cents", "total_spent_cents", FilterKind::Number),
    ],
    search: &["name", "email", "phone"],
    // Visits are NULL before the first one: ordered as the earliest, on both stores.
    orderings: &[
        ("name", "name"),
        ("email", "email_key"),
        ("created_at", "created_position"),
        ("updated_at", "updated_at"),
        ("first_visit", "COALESCE(first_visit_epoch, 0)"),
        ("last_visit", "COALESCE(last_visit_epoch, 0)"),
        ("bookings_count", "bookings_count"),
        ("total_spent_cents", "total_spent_cents"),
    ],
    default_ordering: "created_at",
    key: "id",
};
