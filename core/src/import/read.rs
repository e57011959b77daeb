//! Reading a spreadsheet into rows of text: CSV in UTF-8 (with or without BOM), UTF-16 with
//! BOM, or GBK/GB18030 as Excel on a Chinese Windows saves it; and `.xlsx` through `calamine`.

use super::Encoding;
use crate::error::{Error, Result};
use std::path::Path;

/// How a CSV file was (or a report is to be) encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceEncoding {
    /// UTF-8; `bom` when the file started with one.
    Utf8 {
        /// Whether the file started with a byte-order mark.
        bom: bool,
    },
    /// UTF-16 little-endian with BOM (Excel's "Unicode text").
    Utf16Le,
    /// GBK / GB18030.
    Gbk,
}

impl SourceEncoding {
    /// `utf-8`, `utf-8-bom`, `utf-16le` or `gbk`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            SourceEncoding::Utf8 { bom: false } => "utf-8",
            SourceEncoding::Utf8 { bom: true } => "utf-8-bom",
            SourceEncoding::Utf16Le => "utf-16le",
            SourceEncoding::Gbk => "gbk",
        }
    }

    /// `text` encoded the same way (a BOM where the input had one). Characters GBK cannot
    /// hold become numeric character references.
    pub(crate) fn encode(&self, text: &str) -> Vec<u8> {
        match self {
            SourceEncoding::Utf8 { bom } => {
                let mut out = if *bom {
                    vec![0xEF, 0xBB, 0xBF]
                } else {
                    Vec::new()
                };
                out.extend_from_slice(text.as_bytes());
                out
            }
            SourceEncoding::Utf16Le => {
                let mut out = vec![0xFF, 0xFE];
                for unit in text.encode_utf16() {
                    out.extend_from_slice(&unit.to_le_bytes());
                }
                out
            }
            SourceEncoding::Gbk => encoding_rs::GB18030.encode(text).0.into_owned(),
        }
    }
}

/// A sheet: its header cells and its data rows with their row numbers (the header is row 1).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<(u64, Vec<String>)>,
    pub encoding: SourceEncoding,
}

fn bad_file(path: &Path, reason: impl Into<String>) -> Error {
    Error::validation("file", path.display().to_string(), reason)
}

/// Decodes CSV bytes by the asked encoding (`Auto`: BOM, else UTF-8 if valid, else GB18030).
pub(crate) fn decode(
    path: &Path,
    bytes: &[u8],
    asked: Encoding,
) -> Result<(String, SourceEncoding)> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        if asked == Encoding::Gbk {
            return Err(Error::validation(
                "encoding",
                "gbk",
                "the file starts with a UTF-8 byte-order mark; use --encoding auto or utf-8",
            ));
        }
        return match std::str::from_utf8(rest) {
            Ok(s) => Ok((s.to_string(), SourceEncoding::Utf8 { bom: true })),
            Err(e) => Err(bad_file(
                path,
                format!(
                    "not valid UTF-8 at byte {} despite its byte-order mark",
                    e.valid_up_to() + 3
                ),
            )),
        };
    }
    if bytes.starts_with(&[0xFF, 0xFE]) && asked == Encoding::Auto {
        let (text, had_errors) = encoding_rs::UTF_16LE.decode_without_bom_handling(&bytes[2..]);
        if had_errors {
            return Err(bad_file(
                path,
                "not valid UTF-16 despite its byte-order mark",
            ));
        }
        return Ok((text.into_owned(), SourceEncoding::Utf16Le));
    }
    let utf8 = std::str::from_utf8(bytes);
    match (asked, utf8) {
        (Encoding::Utf8 | Encoding::Auto, Ok(s)) => {
            Ok((s.to_string(), SourceEncoding::Utf8 { bom: false }))
        }
        (Encoding::Utf8, Err(e)) => Err(Error::validation(
            "encoding",
            "utf-8",
            format!(
                "the file is not valid UTF-8 (first bad byte at offset {}); try --encoding gbk",
                e.valid_up_to()
            ),
        )),
        (Encoding::Gbk, _) | (Encoding::Auto, Err(_)) => {
            match encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes) {
                Some(text) => Ok((text.into_owned(), SourceEncoding::Gbk)),
                None => Err(Error::validation(
                    "encoding",
                    asked.name(),
                    "the file is neither UTF-8 nor GBK/GB18030 text",
                )),
            }
        }
    }
}

