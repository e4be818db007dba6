//! Pictures (issue 19, part 5): an upload becomes a stored picture, and a subject (the logo, a
//! stylist, a service) is told to show it.
//!
//! What an upload goes through, whoever sends it (the API or the panel):
//! - at most [`MAX_UPLOAD`] bytes (the caller refuses more before reading it all);
//! - its kind is read from its first bytes, never from its name or declared type: a PNG named
//!   `photo.jpg` (or sent as `image/jpeg`) is taken as the PNG it is. Only JPEG, PNG and WebP
//!   are accepted; GIF, HEIC, AVIF, TIFF and SVG are named in the refusal, anything else is
//!   "not an image";
//! - decoded under [`image::Limits`] (at most [`MAX_SIDE_IN`] pixels a side and
//!   [`MAX_DECODED`] bytes decoded), so a small file that claims a huge picture (a
//!   decompression bomb) is refused before it is decoded;
//! - turned upright by its EXIF orientation, shrunk to the subject's largest side (a logo 512,
//!   photos and pictures 1200, aspect kept, never enlarged), and re-encoded: PNG when it has
//!   transparent pixels, JPEG (quality 85) otherwise. Nothing of the original file but its
//!   pixels is kept: EXIF (phones put the GPS position there), XMP, ICC profiles and comments
//!   are all dropped;
//! - stored in the `pictures` table of the event store's database, keyed by the SHA-256 of the
//!   stored bytes (an idempotent insert), *before* the `PictureSet` event that names it, so no
//!   event ever names a picture that is missing and every server on the database serves it.
//!
//! Decoding is CPU work: it runs on the blocking pool, one picture at a time per process.

use crate::bus::CommandBus;
use crate::{CommandError, Committed};
use cqrs_es::persist::PersistenceError;
use domain::metadata::EventMetadata;
use domain::picture::{Picture, PictureCommand, PictureError, StoredPicture, Subject};
use domain::service::Service;
use domain::stylist::Stylist;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};
use std::io::Cursor;
use std::time::Duration;

/// The largest upload accepted: 5 MiB.
pub const MAX_UPLOAD: usize = 5 * 1024 * 1024;
/// The largest side, in pixels, of a picture that is decoded at all.
pub const MAX_SIDE_IN: u32 = 8000;
/// The most memory decoding one picture may take (an 8000 × 8000 RGB picture takes 192 MiB).
pub const MAX_DECODED: u64 = 256 * 1024 * 1024;
/// JPEG quality of stored photos.
const JPEG_QUALITY: u8 = 85;

/// Pictures decoded at once in this process: decoding and resizing take a core and up to
/// [`MAX_DECODED`] of memory each, and uploads are rare.
static DECODING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Why an upload was not taken, in words an owner understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// More than [`MAX_UPLOAD`] bytes (`bytes` is how many were seen, at least).
    #[error("the file is larger than 5 MB; send a smaller picture")]
    TooLarge { bytes: usize },
    #[error("no file was sent")]
    Empty,
    /// Not JPEG, PNG or WebP, by its content; `kind` names it when it is a known picture format.
    #[error("{}", unsupported_message(kind))]
    Unsupported { kind: Option<&'static str> },
    /// It starts like a JPEG, PNG or WebP but cannot be decoded (cut short, damaged).
    #[error("the file starts like a {format} picture but cannot be read ({reason}); it may be damaged or cut short")]
    Unreadable {
        format: &'static str,
        reason: String,
    },
    /// More pixels than salon decodes.
    #[error(
        "the {format} picture is too large in pixels (at most 8000 on a side); send a smaller one"
    )]
    TooManyPixels { format: &'static str },
}

fn unsupported_message(kind: &Option<&'static str>) -> String {
    match kind {
        Some(kind) => format!(
            "the file is a {kind} picture; only JPEG, PNG and WebP pictures are accepted (save or export it as one of those)"
        ),
        None => "the file is not a picture; send a JPEG, PNG or WebP picture".into(),
    }
}

impl Refused {
    /// The HTTP status an answer should carry: 413 too large, 415 not a picture salon takes,
    /// 422 a picture that cannot be used.
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge { .. } => 413,
            Self::Unsupported { .. } => 415,
            Self::Empty | Self::Unreadable { .. } | Self::TooManyPixels { .. } => 422,
        }
    }

    /// A short stable name for the kind of refusal (the API's problem type).
    pub fn slug(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too-large",
            Self::Empty => "empty-picture",
            Self::Unsupported { .. } => "unsupported-picture",
            Self::Unreadable { .. } => "unreadable-picture",
            Self::TooManyPixels { .. } => "picture-too-large",
        }
    }
}

