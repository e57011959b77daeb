//! Bulk import of contacts from spreadsheets: `.csv` (UTF-8 with or without BOM, UTF-16 with
//! BOM, GBK/GB18030 as Excel saves it on a Chinese Windows) and `.xlsx`.
//!
//! - A header row is required. Columns are mapped by their header in Chinese or English
//!   (姓名/name, 公司/company, 职位/title, 手机/电话/phone, 邮箱/email, 地址/address,
//!   来源/source, 备注/notes, 负责人/owner, ...) and by explicit `COLUMN=FIELD` mappings;
//!   every other column is kept in the contact's `extra` under its header.
//! - Rows with no name or an invalid email are not imported; every other row is. An invalid
//!   phone is left out of its row (the report lists it), the row and its other phones are
//!   imported.
//! - A row sharing a phone, an email, or the same name at the same company with an earlier row
//!   or a stored contact is a duplicate: reported and not imported twice, or merged into the
//!   first when asked.
//! - Every refused or duplicate row, and every phone left out, goes into a CSV report (`row,column,value,reason`) written
//!   next to the input, in the input's encoding.
//! - The import is one transaction ([`crate::Store::import_file`]): after a crash nothing of it
//!   is in the store, and the import can simply be run again.

pub(crate) mod read;

use crate::error::{Error, Result};
use crate::record::contact::{ContactPatch, RESERVED_KEYS};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the bytes of a CSV file are to be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Encoding {
    /// A byte-order mark if present, else UTF-8 if the file is valid UTF-8, else GBK/GB18030.
    #[default]
    Auto,
    /// UTF-8 (a BOM is allowed).
    Utf8,
    /// GBK / GB18030.
    Gbk,
}

impl Encoding {
    /// Parses `auto`, `utf-8`/`utf8`, `gbk`/`gb18030`/`gb2312` (case-insensitive).
    pub fn parse(s: &str) -> Result<Encoding> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Encoding::Auto),
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "gbk" | "gb18030" | "gb2312" | "cp936" => Ok(Encoding::Gbk),
            _ => Err(Error::validation(
                "encoding",
                s,
                "expected auto, utf-8 or gbk",
            )),
        }
    }

    /// `auto`, `utf-8` or `gbk`.
    pub fn name(&self) -> &'static str {
        match self {
            Encoding::Auto => "auto",
            Encoding::Utf8 => "utf-8",
            Encoding::Gbk => "gbk",
        }
    }
}

/// How to import a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Explicit column mappings, `(column header, field)`; they win over the automatic ones.
    /// A field is `name`, `company`, `title`, `phone`, `email`, `address`, `source`, `owner`,
    /// `notes`, `ignore` (drop the column), or any other word: an extra field of that name.
    pub map: Vec<(String, String)>,
    /// Check everything and write the report, but import nothing.
    pub dry_run: bool,
    /// How to read a CSV file's bytes.
    pub encoding: Encoding,
    /// Merge duplicates (within the file, and with stored contacts) into the first one found
    /// instead of leaving them out.
    pub merge_duplicates: bool,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Contacts created (in a dry run: that would be created).
    pub imported: u64,
    /// Rows refused (no name, invalid email, ...): listed in the report.
    pub skipped: u64,
    /// Invalid phones left out of rows that were imported: listed in the report.
    #[serde(default)]
    pub warnings: u64,
    /// Rows that duplicate an earlier row or a stored contact: listed in the report.
    pub duplicates: u64,
    /// Of the duplicates, how many were merged into the first one (`merge_duplicates`).
    pub merged: u64,
    /// Data rows read (blank rows are not counted).
    pub rows: u64,
    /// The CSV report of refused and duplicate rows, next to the input.
    pub report: String,
    /// How the input was read: `utf-8`, `utf-8-bom`, `utf-16le`, `gbk` (`.xlsx`: `xlsx`).
    pub encoding: String,
    /// Whether this was a dry run (nothing imported).
    pub dry_run: bool,
}

/// How far an import is, reported while it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    /// Rows handled so far.
    pub done: u64,
    /// Rows in the file.
    pub total: u64,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    pub row: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// Where a column's cells go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Name,
    Company,
    Title,
    Phone,
    Email,
    Address,
    Source,
    Owner,
    Notes,
    Extra(String),
    Ignore,
}

fn field_target(field: &str) -> Option<Target> {
    Some(match field {
        "name" => Target::Name,
        "company" => Target::Company,
        "title" => Target::Title,
        "phone" | "phones" => Target::Phone,
        "email" | "emails" => Target::Email,
        "address" => Target::Address,
        "source" => Target::Source,
        "owner" => Target::Owner,
        "notes" | "note" => Target::Notes,
        "ignore" | "-" => Target::Ignore,
        _ => return None,
    })
}

