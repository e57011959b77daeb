//! E-mail addresses and websites as OCR reads them: `＠` and `(at)` for `@`, `。` for the dot,
//! spaces inside (`wang @ qq . com`), a comma in the domain. Repairs are made only where they
//! end in a known top-level domain, so ordinary text (`Sales @ Beijing. Office`) never becomes
//! an address.

use super::after_label;
use super::re;
use crate::normalize;
use regex::Regex;
use std::sync::LazyLock;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(r"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
});
static WEBSITE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:https?://)?(?:www|WWW)\.[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}(?:/[^\s]*)?|https?://[a-z0-9\-.]+\.[a-z]{2,}(?:/[^\s]*)?",
    )
});
const EMAIL_LABELS: &[&str] = &["E-mail", "Email", "Mail", "邮箱", "电邮", "E"];
const WEB_LABELS: &[&str] = &["Website", "Web", "网址", "网站", "W", "URL"];

/// Top-level domains an e-mail or a site repaired from OCR noise must end in: a repair that
/// ends elsewhere (`sales @ beijing. office`) was ordinary text, not an address.
const KNOWN_TLDS: &[&str] = &[
    "com", "cn", "net", "org", "edu", "gov", "info", "biz", "jp", "vn", "hk", "tw", "mo", "kr",
    "sg", "my", "th", "id", "ph", "in", "de", "fr", "uk", "us", "au", "ca", "it", "es", "nl", "ch",
    "ru", "io", "co", "cc", "me", "top", "xyz", "asia", "tech", "ai", "shop", "site", "online",
    "ltd", "group",
];

/// What OCR reads for `@` (`(at)`, `[at]`, `©`) and for the dot (`。`, `．`, `,` in a domain).
static AT_MARK: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\s*(?:[(\[{（【]\s*at\s*[)\]}）】]|[©®])\s*"));
static DOT_MARK: LazyLock<Regex> = LazyLock::new(|| re(r"\s*[。．｡﹒]\s*"));

fn known_tld(domain: &str) -> bool {
    domain
        .rsplit('.')
        .next()
        .is_some_and(|tld| KNOWN_TLDS.contains(&tld.to_ascii_lowercase().as_str()))
}

/// The e-mail addresses of a line, repaired from OCR noise: full-width `＠` (folded earlier),
/// `(at)`, `。` for the dot, spaces inside (`wang @ qq . com`), a comma in the domain. Each
/// comes with whether it had to be repaired; a repaired address must end in a known domain.
pub fn emails_in(text: &str) -> Vec<(String, bool)> {
    let folded = text.replace('＠', "@");
    let text = folded.as_str();
    let at = if text.contains('@') {
        text.to_string()
    } else {
        AT_MARK.replace_all(text, "@").into_owned()
    };
    if !at.contains('@') {
        return Vec::new();
    }
    let body = after_label(&at, EMAIL_LABELS).unwrap_or(&at);
    let dotted = DOT_MARK.replace_all(body, ".");
    let squeezed: String = dotted
        .replace(" @", "@")
        .replace("@ ", "@")
        .replace(" .", ".")
        .replace(". ", ".");
    let squeezed = match squeezed.split_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.replace([',', '，'], ".")),
        None => squeezed,
    };
    let mut out = Vec::new();
    for m in EMAIL.find_iter(&squeezed) {
        let found = m.as_str();
        // Read as printed when the address stands in the original text as it is.
        let repaired = !text.contains(found);
        let domain = found.rsplit('@').next().unwrap_or_default();
        if repaired && !known_tld(domain) {
            continue;
        }
        if let Ok(email) = normalize::email("email", found) {
            out.push((email, repaired));
        }
    }
    out
}

/// A line that is nothing but a domain (`huaqiang.com.cn`): a website printed without `www.`.
static BARE_DOMAIN: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(?i)[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.[a-z]{2,6}/?$"));

/// The website of a line: `www.` or a scheme, or what follows a web label, or (when `bare`
/// is allowed: the line holds nothing else) a line that is only a domain with a known
/// top-level domain. Lower case, without the scheme, with the rule's certainty.
pub fn website_in(text: &str, bare: bool) -> Option<(String, f32)> {
    let dotted = DOT_MARK.replace_all(text, ".");
    let web_body = after_label(&dotted, WEB_LABELS);
    let squeezed = web_body
        .unwrap_or(&dotted)
        .replace(". ", ".")
        .replace(" .", ".");
    let (site, rule) = WEBSITE
        .find(&squeezed)
        .map(|m| (m.as_str().to_string(), 0.95))
        .or_else(|| {
            web_body
                .filter(|b| !b.contains('@') && b.contains('.') && !b.contains(' '))
                .map(|b| (b.to_string(), 0.9))
        })
        .or_else(|| {
            let t = squeezed.trim();
            (bare && BARE_DOMAIN.is_match(t) && known_tld(t.trim_end_matches('/')))
                .then(|| (t.to_string(), 0.75))
        })?;
    if site.contains('@') {
        return None;
    }
    let value = site
        .to_lowercase()
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches(['/', '.', ','])
        .to_string();
    Some((value, rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emails(text: &str) -> Vec<String> {
        emails_in(text).into_iter().map(|(e, _)| e).collect()
    }

    #[test]
    fn emails_as_ocr_reads_them() {
        assert_eq!(emails("邮箱:wang＠qq。com"), ["wang@qq.com"]);
        assert_eq!(emails("E-mail: wang @ qq . com"), ["wang@qq.com"]);
        assert_eq!(
            emails("li.na[at]huaqiang.com.cn"),
            ["li.na@huaqiang.com.cn"]
        );
        assert_eq!(emails("sales@huaqiang,com"), ["sales@huaqiang.com"]);
        // As printed: no repair, any domain.
        assert_eq!(
            emails_in("hi@studio.design"),
            [("hi@studio.design".to_string(), false)]
        );
        assert!(emails("Sales @ Beijing. Office").is_empty());
        assert!(emails("meet us at booth 5.com").is_empty());
    }

    #[test]
    fn websites_as_ocr_reads_them() {
        let site = |t: &str| website_in(t, true).map(|(s, _)| s);
        assert_eq!(
            site("网址:www。huaqiang。com").as_deref(),
            Some("www.huaqiang.com")
        );
        assert_eq!(
            site("http://www.hengtong.com/").as_deref(),
            Some("www.hengtong.com")
        );
        assert_eq!(site("huaqiang.com.cn").as_deref(), Some("huaqiang.com.cn"));
        assert_eq!(site("Co.,Ltd"), None);
        assert_eq!(site("No.5 Keji Rd."), None);
    }
}
