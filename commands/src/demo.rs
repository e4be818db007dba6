//! Demo data: a loc salon in Harlem with three stylists and six services, seeded into an empty
//! store by `salon serve` and `salon seed-demo`. Ids are derived from names (UUID v5), so they
//! are the same on every machine and the site's fallback data can name them.

use crate::booking::PlaceBooking;
use crate::bus::{CommandBus, CommandError, Committed};
use crate::reviews::Reviewed;
use chrono::{Datelike, Duration, NaiveTime, TimeZone, Utc};
use domain::booking::{Booking, BookingCommand, BookingStatus};
use domain::ids::{BookingId, ServiceId, StylistId, SALON_ID};
use domain::metadata::{EventMetadata, Source};
use domain::review::{Review, ReviewCommand, ReviewStatus, ReviewText};
use domain::salon::{Salon, SalonCommand};
use domain::schedule::{BookingPolicy, DayHours, DayKey, TimeRange, WeeklyHours};
use domain::service::{Service, ServiceCommand, ServiceDetails};
use domain::stylist::{Stylist, StylistCommand};
use domain::values::{Cents, Currency};
use domain::values::{Client, Email, PersonName, Phone};
use std::collections::BTreeMap;
use uuid::Uuid;

const DEMO_NAMESPACE: Uuid = Uuid::from_u128(0x2f0b_8d7e_51a4_4e3c_9a6f_0c1d_7e2b_4f58);

pub fn service_id(name: &str) -> ServiceId {
    ServiceId::from_uuid(Uuid::new_v5(
        &DEMO_NAMESPACE,
        format!("service:{name}").as_bytes(),
    ))
}

pub fn stylist_id(name: &str) -> StylistId {
    StylistId::from_uuid(Uuid::new_v5(
        &DEMO_NAMESPACE,
        format!("stylist:{name}").as_bytes(),
    ))
}

/// (name, description, minutes, buffer before, buffer after, price $, deposit $)
pub const SERVICES: &[(&str, &str, u32, u32, u32, i64, i64)] = &[
    ("Starter Locs", "Comb coils or two-strand twists to start your loc journey. Includes consultation and wash.", 180, 0, 15, 200, 50),
    ("Retwist", "Palm-roll or two-strand retwist of new growth, with wash and light oil.", 90, 0, 15, 95, 25),
    ("Interlocking", "Root maintenance with an interlocking tool; lasts longer between visits.", 150, 0, 15, 160, 40),
    ("Loc Repair", "Reattach, strengthen or combine weak and thinning locs.", 60, 0, 10, 75, 20),
    ("Loc Styling", "Barrel twists, petals, updos and braided styles for locs.", 60, 0, 10, 65, 0),
    ("Consultation", "Talk through your hair goals and a maintenance plan. Free for new clients.", 30, 0, 0, 0, 0),
];

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()
}

fn day(open: (u32, u32), close: (u32, u32), lunch: Option<((u32, u32), (u32, u32))>) -> DayHours {
    DayHours {
        open: t(open.0, open.1),
        close: t(close.0, close.1),
        breaks: lunch
            .and_then(|(a, b)| TimeRange::new(t(a.0, a.1), t(b.0, b.1)).ok())
            .into_iter()
            .collect(),
    }
}

/// A demo stylist: name, bio, the services they do (by name), weekly hours.
type DemoStylist = (
    &'static str,
    &'static str,
    Vec<&'static str>,
    BTreeMap<DayKey, DayHours>,
);

/// (name, bio, services by name, weekly hours)
fn stylists() -> Vec<DemoStylist> {
    use DayKey::*;
    let all: Vec<&str> = SERVICES.iter().map(|s| s.0).collect();
    vec![
        (
            "Amara Diallo",
            "Founder. Fifteen years of locs in Harlem; starter locs and interlocking are her craft.",
            all.clone(),
            BTreeMap::from([
                (Tue, day((10, 0), (18, 0), Some(((13, 0), (13, 30))))),
                (Wed, day((10, 0), (18, 0), Some(((13, 0), (13, 30))))),
                (Thu, day((10, 0), (19, 0), Some(((14, 0), (14, 30))))),
                (Fri, day((10, 0), (19, 0), Some(((14, 0), (14, 30))))),
                (Sat, day((9, 0), (17, 0), Some(((12, 30), (13, 0))))),
            ]),
        ),
        (
            "Keisha Brown",
            "Retwists and styling with a light touch; known for barrel twists and bridal updos.",
            vec!["Retwist", "Loc Repair", "Loc Styling", "Consultation"],
            BTreeMap::from([
                (Mon, day((11, 0), (19, 0), Some(((15, 0), (15, 30))))),
                (Wed, day((11, 0), (19, 0), Some(((15, 0), (15, 30))))),
                (Fri, day((11, 0), (20, 0), Some(((15, 0), (15, 45))))),
                (Sat, day((9, 0), (16, 0), None)),
                (Sun, day((11, 0), (16, 0), None)),
            ]),
        ),
        (
            "Malik Johnson",
            "Loc repair specialist and men's loc maintenance; early appointments before work.",
            vec!["Retwist", "Interlocking", "Loc Repair", "Consultation"],
            BTreeMap::from([
                (Tue, day((8, 0), (16, 0), Some(((12, 0), (12, 45))))),
                (Thu, day((8, 0), (16, 0), Some(((12, 0), (12, 45))))),
                (Fri, day((8, 0), (14, 0), None)),
                (Sat, day((8, 0), (15, 0), Some(((11, 30), (12, 0))))),
            ]),
        ),
    ]
}