/// Header words, normalized (lower case, no spaces, `_`, `-`, `*`, `:`), by field.
const HEADERS: &[(&str, &[&str])] = &[
    (
        "name",
        &[
            "姓名",
            "名字",
            "联系人",
            "客户姓名",
            "联系人姓名",
            "name",
            "fullname",
            "contact",
            "contactname",
        ],
    ),
    (
        "company",
        &[
            "公司",
            "公司名称",
            "单位",
            "单位名称",
            "企业",
            "企业名称",
            "客户名称",
            "company",
            "companyname",
            "organization",
            "organisation",
            "org",
        ],
    ),
    (
        "title",
        &[
            "职位", "职务", "头衔", "岗位", "title", "jobtitle", "position",
        ],
    ),
    (
        "phone",
        &[
            "手机",
            "电话",
            "手机号",
            "手机号码",
            "电话号码",
            "联系电话",
            "座机",
            "办公电话",
            "移动电话",
            "phone",
            "mobile",
            "tel",
            "telephone",
            "cell",
            "phonenumber",
            "mobilephone",
        ],
    ),
    (
        "email",
        &[
            "邮箱",
            "电子邮件",
            "电子邮箱",
            "邮件",
            "email",
            "e-mail",
            "mail",
            "emailaddress",
        ],
    ),
    (
        "address",
        &["地址", "联系地址", "公司地址", "通讯地址", "address"],
    ),
    (
        "source",
        &["来源", "客户来源", "线索来源", "source", "leadsource"],
    ),
    (
        "owner",
        &["负责人", "归属人", "业务员", "销售", "owner", "salesrep"],
    ),
    (
        "notes",
        &[
            "备注", "说明", "描述", "notes", "note", "remark", "remarks", "comment", "comments",
        ],
    ),
];

fn normalize_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '*' | ':' | '：'))
        .collect()
}

/// An extra field's key for a header: spaces become `_`, Outpost's own keys get `extra_`.
fn extra_key(header: &str, index: usize) -> String {
    let mut key: String = header
        .trim()
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '=' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .take(58)
        .collect();
    if key.is_empty() {
        key = format!("column_{}", index + 1);
    }
    if RESERVED_KEYS.contains(&key.as_str()) || key.starts_with("merged_from:") {
        key = format!("extra_{key}");
    }
    key
}

/// Maps each header to its target: explicit `map` first, then the known header words, else an
/// extra field named after the header.
pub(crate) fn map_columns(headers: &[String], map: &[(String, String)]) -> Result<Vec<Target>> {
    for (column, _) in map {
        if !headers.iter().any(|h| h.trim() == column.trim()) {
            return Err(Error::validation(
                "map",
                column.clone(),
                format!(
                    "no column with this header; the headers are: {}",
                    headers.join(", ")
                ),
            ));
        }
    }
    let targets: Vec<Target> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if let Some((_, field)) = map.iter().find(|(c, _)| c.trim() == h.trim()) {
                let f = field.trim().to_lowercase();
                return field_target(&f).unwrap_or_else(|| Target::Extra(extra_key(field, i)));
            }
            let n = normalize_header(h);
            HEADERS
                .iter()
                .find(|(_, words)| words.contains(&n.as_str()))
                .and_then(|(field, _)| field_target(field))
                .unwrap_or_else(|| Target::Extra(extra_key(h, i)))
        })
        .collect();
    if !targets.contains(&Target::Name) {
        return Err(Error::validation(
            "map",
            headers.join(", "),
            "no column holds the name: call it 姓名 or name, or pass --map COLUMN=name",
        ));
    }
    Ok(targets)
}