/// An upload made ready to store: the re-encoded bytes and what events say of them.
#[derive(Debug, Clone)]
pub struct Processed {
    pub bytes: Vec<u8>,
    pub picture: StoredPicture,
    /// What the upload was, by its content (`JPEG`, `PNG`, `WebP`).
    pub received: &'static str,
}

/// What the first bytes say a file is: one of the accepted formats, or a refusal naming it.
pub fn sniff(bytes: &[u8]) -> Result<(ImageFormat, &'static str), Refused> {
    if bytes.is_empty() {
        return Err(Refused::Empty);
    }
    let accepted = match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => Some((ImageFormat::Jpeg, "JPEG")),
        Ok(ImageFormat::Png) => Some((ImageFormat::Png, "PNG")),
        Ok(ImageFormat::WebP) => Some((ImageFormat::WebP, "WebP")),
        _ => None,
    };
    if let Some(found) = accepted {
        return Ok(found);
    }
    let brand = bytes.get(4..12);
    let kind = if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("GIF")
    } else if brand.is_some_and(|b| {
        b.starts_with(b"ftyp")
            && [
                &b"heic"[..],
                b"heix",
                b"hevc",
                b"heim",
                b"heis",
                b"mif1",
                b"msf1",
            ]
            .contains(&&b[4..8])
    }) {
        Some("HEIC")
    } else if brand.is_some_and(|b| b == b"ftypavif" || b == b"ftypavis") {
        Some("AVIF")
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some("TIFF")
    } else if looks_like_svg(bytes) {
        Some("SVG")
    } else {
        None
    };
    Err(Refused::Unsupported { kind })
}

fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    (head.starts_with("<?xml") || head.starts_with("<svg") || head.starts_with("<!--"))
        && head.contains("<svg")
}

/// Decodes, turns upright, shrinks to `max_side` and re-encodes an upload (see the module
/// comment). Pure CPU work: call [`process_upload`] from async code.
pub fn process(bytes: &[u8], max_side: u32) -> Result<Processed, Refused> {
    if bytes.len() > MAX_UPLOAD {
        return Err(Refused::TooLarge { bytes: bytes.len() });
    }
    let (format, name) = sniff(bytes)?;
    let unreadable = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => Refused::TooManyPixels { format: name },
        other => Refused::Unreadable {
            format: name,
            reason: other.to_string(),
        },
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE_IN);
    limits.max_image_height = Some(MAX_SIDE_IN);
    limits.max_alloc = Some(MAX_DECODED);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    // A picture whose orientation cannot be read is shown as stored.
    let orientation = image::ImageDecoder::orientation(&mut decoder)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    img.apply_orientation(orientation);
    let img = shrink(img, max_side);
    let (bytes, content_type) = encode(&img).map_err(|e| Refused::Unreadable {
        format: name,
        reason: e.to_string(),
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Ok(Processed {
        picture: StoredPicture {
            sha256,
            content_type: content_type.into(),
            width: img.width(),
            height: img.height(),
        },
        bytes,
        received: name,
    })
}

/// At most `max_side` on the longer side, aspect kept; never enlarged. A large reduction first
/// takes a fast box average to twice the target (no large intermediate buffer), then a
/// Catmull-Rom filter to the size, which keeps edges sharp without aliasing.
fn shrink(img: DynamicImage, max_side: u32) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    if w.max(h) <= max_side {
        return img;
    }
    let img = if w.max(h) > 2 * max_side {
        img.thumbnail(2 * max_side, 2 * max_side)
    } else {
        img
    };
    img.resize(max_side, max_side, image::imageops::FilterType::CatmullRom)
}

