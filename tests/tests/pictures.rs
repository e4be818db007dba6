//! Pictures (issue 19, part 5) against the real app, on SQLite and PostgreSQL: the salon's
//! logo, a stylist's photo and a service's picture uploaded through the API and the panel,
//! checked by content (a PNG named or sent as a JPEG is taken as the PNG it is: the name never
//! decides), re-encoded without metadata (a phone's EXIF with its GPS position is gone from
//! what is served), served immutable with an ETag and 304, refused cleanly when too large
//! (413), not a picture (415) or damaged (422), behind a write token; shared by a second
//! server on the same PostgreSQL, and kept by a replay of the read models.

use domain::token::Scope;
use image::{ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};
use migrations::Backend;
use projections::replay;
use projections::Projection;
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;
use tests::browser::{client, csrf_in, set_cookie, FormBody};
use tests::{count_events, ScratchDb, TestApp, BACKENDS};

const FIVE_MB: usize = 5 * 1024 * 1024;
const EMAIL: &str = "owner@salon.test";
const PASSWORD: &str = "correct horse battery staple";

/// A photo-like picture.
fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x ^ y) % 256) as u8,
        ])
    })
}

fn png_of(w: u32, h: u32) -> Vec<u8> {
    let img = photo(w, h);
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&img, w, h, image::ExtendedColorType::Rgb8)
        .expect("png");
    out
}

