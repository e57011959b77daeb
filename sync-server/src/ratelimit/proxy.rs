//! The client's address behind trusted reverse proxies.
//!
//! A request's client address is its TCP peer's, unless the peer is a trusted proxy
//! ([`TrustedProxies`], `outpost-server serve --trusted-proxy CIDR`): then it is read from the
//! one forwarding header the operator named ([`ForwardedHeader`]: `X-Forwarded-For` by default,
//! or RFC 7239 `Forwarded: for=...`). Each proxy appends the address it received the request
//! from, so the list is walked from the right, skipping trusted proxies; the first address not
//! trusted is the client's. What a client wrote itself stands left of that and is never read.
//!
//! Only the named header is read, never both: a proxy that sets one passes the other through
//! untouched, and a client that wrote it could choose its own address.
//!
//! Parsing is defensive and never fails a request: headers over [`MAX_FORWARDED_BYTES`] or with
//! more than [`MAX_HOPS`] hops, non-ASCII text or an unterminated quote count as absent (the
//! client address is the peer's); a hop that cannot be read (`unknown`, an obfuscated `_name`,
//! garbage) stops the walk at the nearest trusted address right of it. Either way the request is
//! keyed on a trusted proxy's address, which only such requests share, so a malformed header
//! gains its sender no fresh address.

use axum::http::HeaderMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// Most bytes of forwarding header read (all lines together); longer counts as absent.
pub const MAX_FORWARDED_BYTES: usize = 8 * 1024;
/// Most hops read from a forwarding header; more count as absent.
pub const MAX_HOPS: usize = 64;
/// Most trusted proxy ranges accepted.
pub const MAX_TRUSTED_RANGES: usize = 256;
/// The longest hop read (an IPv6 address with brackets and a port is under 60 characters).
const MAX_HOP_CHARS: usize = 100;

/// An IP address range: an address and a prefix length (`10.0.0.0/8`, `2001:db8::/32`; a bare
/// address is a range of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a range was refused; the message names the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// Nothing given.
    #[error("an empty value is not an address range (like 10.0.0.0/8 or 2001:db8::/32)")]
    Empty,
    /// Not an address, or not `address/prefix`.
    #[error("{0:?} is not an IP address or range (like 10.0.0.0/8, 2001:db8::/32 or 127.0.0.1)")]
    Syntax(String),
    /// The prefix is not a number of bits the address has.
    #[error("{value:?}: the prefix length must be 0 to {max} for an {family} address")]
    Prefix {
        /// The value.
        value: String,
        /// 32 or 128.
        max: u8,
        /// `IPv4` or `IPv6`.
        family: &'static str,
    },
    /// Bits set beyond the prefix: most likely a typo.
    #[error("{value:?} has bits set past its /{prefix} prefix (did you mean {suggested}?)")]
    HostBits {
        /// The value.
        value: String,
        /// Its prefix length.
        prefix: u8,
        /// The range with those bits cleared.
        suggested: String,
    },
}

impl Cidr {
    /// Whether `ip` is in this range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask32(u32::from(ip), self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask128(u128::from(ip), self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask32(bits: u32, prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => bits & (u32::MAX << (32 - u32::from(p.min(32)))),
    }
}

fn mask128(bits: u128, prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => bits & (u128::MAX << (128 - u32::from(p.min(128)))),
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(value: &str) -> Result<Self, CidrError> {
        let v = value.trim();
        if v.is_empty() {
            return Err(CidrError::Empty);
        }
        let syntax = || CidrError::Syntax(v.to_string());
        if v.len() > MAX_HOP_CHARS {
            return Err(syntax());
        }
        let (addr, prefix) = match v.split_once('/') {
            Some((a, p)) => {
                let addr = IpAddr::from_str(a.trim()).map_err(|_| syntax())?;
                let p = p.trim();
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 3 {
                    return Err(syntax());
                }
                let prefix = p.parse::<u8>().map_err(|_| syntax())?;
                (addr, Some(prefix))
            }
            None => (IpAddr::from_str(v).map_err(|_| syntax())?, None),
        };
        // A range of IPv4-mapped IPv6 addresses is an IPv4 range.
        let (addr, prefix) = match (addr, prefix) {
            (IpAddr::V6(a), Some(p)) if a.to_ipv4_mapped().is_some() && p >= 96 => {
                (addr.to_canonical(), Some(p - 96))
            }
            (a, p) => (a.to_canonical(), p),
        };
        let (max, family) = match addr {
            IpAddr::V4(_) => (32u8, "IPv4"),
            IpAddr::V6(_) => (128u8, "IPv6"),
        };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(CidrError::Prefix {
                value: v.to_string(),
                max,
                family,
            });
        }
        let masked = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(mask32(u32::from(a), prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(mask128(u128::from(a), prefix))),
        };
        if masked != addr {
            return Err(CidrError::HostBits {
                value: v.to_string(),
                prefix,
                suggested: format!("{masked}/{prefix}"),
            });
        }
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Which header a trusted proxy writes the client's address into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, Caddy, Traefik, cloud load
    /// balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for="[2001:db8::1]:4711"`.
    Forwarded,
}