/// PNG when any pixel is see-through, else JPEG; 8 bits a channel either way. Only pixels are
/// written: no EXIF, ICC profile or text chunk.
fn encode(img: &DynamicImage) -> Result<(Vec<u8>, &'static str), image::ImageError> {
    let mut out = Vec::new();
    let transparent = img.color().has_alpha() && {
        let rgba = img.to_rgba8();
        rgba.pixels().any(|p| p.0[3] < 255)
    };
    if transparent {
        let rgba = img.to_rgba8();
        let encoder = image::codecs::png::PngEncoder::new_with_quality(
            &mut out,
            image::codecs::png::CompressionType::Best,
            image::codecs::png::FilterType::Adaptive,
        );
        rgba.write_with_encoder(encoder)?;
        Ok((out, "image/png"))
    } else {
        let rgb = img.to_rgb8();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
        rgb.write_with_encoder(encoder)?;
        Ok((out, "image/jpeg"))
    }
}

/// [`process`] on the blocking pool, one picture at a time in this process.
pub async fn process_upload(bytes: Vec<u8>, max_side: u32) -> Result<Processed, Refused> {
    if bytes.len() > MAX_UPLOAD {
        return Err(Refused::TooLarge { bytes: bytes.len() });
    }
    // Sniffing is cheap: a file that is not a picture does not wait for the decoder.
    sniff(&bytes)?;
    let _turn = DECODING.acquire().await;
    match tokio::task::spawn_blocking(move || process(&bytes, max_side)).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => {
            tracing::error!(error = %e, "decoding a picture panicked");
            Err(Refused::Unreadable {
                format: "picture",
                reason: "it could not be decoded".into(),
            })
        }
        Err(e) => Err(Refused::Unreadable {
            format: "picture",
            reason: e.to_string(),
        }),
    }
}

