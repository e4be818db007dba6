//! Demo data: a loc salon in Harlem with three stylists and six services, seeded into an empty
//! store by `salon serve` and `salon seed-demo`. Ids are derived from names (UUID v5), so they
//! are the same on every machine and the site's fallback data can name them.

use crate::bus::{CommandBus, CommandError, Committed};
use chrono::NaiveTime;
use domain::ids::{ServiceId, StylistId, SALON_ID};
use domain::metadata::{EventMetadata, Source};
use domain::salon::{Salon, SalonCommand};
use domain::schedule::{BookingPolicy, DayHours, DayKey, TimeRange, WeeklyHours};
use domain::service::{Service, ServiceCommand, ServiceDetails};
use domain::stylist::{Stylist, StylistCommand};
use domain::values::{Cents, Currency};
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

/// The demo salon's name.
pub const SALON_NAME: &str = "Crown & Coil Locs — Harlem";

#[derive(Debug, thiserror::Error)]
#[error("seeding demo data failed: {0}")]
pub struct SeedError(String);

fn seed_err<E: std::error::Error>(e: CommandError<E>) -> SeedError {
    SeedError(e.to_string())
}

impl CommandBus {
    /// Seeds the demo salon unless the salon is already configured. Returns whether it seeded
    /// and where the last event landed.
    pub async fn seed_demo(&self) -> Result<Option<Committed>, SeedError> {
        let salon = self
            .load_fresh::<Salon>(SALON_ID)
            .await
            .map_err(|e| SeedError(e.to_string()))?;
        if salon.state.configured {
            return Ok(None);
        }
        let meta = EventMetadata::new("system", Source::Cli).with_reason(Some("demo data".into()));
        let configure = SalonCommand::Configure {
            name: SALON_NAME.into(),
            time_zone: chrono_tz::America::New_York,
            currency: Currency::usd(),
            policy: BookingPolicy::default(),
        };
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
        Ok(Some(last))
    }
}
