//! The demo salon's past visits and reviews (what `salon serve` seeds into an empty store), on
//! SQLite and PostgreSQL: every visit completed through the Booking aggregate, its review
//! approved through the Review aggregate with the stable ids the site's fallback data names,
//! the public list showing them without contact details, and nobody emailed about them.

use commands::demo::{self, VISITS};
use commands::reactors::mail::MailSettings;
use domain::ids::ReviewId;
use domain::token::Scope;
use tests::{ScratchDb, TestApp, BACKENDS};

#[tokio::test]
async fn the_demo_salon_comes_with_completed_visits_and_approved_reviews() {
    for backend in BACKENDS {
        let port = tests::free_port();
        let maildir =
            std::env::temp_dir().join(format!("salon-demo-mail-{}", uuid::Uuid::new_v4().simple()));
        let db = ScratchDb::new(backend).await;
        let app = TestApp::spawn_with(db, move |config| {
            config.demo_visits = true;
            config.mail = MailSettings {
                smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
                from: "Salon <bookings@salon.test>".into(),
                owners: vec![],
                public_url: "http://site.test".into(),
            };
            config.run_reactors = false;
        })
        .await;
        let sink = tests::smtp_sink(port, &maildir).await;
        let token = app.token("demo", Scope::Read).await;

        // Every visit is a completed booking of the past, under its stable id.
        let answer = app
            .call(
                reqwest::Method::GET,
                "/api/v1/bookings?status=completed&limit=100",
                Some(&token),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let bookings = answer.body;
        let completed: Vec<&str> = bookings["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap())
            .collect();
        assert_eq!(completed.len(), VISITS.len(), "{bookings}");
        let now = chrono::Utc::now();
        for b in bookings["results"].as_array().unwrap() {
            let start: chrono::DateTime<chrono::Utc> =
                b["start"].as_str().unwrap().parse().unwrap();
            assert!(start < now, "{b}");
        }
        for v in VISITS {
            assert!(completed.contains(&demo::visit_id(v.key).to_string().as_str()));
        }

        // The public list: the reviewed visits, approved, with replies, no contact details.
        let (status, list) = app.get_json("/api/v1/reviews?limit=100").await;
        assert_eq!(status, 200);
        let public = list["results"].as_array().unwrap();
        let reviewed: Vec<_> = VISITS.iter().filter(|v| v.review.is_some()).collect();
        assert_eq!(public.len(), reviewed.len(), "{list}");
        for v in reviewed {
            let id = ReviewId::for_booking(demo::visit_id(v.key)).to_string();
            let r = public
                .iter()
                .find(|r| r["id"] == id.as_str())
                .unwrap_or_else(|| panic!("review of {} missing: {list}", v.key));
            let (rating, text, name, reply) = v.review.unwrap();
            assert_eq!(r["status"], "approved");
            assert_eq!(r["rating"], i64::from(rating));
            assert_eq!(r["text"], text);
            assert_eq!(r["display_name"], name);
            assert_eq!(r["stylist"], demo::stylist_id(v.stylist).to_string());
            assert_eq!(r["service"], demo::service_id(v.service).to_string());
            if reply.is_empty() {
                assert!(r["reply"].is_null(), "{r}");
            } else {
                assert_eq!(r["reply"], reply);
            }
            for k in ["booking", "client", "client_name", "client_email"] {
                assert!(r.get(k).is_none(), "{k} in {r}");
            }
        }

        // The made-up visits email nobody (no confirmation, no "how was it?").
        tests::reactor_round(&app).await;
        assert!(sink.messages().is_empty(), "{:#?}", sink.messages());
        let _ = std::fs::remove_dir_all(&maildir);
        app.stop().await;
    }
}
