//! Pictures in the panel (issue 19, part 5): the stylist's photo on the stylist's page, the
//! service's picture on the service's page, the salon's logo on Settings. Each shows the
//! current picture, an upload form (`multipart/form-data`, with the session's CSRF token like
//! every panel form) and a remove button.
//!
//! An upload goes through `commands::pictures` exactly as the API's does (content decides, at
//! most 5 MB, re-encoded without metadata). A refused upload shows its page again with the
//! reason beside the form, answered with the status the API would give (413, 415, 422). A body
//! over the limit is read on and thrown away up to [`crate::upload::DRAIN`] so the browser gets
//! that page rather than a reset connection.

use super::team;
use super::view::Errors;
use super::{error_page, metadata, see_other, sentence, Admin, Form, Owner, Posted, FORM_LIMIT};
use crate::auth::Session;
use crate::upload::{content_length, parse_multipart, read_limited, BodyRefused};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use commands::pictures::{PictureFailed, Refused, MAX_UPLOAD};
use domain::ids::{ServiceId, StylistId};
use domain::picture::Subject;

pub(super) fn routes() -> Router<Admin> {
    Router::new()
        .route("/admin/stylists/{id}/photo", post(upload_photo))
        .route("/admin/stylists/{id}/photo/remove", post(remove_photo))
        .route("/admin/services/{id}/picture", post(upload_picture))
        .route("/admin/services/{id}/picture/remove", post(remove_picture))
        .route("/admin/settings/logo", post(upload_logo))
        .route("/admin/settings/logo/remove", post(remove_logo))
}

/// The form field that carries the file.
const FILE_FIELD: &str = "picture";
/// What a picture form may weigh besides the picture (the boundary lines, the token).
const FORM_OVERHEAD: usize = 64 * 1024;

/// What the picture part of a page shows (`admin/picture.html`).
pub struct PictureForm {
    /// "Photo", "Picture", "Logo".
    pub title: &'static str,
    /// "photo", "picture", "logo".
    pub noun: &'static str,
    /// The current picture, if any.
    pub url: Option<String>,
    pub alt: String,
    /// Where the upload form and the remove button post.
    pub action: String,
    pub remove: String,
    pub help: &'static str,
    /// Why the last upload was refused.
    pub error: Option<String>,
}

/// The picture part of `subject`'s page, showing `url` and the error of a refused upload
/// (`errors`' `picture` entry). `name` is the stylist's, service's or salon's name (alt text).
pub fn form(subject: Subject, name: &str, url: Option<String>, errors: &Errors) -> PictureForm {
    let (title, base, help) = match subject {
        Subject::Logo => (
            "Logo",
            "/admin/settings/logo".to_string(),
            "Shown at the top of the booking site, at most 512 pixels a side. A PNG with a see-through background stays see-through.",
        ),
        Subject::Stylist(id) => (
            "Photo",
            format!("/admin/stylists/{id}/photo"),
            "Shown beside their name on the booking site. A square-ish face photo works best; phones' location data is removed.",
        ),
        Subject::Service(id) => (
            "Picture",
            format!("/admin/services/{id}/picture"),
            "Shown on the service's card on the booking site; location and camera data are removed.",
        ),
    };
    PictureForm {
        title,
        noun: subject.noun(),
        url,
        alt: match subject {
            Subject::Logo => format!("{name} logo"),
            Subject::Stylist(_) => format!("Photo of {name}"),
            Subject::Service(_) => name.to_string(),
        },
        remove: format!("{base}/remove"),
        action: base,
        help,
        error: errors.get("picture").map(str::to_string),
    }
}

/// A picture form posted by a logged-in owner: the session, the text fields and the file, its
/// CSRF token checked. Without a session it is refused like any form (redirect, or 401 for
/// htmx); a missing or wrong token is 403 and nothing is done. A body too large to read, or
/// not a form, leaves `file` as the reason (nothing is written then either).
struct Uploaded {
    session: Session,
    form: Form,
    file: Result<Vec<u8>, Refused>,
}

impl FromRequest<Admin> for Uploaded {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Admin) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Owner(session) = Owner::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let multipart = content_type
            .to_ascii_lowercase()
            .starts_with("multipart/form-data");
        let limit = if multipart {
            MAX_UPLOAD + FORM_OVERHEAD
        } else {
            FORM_LIMIT
        };
        let bytes = match read_limited(body, limit, content_length(&parts.headers)).await {
            Ok(bytes) => bytes,
            // Nothing can be checked (not even the token), and nothing will be written: the
            // page says why.
            Err(BodyRefused::TooLarge { bytes }) => {
                return Ok(Self {
                    session,
                    form: Form::default(),
                    file: Err(Refused::TooLarge { bytes }),
                })
            }
            Err(BodyRefused::Broken(_)) => {
                return Err(error_page(
                    StatusCode::BAD_REQUEST,
                    "The upload broke off before it arrived. Try again.",
                ))
            }
        };
        let (form, file) = if multipart {
            match parse_multipart(&content_type, bytes, FILE_FIELD).await {
                Some(m) => (Form(m.fields), m.file.unwrap_or_default()),
                None => {
                    return Err(error_page(
                        StatusCode::BAD_REQUEST,
                        "That form could not be read. Go back, reload the page and try again.",
                    ))
                }
            }
        } else {
            // Not a file upload (an old page, a script): its token is still checked first.
            let form = Form::parse(&axum::body::Bytes::from(bytes)).unwrap_or_default();
            (form, Vec::new())
        };
        if !form
            .get("csrf")
            .is_some_and(|t| crate::auth::same_secret(t, &session.csrf))
        {
            tracing::warn!(path = %parts.uri.path(), "panel upload refused: bad CSRF token");
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from the panel. Go back, reload the page and try again.",
            ));
        }
        Ok(Self {
            session,
            form,
            file: Ok(file),
        })
    }
}

