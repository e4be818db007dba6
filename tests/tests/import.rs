//! Importing a client list (issue 19, part 6) on SQLite and PostgreSQL: a Square export with
//! duplicates (in the file and of a client the salon has), a Vagaro export in Windows-1252, a
//! bad e-mail (its line, and nothing written), the same file twice (nothing the second time),
//! the audit trail (source `import`); and the panel's upload, preview and confirmation over
//! HTTP with a session and its CSRF token.

use commands::import::{self, ImportError, Options, Outcome};
use domain::metadata::{EventMetadata, Source};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use tests::browser::{client, csrf_in, set_cookie, FormBody};
use tests::{count_events, ScratchDb, TestApp, BACKENDS};

const EMAIL: &str = "owner@salon.test";
const PASSWORD: &str = "correct horse battery staple";

/// Square's customer export: First/Last Name, Email Address, Phone Number, Memo, Email
/// Subscription Status. Line 3 repeats line 2 (another case of the e-mail, with a memo), line 4
/// is Ada again by phone only, line 5 is the salon's own client Grace.
const SQUARE: &str = "Reference ID,First Name,Last Name,Email Address,Phone Number,Memo,Email Subscription Status,Creation Source\r\n\
sq-1,Ada,Lovelace,ada@example.com,(212) 555-0142,,Subscribed,Appointments\r\n\
sq-2,Ada,L.,ADA@Example.com,,Prefers mornings,,Appointments\r\n\
sq-3,,,,212-555-0142,Allergic to lavender,,Directory\r\n\
sq-4,Grace,Hopper,grace@example.com,+1 212 555 0199,From Square,Unsubscribed,Directory\r\n\
sq-5,Katherine,Johnson,katherine@example.com,,,Unknown,Directory\r\n";

/// Vagaro's export, saved by Excel on Windows: Windows-1252 and semicolons ("Renée" has 0xE9).
fn vagaro_1252() -> Vec<u8> {
    let mut bytes =
        b"First Name;Last Name;Email;Cell Phone;Home Phone;Notes;Email Promotions\r\n".to_vec();
    bytes.extend(b"Ren\xe9e;Dupr\xe9;renee@example.com;;212 555 0177;Caf\xe9 au lait;Yes\r\n");
    bytes
}

async fn spawn(backend: migrations::Backend) -> TestApp {
    let db = ScratchDb::new(backend).await;
    TestApp::spawn_with(db, |c| {
        c.admin_account = Some(salon::app::AdminAccount {
            email: EMAIL.into(),
            name: "Kofi".into(),
            password: PASSWORD.into(),
        });
    })
    .await
}

