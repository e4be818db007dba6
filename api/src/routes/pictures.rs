//! Pictures (issue 19, part 5): the salon's logo, each stylist's photo, each service's picture.
//!
//! - `PUT /api/v1/salon/logo`, `PUT /api/v1/stylists/{id}/photo`,
//!   `PUT /api/v1/services/{id}/picture` (write token): the body is the picture's bytes, JPEG,
//!   PNG or WebP, at most 5 MiB. What it is is read from its bytes: the `Content-Type` sent is
//!   not what decides (a PNG sent as `image/jpeg`, or uploaded from a file named `.jpg`, is
//!   taken as the PNG it is). It is re-encoded without any of the original's metadata (see
//!   `commands::pictures`) and the answer says what is stored. 413 over 5 MiB, 415 for what
//!   is not a JPEG, PNG or WebP picture (GIF, HEIC, SVG, text…), 422 for a damaged picture or
//!   one too large in pixels; all problem+json.
//! - `DELETE` of each (write token): the subject shows no picture; 204 whether or not it had
//!   one.
//! - `GET /media/{sha256}.{ext}` (public): a stored picture. Its name is the hash of its bytes,
//!   so it never changes: `Cache-Control: public, max-age=31536000, immutable`, a strong `ETag`
//!   (the hash), 304 on `If-None-Match`, and `X-Content-Type-Options: nosniff`.
//!
//! The views show the current picture as `logo_url` (the salon), `photo_url` (a stylist) and
//! `picture_url` (a service), null when none. A picture is a record of its own: changing it
//! does not move the stylist's or service's `ETag`.

use crate::extract::{ApiPath, Integrator, RequestId};
use crate::problem::Problem;
use crate::routes::calendars::{metadata, reason};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use commands::pictures::{PictureFailed, Refused, MAX_UPLOAD};
use domain::ids::{ServiceId, StylistId};
use domain::picture::Subject;
use projections::Projection;
use serde::Serialize;
use web::upload::{content_length, read_limited, BodyRefused};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/salon/logo", put(put_logo).delete(delete_logo))
        .route(
            "/api/v1/stylists/{id}/photo",
            put(put_photo).delete(delete_photo),
        )
        .route(
            "/api/v1/services/{id}/picture",
            put(put_picture).delete(delete_picture),
        )
        .route("/media/{file}", get(media))
}

/// A picture as stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Picture, example = json!({
    "url": "/media/3f0a5e1c9b7d4e2a8c6b0f1e3d5a7c9b2e4f6a8c0d1b3e5f7a9c2d4e6f8a0b1c.jpg",
    "content_type": "image/jpeg", "width": 1200, "height": 800, "received": "PNG"
}))]
pub struct PictureView {
    /// Where it is served (on this server), for good: the name is the hash of its bytes.
    pub url: String,
    /// `image/jpeg`, or `image/png` for a picture with transparent pixels.
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    /// What the upload was, by its content: `JPEG`, `PNG` or `WebP`.
    pub received: String,
}

/// A picture's bytes (for the document: a binary body).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct PictureBytes(#[allow(dead_code)] Vec<u8>);

fn refused(r: Refused) -> Problem {
    let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    let title = match r {
        Refused::TooLarge { .. } => "Picture too large",
        Refused::Unsupported { .. } => "Not a JPEG, PNG or WebP picture",
        Refused::Empty => "No picture sent",
        Refused::Unreadable { .. } => "The picture cannot be read",
        Refused::TooManyPixels { .. } => "The picture is too large in pixels",
    };
    let mut detail = r.to_string();
    if let Some(first) = detail.get(..1) {
        detail = format!("{}{}.", first.to_uppercase(), &detail[1..]);
    }
    Problem::new(status, r.slug(), title, detail)
}

fn failed(e: PictureFailed) -> Problem {
    match e {
        PictureFailed::Refused(r) => refused(r),
        PictureFailed::NoSuchSubject(what) => Problem::not_found(format!("No such {what}.")),
        PictureFailed::Command(e) => crate::etag::bus_problem(e, |e| {
            Problem::validation(vec![match e {
                domain::picture::PictureError::Invalid(p) => p.into(),
            }])
        }),
    }
}