impl ForwardedHeader {
    /// `x-forwarded-for` or `forwarded`, as the flag spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }
}

impl FromStr for ForwardedHeader {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            _ => Err(format!(
                "{s:?} is not a forwarding header: x-forwarded-for or forwarded"
            )),
        }
    }
}

/// The proxies whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<Cidr>,
    header: ForwardedHeader,
}

/// Too many trusted ranges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0} trusted proxy ranges given; at most {MAX_TRUSTED_RANGES} are accepted (use wider ranges)"
)]
pub struct TooManyRanges(pub usize);

/// A request's client address, and whether it came from a forwarding header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    /// The client's address (IPv4-mapped IPv6 addresses as IPv4).
    pub ip: IpAddr,
    /// Whether [`Self::ip`] was read from a trusted proxy's header (else it is the peer's).
    pub forwarded: bool,
}

impl TrustedProxies {
    /// No trusted proxy: every forwarding header is ignored.
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts `ranges`, reading `header` from them.
    pub fn new(ranges: Vec<Cidr>, header: ForwardedHeader) -> Result<Self, TooManyRanges> {
        if ranges.len() > MAX_TRUSTED_RANGES {
            return Err(TooManyRanges(ranges.len()));
        }
        Ok(Self { ranges, header })
    }

    /// The trusted ranges.
    pub fn ranges(&self) -> &[Cidr] {
        &self.ranges
    }

    /// The header read from trusted proxies.
    pub fn header(&self) -> ForwardedHeader {
        self.header
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    /// The client address of a request from `peer` with `headers` (see the module's doc).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> ClientAddr {
        let peer = peer.to_canonical();
        let direct = ClientAddr {
            ip: peer,
            forwarded: false,
        };
        if !self.trusts(peer) {
            return direct;
        }
        let Some(hops) = hops(headers, self.header) else {
            return direct;
        };
        // The nearest address known good: the peer, then each trusted hop walked past.
        let mut nearest = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.trusts(*ip) => nearest = *ip,
                Some(ip) => {
                    return ClientAddr {
                        ip: *ip,
                        forwarded: true,
                    }
                }
                None => break,
            }
        }
        // Every hop trusted (the left-most is the client), or an unreadable one.
        ClientAddr {
            ip: nearest,
            forwarded: nearest != peer,
        }
    }
}

/// The hops of the forwarding header, left to right (`None` for one that cannot be read);
/// `None` when the header is absent or malformed as a whole.
fn hops(headers: &HeaderMap, header: ForwardedHeader) -> Option<Vec<Option<IpAddr>>> {
    let name = header.as_str();
    let mut total = 0usize;
    let mut lines = Vec::new();
    for value in headers.get_all(name) {
        total = total.saturating_add(value.len() + 1);
        if total > MAX_FORWARDED_BYTES {
            return None;
        }
        lines.push(value.to_str().ok()?);
    }
    if lines.is_empty() {
        return None;
    }
    let mut hops = Vec::new();
    for line in lines {
        match header {
            ForwardedHeader::XForwardedFor => {
                for element in line.split(',') {
                    hops.push(node(element));
                    if hops.len() > MAX_HOPS {
                        return None;
                    }
                }
            }
            ForwardedHeader::Forwarded => {
                for element in split_quoted(line, ',')? {
                    hops.push(forwarded_for(element));
                    if hops.len() > MAX_HOPS {
                        return None;
                    }
                }
            }
        }
    }
    Some(hops)
}

