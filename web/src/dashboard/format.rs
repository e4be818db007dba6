//! Words, money and times as the dashboard shows them.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// Integer cents as money: `$85.00` for dollars, `85.00 EUR` otherwise.
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let amount = format!("{}.{:02}", c / 100, c % 100);
    match currency {
        "USD" => format!("{sign}${amount}"),
        "EUR" => format!("{sign}€{amount}"),
        "GBP" => format!("{sign}£{amount}"),
        other => format!("{sign}{amount} {other}"),
    }
}

/// Cents as a plain decimal for CSV (`85.00`).
pub fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

fn parse(ts: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(ts).ok()
}

/// An instant in the salon's time zone: `Tue 3 Dec 2026, 10:30`.
pub fn when(ts: &str, tz: Tz) -> String {
    parse(ts)
        .map(|t| t.with_timezone(&tz).format("%a %-d %b %Y, %H:%M").to_string())
        .unwrap_or_else(|| ts.to_string())
}

/// Only the time of day: `10:30`.
pub fn clock(ts: &str, tz: Tz) -> String {
    parse(ts)
        .map(|t| t.with_timezone(&tz).format("%H:%M").to_string())
        .unwrap_or_else(|| ts.to_string())
}

/// An instant in the salon's zone as RFC 3339 (CSV).
pub fn local_rfc3339(ts: &str, tz: Tz) -> String {
    parse(ts)
        .map(|t| t.with_timezone(&tz).to_rfc3339())
        .unwrap_or_else(|| ts.to_string())
}

/// The UTC instant of local midnight starting `day` in `tz` (the earliest, around DST).
pub fn midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        // Midnight skipped by a DST change: one hour later exists.
        chrono::LocalResult::None => tz
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| naive.and_utc()),
    }
}

/// A booking status in words.
pub fn status(s: &str) -> &'static str {
    match s {
        "requested" => "Requested",
        "held" => "Waiting for deposit",
        "confirmed" => "Confirmed",
        "completed" => "Completed",
        "no_show" => "No-show",
        "cancelled" => "Cancelled",
        _ => "Unknown",
    }
}

/// A deposit state in words.
pub fn deposit(s: &str) -> &'static str {
    match s {
        "none" => "No deposit",
        "pending" => "Deposit due",
        "paid" => "Deposit paid",
        "refunded" => "Deposit refunded",
        _ => "Unknown",
    }
}

/// Who did it, as a sentence's subject.
pub fn actor(a: &str) -> String {
    match a {
        "client" => "The client".into(),
        "owner" => "The owner".into(),
        "partner" => "The partner".into(),
        "stripe" => "Stripe".into(),
        "system" => "Salon itself".into(),
        other => {
            if let Some(name) = other.strip_prefix("token:") {
                format!("The integration \u{201c}{name}\u{201d}")
            } else if let Some(name) = other.strip_prefix("calendar:") {
                format!("The calendar \u{201c}{name}\u{201d}")
            } else {
                other.to_string()
            }
        }
    }
}

/// Through which path, after "through".
pub fn source(s: &str) -> &'static str {
    match s {
        "spa" => "the booking site",
        "panel" => "the owner's panel",
        "api" => "the API",
        "webhook" => "a webhook",
        "intake" => "the intake",
        "cli" => "the command line",
        "job" => "a background job",
        _ => "an unknown path",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_like_money() {
        assert_eq!(money(8500, "USD"), "$85.00");
        assert_eq!(money(5, "EUR"), "€0.05");
        assert_eq!(money(123456, "CHF"), "1234.56 CHF");
        assert_eq!(decimal(-250), "-2.50");
    }

    #[test]
    fn midnight_is_local() {
        let tz: Tz = "America/New_York".parse().expect("tz");
        let day = NaiveDate::from_ymd_opt(2026, 7, 1).expect("date");
        assert_eq!(midnight(day, tz).to_rfc3339(), "2026-07-01T04:00:00+00:00");
    }
}