/// A past visit of the demo salon, completed, and the review its client left (approved, with
/// the salon's reply if any); `None` is a visit not reviewed yet.
pub struct DemoVisit {
    /// Derives the booking's id (as an idempotency key would), so ids are stable.
    pub key: &'static str,
    pub stylist: &'static str,
    pub service: &'static str,
    /// How many weeks ago, on the stylist's `weekday` (0 = Monday) at `hour`:00 salon time.
    pub weeks_ago: i64,
    pub weekday: u32,
    pub hour: u32,
    pub client: (&'static str, &'static str),
    /// (rating, text, display name, reply)
    pub review: Option<(u8, &'static str, &'static str, &'static str)>,
}

pub const VISITS: &[DemoVisit] = &[
    DemoVisit { key: "demo-visit-1", stylist: "Amara Diallo", service: "Starter Locs", weeks_ago: 6, weekday: 3, hour: 10, client: ("Ama Roberts", "ama.roberts@example.com"), review: Some((5, "Amara took her time explaining how to care for my starter locs. Three months in and they look amazing.", "Ama R.", "Thank you, Ama! See you for your first retwist.")) },
    DemoVisit { key: "demo-visit-2", stylist: "Keisha Brown", service: "Loc Styling", weeks_ago: 5, weekday: 5, hour: 10, client: ("Tasha Williams", "tasha.w@example.com"), review: Some((5, "Keisha did my petals for my sister's wedding and they held all weekend. Everyone asked who did my hair.", "Tasha W.", "")) },
    DemoVisit { key: "demo-visit-3", stylist: "Malik Johnson", service: "Loc Repair", weeks_ago: 4, weekday: 1, hour: 8, client: ("Devon King", "devon.king@example.com"), review: Some((5, "Malik fixed two thinning locs I thought I'd have to cut. In and out before work.", "Devon K.", "Glad we saved them, Devon.")) },
    DemoVisit { key: "demo-visit-4", stylist: "Keisha Brown", service: "Retwist", weeks_ago: 3, weekday: 2, hour: 11, client: ("Renée Powell", "renee.p@example.com"), review: Some((4, "Neat retwist and a lovely scalp massage. We started a little late, but it was worth the wait.", "Renée P.", "Sorry about the wait, Renée — thank you for your patience.")) },
    DemoVisit { key: "demo-visit-5", stylist: "Malik Johnson", service: "Retwist", weeks_ago: 2, weekday: 5, hour: 8, client: ("Jordan Mitchell", "jordan.m@example.com"), review: Some((4, "Clean, even retwist. Early Saturday slot is perfect for me.", "Jordan M.", "")) },
    DemoVisit { key: "demo-visit-6", stylist: "Amara Diallo", service: "Loc Repair", weeks_ago: 1, weekday: 4, hour: 10, client: ("Imani Clarke", "imani.clarke@example.com"), review: None },
];

/// The booking id of a demo visit.
pub fn visit_id(key: &str) -> BookingId {
    BookingId::from_idempotency_key(key)
}

/// The reason on every event of the demo's seeding. Its past visits are made up: nobody is
/// emailed or reminded about them (see `reactors::plan`).
pub const DEMO_REASON: &str = "demo data";

/// The demo salon's name.
pub const SALON_NAME: &str = "Crown & Coil Locs — Harlem";

#[derive(Debug, thiserror::Error)]
#[error("seeding demo data failed: {0}")]
pub struct SeedError(String);

fn seed_err<E: std::error::Error>(e: CommandError<E>) -> SeedError {
    SeedError(e.to_string())
}

impl CommandBus {
    /// Seeds the demo salon (with its past visits and reviews) unless the salon is already
    /// configured. Returns whether it seeded and where the last event landed.
    pub async fn seed_demo(&self) -> Result<Option<Committed>, SeedError> {
        self.seed_demo_with(true).await
    }