/// An address as a hop writes it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`. `unknown`, `_obfuscated` and anything else: `None`.
fn node(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    if t.is_empty() || t.len() > MAX_HOP_CHARS {
        return None;
    }
    if let Ok(ip) = IpAddr::from_str(t) {
        return Some(ip.to_canonical());
    }
    if let Ok(addr) = SocketAddr::from_str(t) {
        return Some(addr.ip().to_canonical());
    }
    let inner = t.strip_prefix('[')?.strip_suffix(']')?;
    Ipv6Addr::from_str(inner)
        .ok()
        .map(|ip| IpAddr::V6(ip).to_canonical())
}

/// The `for` node of one `Forwarded` element (`for=192.0.2.60;proto=http;by=203.0.113.43`);
/// `None` when it has none, has it twice, or it cannot be read.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let mut found = None;
    for pair in split_quoted(element, ';')? {
        if pair.trim().is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("for") {
            continue;
        }
        if found.is_some() {
            return None;
        }
        found = Some(unquote(value.trim())?);
    }
    node(&found?)
}

/// `text` split at `sep` outside quoted strings (`"..."` with `\` escapes); `None` for an
/// unterminated quote.
fn split_quoted(text: &str, sep: char) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    if quoted {
        return None;
    }
    parts.push(&text[start..]);
    Some(parts)
}

