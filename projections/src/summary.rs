//! One readable sentence per event for the audit log ("Booking requested: … at …"), built from
//! the event alone so the audit projection needs no other table.

use crate::log::StoredEvent;
use serde_json::Value;

fn field<'a>(payload: &'a Value, event_type: &str, name: &str) -> Option<&'a Value> {
    payload.get(event_type).and_then(|inner| inner.get(name))
}

fn text(payload: &Value, event_type: &str, name: &str) -> String {
    match field(payload, event_type, name) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

pub fn summarize(event: &StoredEvent) -> String {
    let p = &event.payload;
    let t = event.event_type.as_str();
    let id = &event.aggregate_id;
    match t {
        "SalonConfigured" => format!(
            "Salon set up as \u{201c}{}\u{201d} in {}",
            text(p, t, "name"),
            text(p, t, "time_zone")
        ),
        "SalonRenamed" => format!("Salon renamed to \u{201c}{}\u{201d}", text(p, t, "name")),
        "TimeZoneChanged" => format!("Salon time zone changed to {}", text(p, t, "time_zone")),
        "BookingPolicyChanged" => "Booking policy changed".into(),
        "ServiceCreated" => format!(
            "Service \u{201c}{}\u{201d} created",
            field(p, t, "details")
                .and_then(|d| d.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
        ),
        "ServiceUpdated" => format!(
            "Service \u{201c}{}\u{201d} updated",
            field(p, t, "details")
                .and_then(|d| d.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
        ),
        "ServiceArchived" => format!("Service {id} archived"),
        "ServiceRestored" => format!("Service {id} restored"),
        "StylistHired" => format!("Stylist {} added", text(p, t, "name")),
        "StylistProfileUpdated" => format!("Stylist profile of {} updated", text(p, t, "name")),
        "StylistServicesSet" => format!("Services of stylist {id} changed"),
        "StylistHoursSet" => format!("Weekly hours of stylist {id} changed"),
        "TimeOffAdded" => {
            let off = field(p, t, "time_off");
            let get = |k: &str| {
                off.and_then(|o| o.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .replace('T', " ")
            };
            format!(
                "Time off added for stylist {id}: {} to {}",
                get("start"),
                get("end")
            )
        }
        "TimeOffRemoved" => format!("Time off removed for stylist {id}"),
        "StylistArchived" => format!("Stylist {id} archived"),
        "StylistRestored" => format!("Stylist {id} restored"),
        "SlotReserved" => format!(
            "Time reserved for booking {} on {}",
            text(p, t, "booking"),
            text(p, t, "date")
        ),
        "SlotReleased" => format!(
            "Time released from booking {} on {}",
            text(p, t, "booking"),
            text(p, t, "date")
        ),
        "ExternalBusyChanged" => {
            let n = field(p, t, "busy")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            format!(
                "Calendar {} now shows {n} busy block(s) on {} for stylist {}",
                text(p, t, "source"),
                text(p, t, "date"),
                text(p, t, "stylist")
            )
        }
        "CalendarSourceRegistered" => format!(
            "Calendar \u{201c}{}\u{201d} ({}) connected",
            field(p, t, "settings")
                .and_then(|d| d.get("name"))
                .and_then(Value::as_str)
                .unwrap_or(""),
            field(p, t, "settings")
                .and_then(|d| d.get("kind"))
                .and_then(Value::as_str)
                .unwrap_or("")
        ),
        "CalendarSourceUpdated" => format!("Calendar {id} settings changed"),
        "CalendarSourceRemoved" => format!("Calendar {id} disconnected"),
        "ExternalBusySynced" => format!(
            "Calendar {id} synced: {} busy block(s)",
            field(p, t, "busy")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        ),
        "CalendarSyncRecovered" => format!("Calendar {id} answers again"),
        "CalendarSyncFailed" => {
            format!("Calendar {id} sync failed: {}", text(p, t, "error"))
        }
        "BookingRequested" => {
            let d = field(p, t, "details");
            let get = |k: &str| {
                d.and_then(|o| o.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let client = d
                .and_then(|o| o.get("client"))
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            requested_by(id, client, &get("start"))
        }
        "BookingHeld" => format!(
            "Booking {id} held until {} for a deposit",
            text(p, t, "hold_expires_at")
        ),
        "BookingConfirmed" => format!("Booking {id} confirmed"),
        "CheckoutStarted" => format!("Deposit checkout opened for booking {id}"),
        "DepositPaid" => format!(
            "Deposit of {} paid for booking {id}",
            money(field(p, t, "amount_cents"))
        ),
        "DepositFailed" => format!(
            "Deposit payment failed for booking {id}: {}",
            text(p, t, "message")
        ),
        "HoldExpired" => format!("Hold on booking {id} expired unpaid"),
        "BookingCancelled" => match field(p, t, "by").and_then(Value::as_str) {
            Some(by) => format!("Booking {id} cancelled by the {by}"),
            None => format!("Booking {id} cancelled"),
        },
        "BookingRescheduled" => format!(
            "Booking {id} moved from {} to {}",
            text(p, t, "from_start"),
            text(p, t, "start")
        ),
        "RefundRequested" => format!(
            "Refund of {} requested for booking {id}{}",
            money(field(p, t, "amount_cents")),
            if text(p, t, "reason") == "paid_too_late" {
                " (paid after the booking had ended)"
            } else {
                ""
            }
        ),
        "DepositRefunded" => format!(
            "Deposit of {} refunded for booking {id}",
            money(field(p, t, "amount_cents"))
        ),
        "RefundFailed" => format!("Refund for booking {id} failed: {}", text(p, t, "message")),
        "DepositForfeited" => format!(
            "Deposit of {} kept for booking {id}",
            money(field(p, t, "amount_cents"))
        ),
        "BookingCompleted" => format!("Booking {id} completed"),
        "BookingNoShow" => format!("Booking {id} marked as a no-show"),
        "BookingNotesChanged" => match field(p, t, "notes").and_then(|n| n.as_str()) {
            Some(notes) => format!("Notes of booking {id} changed to \u{201c}{notes}\u{201d}"),
            None => format!("Notes of booking {id} cleared"),
        },
        "TokenCreated" => format!(
            "API token \u{201c}{}\u{201d} created ({} access)",
            text(p, t, "name"),
            text(p, t, "scope")
        ),
        "TokenRevoked" => format!("API token {id} revoked"),
        "TokenRenamed" => format!(
            "API token {id} renamed \u{201c}{}\u{201d}",
            text(p, t, "name")
        ),
        "TokenScopeChanged" => format!("API token {id} given {} access", text(p, t, "scope")),
        "WebhookSubscriptionCreated" => {
            let settings = field(p, t, "settings");
            let url = settings
                .and_then(|s| s.get("url"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let events: Vec<&str> = settings
                .and_then(|s| s.get("events"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!("Webhook {id} to {url} created for {}", events.join(", "))
        }
        "WebhookSubscriptionUpdated" => format!("Webhook {id} settings changed"),
        "WebhookSubscriptionPaused" => format!("Webhook {id} paused"),
        "WebhookSubscriptionResumed" => format!("Webhook {id} resumed"),
        "WebhookSecretRotated" => format!("Signing secret of webhook {id} rotated"),
        "WebhookPinged" => format!("Test delivery requested for webhook {id}"),
        "WebhookSubscriptionDeleted" => format!("Webhook {id} deleted"),
        // Clients by id only: their personal data stays in the client's own record.
        "ClientRegistered" => format!("Client {id} registered"),
        "ClientUpdated" => format!("Client {id} details changed"),
        "ClientArchived" => format!("Client {id} archived"),
        "ClientRestored" => format!("Client {id} restored"),
        "ClientForgotten" => format!("Client {id} forgotten: personal data erased"),
        "ReviewSubmitted" => {
            let d = field(p, t, "details");
            let get = |k: &str| {
                d.and_then(|o| o.get(k)).map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            };
            match get("booking").filter(|b| b != "null") {
                Some(b) => format!(
                    "Review {id} of booking {b}: {} star(s)",
                    get("rating").unwrap_or_default()
                ),
                None => format!(
                    "Review {id} entered for stylist {}: {} star(s)",
                    get("stylist").unwrap_or_default(),
                    get("rating").unwrap_or_default()
                ),
            }
        }
        "ReviewApproved" => format!("Review {id} approved"),
        "ReviewHidden" => format!("Review {id} hidden"),
        "ReviewReplied" => format!("Reply to review {id} posted"),
        "ReviewReplyRemoved" => format!("Reply to review {id} removed"),
        "ReviewArchived" => format!("Review {id} archived"),
        "PictureSet" => format!(
            "Picture of {id} set ({}×{} {})",
            text(p, t, "width"),
            text(p, t, "height"),
            text(p, t, "content_type")
        ),
        "PictureRemoved" => format!("Picture of {id} removed"),
        other => format!("{other} on {} {id}", event.aggregate_type),
    }
}

/// Cents as dollars and cents ("20.00"); unknown amounts read as "?".
fn money(cents: Option<&Value>) -> String {
    match cents.and_then(Value::as_i64) {
        Some(c) => format!("{}.{:02}", c / 100, c % 100),
        None => "?".into(),
    }
}

/// A booking request's summary (also how a forgotten client's is rewritten).
pub(crate) fn requested_by(id: &str, client: &str, start: &str) -> String {
    format!("Booking {id} requested by {client} for {start}")
}
