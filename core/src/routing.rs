//! Lead routing: a tenant's rules that give every new contact (a lead) an owner.
//!
//! The rules are an ordered list; the first rule that matches a lead decides. A rule may match
//! by region (province, city or district of the contact's address, read with
//! [`crate::address::parse_address`]) and by industry (the contact's `industry` or `行业` field);
//! a rule with neither matches every lead. A rule names one or more reps and how to pick among
//! them: `round_robin` (a counter the server keeps per rule) or `least_loaded` (the rep owning
//! the fewest active contacts).
//!
//! The server applies the rules once, at the sync that first brings a contact, and writes the
//! assignment as its own change: `owner`, plus `routed_by` (the rule), `routing_reason` and
//! `routed_at`, with the reason in the change's message so the record's history shows it. A
//! contact holding `routed_at` is never routed again. This module holds the pure parts (rules,
//! matching, the document edit); the server does the I/O.
//!
//! ```
//! use outpost_core::routing::{Lead, RoutingRules};
//! let rules = RoutingRules::parse(r#"{"rules": [
//!     {"name": "south", "region": ["广东省"], "reps": ["alice"]},
//!     {"reps": ["bob", "carol"], "pick": "round_robin"}
//! ]}"#)?;
//! let lead = Lead::from_fields(Some("深圳市南山区科技园"), None);
//! let (index, rule, why) = rules.matching(&lead).ok_or("no rule")?;
//! assert_eq!((index, rule.reps.as_slice(), why.as_str()), (0, &["alice".to_string()][..], "region 广东省"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::address::{parse_address, ParsedAddress};
use automerge::{AutoCommit, ReadDoc};
use serde::{Deserialize, Serialize};

/// The key holding the rule that routed a contact (its name, or `rule N`).
pub const ROUTED_BY: &str = "routed_by";
/// The key holding why the contact went to its owner.
pub const ROUTING_REASON: &str = "routing_reason";
/// The key holding when the server routed the contact (RFC 3339); its presence means "routed".
pub const ROUTED_AT: &str = "routed_at";
/// The keys the server writes besides `owner`; devices may not set them.
pub const MARKER_KEYS: &[&str] = &[ROUTED_BY, ROUTING_REASON, ROUTED_AT];
/// The contact fields read as the lead's industry, in order.
pub const INDUSTRY_KEYS: &[&str] = &["industry", "行业"];
/// Most rules in one file.
pub const MAX_RULES: usize = 200;
/// Most reps named by one rule.
pub const MAX_REPS: usize = 500;
/// Longest rep (user) name, in characters.
const MAX_NAME_CHARS: usize = 200;
/// The roles a device may have (see `skip_roles`).
const ROLES: &[&str] = &["rep", "manager", "admin"];

/// What is wrong with a routing rules file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// The text is not JSON of the expected shape (unknown keys are refused, to catch typos).
    #[error("routing rules: {0}")]
    Format(String),
    /// `rules` is empty.
    #[error("routing rules: \"rules\" is empty: give at least one rule")]
    NoRules,
    /// More rules than [`MAX_RULES`].
    #[error("routing rules: {0} rules, at most {MAX_RULES} are allowed")]
    TooManyRules(usize),
    /// One rule is wrong.
    #[error("routing rules: rule {number} ({label}): {problem}")]
    Rule {
        /// 1-based position in `rules`.
        number: usize,
        /// Its name, or `rule N`.
        label: String,
        /// What is wrong.
        problem: String,
    },
    /// `skip_roles` names a role that does not exist.
    #[error("routing rules: skip_roles: {0:?} is not a role (rep, manager or admin)")]
    UnknownRole(String),
}

/// How a rule picks among its reps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    /// In turn, one lead each; the turn is kept on the server and survives restarts.
    #[default]
    RoundRobin,
    /// The rep who owns the fewest active contacts (ties go to the one listed first).
    LeastLoaded,
}

impl Pick {
    /// `round_robin` or `least_loaded`.
    pub fn as_str(self) -> &'static str {
        match self {
            Pick::RoundRobin => "round_robin",
            Pick::LeastLoaded => "least_loaded",
        }
    }
}

/// One rule: which leads it matches and who gets them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    /// A name shown in the assignment's reason (default `rule N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Provinces, cities or districts (`广东省`, `深圳`, `南山区`); the lead's address must be
    /// in one of them. Empty: any place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub region: Vec<String>,
    /// Industries (compared without case and surrounding spaces with the contact's `industry`
    /// or `行业`). Empty: any industry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub industry: Vec<String>,
    /// The reps (user names) who get the leads.
    pub reps: Vec<String>,
    /// How to pick among several reps.
    #[serde(default)]
    pub pick: Pick,
}

