//! Importing a client list (issue 19): the owner uploads a CSV export from Square, Vagaro,
//! Fresha, Booksy or GlossGenius, sees a preview (columns, first rows, what is merged with the
//! clients they have, bad rows with their lines), may choose columns by hand, and confirms.
//! Nothing is written before the confirmation, and then all of it or nothing
//! (`commands::import`).
//!
//! The file travels with the preview (base64 in a hidden field of a multipart form) rather
//! than being kept on the server: nothing personal is stored outside the sealed log, any
//! server can take the confirmation, and a confirmation commits only the preview it was made
//! on (the plan's fingerprint).

use super::view::{self, Chrome, Ctx};
use super::{error_page, Admin, Form, Owner, FORM_LIMIT};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use commands::import::{self, Field, Match, Options, Outcome, Plan};
use domain::metadata::{EventMetadata, Source};
use std::collections::HashMap;

/// Room for a 10 MB file in base64 and the form's other fields.
const UPLOAD_LIMIT: usize = import::MAX_BYTES * 4 / 3 + 1024 * 1024;
/// Rows shown at the top of the preview.
const FIRST_ROWS: usize = 20;
/// Merged, unchanged or skipped rows listed at most.
const MERGES_SHOWN: usize = 500;

pub(super) fn routes() -> Router<Admin> {
    Router::new()
        .route("/admin/import", get(upload_page).post(posted))
        .layer(DefaultBodyLimit::max(UPLOAD_LIMIT))
}

/// The upload form.
#[derive(Template, WebTemplate)]
#[template(path = "admin/import.html")]
struct UploadPage {
    chrome: Chrome,
    countries: Vec<(&'static str, bool)>,
    message: Option<String>,
    done: Option<String>,
}

/// One row of a preview table.
struct RowView {
    line: u64,
    name: String,
    email: String,
    phone: String,
    marketing: &'static str,
    what: String,
    kind: &'static str,
}

/// One field's column choice.
struct MapView {
    key: &'static str,
    label: &'static str,
    /// What was found without a choice, in words.
    found: String,
    /// The owner's choice: "" automatic, "-" none, else a header.
    chosen: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/import_preview.html")]
struct PreviewPage {
    chrome: Chrome,
    file_name: String,
    data: String,
    country: String,
    countries: Vec<(&'static str, bool)>,
    encoding: &'static str,
    delimiter: &'static str,
    headers: Vec<String>,
    ignored: String,
    maps: Vec<MapView>,
    first: Vec<RowView>,
    merges: Vec<RowView>,
    more_merges: usize,
    errors: Vec<(u64, String)>,
    new_clients: usize,
    updated: usize,
    unchanged: usize,
    skipped: usize,
    rows: usize,
    fingerprint: String,
    message: Option<String>,
}

/// A multipart (or, refused, urlencoded) form of a logged-in owner, its CSRF token checked.
struct Upload {
    session: crate::auth::Session,
    fields: HashMap<String, String>,
    file: Option<(String, Vec<u8>)>,
}

fn too_large() -> Response {
    error_page(
        StatusCode::PAYLOAD_TOO_LARGE,
        "That file is larger than 10 MB. Split the client list into smaller files and import each.",
    )
}

impl FromRequest<Admin> for Upload {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Admin) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Owner(session) = Owner::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let multipart = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/form-data"));
        let mut fields = HashMap::new();
        let mut file = None;
        if multipart {
            let req = Request::from_parts(parts, body);
            let mut form = Multipart::from_request(req, state).await.map_err(|_| {
                error_page(
                    StatusCode::BAD_REQUEST,
                    "That upload could not be read. Go back, reload the page and try again.",
                )
            })?;
            loop {
                let field = match form.next_field().await {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return Err(too_large())
                    }
                    Err(_) => {
                        return Err(error_page(
                            StatusCode::BAD_REQUEST,
                            "That upload could not be read to the end. Try again.",
                        ))
                    }
                };
                let name = field.name().unwrap_or_default().to_string();
                let file_name = field.file_name().map(str::to_string);
                let bytes = match field.bytes().await {
                    Ok(b) => b,
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return Err(too_large())
                    }
                    Err(_) => {
                        return Err(error_page(
                            StatusCode::BAD_REQUEST,
                            "That upload could not be read to the end. Try again.",
                        ))
                    }
                };
                if name == "file" {
                    file = Some((file_name.unwrap_or_default(), bytes.to_vec()));
                } else {
                    fields.insert(name, String::from_utf8_lossy(&bytes).trim().to_string());
                }
            }
        } else {
            let bytes = axum::body::to_bytes(body, FORM_LIMIT)
                .await
                .map_err(|_| too_large())?;
            if let Some(form) = Form::parse(&bytes) {
                fields.extend(form.0);
            }
        }
        if !fields
            .get("csrf")
            .is_some_and(|t| crate::auth::same_secret(t, &session.csrf))
        {
            tracing::warn!("panel import refused: bad CSRF token");
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from the panel. Go back, reload the page and try again.",
            ));
        }
        Ok(Self {
            session,
            fields,
            file,
        })
    }
}