/// The client with this e-mail as the API shows it, once the read models have it as `want`.
async fn client_eventually(
    app: &TestApp,
    token: &str,
    email: &str,
    want: impl Fn(&Value) -> bool,
) -> Value {
    let id = domain::ids::ClientId::for_email(&domain::values::Email::parse(email).unwrap());
    let mut last = Value::Null;
    for _ in 0..200 {
        let a = app
            .call(
                Method::GET,
                &format!("/api/v1/clients/{id}"),
                Some(token),
                None,
                &[],
            )
            .await;
        if a.status == 200 && want(&a.body) {
            return a.body;
        }
        last = a.body;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("client {email} never showed as expected; last seen: {last}");
}

/// The `Client` events the imports wrote: type and audit metadata.
async fn import_events(app: &TestApp) -> Vec<(String, Value)> {
    projections::log::export_page(&app.server.state.read, 0, 10_000_000)
        .await
        .expect("read the log")
        .into_iter()
        .filter(|e| e.aggregate_type == "Client" && e.metadata["source"] == "import")
        .map(|e| (e.event_type, e.metadata))
        .collect()
}

async fn imports_merge_duplicates_refuse_bad_rows_and_run_twice_on(backend: migrations::Backend) {
    let app = spawn(backend).await;
    let token = app.token("import-test", domain::token::Scope::Write).await;
    // The salon already knows Grace, with a note of the owner's and no phone.
    let a = app
        .call(
            Method::POST,
            "/api/v1/clients",
            Some(&token),
            Some(&json!({"name": "Grace Hopper", "email": "grace@example.com", "notes": "Owner's note"})),
            &[],
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    client_eventually(&app, &token, "grace@example.com", |_| true).await;
    let state = &app.server.state;
    let meta = EventMetadata::new("cli", Source::Import).with_reason(Some("test import".into()));
    let options = Options::default();

    // A bad e-mail: reported with its line, and nothing is written.
    let bad = "Name,Email,Phone\nAda Lovelace,ada@example.com,2125550142\nBob,bob@example,\n";
    let plan = import::preview(&state.bus, &state.read, bad.as_bytes(), &options)
        .await
        .expect("preview");
    assert_eq!(plan.errors.len(), 1, "{:?}", plan.errors);
    assert_eq!(plan.errors[0].line, 3);
    assert!(
        plan.errors[0].reason.contains("bob@example"),
        "{}",
        plan.errors[0]
    );
    let before = count_events(&app).await;
    let refused = import::commit(&state.bus, &plan, &meta).await;
    assert!(
        matches!(refused, Err(ImportError::BadRows(1))),
        "{refused:?}"
    );
    assert_eq!(
        count_events(&app).await,
        before,
        "a bad row writes nothing at all"
    );

    // Square, with duplicates in the file and against Grace.
    let plan = import::preview(&state.bus, &state.read, SQUARE.as_bytes(), &options)
        .await
        .expect("preview");
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let outcomes: Vec<&Outcome> = plan.rows.iter().map(|r| &r.outcome).collect();
    assert_eq!(outcomes[0], &Outcome::New);
    assert!(
        matches!(
            outcomes[1],
            Outcome::Merged {
                by_phone: false,
                ..
            }
        ),
        "{:?}",
        outcomes[1]
    );
    // Ada by phone only: her memo does not replace the first one.
    assert!(
        matches!(outcomes[2], Outcome::Unchanged { by_phone: true, .. }),
        "{:?}",
        outcomes[2]
    );
    assert!(
        matches!(
            outcomes[3],
            Outcome::Merged {
                with: import::Match::Existing(_),
                ..
            }
        ),
        "{:?}",
        outcomes[3]
    );
    assert_eq!(outcomes[4], &Outcome::New);
    assert_eq!((plan.new_clients(), plan.updated_clients()), (2, 1));
    let committed = import::commit(&state.bus, &plan, &meta)
        .await
        .expect("commit");
    assert_eq!(committed.events, 3, "one event per client");

    let ada = client_eventually(&app, &token, "ada@example.com", |_| true).await;
    assert_eq!(ada["name"], "Ada Lovelace");
    assert_eq!(ada["phone"], "+12125550142");
    assert_eq!(
        ada["notes"], "Prefers mornings",
        "the first memo in the file wins"
    );
    assert_eq!(ada["registered"], true);
    let grace =
        client_eventually(&app, &token, "grace@example.com", |c| !c["phone"].is_null()).await;
    assert_eq!(grace["phone"], "+12125550199", "an empty field is filled");
    assert_eq!(
        grace["notes"], "Owner's note",
        "what the owner wrote is kept"
    );
    assert_eq!(grace["name"], "Grace Hopper");

    // The audit trail: source import, actor cli, the reason.
    let events = import_events(&app).await;
    assert_eq!(events.len(), 3);
    for (_, m) in &events {
        assert_eq!(m["actor"], "cli");
        assert_eq!(m["reason"], "test import");
    }
    // The audit log an integrator reads filters on the new source.
    let mut audit = Value::Null;
    for _ in 0..200 {
        audit = app
            .call(
                Method::GET,
                "/api/v1/audit?source=import",
                Some(&token),
                None,
                &[],
            )
            .await
            .body;
        if audit["count"] == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(audit["count"], 3, "{audit}");
    assert_eq!(audit["results"][0]["source"], "import", "{audit}");
    // The consent is in the client's (sealed) details: the aggregate reads it back.
    let ada_id =
        domain::ids::ClientId::for_email(&domain::values::Email::parse("ada@example.com").unwrap());
    let loaded = state
        .bus
        .load_fresh::<domain::client::Client>(&ada_id.to_string())
        .await
        .expect("load");
    assert_eq!(loaded.state.details.unwrap().marketing_consent, Some(true));

    // The same file again adds nothing.
    let again = import::preview(&state.bus, &state.read, SQUARE.as_bytes(), &options)
        .await
        .expect("preview");
    assert!(again.writes.is_empty(), "{:?}", again.writes);
    let before = count_events(&app).await;
    let c = import::commit(&state.bus, &again, &meta)
        .await
        .expect("commit");
    assert_eq!(c.events, 0);
    assert_eq!(count_events(&app).await, before);

    // Vagaro, saved as Windows-1252 with semicolons: the home phone stands in for the cell.
    let plan = import::preview(&state.bus, &state.read, &vagaro_1252(), &options)
        .await
        .expect("preview");
    assert_eq!(plan.sheet.encoding, "Windows-1252");
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    import::commit(&state.bus, &plan, &meta)
        .await
        .expect("commit");
    let renee = client_eventually(&app, &token, "renee@example.com", |_| true).await;
    assert_eq!(renee["name"], "Renée Dupré");
    assert_eq!(renee["notes"], "Café au lait");
    assert_eq!(renee["phone"], "+12125550177");

    // A plan made before someone else changed a client commits nothing.
    let stale = import::preview(
        &state.bus,
        &state.read,
        b"Name,Email,Phone\nKatherine Johnson,katherine@example.com,2125550111\n",
        &options,
    )
    .await
    .expect("preview");
    let a = app
        .call(
            Method::PATCH,
            &format!(
                "/api/v1/clients/{}",
                domain::ids::ClientId::for_email(
                    &domain::values::Email::parse("katherine@example.com").unwrap()
                )
            ),
            Some(&token),
            Some(&json!({"notes": "Changed meanwhile"})),
            &[],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let before = count_events(&app).await;
    assert!(matches!(
        import::commit(&state.bus, &stale, &meta).await,
        Err(ImportError::Changed)
    ));
    assert_eq!(count_events(&app).await, before);
    app.stop().await;
}

#[tokio::test]
async fn imports_merge_duplicates_refuse_bad_rows_and_run_twice() {
    for backend in BACKENDS {
        imports_merge_duplicates_refuse_bad_rows_and_run_twice_on(backend).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The panel

struct Owner {
    cookie: String,
    csrf: String,
}

async fn log_in(app: &TestApp) -> Owner {
    let http = client();
    let r = http.get(app.url("/admin/login")).send().await.expect("GET");
    let (login_cookie, _) = set_cookie(&r, "salon_admin_login").expect("login cookie");
    let csrf = csrf_in(&r.text().await.expect("html"));
    let r = http
        .post(app.url("/admin/login"))
        .header("cookie", format!("salon_admin_login={login_cookie}"))
        .form_body(&[("email", EMAIL), ("password", PASSWORD), ("csrf", &csrf)])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 303);
    let (session, _) = set_cookie(&r, "salon_admin").expect("session");
    let cookie = format!("salon_admin={session}");
    let html = http
        .get(app.url("/admin/import"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    assert!(html.contains("Upload a client list"), "{html}");
    Owner {
        csrf: csrf_in(&html),
        cookie,
    }
}

/// A multipart body as a browser sends it: text fields, and the file when there is one.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = format!("----salon{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_multipart(
    app: &TestApp,
    owner: &Owner,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> (u16, String) {
    let (ty, body) = multipart(fields, file);
    let r = client()
        .post(app.url("/admin/import"))
        .header("cookie", &owner.cookie)
        .header("content-type", ty)
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = r.status().as_u16();
    assert!(status < 500, "POST /admin/import: {status}");
    (status, r.text().await.expect("html"))
}

/// The value of hidden field `name` in the form with id `form` of `html`.
fn hidden(html: &str, form: &str, name: &str) -> String {
    let at = html.find(&format!("id=\"{form}\"")).expect("the form");
    let html = &html[at..];
    let key = format!("name=\"{name}\" value=\"");
    let start = html.find(&key).expect("the field") + key.len();
    let end = start + html[start..].find('"').expect("end of value");
    html[start..end]
        .replace("&#43;", "+")
        .replace("&#x2b;", "+")
        .replace("&#61;", "=")
        .replace("&#x3d;", "=")
        .replace("&#47;", "/")
        .replace("&#x2f;", "/")
}

async fn panel_upload_preview_confirm_on(backend: migrations::Backend) {
    let app = spawn(backend).await;
    let token = app.token("panel-import", domain::token::Scope::Read).await;
    let owner = log_in(&app).await;
    let csrf = owner.csrf.clone();

    // Without the token: refused, nothing read or written.
    let before = count_events(&app).await;
    let (status, html) = post_multipart(
        &app,
        &owner,
        &[("action", "preview")],
        Some(("clients.csv", SQUARE.as_bytes())),
    )
    .await;
    assert_eq!(status, 403, "{html}");

    // Not a CSV, an empty file, no e-mail column: said in words on the upload page.
    for (bytes, words) in [
        (&b"PK\x03\x04spreadsheet"[..], "save or export it as CSV"),
        (&b""[..], "Choose a CSV file"),
        (
            &b"Name,Phone\nAda,2125550142\n"[..],
            "No e-mail column was found",
        ),
    ] {
        let (status, html) =
            post_multipart(&app, &owner, &[("csrf", &csrf)], Some(("x.csv", bytes))).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains(words), "{words}: {html}");
    }

    // Over 10 MB: refused in words.
    let big = vec![b'a'; commands::import::MAX_BYTES + 1];
    let (status, html) =
        post_multipart(&app, &owner, &[("csrf", &csrf)], Some(("big.csv", &big))).await;
    assert_eq!(status, 413);
    assert!(html.contains("larger than 10 MB"), "{html}");
    assert_eq!(
        count_events(&app).await,
        before,
        "refused uploads wrote nothing"
    );

    // A bad e-mail: the preview lists its line and offers no confirmation.
    let (status, html) = post_multipart(
        &app,
        &owner,
        &[("csrf", &csrf)],
        Some((
            "bad.csv",
            b"Name,Email\nAda,ada@example.com\nBob,bob@@example.com\n",
        )),
    )
    .await;
    assert_eq!(status, 422, "bad rows: the preview says so");
    assert!(
        html.contains("Rows that cannot be imported") && html.contains("<td>3</td>"),
        "{html}"
    );
    assert!(
        !html.contains("id=\"confirm\""),
        "no confirmation with bad rows"
    );

    // Square: the preview shows the columns, the rows, the merges; nothing written yet.
    let (status, html) = post_multipart(
        &app,
        &owner,
        &[("csrf", &csrf)],
        Some(("square.csv", SQUARE.as_bytes())),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Email Subscription Status"),
        "the mapping is shown"
    );
    assert!(
        html.contains("Reference ID"),
        "the ignored columns are listed"
    );
    assert!(
        html.contains("Merged into line 2 (same e-mail): adds notes"),
        "{html}"
    );
    assert!(
        html.contains("Already there as line 2 (same phone)"),
        "{html}"
    );
    assert!(html.contains("<strong>3</strong> new clients"), "{html}");
    assert_eq!(count_events(&app).await, before, "a preview writes nothing");

    // Columns chosen by hand: without the memo column, line 3 adds nothing to Ada.
    let data = hidden(&html, "confirm", "data");
    let (status, again) = post_multipart(
        &app,
        &owner,
        &[
            ("csrf", &csrf),
            ("data", &data),
            ("file_name", "square.csv"),
            ("map_notes", "-"),
            ("country", "US"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert!(
        again.contains("<option value=\"-\" selected>Not imported</option>"),
        "{again}"
    );
    assert!(
        again.contains("Already there as line 2 (same e-mail)"),
        "{again}"
    );
    assert!(
        again.contains("“Memo”"),
        "the memo is listed as not imported: {again}"
    );
    assert_eq!(count_events(&app).await, before);

    // Confirmed: written, with the owner as the actor.
    let fields: Vec<(String, String)> = ["fingerprint", "data", "file_name", "country"]
        .iter()
        .map(|k| (k.to_string(), hidden(&html, "confirm", k)))
        .collect();
    let mut form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    form.push(("csrf", &csrf));
    form.push(("action", "commit"));
    let (status, done) = post_multipart(&app, &owner, &form, None).await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("Imported: 3 new clients"), "{done}");
    let events = import_events(&app).await;
    assert_eq!(events.len(), 3);
    assert!(events
        .iter()
        .all(|(t, m)| t == "ClientRegistered" && m["actor"] == format!("owner:{EMAIL}")));
    let ada = client_eventually(&app, &token, "ada@example.com", |_| true).await;
    assert_eq!(ada["notes"], "Prefers mornings");

    // The same confirmation again (a reload): nothing more is written.
    let (status, html) = post_multipart(&app, &owner, &form, None).await;
    assert!(status == 409 || status == 200, "{status}");
    assert!(
        html.contains("nothing was written") || html.contains("Imported: 0"),
        "{html}"
    );
    assert_eq!(import_events(&app).await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn panel_upload_preview_and_confirm() {
    for backend in BACKENDS {
        panel_upload_preview_confirm_on(backend).await;
    }
}

/// A list longer than one SQLite statement and one key-ring chunk: written whole, in one
/// append, and read back by the projections.
async fn a_long_list_imports_whole_on(backend: migrations::Backend) {
    let app = spawn(backend).await;
    let token = app.token("long-import", domain::token::Scope::Read).await;
    let mut csv = String::from("Full Name\tEmail\tPhone\n");
    for i in 0..600 {
        csv.push_str(&format!(
            "Client {i}\tclient{i}@example.com\t212555{i:04}\n"
        ));
    }
    let state = &app.server.state;
    let plan = import::preview(&state.bus, &state.read, csv.as_bytes(), &Options::default())
        .await
        .expect("preview");
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(plan.sheet.delimiter, '\t');
    let meta = EventMetadata::new("cli", Source::Import);
    let started = std::time::Instant::now();
    let committed = import::commit(&state.bus, &plan, &meta)
        .await
        .expect("commit");
    assert_eq!(committed.events, 600);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{backend:?}: 600 clients took {:?}",
        started.elapsed()
    );
    let last = client_eventually(&app, &token, "client599@example.com", |_| true).await;
    assert_eq!(last["phone"], "+12125550599");
    app.stop().await;
}

#[tokio::test]
async fn a_long_list_imports_whole() {
    for backend in BACKENDS {
        a_long_list_imports_whole_on(backend).await;
    }
}
