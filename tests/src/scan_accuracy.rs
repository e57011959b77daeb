//! Field accuracy of scans: extracted fields compared with the rendered truth, exact match
//! after normalization (full-width folded, spaces removed, case ignored, trailing punctuation
//! dropped; phones as E.164 sets, amounts to the fen).

use crate::scan_render::{CardTruth, ContractTruth};
use outpost_core::scan::extract::{CardFields, ContractFields, Field};
use serde::Serialize;
use std::collections::BTreeMap;

/// One field compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldMatch {
    /// Field name, e.g. `name`, `phones`.
    pub field: &'static str,
    /// The true value (lists joined with `, `).
    pub expected: String,
    /// What was extracted (`None`: nothing).
    pub got: Option<String>,
    /// Whether they are equal after normalization.
    pub matched: bool,
    /// Each extracted value's confidence and whether that value is right (for a list, whether
    /// it is one of the true values), so the benchmark can ask whether confidence tells right
    /// from wrong. Empty when nothing was extracted.
    pub confidences: Vec<ScoredValue>,
}

/// One extracted value's confidence and whether the value is right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoredValue {
    /// The field's confidence, 0..1.
    pub confidence: f32,
    /// Whether the value equals the truth (after normalization).
    pub right: bool,
}

/// Folds a value for comparison: full-width to ASCII, no whitespace, lower case, no trailing
/// `.,;。，`.
pub fn normalize_value(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .trim_end_matches(['.', ',', ';', '。', '，'])
        .to_string()
}

fn compare(field: &'static str, expected: Option<&str>, got: Option<&Field>) -> Option<FieldMatch> {
    if expected.is_none() && got.is_none() {
        return None;
    }
    let matched = match (expected, got) {
        (Some(e), Some(g)) => normalize_value(e) == normalize_value(&g.value),
        _ => false,
    };
    Some(FieldMatch {
        field,
        expected: expected.unwrap_or_default().to_string(),
        got: got.map(|g| g.value.clone()),
        matched,
        confidences: got
            .map(|g| ScoredValue {
                confidence: g.confidence,
                right: matched,
            })
            .into_iter()
            .collect(),
    })
}

fn compare_list(field: &'static str, expected: &[String], got: &[Field]) -> Option<FieldMatch> {
    if expected.is_empty() && got.is_empty() {
        return None;
    }
    let mut e: Vec<String> = expected.iter().map(|s| normalize_value(s)).collect();
    let mut g: Vec<String> = got.iter().map(|f| normalize_value(&f.value)).collect();
    e.sort();
    g.sort();
    Some(FieldMatch {
        field,
        expected: expected.join(", "),
        got: (!got.is_empty()).then(|| {
            got.iter()
                .map(|f| f.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }),
        matched: e == g,
        confidences: got
            .iter()
            .map(|f| ScoredValue {
                confidence: f.confidence,
                right: e.contains(&normalize_value(&f.value)),
            })
            .collect(),
    })
}

/// Compares a card's fields with its truth. Fields absent from both are not scored; a field
/// extracted where none is printed counts as a miss.
pub fn card_accuracy(truth: &CardTruth, got: &CardFields) -> Vec<FieldMatch> {
    [
        compare("name", Some(&truth.name), got.name.as_ref()),
        compare("title", truth.title.as_deref(), got.title.as_ref()),
        compare("company", Some(&truth.company), got.company.as_ref()),
        compare_list("phones", &truth.phones, &got.phones),
        compare_list("emails", &truth.emails, &got.emails),
        compare("address", truth.address.as_deref(), got.address.as_ref()),
        compare("website", truth.website.as_deref(), got.website.as_ref()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Compares a contract's fields with its truth (the amount to the fen).
pub fn contract_accuracy(truth: &ContractTruth, got: &ContractFields) -> Vec<FieldMatch> {
    let amount = got.amount.as_ref().map(|a| Field {
        value: format!("{:.2}", a.value),
        confidence: a.confidence,
        bbox: a.bbox,
    });
    [
        compare(
            "contract_number",
            Some(&truth.contract_number),
            got.contract_number.as_ref(),
        ),
        compare("party_a", Some(&truth.party_a), got.party_a.as_ref()),
        compare("party_b", Some(&truth.party_b), got.party_b.as_ref()),
        compare(
            "amount",
            Some(&format!("{:.2}", truth.amount)),
            amount.as_ref(),
        ),
        compare(
            "amount_upper",
            Some(&truth.amount_upper),
            got.amount_upper.as_ref(),
        ),
        compare("date", Some(&truth.date), got.date.as_ref()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The truth of either kind and what was extracted.
pub enum Compared<'a> {
    /// A card.
    Card(&'a CardTruth, &'a CardFields),
    /// A contract.
    Contract(&'a ContractTruth, &'a ContractFields),
}

/// Per-field matches of one document: the entry point the benchmark uses.
pub fn field_accuracy(compared: Compared<'_>) -> Vec<FieldMatch> {
    match compared {
        Compared::Card(t, g) => card_accuracy(t, g),
        Compared::Contract(t, g) => contract_accuracy(t, g),
    }
}

/// Matched and scored counts per field, and overall.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Accuracy {
    /// Field → (matched, scored).
    pub per_field: BTreeMap<&'static str, (usize, usize)>,
}

impl Accuracy {
    /// Adds one document's matches.
    pub fn add(&mut self, matches: &[FieldMatch]) {
        for m in matches {
            let e = self.per_field.entry(m.field).or_default();
            e.0 += m.matched as usize;
            e.1 += 1;
        }
    }

    /// Matched / scored over all fields (1.0 when nothing was scored).
    pub fn overall(&self) -> f64 {
        let (m, n) = self
            .per_field
            .values()
            .fold((0, 0), |(m, n), &(a, b)| (m + a, n + b));
        if n == 0 {
            1.0
        } else {
            m as f64 / n as f64
        }
    }

    /// Matched / scored for one field.
    pub fn field(&self, name: &str) -> Option<f64> {
        self.per_field
            .get(name)
            .map(|&(m, n)| if n == 0 { 1.0 } else { m as f64 / n as f64 })
    }
}
