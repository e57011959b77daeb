//! The errors of scanning. Each variant names the input and the problem.

/// Everything that can go wrong while reading, flattening or reading text from a photo.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The bytes are an image format this build cannot decode (HEIC, AVIF, GIF, WebP, ...).
    #[error("image format {format} is not supported: {hint}")]
    UnsupportedFormat {
        /// The format recognised from the file's first bytes (`HEIC`, `AVIF`, `GIF`, ...).
        format: String,
        /// What the caller can do instead.
        hint: &'static str,
    },
    /// The bytes are not an image at all (no known signature).
    #[error("input is not an image: {reason}")]
    NotAnImage {
        /// What the first bytes looked like.
        reason: String,
    },
    /// The image is damaged or cut short; `reason` is the decoder's complaint.
    #[error("{format} image is truncated or corrupt: {reason}")]
    Corrupt {
        /// `JPEG` or `PNG`.
        format: &'static str,
        /// What the decoder reported.
        reason: String,
    },
    /// The image is too small to hold a readable document.
    #[error(
        "image is {width}x{height} pixels, too small: each side must be at least {min} pixels"
    )]
    TooSmall {
        /// Width of the (oriented) image.
        width: u32,
        /// Height of the (oriented) image.
        height: u32,
        /// The smallest accepted side, in pixels.
        min: u32,
    },
    /// The image has more pixels than the decoder is allowed to allocate.
    #[error("image is {width}x{height} pixels ({megapixels:.1} MP), above the limit of {limit_megapixels:.1} MP; downscale it before scanning")]
    TooLarge {
        /// Width of the stored image.
        width: u32,
        /// Height of the stored image.
        height: u32,
        /// `width * height / 1e6`.
        megapixels: f64,
        /// The configured limit in megapixels.
        limit_megapixels: f64,
    },
    /// An option was out of range.
    #[error("invalid scan option {option}: {reason}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// Why it was refused.
        reason: String,
    },
}