fn countries(selected: &str) -> Vec<(&'static str, bool)> {
    import::phone::COUNTRIES
        .iter()
        .map(|c| (c.code, c.code == selected))
        .collect()
}

async fn upload_page(State(admin): State<Admin>, Owner(session): Owner) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let chrome = view::chrome(&admin, &ctx, &session, "import", None).await;
    let country = import::country_for_zone(ctx.tz.name()).code;
    UploadPage {
        chrome,
        countries: countries(country),
        message: None,
        done: None,
    }
    .into_response()
}

async fn upload_again(
    admin: &Admin,
    session: &crate::auth::Session,
    status: StatusCode,
    message: Option<String>,
    done: Option<String>,
) -> Response {
    let ctx = or_page!(Ctx::load(admin).await);
    let chrome = view::chrome(admin, &ctx, session, "import", None).await;
    let country = import::country_for_zone(ctx.tz.name()).code;
    (
        status,
        UploadPage {
            chrome,
            countries: countries(country),
            message,
            done,
        },
    )
        .into_response()
}

fn sentence(s: &str) -> String {
    let mut c = s.trim().chars();
    match c.next() {
        Some(f) => {
            let s = format!("{}{}", f.to_uppercase(), c.as_str());
            if s.ends_with('.') {
                s
            } else {
                format!("{s}.")
            }
        }
        None => String::new(),
    }
}

/// The upload (action `preview`, the default) or the confirmation (action `commit`).
async fn posted(State(admin): State<Admin>, upload: Upload) -> Response {
    let Upload {
        session,
        fields,
        file,
    } = upload;
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    // The file: uploaded now, or carried by the preview.
    let (file_name, bytes) =
        match file {
            Some((name, bytes)) if !bytes.is_empty() => (name, bytes),
            _ if !get("data").is_empty() => {
                match base64::engine::general_purpose::STANDARD.decode(get("data")) {
                    Ok(b) => (get("file_name").to_string(), b),
                    Err(_) => return upload_again(
                        &admin,
                        &session,
                        StatusCode::BAD_REQUEST,
                        Some(
                            "The preview's copy of the file was damaged. Upload the file again."
                                .into(),
                        ),
                        None,
                    )
                    .await,
                }
            }
            _ => {
                return upload_again(
                    &admin,
                    &session,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("Choose a CSV file to upload: the file is empty or was not sent.".into()),
                    None,
                )
                .await
            }
        };
    if bytes.len() > import::MAX_BYTES {
        return too_large();
    }
    let country =
        import::country(get("country")).unwrap_or_else(|| import::phone::default_country());
    let overrides: Vec<(Field, String)> = Field::ALL
        .into_iter()
        .filter_map(|f| match get(&format!("map_{}", f.key())) {
            "" => None,
            "-" => Some((f, String::new())),
            column => Some((f, column.to_string())),
        })
        .collect();
    let options = Options {
        country,
        overrides: overrides.clone(),
    };
    let bus = admin.bus();
    let plan = match import::preview(bus, admin.read(), &bytes, &options).await {
        Ok(p) => p,
        Err(e) if e.is_unavailable() => {
            tracing::warn!(error = %e, "panel import: store unreachable");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The panel cannot reach its database right now. Try again in a moment.",
            );
        }
        Err(import::ImportError::File(e)) => {
            return upload_again(
                &admin,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(sentence(&e.to_string())),
                None,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "panel import: preview failed");
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong reading the salon's clients. It has been logged.",
            );
        }
    };
    let data = if get("data").is_empty() {
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    } else {
        get("data").to_string()
    };
    if get("action") != "commit" {
        return preview_page(&admin, &session, &plan, file_name, data, &overrides, None).await;
    }
    if !plan.errors.is_empty() {
        let m = "Some rows cannot be imported as they are, so nothing was written. Fix them in the file and upload it again.";
        return preview_page(
            &admin,
            &session,
            &plan,
            file_name,
            data,
            &overrides,
            Some(m),
        )
        .await;
    }
    if get("fingerprint") != plan.fingerprint() {
        let m = "The salon's clients changed since that preview (or the columns did), so nothing was written. Here is the preview as things are now.";
        return preview_page(
            &admin,
            &session,
            &plan,
            file_name,
            data,
            &overrides,
            Some(m),
        )
        .await;
    }
    let reason = if file_name.is_empty() {
        "client list import".to_string()
    } else {
        format!(
            "client list import: {}",
            file_name.chars().take(200).collect::<String>()
        )
    };
    let meta = EventMetadata::new(format!("owner:{}", session.subject), Source::Import)
        .with_request_id(uuid::Uuid::new_v4().to_string())
        .with_reason(Some(reason));
    match import::commit(bus, &plan, &meta).await {
        Ok(committed) => {
            if committed.events > 0 {
                admin.settle(committed.position).await;
            }
            tracing::info!(
                events = committed.events,
                new = plan.new_clients(),
                updated = plan.updated_clients(),
                "panel: client list imported"
            );
            let done = format!(
                "Imported: {} new client{}, {} existing client{} completed.",
                plan.new_clients(),
                if plan.new_clients() == 1 { "" } else { "s" },
                plan.updated_clients(),
                if plan.updated_clients() == 1 { "" } else { "s" },
            );
            upload_again(&admin, &session, StatusCode::OK, None, Some(done)).await
        }
        Err(import::ImportError::Changed) => {
            let m = "The salon's clients changed while importing, so nothing was written. Here is the preview as things are now.";
            match import::preview(bus, admin.read(), &bytes, &options).await {
                Ok(plan) => {
                    preview_page(
                        &admin,
                        &session,
                        &plan,
                        file_name,
                        data,
                        &overrides,
                        Some(m),
                    )
                    .await
                }
                Err(_) => error_page(StatusCode::CONFLICT, m),
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "panel import: not stored");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The import could not be saved right now; nothing was written. Try again in a moment.",
            )
        }
    }
}