/// Reads the upload (see [`web::upload`]), then stores and shows it.
async fn set(
    state: &AppState,
    who: &Integrator,
    request_id: String,
    subject: Subject,
    request: Request,
) -> Result<Response, Problem> {
    let headers = request.headers().clone();
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        })
    {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-picture",
            "Send the picture itself",
            "Send the picture's bytes as the body (Content-Type image/jpeg, image/png or \
             image/webp), not a form.",
        ));
    }
    let bytes = read_limited(request.into_body(), MAX_UPLOAD, content_length(&headers))
        .await
        .map_err(|e| match e {
            BodyRefused::TooLarge { bytes } => refused(Refused::TooLarge { bytes }),
            BodyRefused::Broken(why) => {
                Problem::bad_request(format!("The body could not be read: {why}"))
            }
        })?;
    let meta = metadata(who, request_id, reason(&headers));
    let saved = state
        .bus
        .set_picture(subject, bytes, &meta)
        .await
        .map_err(failed)?;
    crate::settle(
        state,
        &[Projection::Pictures, Projection::Catalog],
        saved.committed.position,
    )
    .await;
    let view = PictureView {
        url: projections::queries::media_url(&saved.picture.file()),
        content_type: saved.picture.content_type,
        width: saved.picture.width,
        height: saved.picture.height,
        received: saved.received.to_string(),
    };
    Ok(Json(view).into_response())
}