impl RoutingRule {
    /// The rule's name, or `rule N` for the rule at `index` (0-based).
    pub fn label(&self, index: usize) -> String {
        match &self.name {
            Some(n) if !n.trim().is_empty() => n.trim().to_string(),
            _ => format!("rule {}", index + 1),
        }
    }

    /// Whether the rule matches every lead.
    pub fn is_catch_all(&self) -> bool {
        self.region.is_empty() && self.industry.is_empty()
    }
}

/// A tenant's routing rules, as loaded from the operator's file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRules {
    /// Contacts created by devices of these roles are not routed (`rep`, `manager`, `admin`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_roles: Vec<String>,
    /// The rules, first match wins.
    pub rules: Vec<RoutingRule>,
}

/// What the rules look at in a lead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lead {
    /// The contact's address, split into divisions.
    pub address: Option<ParsedAddress>,
    /// The contact's industry, trimmed.
    pub industry: Option<String>,
}

impl Lead {
    /// A lead with this address and industry.
    pub fn from_fields(address: Option<&str>, industry: Option<&str>) -> Lead {
        Lead {
            address: address
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(parse_address),
            industry: industry
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(str::to_string),
        }
    }

    /// The lead in a contact document.
    pub fn of_doc(doc: &AutoCommit) -> Lead {
        let industry = INDUSTRY_KEYS
            .iter()
            .find_map(|k| crate::record::get_str(doc, k).filter(|v| !v.trim().is_empty()));
        Lead::from_fields(
            crate::record::get_str(doc, "address").as_deref(),
            industry.as_deref(),
        )
    }
}

/// The division levels a region value names, as parsed (the text must be a division only).
fn region_of(value: &str) -> Option<ParsedAddress> {
    let p = parse_address(value);
    (p.rest.is_empty() && (p.province.is_some() || p.city.is_some() || p.district.is_some()))
        .then_some(p)
}

/// Whether `lead` lies in `region`: every level the region names is the lead's.
fn in_region(region: &ParsedAddress, lead: &ParsedAddress) -> bool {
    let same = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
    same(&region.province, &lead.province)
        && same(&region.city, &lead.city)
        && same(&region.district, &lead.district)
}

fn check_name(what: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("{what} is empty"));
    }
    if value.trim() != value {
        return Err(format!("{what} {value:?} has spaces around it"));
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(format!("{what} is longer than {MAX_NAME_CHARS} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{what} {value:?} holds a control character"));
    }
    Ok(())
}

impl RoutingRules {
    /// Reads and checks a rules file's JSON.
    pub fn parse(json: &str) -> Result<RoutingRules, RoutingError> {
        let rules: RoutingRules =
            serde_json::from_str(json).map_err(|e| RoutingError::Format(e.to_string()))?;
        rules.validate()?;
        Ok(rules)
    }

    /// Checks the rules: at least one; every rule names reps, real regions and industries; no
    /// rule is unreachable behind a rule that matches every lead; roles exist.
    pub fn validate(&self) -> Result<(), RoutingError> {
        if self.rules.is_empty() {
            return Err(RoutingError::NoRules);
        }
        if self.rules.len() > MAX_RULES {
            return Err(RoutingError::TooManyRules(self.rules.len()));
        }
        if let Some(r) = self
            .skip_roles
            .iter()
            .find(|r| !ROLES.contains(&r.as_str()))
        {
            return Err(RoutingError::UnknownRole(r.clone()));
        }
        let mut catch_all: Option<String> = None;
        for (i, rule) in self.rules.iter().enumerate() {
            let fail = |problem: String| RoutingError::Rule {
                number: i + 1,
                label: rule.label(i),
                problem,
            };
            if let Some(earlier) = &catch_all {
                return Err(fail(format!(
                    "can never match: {earlier} before it has no region or industry and takes every lead"
                )));
            }
            if let Some(n) = &rule.name {
                check_name("name", n).map_err(fail)?;
            }
            if rule.reps.is_empty() {
                return Err(fail("\"reps\" is empty: name at least one rep".into()));
            }
            if rule.reps.len() > MAX_REPS {
                return Err(fail(format!("more than {MAX_REPS} reps")));
            }
            for (j, rep) in rule.reps.iter().enumerate() {
                check_name("rep", rep).map_err(fail)?;
                if rule.reps[..j].contains(rep) {
                    return Err(fail(format!("rep {rep:?} is listed twice")));
                }
            }
            for r in &rule.region {
                if region_of(r).is_none() {
                    return Err(fail(format!(
                        "region {r:?} is not a province, city or district of the division table"
                    )));
                }
            }
            for ind in &rule.industry {
                check_name("industry", ind).map_err(fail)?;
            }
            if rule.is_catch_all() {
                catch_all = Some(rule.label(i));
            }
        }
        Ok(())
    }