    /// As [`seed_demo`](Self::seed_demo); without `visits` only the salon, services and
    /// stylists.
    pub async fn seed_demo_with(&self, visits: bool) -> Result<Option<Committed>, SeedError> {
        let salon = self
            .load_fresh::<Salon>(SALON_ID)
            .await
            .map_err(|e| SeedError(e.to_string()))?;
        if salon.state.configured {
            return Ok(None);
        }
        let meta = EventMetadata::new("system", Source::Cli).with_reason(Some(DEMO_REASON.into()));
        let configure = SalonCommand::Configure {
            name: SALON_NAME.into(),
            time_zone: chrono_tz::America::New_York,
            currency: Currency::usd(),
            policy: BookingPolicy::default(),
            open: true,
            demo: true,
        };
        // One event for the salon, as before setup existed: the demo's log (and the positions
        // tests count on) stays the same.
        let (mut last, _) = self
            .execute::<Salon>(SALON_ID, configure, &meta)
            .await
            .map_err(seed_err)?;

        for (name, description, minutes, before, after, price, deposit) in SERVICES {
            let details = ServiceDetails {
                name: (*name).into(),
                description: (*description).into(),
                duration_minutes: *minutes,
                buffer_before_minutes: *before,
                buffer_after_minutes: *after,
                price_cents: Cents::new(price * 100).map_err(|e| SeedError(e.to_string()))?,
                deposit_cents: Cents::new(deposit * 100).map_err(|e| SeedError(e.to_string()))?,
                currency: Currency::usd(),
            };
            let id = service_id(name);
            let cmd = ServiceCommand::Create { id, details };
            last = self
                .execute::<Service>(&id.to_string(), cmd, &meta)
                .await
                .map_err(seed_err)?
                .0;
        }
        for (name, bio, services, hours) in stylists() {
            let id = stylist_id(name);
            let key = id.to_string();
            let services = services.into_iter().map(service_id).collect();
            let hire = StylistCommand::Hire {
                id,
                name: name.into(),
                bio: bio.into(),
                services,
            };
            self.execute::<Stylist>(&key, hire, &meta)
                .await
                .map_err(seed_err)?;
            let hours = WeeklyHours::new(hours).map_err(|e| SeedError(e.to_string()))?;
            last = self
                .execute::<Stylist>(&key, StylistCommand::SetHours { hours }, &meta)
                .await
                .map_err(seed_err)?
                .0;
        }
        for visit in VISITS.iter().filter(|_| visits) {
            last = self.seed_visit(visit, &meta).await?;
        }
        Ok(Some(last))
    }

    /// A past visit: booked a few days before, completed, and reviewed (approved) when it has a
    /// review; all through the aggregates' commands, as they would have happened.
    async fn seed_visit(
        &self,
        visit: &DemoVisit,
        meta: &EventMetadata,
    ) -> Result<Committed, SeedError> {
        let err = |e: &dyn std::fmt::Display| SeedError(format!("{}: {e}", visit.key));
        let tz = chrono_tz::America::New_York;
        let today = Utc::now().with_timezone(&tz).date_naive();
        // The last such weekday before today, then whole weeks further back.
        let back =
            (7 + i64::from(today.weekday().num_days_from_monday()) - i64::from(visit.weekday)) % 7;
        let back = if back == 0 { 7 } else { back };
        let date = today - Duration::days(back + 7 * (visit.weeks_ago - 1).max(0));
        let local = date.and_time(t(visit.hour, 0));
        let start = tz
            .from_local_datetime(&local)
            .earliest()
            .ok_or_else(|| err(&"no such local time"))?
            .with_timezone(&Utc);
        let client = Client {
            name: PersonName::parse(visit.client.0).map_err(|e| err(&e))?,
            email: Email::parse(visit.client.1).map_err(|e| err(&e))?,
            phone: Phone::parse("(212) 555-0100").map_err(|e| err(&e))?,
        };
        let request = PlaceBooking {
            service: service_id(visit.service),
            stylists: vec![stylist_id(visit.stylist)],
            start,
            client,
            notes: None,
            idempotency_key: Some(visit.key.into()),
            fingerprint: visit.key.into(),
            deposit_waived: false,
        };
        let placed = self
            .place_booking(request, meta, start - Duration::days(3))
            .await
            .map_err(|e| err(&e))?;
        let key = placed.id.to_string();
        if placed.committed.is_none() {
            return Err(err(&"already placed"));
        }
        if placed.booking.status == BookingStatus::Held {
            let paid = BookingCommand::RecordDepositPaid {
                amount_cents: placed
                    .booking
                    .details
                    .as_ref()
                    .map(|d| d.deposit_cents)
                    .unwrap_or_default(),
                payment: None,
            };
            self.execute::<Booking>(&key, paid, meta)
                .await
                .map_err(|e| err(&e))?;
        }
        let complete = BookingCommand::Complete {
            now: start + Duration::hours(4),
        };
        let last = self
            .execute::<Booking>(&key, complete, meta)
            .await
            .map_err(|e| err(&e))?
            .0;
        let Some((rating, text, name, reply)) = visit.review else {
            return Ok(last);
        };
        let text = ReviewText {
            rating,
            text: text.into(),
            display_name: name.into(),
        };
        let (_, review) = self
            .submit_review(Reviewed::Booking(placed.id), text, meta)
            .await
            .map_err(|e| err(&e))?;
        let moderate = ReviewCommand::Moderate {
            status: Some(ReviewStatus::Approved),
            reply: (!reply.is_empty()).then(|| reply.into()),
        };
        Ok(self
            .execute::<Review>(&review.to_string(), moderate, meta)
            .await
            .map_err(|e| err(&e))?
            .0)
    }
}