/// Splits a phone or email cell holding several values (`138... / 0755-...`, `a@x.com; b@y.com`).
fn split_values(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([';', '；', ',', '，', '、', '/', '\n'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A row turned into a contact patch, with the column each phone and email came from.
#[derive(Debug, Clone)]
pub(crate) struct RowPatch {
    pub patch: ContactPatch,
    /// `(field, raw value, column header)`, to name the column of a refused value.
    pub origins: Vec<(String, String, String)>,
}

/// Reads one row's cells into a patch.
pub(crate) fn row_patch(headers: &[String], targets: &[Target], cells: &[String]) -> RowPatch {
    let mut p = ContactPatch::default();
    let mut origins = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let Some(cell) = cells.get(i).map(|c| c.trim()).filter(|c| !c.is_empty()) else {
            continue;
        };
        let header = headers.get(i).cloned().unwrap_or_default();
        let first = |slot: &mut Option<String>| {
            if slot.is_none() {
                *slot = Some(cell.to_string());
            }
        };
        match target {
            Target::Name => {
                first(&mut p.name);
                origins.push(("name".into(), cell.to_string(), header));
            }
            Target::Company => first(&mut p.company),
            Target::Title => first(&mut p.title),
            Target::Address => first(&mut p.address),
            Target::Source => first(&mut p.source),
            Target::Owner => first(&mut p.owner),
            Target::Notes => notes.push(cell.to_string()),
            Target::Phone | Target::Email => {
                let (field, list) = match target {
                    Target::Phone => ("phones", p.phones.get_or_insert_with(Vec::new)),
                    _ => ("emails", p.emails.get_or_insert_with(Vec::new)),
                };
                for v in split_values(cell) {
                    list.push(v.to_string());
                    origins.push((field.into(), v.to_string(), header.clone()));
                }
            }
            Target::Extra(key) => {
                p.set.entry(key.clone()).or_insert_with(|| cell.to_string());
            }
            Target::Ignore => {}
        }
    }
    if !notes.is_empty() {
        p.notes = Some(notes.join("\n"));
    }
    RowPatch { patch: p, origins }
}

/// The column a refused field came from (for the report).
pub(crate) fn column_of(
    row: &RowPatch,
    headers: &[String],
    targets: &[Target],
    field: &str,
    value: &str,
) -> String {
    if let Some((_, _, h)) = row
        .origins
        .iter()
        .find(|(f, v, _)| f == field && (v == value || value.contains(v.as_str())))
    {
        return h.clone();
    }
    let wanted = field_target(field).unwrap_or_else(|| Target::Extra(field.to_string()));
    targets
        .iter()
        .position(|t| *t == wanted)
        .and_then(|i| headers.get(i).cloned())
        .unwrap_or_else(|| field.to_string())
}

/// The report as CSV text: `row,column,value,reason`, CRLF line ends (what Excel writes).
pub(crate) fn report_text(issues: &[Issue]) -> Result<String> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let fail =
        |e: csv::Error| Error::validation("report", "", format!("cannot write the report: {e}"));
    w.write_record(["row", "column", "value", "reason"])
        .map_err(fail)?;
    for i in issues {
        w.write_record([i.row.to_string().as_str(), &i.column, &i.value, &i.reason])
            .map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::validation("report", "", format!("cannot write the report: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Folds a duplicate row into the patch of the row it duplicates: phones and emails added,
/// fields and extra fields the first lacks filled in.
pub(crate) fn fold(into: &mut ContactPatch, dup: ContactPatch) {
    let fill = |slot: &mut Option<String>, v: Option<String>| {
        if slot.as_deref().is_none_or(|s| s.trim().is_empty()) {
            *slot = v;
        }
    };
    fill(&mut into.company, dup.company);
    fill(&mut into.title, dup.title);
    fill(&mut into.address, dup.address);
    fill(&mut into.source, dup.source);
    fill(&mut into.notes, dup.notes);
    for (slot, values) in [
        (&mut into.phones, dup.phones),
        (&mut into.emails, dup.emails),
    ] {
        let list = slot.get_or_insert_with(Vec::new);
        list.extend(values.unwrap_or_default());
    }
    let mut extra: BTreeMap<String, String> = dup.set;
    extra.retain(|k, _| !into.set.contains_key(k));
    into.set.extend(extra);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headers_map_in_chinese_and_english_and_unknown_ones_become_extra() -> Result<()> {
        let headers = h(&[
            "姓名",
            "公司名称",
            "手机",
            "电话",
            "E-Mail",
            "微信 号",
            "status",
            "",
        ]);
        let t = map_columns(&headers, &[])?;
        assert_eq!(
            t,
            [
                Target::Name,
                Target::Company,
                Target::Phone,
                Target::Phone,
                Target::Email,
                Target::Extra("微信_号".into()),
                Target::Extra("extra_status".into()),
                Target::Extra("column_8".into()),
            ]
        );
        let t = map_columns(&h(&["客户", "Mobile"]), &[("客户".into(), "name".into())])?;
        assert_eq!(t, [Target::Name, Target::Phone]);
        assert!(map_columns(&h(&["公司"]), &[]).is_err(), "no name column");
        assert!(map_columns(&h(&["姓名"]), &[("nope".into(), "name".into())]).is_err());
        Ok(())
    }

    #[test]
    fn cells_with_several_phones_are_split() {
        let headers = h(&["name", "phone", "备注", "备注2"]);
        let targets = [Target::Name, Target::Phone, Target::Notes, Target::Notes];
        let cells = h(&["张伟", "138 0013 8000 / 0755-52659655", "a", "b"]);
        let r = row_patch(&headers, &targets, &cells);
        assert_eq!(
            r.patch.phones,
            Some(vec!["138 0013 8000".into(), "0755-52659655".into()])
        );
        assert_eq!(r.patch.notes.as_deref(), Some("a\nb"));
        assert_eq!(
            column_of(&r, &headers, &targets, "phones", "0755-52659655"),
            "phone"
        );
    }

    #[test]
    fn report_quotes_commas() -> Result<()> {
        let text = report_text(&[Issue {
            row: 3,
            column: "手机".into(),
            value: "12,3".into(),
            reason: "bad".into(),
        }])?;
        assert_eq!(text, "row,column,value,reason\r\n3,手机,\"12,3\",bad\r\n");
        Ok(())
    }
}