    /// Whether contacts created by a device of `role` are left as they are.
    pub fn skips_role(&self, role: &str) -> bool {
        self.skip_roles.iter().any(|r| r == role)
    }

    /// The first rule matching `lead`: its index, the rule and what matched (`region 广东省`,
    /// `industry 制造业`, `every lead`).
    pub fn matching(&self, lead: &Lead) -> Option<(usize, &RoutingRule, String)> {
        self.rules.iter().enumerate().find_map(|(i, rule)| {
            let mut why = Vec::new();
            if !rule.region.is_empty() {
                let address = lead.address.as_ref()?;
                let hit = rule
                    .region
                    .iter()
                    .find(|r| region_of(r).is_some_and(|want| in_region(&want, address)))?;
                why.push(format!("region {hit}"));
            }
            if !rule.industry.is_empty() {
                let have = lead.industry.as_deref()?.to_lowercase();
                let hit = rule
                    .industry
                    .iter()
                    .find(|ind| ind.trim().to_lowercase() == have)?;
                why.push(format!("industry {hit}"));
            }
            if why.is_empty() {
                why.push("every lead".to_string());
            }
            Some((i, rule, why.join(", ")))
        })
    }
}

/// The rep for the `turn`-th round-robin pick (counting from 0) among `reps`.
pub fn round_robin(reps: &[String], turn: u64) -> Option<&String> {
    let len = u64::try_from(reps.len()).ok().filter(|l| *l > 0)?;
    reps.get(usize::try_from(turn % len).ok()?)
}

/// The rep with the fewest contacts among `reps`, given each one's count; ties go to the one
/// listed first.
pub fn least_loaded(reps: &[String], load: impl Fn(&str) -> u64) -> Option<&String> {
    reps.iter()
        .enumerate()
        .min_by_key(|(i, r)| (load(r), *i))
        .map(|(_, r)| r)
}

/// One routing decision, ready to be written into the contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The rep who owns the lead now.
    pub rep: String,
    /// The rule that decided (its name, or `rule N`).
    pub rule: String,
    /// Why, in words: the rule, what matched, how the rep was picked.
    pub reason: String,
}

/// Whether a contact document was routed already.
pub fn is_routed(doc: &AutoCommit) -> bool {
    doc.get(automerge::ROOT, ROUTED_AT).ok().flatten().is_some()
}

/// Whether a document is an active contact (not invalid, not merged): only those are routed
/// and counted as load.
pub fn is_active_contact(doc: &AutoCommit) -> bool {
    use crate::record::get_str;
    get_str(doc, "kind").as_deref() == Some("contact")
        && matches!(get_str(doc, "status").as_deref(), None | Some("active"))
}

/// The owner of a contact document that counts towards its load: an active contact's owner.
pub fn active_owner(doc: &AutoCommit) -> Option<String> {
    is_active_contact(doc)
        .then(|| crate::record::get_str(doc, "owner"))
        .flatten()
}