async fn remove(
    state: &AppState,
    who: &Integrator,
    request_id: String,
    headers: &HeaderMap,
    subject: Subject,
) -> Result<Response, Problem> {
    let meta = metadata(who, request_id, reason(headers));
    let committed = state
        .bus
        .remove_picture(subject, &meta)
        .await
        .map_err(failed)?;
    if committed.events > 0 {
        crate::settle(state, &[Projection::Pictures], committed.position).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn stylist(id: &str) -> Result<Subject, Problem> {
    StylistId::parse(id)
        .map(Subject::Stylist)
        .map_err(|_| Problem::not_found("No such stylist."))
}

fn service(id: &str) -> Result<Subject, Problem> {
    ServiceId::parse(id)
        .map(Subject::Service)
        .map_err(|_| Problem::not_found("No such service."))
}

/// Sets the salon's logo. The body is the picture (JPEG, PNG or WebP, at most 5 MiB), told
/// apart by its content; stored at most 512 pixels a side, without the original's metadata.
#[utoipa::path(
    put,
    path = "/api/v1/salon/logo",
    operation_id = "set_salon_logo",
    tag = "pictures",
    params(("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    request_body(description = "The picture's bytes: JPEG, PNG or WebP, at most 5 MiB. What it is is read from its content; `Content-Type` does not decide.",
        content(
            (PictureBytes = "image/jpeg"),
            (PictureBytes = "image/png"),
            (PictureBytes = "image/webp"),
            (PictureBytes = "application/octet-stream"),
        )),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored and shown", body = PictureView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 413, response = crate::openapi::PictureTooLarge),
        (status = 415, response = crate::openapi::NotAPicture),
        (status = 422, response = crate::openapi::BadPicture),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn put_logo(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    request: Request<Body>,
) -> Result<Response, Problem> {
    who.require_write()?;
    set(&state, &who, request_id, Subject::Logo, request).await
}

/// Removes the salon's logo (204 also when it had none).
#[utoipa::path(
    delete,
    path = "/api/v1/salon/logo",
    operation_id = "remove_salon_logo",
    tag = "pictures",
    params(("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The salon shows no logo"),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn delete_logo(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    who.require_write()?;
    remove(&state, &who, request_id, &headers, Subject::Logo).await
}

/// Sets a stylist's photo. The body is the picture (JPEG, PNG or WebP, at most 5 MiB), told
/// apart by its content; stored at most 1200 pixels a side, upright, without the original's
/// metadata (EXIF, GPS).
#[utoipa::path(
    put,
    path = "/api/v1/stylists/{id}/photo",
    operation_id = "set_stylist_photo",
    tag = "pictures",
    params(
        ("id" = uuid::Uuid, Path, description = "The stylist's id", example = "c44e923e-60e5-58b4-a805-a80b72143357"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    request_body(description = "The picture's bytes: JPEG, PNG or WebP, at most 5 MiB. What it is is read from its content; `Content-Type` does not decide.",
        content(
            (PictureBytes = "image/jpeg"),
            (PictureBytes = "image/png"),
            (PictureBytes = "image/webp"),
            (PictureBytes = "application/octet-stream"),
        )),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored and shown", body = PictureView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PictureTooLarge),
        (status = 415, response = crate::openapi::NotAPicture),
        (status = 422, response = crate::openapi::BadPicture),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn put_photo(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    ApiPath(id): ApiPath<String>,
    request: Request<Body>,
) -> Result<Response, Problem> {
    who.require_write()?;
    set(&state, &who, request_id, stylist(&id)?, request).await
}

/// Removes a stylist's photo (204 also when they had none).
#[utoipa::path(
    delete,
    path = "/api/v1/stylists/{id}/photo",
    operation_id = "remove_stylist_photo",
    tag = "pictures",
    params(
        ("id" = uuid::Uuid, Path, description = "The stylist's id", example = "c44e923e-60e5-58b4-a805-a80b72143357"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The stylist shows no photo"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn delete_photo(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    who.require_write()?;
    remove(&state, &who, request_id, &headers, stylist(&id)?).await
}

/// Sets a service's picture. The body is the picture (JPEG, PNG or WebP, at most 5 MiB), told
/// apart by its content; stored at most 1200 pixels a side, upright, without the original's
/// metadata.
#[utoipa::path(
    put,
    path = "/api/v1/services/{id}/picture",
    operation_id = "set_service_picture",
    tag = "pictures",
    params(
        ("id" = uuid::Uuid, Path, description = "The service's id", example = "77d5de2f-6c6f-5291-90df-5ba039e90a05"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    request_body(description = "The picture's bytes: JPEG, PNG or WebP, at most 5 MiB. What it is is read from its content; `Content-Type` does not decide.",
        content(
            (PictureBytes = "image/jpeg"),
            (PictureBytes = "image/png"),
            (PictureBytes = "image/webp"),
            (PictureBytes = "application/octet-stream"),
        )),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored and shown", body = PictureView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PictureTooLarge),
        (status = 415, response = crate::openapi::NotAPicture),
        (status = 422, response = crate::openapi::BadPicture),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn put_picture(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    ApiPath(id): ApiPath<String>,
    request: Request<Body>,
) -> Result<Response, Problem> {
    who.require_write()?;
    set(&state, &who, request_id, service(&id)?, request).await
}

/// Removes a service's picture (204 also when it had none).
#[utoipa::path(
    delete,
    path = "/api/v1/services/{id}/picture",
    operation_id = "remove_service_picture",
    tag = "pictures",
    params(
        ("id" = uuid::Uuid, Path, description = "The service's id", example = "77d5de2f-6c6f-5291-90df-5ba039e90a05"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The service shows no picture"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn delete_picture(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    who.require_write()?;
    remove(&state, &who, request_id, &headers, service(&id)?).await
}

/// `<64 hex>.<jpg|png|webp>` as the hash and the type its extension names.
fn parse_file(file: &str) -> Option<(&str, &'static str)> {
    let (sha, ext) = file.split_once('.')?;
    let hex = sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let content_type = match ext {
        "jpg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        _ => return None,
    };
    hex.then_some((sha, content_type))
}

/// Whether `If-None-Match` names this tag (or is `*`); weak tags compare weakly (RFC 9110).
fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

/// A stored picture (public). Its name is the SHA-256 of its bytes, so it is cached for good.
#[utoipa::path(
    get,
    path = "/media/{file}",
    operation_id = "get_media",
    tag = "pictures",
    params(
        ("file" = String, Path, description = "`<sha256>.<ext>` as a view's `logo_url`, `photo_url` or `picture_url` names it",
            example = "3f0a5e1c9b7d4e2a8c6b0f1e3d5a7c9b2e4f6a8c0d1b3e5f7a9c2d4e6f8a0b1c.jpg"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` you have; 304 when it is this picture"),
    ),
    responses(
        (status = 200, description = "The picture", content(
            (PictureBytes = "image/jpeg"),
            (PictureBytes = "image/png"),
        ), headers(
            ("ETag" = String, description = "The picture's SHA-256, quoted"),
            ("Cache-Control" = String, description = "`public, max-age=31536000, immutable`"),
        )),
        (status = 304, description = "You have it already (`If-None-Match`)"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn media(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(file): ApiPath<String>,
) -> Result<Response, Problem> {
    let Some((sha, content_type)) = parse_file(&file) else {
        return Err(Problem::not_found("No such picture."));
    };
    let tag = format!("\"{sha}\"");
    let cached = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&tag).map_err(|e| Problem::internal(&e))?,
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    let stored = state.bus.store().picture(sha).await.map_err(|e| {
        if migrations::is_unavailable(&e) {
            Problem::unavailable("The store is unreachable; try again shortly.")
        } else {
            Problem::internal(&e)
        }
    })?;
    // A picture is served only under its own type's extension.
    let Some(stored) = stored.filter(|p| p.content_type == content_type) else {
        return Err(Problem::not_found("No such picture."));
    };
    if none_match(&headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, cached).into_response());
    }
    let mut response = (cached, stored.bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_names_are_a_hash_and_a_known_extension() {
        let sha = "a".repeat(64);
        assert_eq!(
            parse_file(&format!("{sha}.jpg")),
            Some((sha.as_str(), "image/jpeg"))
        );
        assert_eq!(
            parse_file(&format!("{sha}.png")),
            Some((sha.as_str(), "image/png"))
        );
        for bad in [
            format!("{sha}.gif"),
            sha.clone(),
            format!("{}.jpg", "A".repeat(64)),
            format!("{}.jpg", "a".repeat(63)),
            "../etc/passwd.jpg".to_string(),
        ] {
            assert_eq!(parse_file(&bad), None, "{bad}");
        }
    }

    #[test]
    fn if_none_match_is_compared_weakly() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"abc\""),
        );
        assert!(none_match(&h, "\"abc\""));
        assert!(!none_match(&h, "\"abd\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&h, "\"abd\""));
    }
}
