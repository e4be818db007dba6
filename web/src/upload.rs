//! Reading an upload's body with a limit, for the API and the panel alike.
//!
//! A body over the limit is refused (413), but first read on and thrown away, up to
//! [`DRAIN`] more bytes: a server that answers while the client is still sending closes the
//! connection under it, and the client then often sees "connection reset" instead of the
//! answer. Past that (or when `Content-Length` already says the body is larger than the limit
//! plus [`DRAIN`]) the answer goes at once and the connection is closed.

use axum::body::Body;
use futures::StreamExt;

/// How much of an oversized body is read and thrown away so that the client gets its 413.
pub const DRAIN: usize = 16 * 1024 * 1024;

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyRefused {
    /// More than the limit: `bytes` is how many were declared or seen (at least).
    TooLarge { bytes: usize },
    /// The body broke off (the client went away or sent a malformed chunk).
    Broken(String),
}

/// The whole body, when it is at most `limit` bytes (see the module comment).
pub async fn read_limited(
    body: Body,
    limit: usize,
    declared: Option<u64>,
) -> Result<Vec<u8>, BodyRefused> {
    let declared = declared.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if let Some(n) = declared.filter(|n| *n > limit.saturating_add(DRAIN)) {
        return Err(BodyRefused::TooLarge { bytes: n });
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::with_capacity(declared.unwrap_or(64 * 1024).min(limit));
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyRefused::Broken(e.to_string()))?;
        seen = seen.saturating_add(chunk.len());
        if seen <= limit {
            buf.extend_from_slice(&chunk);
        } else {
            buf = Vec::new();
            if seen > limit.saturating_add(DRAIN) {
                break;
            }
        }
    }
    if seen > limit {
        return Err(BodyRefused::TooLarge { bytes: seen });
    }
    Ok(buf)
}

/// `Content-Length` of a request, when it has a readable one.
pub fn content_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// One file of a `multipart/form-data` form, and its other fields.
#[derive(Debug, Default)]
pub struct MultipartForm {
    /// Text fields, in order.
    pub fields: Vec<(String, String)>,
    /// The first file field named as asked: its bytes (empty when no file was chosen).
    pub file: Option<Vec<u8>>,
}

/// Reads a `multipart/form-data` body already read into memory: the text fields, and the bytes
/// of the file field `file_field`. `None` when it is not such a form.
pub async fn parse_multipart(
    content_type: &str,
    body: Vec<u8>,
    file_field: &str,
) -> Option<MultipartForm> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = MultipartForm::default();
    while let Some(field) = multipart.next_field().await.ok()? {
        let name = field.name().unwrap_or_default().to_string();
        if name == file_field && form.file.is_none() {
            form.file = Some(field.bytes().await.ok()?.to_vec());
        } else if field.file_name().is_some() {
            // Other files are not read into the form.
            continue;
        } else {
            let text = field.text().await.ok()?;
            form.fields.push((name, text));
        }
    }
    Some(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_and_a_larger_one_refused() {
        let ok = read_limited(Body::from(vec![1u8; 10]), 10, Some(10)).await;
        assert_eq!(ok, Ok(vec![1u8; 10]));
        let over = read_limited(Body::from(vec![1u8; 11]), 10, None).await;
        assert_eq!(over, Err(BodyRefused::TooLarge { bytes: 11 }));
        // Declared far too large: refused without reading.
        let declared = read_limited(Body::empty(), 10, Some(1 << 40)).await;
        assert!(matches!(declared, Err(BodyRefused::TooLarge { .. })));
    }

    #[tokio::test]
    async fn a_multipart_form_gives_its_fields_and_its_file() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"me.jpg\"\r\n\
Content-Type: image/jpeg\r\n\r\n\x89PNG\r\n\x1a\nrest\r\n--XyZ--\r\n"
            .to_vec();
        let form = parse_multipart("multipart/form-data; boundary=XyZ", body, "picture")
            .await
            .expect("a form");
        assert_eq!(form.fields, vec![("csrf".to_string(), "tok".to_string())]);
        assert_eq!(form.file.as_deref(), Some(&b"\x89PNG\r\n\x1a\nrest"[..]));
        assert!(
            parse_multipart("application/x-www-form-urlencoded", vec![], "picture")
                .await
                .is_none()
        );
    }
}