/// Which character separates fields: the one of `,` `\t` `;` most frequent in the header line.
fn delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or_default();
    let count = |c: char| first.chars().filter(|x| *x == c).count();
    [(b',', count(',')), (b'\t', count('\t')), (b';', count(';'))]
        .into_iter()
        .max_by_key(|(d, n)| (*n, *d == b','))
        .map_or(b',', |(d, _)| d)
}

fn blank(row: &[String]) -> bool {
    row.iter().all(|c| c.trim().is_empty())
}

/// Reads a CSV file.
pub(crate) fn read_csv(path: &Path, bytes: &[u8], asked: Encoding) -> Result<Table> {
    let (text, encoding) = decode(path, bytes, asked)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(&text))
        .from_reader(text.as_bytes());
    let mut headers: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad_file(path, format!("row {}: {e}", i + 1)))?;
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        match headers {
            None if blank(&cells) => continue,
            None => headers = Some(cells),
            Some(_) if blank(&cells) => {}
            Some(_) => rows.push((i as u64 + 1, cells)),
        }
    }
    let headers =
        headers.ok_or_else(|| bad_file(path, "the file is empty: a header row is required"))?;
    Ok(Table {
        headers,
        rows,
        encoding,
    })
}

fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        // Phone numbers typed into Excel are numbers: 13800138000, not 1.38e10.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// Reads the first sheet of an `.xlsx` file.
pub(crate) fn read_xlsx(path: &Path, bytes: Vec<u8>) -> Result<Table> {
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| bad_file(path, format!("not a readable .xlsx workbook: {e}")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| bad_file(path, "the workbook has no sheet"))?
        .map_err(|e| bad_file(path, format!("the first sheet is unreadable: {e}")))?;
    let first_row = range.start().map_or(0, |(r, _)| u64::from(r));
    let first_col = range.start().map_or(0, |(_, c)| c as usize);
    let mut headers: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for (i, row) in range.rows().enumerate() {
        // Cells left of the used range are empty columns the header still counts.
        let mut cells = vec![String::new(); first_col];
        cells.extend(row.iter().map(cell_text));
        match headers {
            None if blank(&cells) => continue,
            None => headers = Some(cells),
            Some(_) if blank(&cells) => {}
            Some(_) => rows.push((first_row + i as u64 + 1, cells)),
        }
    }
    let headers = headers
        .ok_or_else(|| bad_file(path, "the first sheet is empty: a header row is required"))?;
    Ok(Table {
        headers,
        rows,
        encoding: SourceEncoding::Utf8 { bom: true },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_is_detected_and_utf8_bom_kept() -> Result<()> {
        let text = "姓名,公司\r\n张伟,\"华强科技, 深圳\"\r\n";
        let gbk = encoding_rs::GBK.encode(text).0.into_owned();
        let t = read_csv(Path::new("x.csv"), &gbk, Encoding::Auto)?;
        assert_eq!(t.encoding, SourceEncoding::Gbk);
        assert_eq!(t.headers, ["姓名", "公司"]);
        assert_eq!(
            t.rows,
            [(2, vec!["张伟".to_string(), "华强科技, 深圳".to_string()])]
        );
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(text.as_bytes());
        let t = read_csv(Path::new("x.csv"), &bom, Encoding::Auto)?;
        assert_eq!(t.encoding, SourceEncoding::Utf8 { bom: true });
        assert_eq!(t.headers[0], "姓名");
        assert!(read_csv(Path::new("x.csv"), &gbk, Encoding::Utf8).is_err());
        assert!(read_csv(Path::new("x.csv"), b"", Encoding::Auto).is_err());
        assert_eq!(
            SourceEncoding::Gbk.encode("张伟"),
            encoding_rs::GBK.encode("张伟").0.into_owned()
        );
        Ok(())
    }

    #[test]
    fn tabs_and_semicolons_are_delimiters_too() -> Result<()> {
        let t = read_csv(
            Path::new("x.csv"),
            "name\tphone\nA\t1\n".as_bytes(),
            Encoding::Auto,
        )?;
        assert_eq!(t.headers, ["name", "phone"]);
        let t = read_csv(
            Path::new("x.csv"),
            "name;phone\nA;1\n".as_bytes(),
            Encoding::Auto,
        )?;
        assert_eq!(t.rows[0].1, ["A", "1"]);
        Ok(())
    }
}