/// Why setting or removing a picture failed.
#[derive(Debug, thiserror::Error)]
pub enum PictureFailed {
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The stylist or service does not exist.
    #[error("there is no such {0}")]
    NoSuchSubject(&'static str),
    #[error(transparent)]
    Command(#[from] CommandError<PictureError>),
}

impl PictureFailed {
    fn store(e: sqlx::Error) -> Self {
        Self::Command(CommandError::Store(crate::store::map_sqlx(e)))
    }
}

/// What setting a picture did.
#[derive(Debug, Clone)]
pub struct PictureSaved {
    pub committed: Committed,
    pub picture: StoredPicture,
    pub received: &'static str,
}

/// How old a cached stylist or service may be when it is only checked to exist.
const EXISTS_MAX_AGE: Duration = Duration::from_secs(2);

impl CommandBus {
    /// Whether the subject of a picture exists (a stylist or service that was ever added,
    /// archived ones too; the salon always has a logo slot).
    async fn subject_exists(&self, subject: Subject) -> Result<(), PictureFailed> {
        let exists = match subject {
            Subject::Logo => true,
            Subject::Stylist(id) => self
                .load_recent::<Stylist>(&id.to_string(), EXISTS_MAX_AGE)
                .await
                .map_err(|e| PictureFailed::Command(e.into()))?
                .state
                .id
                .is_some(),
            Subject::Service(id) => self
                .load_recent::<Service>(&id.to_string(), EXISTS_MAX_AGE)
                .await
                .map_err(|e| PictureFailed::Command(e.into()))?
                .state
                .id
                .is_some(),
        };
        if exists {
            Ok(())
        } else {
            Err(PictureFailed::NoSuchSubject(match subject {
                Subject::Stylist(_) => "stylist",
                _ => "service",
            }))
        }
    }

    /// Makes `upload` the subject's picture: checks the subject exists, processes the upload,
    /// stores the bytes, then appends `PictureSet` (nothing when it already shows this picture).
    pub async fn set_picture(
        &self,
        subject: Subject,
        upload: Vec<u8>,
        metadata: &EventMetadata,
    ) -> Result<PictureSaved, PictureFailed> {
        self.subject_exists(subject).await?;
        let processed = process_upload(upload, subject.max_side()).await?;
        self.store()
            .save_picture(&processed)
            .await
            .map_err(PictureFailed::store)?;
        let command = PictureCommand::Set {
            subject,
            picture: processed.picture.clone(),
        };
        let (committed, _) = self
            .execute::<Picture>(&subject.to_string(), command, metadata)
            .await?;
        Ok(PictureSaved {
            committed,
            picture: processed.picture,
            received: processed.received,
        })
    }

    /// Makes the subject show no picture (nothing is appended when it shows none). The stored
    /// bytes stay: older events name them.
    pub async fn remove_picture(
        &self,
        subject: Subject,
        metadata: &EventMetadata,
    ) -> Result<Committed, PictureFailed> {
        self.subject_exists(subject).await?;
        let (committed, _) = self
            .execute::<Picture>(
                &subject.to_string(),
                PictureCommand::Remove { subject },
                metadata,
            )
            .await?;
        Ok(committed)
    }
}

impl From<PersistenceError> for PictureFailed {
    fn from(e: PersistenceError) -> Self {
        Self::Command(CommandError::Store(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

    /// A photo-like picture: smooth colour gradients.
    fn photo(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb([
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((x + y) % 256) as u8,
            ])
        })
    }

    fn png(img: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    fn jpeg(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .write_image(
                img,
                img.width(),
                img.height(),
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    }

    /// An EXIF block (TIFF, big-endian) with an orientation and a GPS position.
    fn exif(orientation: u16) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(b"MM\0*\0\0\0\x08");
        // IFD0: two entries, orientation and the GPS IFD's offset.
        t.extend_from_slice(&2u16.to_be_bytes());
        t.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
        t.extend_from_slice(&orientation.to_be_bytes());
        t.extend_from_slice(&[0, 0]);
        t.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]);
        t.extend_from_slice(&[0, 0, 0, 0]);
        // GPS IFD at 38: latitude reference "N" and an ASCII marker we look for.
        t.extend_from_slice(&1u16.to_be_bytes());
        t.extend_from_slice(&[0x00, 0x01, 0, 2, 0, 0, 0, 2]);
        t.extend_from_slice(b"N\0\0\0");
        t.extend_from_slice(&[0, 0, 0, 0]);
        t.extend_from_slice(b"GPS-40.8116N-73.9465W");
        t
    }

    /// A JPEG with an APP1 EXIF segment right after its start marker.
    fn jpeg_with_exif(img: &RgbImage, orientation: u16) -> Vec<u8> {
        let plain = jpeg(img);
        let mut body = b"Exif\0\0".to_vec();
        body.extend(exif(orientation));
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&[0xff, 0xe1]);
        out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        out.extend(body);
        out.extend_from_slice(&plain[2..]);
        out
    }

    #[test]
    fn the_content_decides_not_the_name() {
        let as_png = png(&DynamicImage::ImageRgb8(photo(40, 30)));
        // Whatever it was called, a PNG is a PNG: taken, and stored as a JPEG (it is opaque).
        let p = process(&as_png, 1200).expect("a PNG");
        assert_eq!(p.received, "PNG");
        assert_eq!(p.picture.content_type, "image/jpeg");
        assert_eq!((p.picture.width, p.picture.height), (40, 30));
        assert_eq!(sniff(&as_png).unwrap().1, "PNG");
        assert_eq!(
            sniff(&jpeg(&photo(8, 8))).unwrap().0,
            ImageFormat::Jpeg,
            "a JPEG by its bytes"
        );
    }

    #[test]
    fn what_is_not_a_picture_salon_takes_is_named() {
        let cases: [(&[u8], Option<&str>); 6] = [
            (b"GIF89a\x01\0\x01\0", Some("GIF")),
            (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", Some("HEIC")),
            (b"\0\0\0\x1cftypavif\0\0\0\0", Some("AVIF")),
            (
                b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
                Some("SVG"),
            ),
            (b"%PDF-1.7 not a picture", None),
            (b"hello, this is text", None),
        ];
        for (bytes, kind) in cases {
            let refused = process(bytes, 1200).unwrap_err();
            assert_eq!(refused, Refused::Unsupported { kind }, "{kind:?}");
            assert_eq!(refused.status(), 415);
        }
        assert_eq!(process(b"", 1200).unwrap_err(), Refused::Empty);
        assert!(Refused::Unsupported { kind: Some("GIF") }
            .to_string()
            .contains("GIF picture; only JPEG, PNG and WebP"));
    }

    #[test]
    fn a_damaged_picture_is_refused_not_a_panic() {
        // Cut inside its header. (A JPEG cut short in its picture data decodes, its missing
        // part grey, as browsers show it: that is taken.)
        let whole = jpeg(&photo(64, 64));
        for cut in [100, 20, 4] {
            let refused = process(&whole[..cut], 1200).unwrap_err();
            assert!(
                matches!(refused, Refused::Unreadable { format: "JPEG", .. }),
                "{cut}: {refused:?}"
            );
            assert_eq!(refused.status(), 422);
        }
        let mut png_bytes = png(&DynamicImage::ImageRgb8(photo(16, 16)));
        let n = png_bytes.len();
        png_bytes[n - 20..].fill(0);
        assert!(matches!(
            process(&png_bytes, 1200),
            Err(Refused::Unreadable { format: "PNG", .. })
        ));
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_decoding() {
        // 20 000 × 20 000 pixels of one colour compress to a few hundred kilobytes of PNG
        // header and data; the limits refuse it from the header.
        let mut header = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&20_000u32.to_be_bytes());
        ihdr.extend_from_slice(&20_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        header.extend_from_slice(&13u32.to_be_bytes());
        header.extend_from_slice(&ihdr);
        header.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        let refused = process(&header, 1200).unwrap_err();
        assert_eq!(refused, Refused::TooManyPixels { format: "PNG" });
        assert_eq!(refused.status(), 422);
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn too_many_bytes_is_refused_first() {
        let big = vec![0xffu8; MAX_UPLOAD + 1];
        assert_eq!(
            process(&big, 1200).unwrap_err(),
            Refused::TooLarge {
                bytes: MAX_UPLOAD + 1
            }
        );
        assert_eq!(Refused::TooLarge { bytes: 1 }.status(), 413);
    }

    #[test]
    fn photos_are_shrunk_to_the_subjects_size_keeping_their_shape() {
        let p = process(&jpeg(&photo(3000, 2000)), 1200).expect("photo");
        assert_eq!((p.picture.width, p.picture.height), (1200, 800));
        let p = process(&jpeg(&photo(1000, 1500)), 512).expect("logo");
        assert_eq!((p.picture.width, p.picture.height), (342, 512));
        // Never enlarged.
        let p = process(&jpeg(&photo(300, 200)), 1200).expect("small");
        assert_eq!((p.picture.width, p.picture.height), (300, 200));
        // What is stored decodes to what events say of it, and its hash is its name.
        let stored = image::load_from_memory(&p.bytes).expect("stored bytes decode");
        assert_eq!((stored.width(), stored.height()), (300, 200));
        assert_eq!(p.picture.sha256, hex::encode(Sha256::digest(&p.bytes)));
    }

    #[test]
    fn see_through_pictures_stay_png_and_opaque_ones_become_jpeg() {
        let logo = RgbaImage::from_fn(100, 50, |x, _| {
            Rgba([200, 40, 90, if x < 50 { 0 } else { 255 }])
        });
        let p = process(&png(&DynamicImage::ImageRgba8(logo)), 512).expect("logo");
        assert_eq!(p.picture.content_type, "image/png");
        let back = image::load_from_memory(&p.bytes).expect("png").to_rgba8();
        assert_eq!(back.get_pixel(10, 10).0[3], 0, "transparency kept");
        let opaque = RgbaImage::from_fn(100, 50, |_, _| Rgba([1, 2, 3, 255]));
        let p = process(&png(&DynamicImage::ImageRgba8(opaque)), 512).expect("opaque");
        assert_eq!(p.picture.content_type, "image/jpeg");
    }

    #[test]
    fn webp_is_taken() {
        let mut out = Vec::new();
        let img = DynamicImage::ImageRgba8(RgbaImage::from_fn(20, 10, |x, _| {
            Rgba([0, 0, 0, if x < 5 { 10 } else { 255 }])
        }));
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::WebP)
            .expect("webp");
        let p = process(&out, 1200).expect("webp");
        assert_eq!(p.received, "WebP");
        assert_eq!(p.picture.content_type, "image/png");
        assert_eq!((p.picture.width, p.picture.height), (20, 10));
    }

    #[test]
    fn exif_with_gps_is_dropped_and_its_orientation_applied() {
        // 60 × 40 stored, orientation 6 ("rotate 90° clockwise to view"): upright it is 40 × 60.
        let upload = jpeg_with_exif(&photo(60, 40), 6);
        assert!(upload.windows(4).any(|w| w == b"Exif"));
        assert!(upload.windows(7).any(|w| w == b"GPS-40."));
        let p = process(&upload, 1200).expect("photo");
        assert_eq!((p.picture.width, p.picture.height), (40, 60));
        assert!(!p.bytes.windows(4).any(|w| w == b"Exif"), "no EXIF left");
        assert!(!p.bytes.windows(7).any(|w| w == b"GPS-40."), "no GPS left");
        assert!(
            !p.bytes.windows(2).any(|w| w == [0xff, 0xe1]),
            "no APP1 segment"
        );
    }
}