/// The page the picture belongs to, with `message` beside the picture form and `status`.
async fn page_with(
    admin: &Admin,
    session: &Session,
    subject: Subject,
    message: String,
    status: StatusCode,
) -> Response {
    let mut errors = Errors::default();
    errors.add("picture", message);
    let mut page = match subject {
        Subject::Logo => super::settings::settings_page(admin, session, None, None, errors).await,
        Subject::Stylist(id) => {
            team::stylist_page(
                admin,
                session,
                &id.to_string(),
                None,
                team::Sent::default(),
                errors,
            )
            .await
        }
        Subject::Service(id) => {
            team::service_page(admin, session, Some(&id.to_string()), None, None, errors).await
        }
    };
    if page.status().is_client_error() {
        *page.status_mut() = status;
    }
    page
}

/// Where the subject's page is.
fn page_of(subject: Subject) -> String {
    match subject {
        Subject::Logo => "/admin/settings".into(),
        Subject::Stylist(id) => format!("/admin/stylists/{id}"),
        Subject::Service(id) => format!("/admin/services/{id}"),
    }
}

/// A refusal in words for the page, and its status.
fn refusal(e: PictureFailed) -> (String, StatusCode) {
    match e {
        PictureFailed::Refused(r) => {
            let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let message = match r {
                Refused::Empty => "Choose a picture to upload first.".to_string(),
                other => sentence(&other.to_string()),
            };
            (message, status)
        }
        PictureFailed::NoSuchSubject(what) => {
            (format!("There is no such {what}."), StatusCode::NOT_FOUND)
        }
        PictureFailed::Command(commands::CommandError::Rejected(e)) => {
            (sentence(&e.to_string()), StatusCode::UNPROCESSABLE_ENTITY)
        }
        PictureFailed::Command(e) => {
            tracing::warn!(error = %e, "panel: picture not stored");
            (
                "The picture could not be saved right now; nothing was changed. Try again in a moment."
                    .into(),
                StatusCode::SERVICE_UNAVAILABLE,
            )
        }
    }
}

async fn upload(admin: &Admin, subject: Subject, up: Uploaded) -> Response {
    let Uploaded {
        session,
        form,
        file,
    } = up;
    let result = match file {
        Err(refused) => Err(PictureFailed::Refused(refused)),
        Ok(bytes) => {
            admin
                .bus()
                .set_picture(subject, bytes, &metadata(&session, &form))
                .await
        }
    };
    match result {
        Ok(saved) => {
            if saved.committed.events > 0 {
                admin.settle(saved.committed.position).await;
            }
            see_other(&format!("{}?done=picture", page_of(subject)))
        }
        Err(e) => {
            let (message, status) = refusal(e);
            if status == StatusCode::NOT_FOUND {
                return error_page(status, &message);
            }
            page_with(admin, &session, subject, message, status).await
        }
    }
}

async fn remove(admin: &Admin, subject: Subject, posted: Posted) -> Response {
    let Posted { session, form } = posted;
    match admin
        .bus()
        .remove_picture(subject, &metadata(&session, &form))
        .await
    {
        Ok(committed) => {
            if committed.events > 0 {
                admin.settle(committed.position).await;
            }
            let code = if committed.events > 0 {
                "picture-removed"
            } else {
                "unchanged"
            };
            see_other(&format!("{}?done={code}", page_of(subject)))
        }
        Err(e) => {
            let (message, status) = refusal(e);
            if status == StatusCode::NOT_FOUND {
                return error_page(status, &message);
            }
            page_with(admin, &session, subject, message, status).await
        }
    }
}

fn stylist(id: &str) -> Result<Subject, Response> {
    StylistId::parse(id)
        .map(Subject::Stylist)
        .map_err(|_| error_page(StatusCode::NOT_FOUND, "There is no such stylist."))
}

fn service(id: &str) -> Result<Subject, Response> {
    ServiceId::parse(id)
        .map(Subject::Service)
        .map_err(|_| error_page(StatusCode::NOT_FOUND, "There is no such service."))
}

async fn upload_photo(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    up: Uploaded,
) -> Response {
    match stylist(&id) {
        Ok(subject) => upload(&admin, subject, up).await,
        Err(r) => r,
    }
}

async fn remove_photo(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    match stylist(&id) {
        Ok(subject) => remove(&admin, subject, posted).await,
        Err(r) => r,
    }
}

async fn upload_picture(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    up: Uploaded,
) -> Response {
    match service(&id) {
        Ok(subject) => upload(&admin, subject, up).await,
        Err(r) => r,
    }
}

async fn remove_picture(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    match service(&id) {
        Ok(subject) => remove(&admin, subject, posted).await,
        Err(r) => r,
    }
}

async fn upload_logo(State(admin): State<Admin>, up: Uploaded) -> Response {
    upload(&admin, Subject::Logo, up).await
}

async fn remove_logo(State(admin): State<Admin>, posted: Posted) -> Response {
    remove(&admin, Subject::Logo, posted).await
}