fn jpeg_of(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(
            img,
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("jpeg");
    out
}

/// The GPS marker the phone photo below carries in its EXIF.
const GPS: &[u8] = b"GPS-40.8116N-73.9465W";

/// A phone photo: a JPEG with an EXIF segment holding an orientation and a GPS block.
fn phone_photo() -> Vec<u8> {
    let plain = jpeg_of(&photo(300, 200));
    let mut tiff = b"MM\0*\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 1, 0, 0]); // orientation 1
    tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]); // GPS IFD at 38
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&[0x00, 0x01, 0, 2, 0, 0, 0, 2]);
    tiff.extend_from_slice(b"N\0\0\0");
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(GPS);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend_from_slice(&plain[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

struct Sent {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn put(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    bytes: Vec<u8>,
) -> Sent {
    let mut req = app
        .http
        .put(app.url(path))
        .header("content-type", content_type)
        .body(bytes);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    // A refusal must be an answer, not a reset connection: `expect` fails the test otherwise.
    let r = req
        .send()
        .await
        .expect("an answer, not a broken connection");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    assert!(status < 500, "PUT {path}: {status} {text}");
    Sent {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

fn problem(sent: &Sent, status: u16, kind: &str) {
    assert_eq!(sent.status, status, "{}", sent.body);
    assert_eq!(
        sent.headers["content-type"], "application/problem+json",
        "{}",
        sent.body
    );
    assert_eq!(
        sent.body["type"],
        format!("/problems/{kind}"),
        "{}",
        sent.body
    );
    assert!(
        sent.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        sent.body
    );
}

async fn media(app: &TestApp, url: &str) -> reqwest::Response {
    let r = app.get(url).await;
    assert_eq!(r.status(), 200, "{url}");
    r
}

#[tokio::test]
async fn pictures_through_the_api_on_both_stores() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let write = app.token("pictures", Scope::Write).await;
        let read = app.token("looker", Scope::Read).await;
        let amara = TestApp::stylist_id("Amara Diallo");
        let photo_path = format!("/api/v1/stylists/{amara}/photo");
        let png = png_of(1600, 1200);

        // No token: 401; a read token: 403; nothing written either way.
        let before = count_events(&app).await;
        problem(
            &put(&app, &photo_path, None, "image/png", png.clone()).await,
            401,
            "unauthorized",
        );
        problem(
            &put(&app, &photo_path, Some(&read), "image/png", png.clone()).await,
            403,
            "forbidden",
        );
        let r = app
            .call(Method::DELETE, &photo_path, Some(&read), None, &[])
            .await;
        assert_eq!(r.status, 403);
        assert_eq!(count_events(&app).await, before);

        // A PNG sent as a JPEG (as a browser sends `photo.jpg`): the content decides. It is
        // taken as the PNG it is, shrunk to 1200 px, and stored as a JPEG (it is opaque).
        let sent = put(&app, &photo_path, Some(&write), "image/jpeg", png.clone()).await;
        assert_eq!(sent.status, 200, "{}", sent.body);
        assert_eq!(sent.body["received"], "PNG");
        assert_eq!(sent.body["content_type"], "image/jpeg");
        assert_eq!(
            (sent.body["width"].as_u64(), sent.body["height"].as_u64()),
            (Some(1200), Some(900))
        );
        let url = sent.body["url"].as_str().expect("url").to_string();
        assert!(url.starts_with("/media/") && url.ends_with(".jpg"), "{url}");

        // The stylist's view names it (one and list); the others have none.
        let (_, one) = app.get_json(&format!("/api/v1/stylists/{amara}")).await;
        assert_eq!(one["photo_url"], url.as_str());
        let (_, all) = app.get_json("/api/v1/stylists").await;
        let photos: Vec<&Value> = all["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|s| &s["photo_url"])
            .collect();
        assert_eq!(photos.iter().filter(|p| p.is_string()).count(), 1, "{all}");
        assert!(photos.iter().any(|p| p.is_null()));

        // Served immutable, with its type, an ETag, nosniff; 304 on If-None-Match.
        let r = media(&app, &url).await;
        let h = r.headers().clone();
        assert_eq!(h["content-type"], "image/jpeg");
        assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let etag = h["etag"].to_str().expect("etag").to_string();
        let bytes = r.bytes().await.expect("bytes");
        let sha = url.trim_start_matches("/media/").trim_end_matches(".jpg");
        assert_eq!(etag, format!("\"{sha}\""));
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            sha,
            "the name is the hash of the bytes"
        );
        let decoded = image::load_from_memory(&bytes).expect("a picture");
        assert_eq!((decoded.width(), decoded.height()), (1200, 900));
        let r = app
            .http
            .get(app.url(&url))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), 304);
        assert_eq!(r.headers()["etag"], etag.as_str());
        // A name that is not a stored picture, or under another type's extension: 404.
        for missing in [
            format!("/media/{}.jpg", "0".repeat(64)),
            url.replace(".jpg", ".png"),
            "/media/nope.jpg".to_string(),
        ] {
            assert_eq!(app.get(&missing).await.status(), 404, "{missing}");
        }

        // A phone photo: its EXIF (with the GPS position) is not in what is served.
        let upload = phone_photo();
        assert!(contains(&upload, b"Exif") && contains(&upload, GPS));
        let services = app.service_id("Retwist").await;
        let picture_path = format!("/api/v1/services/{services}/picture");
        let sent = put(&app, &picture_path, Some(&write), "image/jpeg", upload).await;
        assert_eq!(sent.status, 200, "{}", sent.body);
        assert_eq!(sent.body["received"], "JPEG");
        let served = media(&app, sent.body["url"].as_str().expect("url"))
            .await
            .bytes()
            .await
            .expect("bytes");
        assert!(
            !contains(&served, b"Exif"),
            "EXIF left in the served picture"
        );
        assert!(!contains(&served, GPS), "GPS left in the served picture");
        let (_, service) = app.get_json(&format!("/api/v1/services/{services}")).await;
        assert_eq!(service["picture_url"], sent.body["url"]);

        // A logo with a see-through background stays a PNG, at most 512 px.
        let logo = RgbaImage::from_fn(900, 300, |x, _| {
            Rgba([59, 42, 77, if x < 450 { 0 } else { 255 }])
        });
        let mut logo_png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut logo_png)
            .write_image(&logo, 900, 300, image::ExtendedColorType::Rgba8)
            .expect("png");
        let sent = put(
            &app,
            "/api/v1/salon/logo",
            Some(&write),
            "application/octet-stream",
            logo_png,
        )
        .await;
        assert_eq!(sent.status, 200, "{}", sent.body);
        assert_eq!(sent.body["content_type"], "image/png");
        assert_eq!(
            (sent.body["width"].as_u64(), sent.body["height"].as_u64()),
            (Some(512), Some(171))
        );
        let (_, salon) = app.get_json("/api/v1/salon").await;
        assert_eq!(salon["logo_url"], sent.body["url"]);
        assert_eq!(
            media(&app, sent.body["url"].as_str().unwrap())
                .await
                .headers()["content-type"],
            "image/png"
        );

        // Refused cleanly, as problem+json, and nothing written: over 5 MB (413), not a
        // picture (415, also a GIF and a form), a damaged picture (422), a stylist that does not
        // exist (404).
        let before = count_events(&app).await;
        let mut big = png_of(64, 64);
        big.resize(FIVE_MB + 1, 0);
        problem(
            &put(&app, &photo_path, Some(&write), "image/png", big).await,
            413,
            "too-large",
        );
        problem(
            &put(
                &app,
                &photo_path,
                Some(&write),
                "image/jpeg",
                b"just some text, called photo.jpg".to_vec(),
            )
            .await,
            415,
            "unsupported-picture",
        );
        let gif = put(
            &app,
            &photo_path,
            Some(&write),
            "image/gif",
            b"GIF89a\x01\0\x01\0\0\0\0;".to_vec(),
        )
        .await;
        problem(&gif, 415, "unsupported-picture");
        assert!(
            gif.body["detail"].as_str().unwrap().contains("GIF"),
            "{}",
            gif.body
        );
        problem(
            &put(
                &app,
                &photo_path,
                Some(&write),
                "multipart/form-data; boundary=x",
                b"--x--".to_vec(),
            )
            .await,
            415,
            "unsupported-picture",
        );
        let whole = jpeg_of(&photo(200, 200));
        problem(
            &put(
                &app,
                &photo_path,
                Some(&write),
                "image/jpeg",
                whole[..100].to_vec(),
            )
            .await,
            422,
            "unreadable-picture",
        );
        problem(
            &put(&app, &photo_path, Some(&write), "image/jpeg", Vec::new()).await,
            422,
            "empty-picture",
        );
        problem(
            &put(
                &app,
                "/api/v1/stylists/0193b1f0-7a3e-7c4d-9a51-3f0e2b9c8d11/photo",
                Some(&write),
                "image/png",
                png_of(8, 8),
            )
            .await,
            404,
            "not-found",
        );
        assert_eq!(count_events(&app).await, before, "refusals wrote nothing");
        let (_, one) = app.get_json(&format!("/api/v1/stylists/{amara}")).await;
        assert_eq!(
            one["photo_url"],
            url.as_str(),
            "the photo is still the one stored"
        );

        // The same picture again appends nothing; removing shows none, twice is fine.
        let again = put(&app, &photo_path, Some(&write), "image/png", png).await;
        assert_eq!(
            (again.status, again.body["url"].as_str()),
            (200, Some(url.as_str()))
        );
        assert_eq!(count_events(&app).await, before);
        let r = app
            .call(Method::DELETE, &photo_path, Some(&write), None, &[])
            .await;
        assert_eq!(r.status, 204);
        let (_, one) = app.get_json(&format!("/api/v1/stylists/{amara}")).await;
        assert!(one["photo_url"].is_null(), "{one}");
        let r = app
            .call(Method::DELETE, &photo_path, Some(&write), None, &[])
            .await;
        assert_eq!(r.status, 204);
        // The stored bytes stay (older events name them).
        assert_eq!(app.get(&url).await.status(), 200);

        // The audit trail says who set what.
        let events = tests::events_eventually(&app.server.state.read, 1).await;
        let set: Vec<_> = events
            .iter()
            .filter(|e| e.event_type == "PictureSet")
            .collect();
        assert_eq!(set.len(), 3);
        assert!(set.iter().all(|e| e.audit().actor == "token:pictures"));
        app.stop().await;
    }
}