fn what(o: &Outcome) -> (String, &'static str) {
    let with = |m: &Match, by_phone: bool| {
        let how = if by_phone {
            "same phone"
        } else {
            "same e-mail"
        };
        match m {
            Match::Existing(name) => format!("your client {name} ({how})"),
            Match::Line(l) => format!("line {l} ({how})"),
        }
    };
    match o {
        Outcome::New => ("New client".into(), "new"),
        Outcome::Merged {
            with: m,
            by_phone,
            fills,
        } => (
            format!(
                "Merged into {}: adds {}",
                with(m, *by_phone),
                fills
                    .iter()
                    .map(|f| f.label().to_lowercase())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "merged",
        ),
        Outcome::Unchanged { with: m, by_phone } => (
            format!("Already there as {}: nothing to add", with(m, *by_phone)),
            "unchanged",
        ),
        Outcome::Skipped(why) => (format!("Skipped: {why}"), "skipped"),
    }
}

fn row_view(r: &import::RowPlan) -> RowView {
    let (what, kind) = what(&r.outcome);
    RowView {
        line: r.line,
        name: r.name.clone(),
        email: r.email.clone(),
        phone: r.phone.clone(),
        marketing: match r.marketing {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        },
        what,
        kind,
    }
}

async fn preview_page(
    admin: &Admin,
    session: &crate::auth::Session,
    plan: &Plan,
    file_name: String,
    data: String,
    overrides: &[(Field, String)],
    message: Option<&str>,
) -> Response {
    let ctx = or_page!(Ctx::load(admin).await);
    let chrome = view::chrome(admin, &ctx, session, "import", None).await;
    let s = &plan.sheet;
    let maps = Field::ALL
        .into_iter()
        .map(|f| {
            let found = s
                .mapping
                .iter()
                .find(|(g, _)| *g == f)
                .map(|(_, c)| {
                    c.iter()
                        .map(|h| format!("“{h}”"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                })
                .unwrap_or_else(|| "not imported".into());
            let chosen = match overrides.iter().find(|(g, _)| *g == f) {
                Some((_, c)) if c.is_empty() => "-".to_string(),
                Some((_, c)) => c.clone(),
                None => String::new(),
            };
            MapView {
                key: f.key(),
                label: f.label(),
                found,
                chosen,
            }
        })
        .collect();
    let merges: Vec<RowView> = plan
        .rows
        .iter()
        .skip(FIRST_ROWS)
        .filter(|r| !matches!(r.outcome, Outcome::New))
        .map(row_view)
        .collect();
    let more_merges = merges.len().saturating_sub(MERGES_SHOWN);
    let status = if plan.errors.is_empty() && message.is_none() {
        StatusCode::OK
    } else if plan.errors.is_empty() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = PreviewPage {
        chrome,
        file_name,
        data,
        country: s.country.to_string(),
        countries: countries(s.country),
        encoding: s.encoding,
        delimiter: match s.delimiter {
            ';' => "semicolons",
            '\t' => "tabs",
            _ => "commas",
        },
        headers: s
            .headers
            .iter()
            .filter(|h| !h.trim().is_empty())
            .cloned()
            .collect(),
        ignored: s
            .ignored
            .iter()
            .map(|h| format!("“{h}”"))
            .collect::<Vec<_>>()
            .join(", "),
        maps,
        first: plan.rows.iter().take(FIRST_ROWS).map(row_view).collect(),
        merges: merges.into_iter().take(MERGES_SHOWN).collect(),
        more_merges,
        errors: plan
            .errors
            .iter()
            .map(|e| (e.line, e.reason.clone()))
            .collect(),
        new_clients: plan.new_clients(),
        updated: plan.updated_clients(),
        unchanged: plan.count(|o| matches!(o, Outcome::Unchanged { .. })),
        skipped: plan.count(|o| matches!(o, Outcome::Skipped(_))),
        rows: plan.rows.len() + plan.sheet.errors.len(),
        fingerprint: plan.fingerprint(),
        message: message.map(str::to_string),
    };
    crate::dashboard::no_store((status, page).into_response())
}
