//! Decoding camera bytes (JPEG, PNG) into an RGB frame plus its EXIF orientation.
//!
//! The full-resolution frame is never rotated: rotating 12 MP would double the memory. The
//! orientation is kept as an affine map from the *oriented* (displayed) image to the stored
//! pixels, and everything downstream samples through it.

use super::error::ScanError;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, RgbImage};
use std::io::Cursor;

/// The image formats we recognise by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Jpeg,
    Png,
}

/// Recognises the format from the first bytes; names unsupported ones.
pub(crate) fn sniff(bytes: &[u8]) -> Result<Format, ScanError> {
    let unsupported = |format: &str, hint: &'static str| ScanError::UnsupportedFormat {
        format: format.to_string(),
        hint,
    };
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        return Ok(Format::Png);
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        let heic: [&[u8]; 8] = [
            b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
        ];
        if brand == b"avif" || brand == b"avis" {
            return Err(unsupported(
                "AVIF",
                "no AVIF decoder in this build; send JPEG or PNG",
            ));
        }
        if heic.contains(&brand) {
            return Err(unsupported(
                "HEIC",
                "no HEIC decoder in this build; set the camera to JPEG (\"most compatible\") or convert before scanning",
            ));
        }
        return Err(unsupported(
            "ISO-BMFF (MP4/MOV/HEIF family)",
            "send a JPEG or PNG photo",
        ));
    }
    let named: [(&[u8], &str); 6] = [
        (b"GIF8", "GIF"),
        (b"BM", "BMP"),
        (b"II*\0", "TIFF"),
        (b"MM\0*", "TIFF"),
        (b"%PDF", "PDF"),
        (b"\0\0\x01\0", "ICO"),
    ];
    for (magic, name) in named {
        if bytes.starts_with(magic) {
            return Err(unsupported(name, "send a JPEG or PNG photo"));
        }
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Err(unsupported("WebP", "send a JPEG or PNG photo"));
    }
    let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Err(ScanError::NotAnImage {
        reason: if bytes.is_empty() {
            "it is empty".to_string()
        } else {
            format!("first bytes {} match neither JPEG nor PNG", head.join(" "))
        },
    })
}

/// A decoded photo: the stored pixels and how to turn them upright.
pub(crate) struct Frame {
    /// The pixels as stored in the file (not rotated).
    pub raw: RgbImage,
    /// The EXIF orientation.
    pub orientation: Orientation,
}

impl Frame {
    /// Width and height of the upright (oriented) image.
    pub fn oriented_dims(&self) -> (u32, u32) {
        let (w, h) = self.raw.dimensions();
        if swaps_axes(self.orientation) {
            (h, w)
        } else {
            (w, h)
        }
    }

    /// Affine map `[m0, m1, m2, m3, m4, m5]` from oriented coordinates `(u, v)` to stored
    /// coordinates: `x = m0*u + m1*v + m2`, `y = m3*u + m4*v + m5` (continuous pixel coordinates).
    pub fn to_raw(&self) -> [f64; 6] {
        let (w, h) = self.raw.dimensions();
        orientation_affine(self.orientation, f64::from(w), f64::from(h))
    }
}

