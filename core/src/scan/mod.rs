//! Scanning business cards and contracts on the device: OCR and field extraction.
//!
//! - [`ocr`]: Tesseract (`chi_sim+eng`) over a flattened grey image, words and lines with
//!   confidences and boxes.
//! - [`extract`]: the fields of a card or a contract from the OCR lines, each with a
//!   confidence and its box in the flattened image.

pub mod extract;
pub mod ocr;