/// A token or a quoted string's content (escapes removed); `None` for a malformed quote.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return (!value.contains('"')).then(|| value.to_string());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            if let Ok(value) = HeaderValue::from_str(v) {
                h.append(
                    axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|e| {
                        panic!("{name}: {e}");
                    }),
                    value,
                );
            }
        }
        h
    }

    fn trusted(ranges: &[&str], header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies::new(ranges.iter().map(|r| cidr(r)).collect(), header)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn ranges_parse_and_match() {
        let net = cidr("10.0.0.0/8");
        assert!(net.contains(ip("10.200.3.4")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped counts");
        assert!(!net.contains(ip("2001:db8::1")));
        let one = cidr("127.0.0.1");
        assert_eq!(one.to_string(), "127.0.0.1/32");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6 = cidr("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::9")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(cidr("::/0").contains(ip("::1")));
        assert_eq!(cidr("::ffff:10.0.0.0/104"), cidr("10.0.0.0/8"));
        assert!(cidr(" 192.168.0.0/16 ").contains(ip("192.168.7.7")));
    }

    #[test]
    fn bad_ranges_are_refused_naming_the_value() {
        let err = |s: &str| {
            s.parse::<Cidr>()
                .err()
                .unwrap_or_else(|| panic!("{s} accepted"))
        };
        assert_eq!(err(""), CidrError::Empty);
        assert!(err("10.0.0.0/33").to_string().contains("\"10.0.0.0/33\""));
        assert!(err("10.0.0.0/33").to_string().contains("0 to 32"));
        assert!(err("::/129").to_string().contains("0 to 128"));
        assert!(err("10.0.0.1/8").to_string().contains("10.0.0.0/8"));
        for bad in [
            "proxy.example.com",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/x",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "1.2.3.4:80",
        ] {
            assert!(
                matches!(err(bad), CidrError::Syntax(ref v) if v == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn without_a_trusted_peer_the_header_is_ignored() {
        let t = trusted(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["198.51.100.7"]);
        let c = t.client(ip("203.0.113.1"), &h);
        assert_eq!(c.ip, ip("203.0.113.1"));
        assert!(!c.forwarded);
        assert_eq!(
            TrustedProxies::none().client(ip("127.0.0.1"), &h).ip,
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let t = trusted(&["127.0.0.1", "10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        // The client wrote "1.1.1.1" itself; the proxies appended 198.51.100.7 and 10.0.0.2.
        let h = headers("x-forwarded-for", &["1.1.1.1, 198.51.100.7", "10.0.0.2"]);
        let c = t.client(ip("127.0.0.1"), &h);
        assert_eq!(c.ip, ip("198.51.100.7"));
        assert!(c.forwarded);
        // The peer may be IPv4-mapped (a dual-stack listener).
        assert_eq!(t.client(ip("::ffff:127.0.0.1"), &h).ip, ip("198.51.100.7"));
        // Ports and brackets.
        for (value, want) in [
            ("198.51.100.7:5123", "198.51.100.7"),
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("[2001:db8::7]", "2001:db8::7"),
            (" 2001:db8::7 ", "2001:db8::7"),
            ("::ffff:198.51.100.7", "198.51.100.7"),
        ] {
            let c = t.client(ip("127.0.0.1"), &headers("x-forwarded-for", &[value]));
            assert_eq!(c.ip, ip(want), "{value}");
        }
        // Every hop trusted: the left-most is the client.
        let c = t.client(
            ip("127.0.0.1"),
            &headers("x-forwarded-for", &["10.0.0.9, 10.0.0.2"]),
        );
        assert_eq!(c.ip, ip("10.0.0.9"));
        assert!(c.forwarded);
    }

    #[test]
    fn bad_headers_fall_back_to_the_nearest_trusted_address() {
        let t = trusted(&["127.0.0.1", "10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let peer = ip("127.0.0.1");
        let at = |values: &[&str]| t.client(peer, &headers("x-forwarded-for", values));
        for bad in ["unknown", "", " , ", "garbage", "1.2.3.4.5", "_hidden"] {
            let c = at(&[bad]);
            assert_eq!(
                c,
                ClientAddr {
                    ip: peer,
                    forwarded: false
                },
                "{bad:?}"
            );
        }
        // An unreadable hop left of a trusted one: that trusted hop.
        assert_eq!(at(&["garbage, 10.0.0.2"]).ip, ip("10.0.0.2"));
        // Unreadable text left of the client's hop is never read.
        assert_eq!(at(&["garbage, 198.51.100.7"]).ip, ip("198.51.100.7"));
        // Too long, too many hops, non-ASCII: as if absent.
        let long = format!("{}198.51.100.7", "1.2.3.4, ".repeat(2000));
        assert_eq!(at(&[&long]).ip, peer);
        let many = vec!["10.0.0.3"; MAX_HOPS + 1].join(",");
        assert_eq!(at(&[&many]).ip, peer);
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes("198.51.100.7, é".as_bytes()) {
            h.insert("x-forwarded-for", v);
        }
        assert_eq!(t.client(peer, &h).ip, peer);
        // The other header is never read.
        let c = t.client(peer, &headers("forwarded", &["for=198.51.100.7"]));
        assert_eq!(c.ip, peer);
    }

    #[test]
    fn forwarded_is_read_as_rfc_7239_writes_it() {
        let t = trusted(&["127.0.0.1", "10.0.0.0/8"], ForwardedHeader::Forwarded);
        let peer = ip("127.0.0.1");
        let at = |values: &[&str]| t.client(peer, &headers("forwarded", values));
        assert_eq!(
            at(&["for=192.0.2.60;proto=http;by=203.0.113.43"]).ip,
            ip("192.0.2.60")
        );
        assert_eq!(
            at(&["For=\"[2001:db8:cafe::17]:4711\""]).ip,
            ip("2001:db8:cafe::17")
        );
        assert_eq!(at(&["for=\"192.0.2.43:47011\""]).ip, ip("192.0.2.43"));
        assert_eq!(
            at(&[
                "for=198.51.100.1, for=192.0.2.43;proto=https",
                "for=10.0.0.2"
            ])
            .ip,
            ip("192.0.2.43")
        );
        // A quoted comma does not split elements.
        assert_eq!(
            at(&["for=\"x,y\";by=a, for=192.0.2.43"]).ip,
            ip("192.0.2.43")
        );
        // Unreadable: unknown, obfuscated, no for, twice for, unterminated quote.
        for bad in [
            "for=unknown",
            "for=_hidden",
            "proto=https",
            "for=192.0.2.1;for=192.0.2.2",
            "for=\"192.0.2.1",
            "for=\"192.0.2.1\"x",
        ] {
            assert_eq!(at(&[bad]).ip, peer, "{bad:?}");
        }
        // X-Forwarded-For is not read when Forwarded is the configured header.
        let c = t.client(peer, &headers("x-forwarded-for", &["192.0.2.9"]));
        assert_eq!(c.ip, peer);
    }

    #[test]
    fn too_many_ranges_are_refused() {
        let ranges = vec![cidr("10.0.0.0/8"); MAX_TRUSTED_RANGES + 1];
        assert!(TrustedProxies::new(ranges, ForwardedHeader::XForwardedFor).is_err());
    }

    #[test]
    fn the_header_flag_parses() {
        assert_eq!(
            "X-Forwarded-For".parse::<ForwardedHeader>(),
            Ok(ForwardedHeader::XForwardedFor)
        );
        assert_eq!(
            "forwarded".parse::<ForwardedHeader>(),
            Ok(ForwardedHeader::Forwarded)
        );
        assert!("x-real-ip".parse::<ForwardedHeader>().is_err());
    }
}
