//! Restricted fields: one small document per field of a record (a deal's `amount`, `discount`,
//! `contract_amount`), so that its bytes reach only devices whose user may read the field.
//!
//! The document's id is [`crate::access::restricted_id`]`(record, field)` and it holds:
//!
//! | Key | Value |
//! |---|---|
//! | `id` | its own id |
//! | `kind` | `"restricted"` |
//! | `of` | the record it belongs to (non-empty) |
//! | `field` | one of [`crate::access::RESTRICTED_FIELDS`] |
//! | `value` | a finite number >= 0 (`discount` also <= 100); absent or null when cleared |

use super::get_str;
use crate::access::{self, RESTRICTED_FIELDS, RESTRICTED_KIND};
use crate::error::{Error, Result};
use automerge::{AutoCommit, ReadDoc, ScalarValue, Value, ROOT};

/// Checks a restricted field's value as typed; the error names the field.
pub fn check_value(field: &str, value: f64) -> Result<()> {
    check(field, value).map_err(|reason| Error::validation(field, value.to_string(), reason))
}

fn check(field: &str, value: f64) -> std::result::Result<(), String> {
    if !value.is_finite() || value < 0.0 {
        return Err("must be a number of at least 0".into());
    }
    if field == "discount" && value > 100.0 {
        return Err("a discount is a percentage: at most 100".into());
    }
    Ok(())
}

/// Whether `field` is a restricted field of `kind` records, else a validation error naming
/// `field`.
pub fn check_field(kind: &str, field: &str) -> Result<()> {
    if access::is_restricted(kind, field) {
        return Ok(());
    }
    let names: Vec<&str> = RESTRICTED_FIELDS
        .iter()
        .filter(|(_, k)| *k == kind)
        .map(|(f, _)| *f)
        .collect();
    Err(Error::validation(
        "field",
        field,
        format!(
            "not a restricted field of a {kind}; the restricted fields are {}",
            names.join(", ")
        ),
    ))
}

/// The value held by a restricted document: `Ok(None)` when absent or null (cleared), an error
/// when it holds something other than a number.
pub(crate) fn value(doc: &AutoCommit) -> std::result::Result<Option<f64>, String> {
    match doc.get(ROOT, "value") {
        Ok(None) => Ok(None),
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Null => Ok(None),
            ScalarValue::F64(_) | ScalarValue::Int(_) | ScalarValue::Uint(_) => Ok(s.as_f64()),
            other => Err(format!("value: must be a number, got {other}")),
        },
        Ok(Some(_)) => Err("value: must be a number, got an object".into()),
        Err(e) => Err(format!("value: {e}")),
    }
}

/// A restricted document's content, as read by the store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RestrictedValue {
    /// The record it belongs to.
    pub of: String,
    /// The field.
    pub field: String,
    /// The value (`None` when cleared).
    pub value: Option<f64>,
}

/// Reads a restricted document; `None` when it is not a valid one.
pub(crate) fn from_doc(doc: &AutoCommit) -> Option<RestrictedValue> {
    validate_doc(doc).ok()?;
    Some(RestrictedValue {
        of: get_str(doc, "of")?,
        field: get_str(doc, "field")?,
        value: value(doc).ok()?,
    })
}

/// Checks a restricted document received from elsewhere; the reason names the field.
pub(crate) fn validate_doc(doc: &AutoCommit) -> std::result::Result<(), String> {
    if get_str(doc, "kind").as_deref() != Some(RESTRICTED_KIND) {
        return Err(format!("kind: must be {RESTRICTED_KIND:?}"));
    }
    let of = get_str(doc, "of").unwrap_or_default();
    if of.trim().is_empty() {
        return Err("of: a restricted field needs the id of its record".into());
    }
    let field = get_str(doc, "field").unwrap_or_default();
    let Some((_, parent_kind)) = RESTRICTED_FIELDS.iter().find(|(f, _)| *f == field) else {
        return Err(format!(
            "field: {field:?} is not a restricted field (expected one of {})",
            RESTRICTED_FIELDS
                .iter()
                .map(|(f, _)| *f)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if let Some(id) = get_str(doc, "id") {
        if id != access::restricted_id(&of, &field) {
            return Err(format!(
                "id: a restricted {parent_kind} field's id is {:?}",
                access::restricted_id(&of, &field)
            ));
        }
    }
    if let Some(v) = value(doc)? {
        check(&field, v).map_err(|reason| format!("value: {reason}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    fn doc(entries: &[(&str, ScalarValue)]) -> AutoCommit {
        let mut d = AutoCommit::new();
        for (k, v) in entries {
            let _ = d.put(ROOT, *k, v.clone());
        }
        d
    }

    fn valid() -> Vec<(&'static str, ScalarValue)> {
        vec![
            ("id", "d1_discount".into()),
            ("kind", "restricted".into()),
            ("of", "d1".into()),
            ("field", "discount".into()),
            ("value", 12.5.into()),
        ]
    }

    #[test]
    fn valid_documents_pass_and_read_back() {
        let d = doc(&valid());
        assert_eq!(validate_doc(&d), Ok(()));
        assert_eq!(
            from_doc(&d),
            Some(RestrictedValue {
                of: "d1".into(),
                field: "discount".into(),
                value: Some(12.5)
            })
        );
        let mut cleared = valid();
        cleared[4] = ("value", ScalarValue::Null);
        assert_eq!(validate_doc(&doc(&cleared)), Ok(()));
        assert_eq!(from_doc(&doc(&cleared)).and_then(|r| r.value), None);
        let absent = &valid()[..4];
        assert_eq!(validate_doc(&doc(absent)), Ok(()));
    }

    #[test]
    fn bad_documents_name_the_field() {
        let cases: Vec<(usize, ScalarValue, &str)> = vec![
            (1, "deal".into(), "kind"),
            (2, "".into(), "of"),
            (3, "salary".into(), "field"),
            (4, (-1.0).into(), "value"),
            (4, 101.0.into(), "value"),
            (4, f64::NAN.into(), "value"),
            (4, "12".into(), "value"),
            (0, "other_discount".into(), "id"),
        ];
        for (i, v, field) in cases {
            let mut entries = valid();
            entries[i].1 = v;
            let e = validate_doc(&doc(&entries));
            assert!(
                e.as_ref().is_err_and(|e| e.starts_with(field)),
                "{field}: {e:?}"
            );
        }
        // An amount may exceed 100.
        let mut amount = valid();
        amount[0].1 = "d1_amount".into();
        amount[3].1 = "amount".into();
        amount[4].1 = 250_000.0.into();
        assert_eq!(validate_doc(&doc(&amount)), Ok(()));
    }

    #[test]
    fn typed_values_are_checked() {
        assert!(check_value("amount", 1e9).is_ok());
        assert!(matches!(
            check_value("discount", 150.0),
            Err(Error::Validation { ref field, .. }) if field == "discount"
        ));
        assert!(check_field("deal", "contract_amount").is_ok());
        assert!(matches!(
            check_field("deal", "title"),
            Err(Error::Validation { ref field, .. }) if field == "field"
        ));
    }
}