#[tokio::test]
async fn replay_keeps_which_picture_each_subject_shows() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let write = app.token("pictures", Scope::Write).await;
        let keisha = TestApp::stylist_id("Keisha Brown");
        let amara = TestApp::stylist_id("Amara Diallo");
        for (who, side) in [(&keisha, 40), (&amara, 50), (&keisha, 60)] {
            let sent = put(
                &app,
                &format!("/api/v1/stylists/{who}/photo"),
                Some(&write),
                "image/png",
                png_of(side, side),
            )
            .await;
            assert_eq!(sent.status, 200, "{}", sent.body);
        }
        let r = app
            .call(
                Method::DELETE,
                &format!("/api/v1/stylists/{amara}/photo"),
                Some(&write),
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, 204);
        let (_, before) = app.get_json(&format!("/api/v1/stylists/{keisha}")).await;
        assert!(before["photo_url"].is_string());

        let read = app.server.state.read.clone();
        let (_, diffs) = replay::verify(&read, &[Projection::Pictures])
            .await
            .expect("verify");
        assert!(diffs.iter().all(|d| d.same()), "{diffs:?}");
        replay::rebuild(&read, &[Projection::Pictures])
            .await
            .expect("rebuild");
        let (_, after) = app.get_json(&format!("/api/v1/stylists/{keisha}")).await;
        assert_eq!(
            after["photo_url"], before["photo_url"],
            "the last photo set"
        );
        let (_, amara_after) = app.get_json(&format!("/api/v1/stylists/{amara}")).await;
        assert!(amara_after["photo_url"].is_null(), "removed stays removed");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_second_server_on_the_same_postgresql_serves_the_same_picture() {
    let first = TestApp::spawn(Backend::Postgres).await;
    let write = first.token("pictures", Scope::Write).await;
    let amara = TestApp::stylist_id("Amara Diallo");
    let sent = put(
        &first,
        &format!("/api/v1/stylists/{amara}/photo"),
        Some(&write),
        "image/png",
        png_of(300, 300),
    )
    .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let url = sent.body["url"].as_str().expect("url").to_string();
    let bytes = media(&first, &url).await.bytes().await.expect("bytes");

    let second = TestApp::spawn_on(first.db.shared()).await;
    let from_second = media(&second, &url).await.bytes().await.expect("bytes");
    assert_eq!(from_second, bytes);
    let (_, view) = second.get_json(&format!("/api/v1/stylists/{amara}")).await;
    assert_eq!(view["photo_url"], url.as_str());
    second.stop().await;
    first.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The panel

async fn spawn_with_owner(backend: Backend) -> TestApp {
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

/// The owner's session cookie and CSRF token.
async fn log_in(app: &TestApp) -> (String, String) {
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
        .expect("POST login");
    assert_eq!(r.status(), 303);
    let (session, _) = set_cookie(&r, "salon_admin").expect("session");
    let cookie = format!("salon_admin={session}");
    let html = page(app, &cookie, "/admin").await;
    (cookie, csrf_in(&html))
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> String {
    let r = client()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.expect("html")
}

/// A `multipart/form-data` body as a browser sends it: the token, then the file.
fn multipart(
    csrf: Option<&str>,
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "----salonTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    if let Some(csrf) = csrf {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts an upload form; the status and the redirect or page.
async fn upload(app: &TestApp, cookie: &str, path: &str, form: (String, Vec<u8>)) -> (u16, String) {
    let r = client()
        .post(app.url(path))
        .header("cookie", cookie)
        .header("content-type", form.0)
        .body(form.1)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("an answer, not a broken connection");
    let status = r.status().as_u16();
    assert!(status < 500, "POST {path}: {status}");
    if status == 303 {
        return (
            status,
            r.headers()["location"].to_str().expect("ascii").to_string(),
        );
    }
    (status, r.text().await.expect("html"))
}

#[tokio::test]
async fn the_owner_uploads_pictures_in_the_panel_on_both_stores() {
    for backend in BACKENDS {
        let app = spawn_with_owner(backend).await;
        let (cookie, csrf) = log_in(&app).await;
        let amara = TestApp::stylist_id("Amara Diallo");
        let stylist_page = format!("/admin/stylists/{amara}");
        let html = page(&app, &cookie, &stylist_page).await;
        assert!(
            html.contains(r#"enctype="multipart/form-data""#),
            "the upload form"
        );
        assert!(
            html.contains("No photo yet"),
            "a placeholder before any photo"
        );

        // A PNG named photo.jpg: taken by its content.
        let png = png_of(800, 600);
        let (status, to) = upload(
            &app,
            &cookie,
            &format!("{stylist_page}/photo"),
            multipart(Some(&csrf), "photo.jpg", "image/jpeg", &png),
        )
        .await;
        assert_eq!(
            (status, to.as_str()),
            (303, format!("{stylist_page}?done=picture").as_str())
        );
        let html = page(&app, &cookie, &to).await;
        assert!(html.contains("The picture is saved"), "the notice");
        assert!(
            html.contains(r#"<img class="picture-preview" src="/media/"#),
            "the preview"
        );
        assert!(html.contains("Remove photo"));
        let (_, view) = app.get_json(&format!("/api/v1/stylists/{amara}")).await;
        assert!(
            view["photo_url"].as_str().is_some_and(|u| html.contains(u)),
            "{view}"
        );

        // Refused uploads show the page again with the reason, and write nothing.
        let before = count_events(&app).await;
        let mut big = png.clone();
        big.resize(FIVE_MB + 10, 0);
        let (status, html) = upload(
            &app,
            &cookie,
            &format!("{stylist_page}/photo"),
            multipart(Some(&csrf), "huge.png", "image/png", &big),
        )
        .await;
        assert_eq!(status, 413);
        assert!(html.contains("larger than 5 MB"), "{html}");
        assert!(html.contains(r#"role="alert" id="picture-error""#));
        let (status, html) = upload(
            &app,
            &cookie,
            &format!("{stylist_page}/photo"),
            multipart(
                Some(&csrf),
                "notes.jpg",
                "image/jpeg",
                b"these are my notes, not a photo",
            ),
        )
        .await;
        assert_eq!(status, 415);
        assert!(
            html.contains("The file is not a picture; send a JPEG, PNG or WebP picture."),
            "{html}"
        );
        let (status, html) = upload(
            &app,
            &cookie,
            &format!("{stylist_page}/photo"),
            multipart(Some(&csrf), "", "application/octet-stream", b""),
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains("Choose a picture to upload first."), "{html}");
        // Without the token, or with a wrong one: 403, as every panel form.
        let (status, html) = upload(
            &app,
            &cookie,
            &format!("{stylist_page}/photo"),
            multipart(None, "photo.png", "image/png", &png),
        )
        .await;
        assert_eq!(status, 403);
        assert!(html.contains("This form has expired"));
        assert_eq!(
            count_events(&app).await,
            before,
            "refused uploads wrote nothing"
        );

        // Remove it.
        let r = client()
            .post(app.url(&format!("{stylist_page}/photo/remove")))
            .header("cookie", &cookie)
            .form_body(&[("csrf", csrf.as_str())])
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 303);
        let html = page(
            &app,
            &cookie,
            &format!("{stylist_page}?done=picture-removed"),
        )
        .await;
        assert!(html.contains("The picture was removed"));
        assert!(html.contains("No photo yet"));

        // The service's picture and the logo on Settings.
        let service = app.service_id("Retwist").await;
        let (status, to) = upload(
            &app,
            &cookie,
            &format!("/admin/services/{service}/picture"),
            multipart(
                Some(&csrf),
                "twists.webp",
                "image/webp",
                &jpeg_of(&photo(640, 480)),
            ),
        )
        .await;
        assert_eq!(status, 303, "{to}");
        assert!(page(&app, &cookie, &to)
            .await
            .contains(r#"class="picture-preview" src="/media/"#));
        let html = page(&app, &cookie, "/admin/settings").await;
        assert!(html.contains("No logo yet"));
        let (status, to) = upload(
            &app,
            &cookie,
            "/admin/settings/logo",
            multipart(Some(&csrf), "logo.png", "image/png", &png_of(1024, 1024)),
        )
        .await;
        assert_eq!((status, to.as_str()), (303, "/admin/settings?done=picture"));
        let (_, salon) = app.get_json("/api/v1/salon").await;
        let logo = salon["logo_url"].as_str().expect("a logo").to_string();
        assert!(page(&app, &cookie, &to).await.contains(&logo));
        let events = tests::events_eventually(&app.server.state.read, 1).await;
        assert!(events
            .iter()
            .filter(|e| e.event_type.starts_with("Picture"))
            .all(|e| e.audit().actor == format!("owner:{EMAIL}")));
        app.stop().await;
    }
}