/// Writes the assignment into a contact document as the server: `owner` and the routing keys,
/// with `route: <reason>` as the change's action. Returns the change bytes (`None` when the
/// document was routed already, so a contact is never routed twice).
pub fn write_assignment(
    doc: &mut AutoCommit,
    assignment: &Assignment,
    now_ms: i64,
) -> crate::Result<Option<Vec<u8>>> {
    use crate::record::put_opt_str;
    if is_routed(doc) {
        return Ok(None);
    }
    put_opt_str(doc, "owner", Some(&assignment.rep))?;
    put_opt_str(doc, ROUTED_BY, Some(&assignment.rule))?;
    put_opt_str(doc, ROUTING_REASON, Some(&assignment.reason))?;
    put_opt_str(doc, ROUTED_AT, Some(&crate::record::rfc3339_ms(now_ms)))?;
    Ok(crate::flow::commit_as_server(
        doc,
        &format!("route: {}", assignment.reason),
        now_ms,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> RoutingRules {
        match RoutingRules::parse(json) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    fn err(json: &str) -> String {
        match RoutingRules::parse(json) {
            Ok(r) => panic!("accepted {r:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn first_matching_rule_wins_by_region_then_industry_then_catch_all() {
        let r = rules(
            r#"{"rules": [
                {"name": "shenzhen", "region": ["深圳"], "reps": ["alice"]},
                {"name": "guangdong", "region": ["广东省", "海南"], "reps": ["bob"]},
                {"industry": ["制造业", "Manufacturing"], "reps": ["carol", "dan"], "pick": "least_loaded"},
                {"reps": ["erin", "frank"]}
            ]}"#,
        );
        let hit = |address: Option<&str>, industry: Option<&str>| {
            r.matching(&Lead::from_fields(address, industry))
                .map(|(i, _, why)| (i, why))
        };
        assert_eq!(
            hit(Some("深圳市南山区科技园"), None),
            Some((0, "region 深圳".into()))
        );
        assert_eq!(
            hit(Some("广州市天河区体育西路"), Some("制造业")),
            Some((1, "region 广东省".into()))
        );
        assert_eq!(
            hit(Some("三亚市吉阳区"), None),
            Some((1, "region 海南".into()))
        );
        assert_eq!(
            hit(Some("北京市朝阳区"), Some(" manufacturing ")),
            Some((2, "industry Manufacturing".into()))
        );
        assert_eq!(hit(None, None), Some((3, "every lead".into())));
        assert_eq!(r.rules[2].pick, Pick::LeastLoaded);
        assert_eq!(r.rules[3].pick, Pick::RoundRobin);
    }

    #[test]
    fn a_region_and_an_industry_must_both_match() {
        let r =
            rules(r#"{"rules": [{"region": ["广东省"], "industry": ["零售"], "reps": ["a"]}]}"#);
        let m = |a: &str, i: Option<&str>| r.matching(&Lead::from_fields(Some(a), i)).is_some();
        assert!(m("深圳市福田区", Some("零售")));
        assert!(!m("深圳市福田区", None));
        assert!(!m("上海市浦东新区", Some("零售")));
    }

    #[test]
    fn bad_files_are_refused_naming_the_rule_and_the_problem() {
        assert!(err("{").contains("routing rules: EOF"), "{}", err("{"));
        assert!(err(r#"{"rules": [{"regoin": ["广东省"], "reps": ["a"]}]}"#)
            .contains("unknown field `regoin`"));
        assert!(err(r#"{"rules": [{"reps": ["a"], "pick": "random"}]}"#)
            .contains("unknown variant `random`"));
        assert_eq!(
            err(r#"{"rules": []}"#),
            "routing rules: \"rules\" is empty: give at least one rule"
        );
        assert_eq!(
            err(r#"{"rules": [{"name": "south", "region": ["火星"], "reps": ["a"]}]}"#),
            "routing rules: rule 1 (south): region \"火星\" is not a province, city or district of the division table"
        );
        assert_eq!(
            err(r#"{"rules": [{"region": ["广东省"], "reps": []}]}"#),
            "routing rules: rule 1 (rule 1): \"reps\" is empty: name at least one rep"
        );
        assert_eq!(
            err(r#"{"rules": [{"reps": ["a"]}, {"region": ["广东省"], "reps": ["b"]}]}"#),
            "routing rules: rule 2 (rule 2): can never match: rule 1 before it has no region or industry and takes every lead"
        );
        assert_eq!(
            err(r#"{"rules": [{"reps": ["a", "a"]}]}"#),
            "routing rules: rule 1 (rule 1): rep \"a\" is listed twice"
        );
        assert_eq!(
            err(r#"{"skip_roles": ["boss"], "rules": [{"reps": ["a"]}]}"#),
            "routing rules: skip_roles: \"boss\" is not a role (rep, manager or admin)"
        );
    }

    #[test]
    fn round_robin_cycles_and_least_loaded_takes_the_lightest_first_listed() {
        let reps: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let turns: Vec<&str> = (0..5)
            .filter_map(|t| round_robin(&reps, t).map(String::as_str))
            .collect();
        assert_eq!(turns, ["a", "b", "c", "a", "b"]);
        assert_eq!(round_robin(&[], 3), None);
        let load = |r: &str| match r {
            "a" => 3,
            "b" => 1,
            _ => 1,
        };
        assert_eq!(least_loaded(&reps, load).map(String::as_str), Some("b"));
    }

    #[test]
    fn an_assignment_is_written_once_with_its_reason_in_the_history() -> crate::Result<()> {
        let mut doc = AutoCommit::new();
        crate::record::put_opt_str(&mut doc, "kind", Some("contact"))?;
        doc.commit();
        assert!(is_active_contact(&doc) && active_owner(&doc).is_none());
        let a = Assignment {
            rep: "alice".into(),
            rule: "south".into(),
            reason: "rule 1 (south): region 广东省 → alice".into(),
        };
        assert!(write_assignment(&mut doc, &a, 1_700_000_000_000)?.is_some());
        assert!(is_routed(&doc));
        assert_eq!(active_owner(&doc).as_deref(), Some("alice"));
        let again = Assignment {
            rep: "bob".into(),
            ..a.clone()
        };
        assert_eq!(write_assignment(&mut doc, &again, 1_700_000_000_001)?, None);
        assert_eq!(active_owner(&doc).as_deref(), Some("alice"));
        let history = crate::record::history::history(&mut doc);
        let last = history.last().map(|h| h.action.clone());
        assert_eq!(
            last.as_deref(),
            Some("route: rule 1 (south): region 广东省 → alice")
        );
        Ok(())
    }
}
