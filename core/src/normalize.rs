//! Normalization of what reps type: phone numbers to E.164, emails to lower case.

use crate::error::{Error, Result};
use phonenumber::{country, Mode};

/// A phone region (ISO 3166 alpha-2, e.g. `CN`) used for numbers typed without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(country::Id);

impl Region {
    /// Parses a region code such as `CN`, `HK`, `US` (case-insensitive).
    pub fn parse(code: &str) -> Result<Region> {
        code.trim()
            .to_ascii_uppercase()
            .parse::<country::Id>()
            .map(Region)
            .map_err(|_| Error::validation("region", code, "not an ISO 3166 region code like CN"))
    }

    /// The region code, e.g. `CN`.
    pub fn code(&self) -> String {
        let code: &str = self.0.as_ref();
        code.to_string()
    }
}

impl Default for Region {
    fn default() -> Self {
        Region(country::Id::CN)
    }
}

/// Normalizes a phone number to E.164 (`+8613800138000`), or refuses it naming `field`.
///
/// Accepts the forms reps type: `138 0013 8000`, `+86 138-0013-8000`, `8613800138000`,
/// `0755-52659655`, `(0755) 5265 9655`, `+1 650 253 0000`.
pub fn phone(field: &str, raw: &str, region: Region) -> Result<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Error::validation(field, raw, "phone number is empty"));
    }
    if trimmed.chars().any(|c| {
        !(c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '.' | '/' | '\u{3000}'))
    }) {
        return Err(Error::validation(
            field,
            raw,
            "phone number may only contain digits, spaces, + - ( ) . /",
        ));
    }
    let parsed = phonenumber::parse(Some(region.0), trimmed)
        .ok()
        .filter(phonenumber::is_valid)
        .or_else(|| {
            // `8613800138000`: a country code typed without its `+`.
            let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
            if trimmed.starts_with('+') || digits.starts_with('0') {
                return None;
            }
            phonenumber::parse(None, format!("+{digits}"))
                .ok()
                .filter(phonenumber::is_valid)
        });
    match parsed {
        Some(number) => Ok(number.format().mode(Mode::E164).to_string()),
        None => Err(Error::validation(
            field,
            raw,
            format!("not a valid phone number for region {}", region.code()),
        )),
    }
}

/// Trims and lower-cases an email address, or refuses it naming `field`.
pub fn email(field: &str, raw: &str) -> Result<String> {
    let value = raw.trim().to_lowercase();
    let bad = |reason: &str| Err(Error::validation(field, raw, reason));
    let Some((local, domain)) = value.rsplit_once('@') else {
        return bad("email address has no @");
    };
    if local.is_empty() || local.len() > 64 {
        return bad("email address has an empty or over-long part before @");
    }
    if domain.len() > 253
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return bad("email domain must look like example.com");
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
    {
        return bad("email address contains spaces or characters that are not allowed");
    }
    if domain
        .split('.')
        .any(|label| label.is_empty() || label.starts_with('-') || label.ends_with('-'))
    {
        return bad("email domain has an empty or malformed label");
    }
    Ok(value)
}

/// The national significant number of an E.164 string, as digits (`+8613800138000` → `13800138000`),
/// and the national form with trunk prefix where the region uses one (`+8675552659655` → `075552659655`).
pub(crate) fn national_forms(e164: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(number) = phonenumber::parse(None, e164) {
        let nsn = number.national().to_string();
        if number.code().value() == 86 && !nsn.starts_with('1') {
            out.push(format!("0{nsn}"));
        }
        out.push(nsn);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cn(raw: &str) -> Result<String> {
        phone("phones", raw, Region::default())
    }

    #[test]
    fn chinese_mobile_forms_become_one_e164() {
        for raw in [
            "138 0013 8000",
            "+86 138-0013-8000",
            "8613800138000",
            "13800138000",
            "+8613800138000",
            "(+86) 138.0013.8000",
        ] {
            assert_eq!(cn(raw).ok().as_deref(), Some("+8613800138000"), "{raw}");
        }
    }

    #[test]
    fn landline_with_area_code() {
        assert_eq!(cn("0755-52659655").ok().as_deref(), Some("+8675552659655"));
        assert_eq!(cn("(010) 6552 9988").ok().as_deref(), Some("+861065529988"));
    }

    #[test]
    fn other_regions() {
        let us = Region::parse("us").ok();
        assert!(us.is_some());
        let us = us.unwrap_or_default();
        assert_eq!(
            phone("phones", "(650) 253-0000", us).ok().as_deref(),
            Some("+16502530000")
        );
        assert_eq!(cn("+852 2123 4567").ok().as_deref(), Some("+85221234567"));
        assert!(Region::parse("ZZZ").is_err());
    }

    #[test]
    fn invalid_phones_name_the_field_and_value() {
        for raw in [
            "",
            "12345",
            "abc",
            "138001380001234",
            "+86 000 0000 0000",
            "13800138000x",
        ] {
            match cn(raw) {
                Err(Error::Validation { field, value, .. }) => {
                    assert_eq!(field, "phones");
                    assert_eq!(value, raw);
                }
                other => panic!("{raw} should be refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn emails_trimmed_and_lowercased() {
        assert_eq!(
            email("emails", "  Zhang.Wei@HuaQiang.COM ").ok().as_deref(),
            Some("zhang.wei@huaqiang.com")
        );
        for bad in [
            "zhang",
            "@x.com",
            "a@b",
            "a b@c.com",
            "a@.com",
            "a@com.",
            "a@-x.com",
        ] {
            assert!(email("emails", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn national_forms_for_search() {
        assert_eq!(national_forms("+8613800138000"), vec!["13800138000"]);
        assert_eq!(
            national_forms("+8675552659655"),
            vec!["075552659655", "75552659655"]
        );
    }
}