fn swaps_axes(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// See [`Frame::to_raw`]; `w`, `h` are the stored dimensions.
pub(crate) fn orientation_affine(o: Orientation, w: f64, h: f64) -> [f64; 6] {
    match o {
        Orientation::NoTransforms => [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        Orientation::Rotate90 => [0.0, 1.0, 0.0, -1.0, 0.0, h],
        Orientation::Rotate180 => [-1.0, 0.0, w, 0.0, -1.0, h],
        Orientation::Rotate270 => [0.0, -1.0, w, 1.0, 0.0, 0.0],
        Orientation::FlipHorizontal => [-1.0, 0.0, w, 0.0, 1.0, 0.0],
        Orientation::FlipVertical => [1.0, 0.0, 0.0, 0.0, -1.0, h],
        Orientation::Rotate90FlipH => [0.0, 1.0, 0.0, 1.0, 0.0, 0.0],
        Orientation::Rotate270FlipH => [0.0, -1.0, w, -1.0, 0.0, h],
    }
}

fn corrupt(format: Format, e: image::ImageError) -> ScanError {
    let format = match format {
        Format::Jpeg => "JPEG",
        Format::Png => "PNG",
    };
    match e {
        image::ImageError::Limits(l) => ScanError::Corrupt {
            format,
            reason: format!("decoder limit: {l}"),
        },
        other => ScanError::Corrupt {
            format,
            reason: other.to_string(),
        },
    }
}

/// Decodes JPEG or PNG bytes, refusing images above `max_pixels` before allocating them and
/// images whose short side is below `min_side`.
pub(crate) fn decode(bytes: &[u8], max_pixels: u64, min_side: u32) -> Result<Frame, ScanError> {
    let format = sniff(bytes)?;
    match format {
        Format::Jpeg => {
            // The decoder fills a cut-off scan with grey and reports success; we do not.
            jpeg_complete(bytes).map_err(|reason| ScanError::Corrupt {
                format: "JPEG",
                reason,
            })?;
            let dec = image::codecs::jpeg::JpegDecoder::new(Cursor::new(bytes))
                .map_err(|e| corrupt(format, e))?;
            finish(dec, format, max_pixels, min_side)
        }
        Format::Png => {
            let dec = image::codecs::png::PngDecoder::new(Cursor::new(bytes))
                .map_err(|e| corrupt(format, e))?;
            finish(dec, format, max_pixels, min_side)
        }
    }
}

/// Checks that a JPEG has its header segments and an end-of-image marker after its first scan.
/// (An embedded EXIF thumbnail has its own end marker, but before the main scan.)
fn jpeg_complete(bytes: &[u8]) -> Result<(), String> {
    let mut i = 2;
    loop {
        if i + 4 > bytes.len() {
            return Err(format!(
                "file ends inside the header, at byte {}",
                bytes.len()
            ));
        }
        if bytes[i] != 0xFF {
            return Err(format!(
                "expected a marker at byte {i}, found {:02x}",
                bytes[i]
            ));
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if marker == 0xDA {
            let scan = i + 2 + len;
            if scan > bytes.len() || !bytes[scan..].windows(2).any(|w| w == [0xFF, 0xD9]) {
                return Err(format!(
                    "truncated: no end-of-image marker after the image data ({} bytes)",
                    bytes.len()
                ));
            }
            return Ok(());
        }
        i += 2 + len;
    }
}

fn finish(
    mut dec: impl ImageDecoder,
    format: Format,
    max_pixels: u64,
    min_side: u32,
) -> Result<Frame, ScanError> {
    let (w, h) = dec.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels > max_pixels {
        return Err(ScanError::TooLarge {
            width: w,
            height: h,
            megapixels: pixels as f64 / 1e6,
            limit_megapixels: max_pixels as f64 / 1e6,
        });
    }
    if w.min(h) < min_side {
        return Err(ScanError::TooSmall {
            width: w,
            height: h,
            min: min_side,
        });
    }
    // A broken EXIF block must not stop the scan: fall back to "upright".
    let orientation = dec.orientation().unwrap_or(Orientation::NoTransforms);
    let mut limits = image::Limits::default();
    // Decoded bytes (up to 4 channels of 16 bits for PNG) plus the decoder's own row buffers.
    limits.max_alloc = Some(pixels.saturating_mul(8).saturating_add(64 << 20));
    dec.set_limits(limits).map_err(|e| corrupt(format, e))?;
    let img = DynamicImage::from_decoder(dec).map_err(|e| corrupt(format, e))?;
    let raw = match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.into_rgb8(),
    };
    Ok(Frame { raw, orientation })
}

/// Box-averages the stored frame by the integer factor `k` and turns the result upright.
/// Small pixel `(i, j)` covers oriented pixels `[i*k, (i+1)*k) x [j*k, (j+1)*k)`.
pub(crate) fn small_oriented(frame: &Frame, k: u32) -> RgbImage {
    let raw = &frame.raw;
    let (w, h) = raw.dimensions();
    let (sw, sh) = ((w / k).max(1), (h / k).max(1));
    let mut sums = vec![0u32; sw as usize * 3];
    let mut out = RgbImage::new(sw, sh);
    let buf = raw.as_raw();
    let area = k * k;
    for sy in 0..sh {
        sums.iter_mut().for_each(|s| *s = 0);
        for y in sy * k..((sy + 1) * k).min(h) {
            let row = &buf
                [(y as usize * w as usize) * 3..(y as usize * w as usize + (sw * k) as usize) * 3];
            for (sx, chunk) in row.chunks_exact(3 * k as usize).enumerate() {
                let s = &mut sums[sx * 3..sx * 3 + 3];
                for px in chunk.chunks_exact(3) {
                    s[0] += u32::from(px[0]);
                    s[1] += u32::from(px[1]);
                    s[2] += u32::from(px[2]);
                }
            }
        }
        for sx in 0..sw {
            let s = &sums[sx as usize * 3..sx as usize * 3 + 3];
            out.put_pixel(
                sx,
                sy,
                image::Rgb([
                    (s[0] / area) as u8,
                    (s[1] / area) as u8,
                    (s[2] / area) as u8,
                ]),
            );
        }
    }
    let mut img = DynamicImage::ImageRgb8(out);
    img.apply_orientation(frame.orientation);
    img.into_rgb8()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sniff_names_formats() {
        assert!(matches!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Ok(Format::Jpeg)));
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        match sniff(heic) {
            Err(ScanError::UnsupportedFormat { format, .. }) => assert_eq!(format, "HEIC"),
            other => panic!("expected HEIC unsupported, got {other:?}"),
        }
        match sniff(b"GIF89a....") {
            Err(ScanError::UnsupportedFormat { format, .. }) => assert_eq!(format, "GIF"),
            other => panic!("{other:?}"),
        }
        match sniff(b"hello world") {
            Err(ScanError::NotAnImage { reason }) => {
                assert!(reason.contains("68 65 6c"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(sniff(b""), Err(ScanError::NotAnImage { .. })));
    }

    #[test]
    fn orientation_affine_matches_image_crate() {
        let (w, h) = (5u32, 3u32);
        let raw = RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let all = [
            Orientation::NoTransforms,
            Orientation::Rotate90,
            Orientation::Rotate180,
            Orientation::Rotate270,
            Orientation::FlipHorizontal,
            Orientation::FlipVertical,
            Orientation::Rotate90FlipH,
            Orientation::Rotate270FlipH,
        ];
        for o in all {
            let mut img = DynamicImage::ImageRgb8(raw.clone());
            img.apply_orientation(o);
            let img = img.into_rgb8();
            let frame = Frame {
                raw: raw.clone(),
                orientation: o,
            };
            assert_eq!(img.dimensions(), frame.oriented_dims(), "{o:?}");
            let m = frame.to_raw();
            for (u, v, px) in img.enumerate_pixels() {
                let (cu, cv) = (f64::from(u) + 0.5, f64::from(v) + 0.5);
                let x = m[0] * cu + m[1] * cv + m[2];
                let y = m[3] * cu + m[4] * cv + m[5];
                assert_eq!(
                    (x.floor() as u8, y.floor() as u8),
                    (px[0], px[1]),
                    "{o:?} at oriented ({u},{v})"
                );
            }
        }
    }
}
