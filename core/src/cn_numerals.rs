//! Chinese numerals: the financial upper case of contracts (`叁拾万伍仟元整`) and the common
//! lower case (`三十万五千`), as amounts in fen (hundredths of a yuan).

/// The value of one digit character, upper or lower case (`零`/`〇` are 0).
pub fn digit_value(c: char) -> Option<u64> {
    Some(match c {
        '零' | '〇' | '○' => 0,
        '壹' | '一' | '幺' => 1,
        '贰' | '二' | '两' | '貳' | '弍' => 2,
        '叁' | '三' | '参' | '叄' | '弎' => 3,
        '肆' | '四' => 4,
        '伍' | '五' => 5,
        '陆' | '六' | '陸' => 6,
        '柒' | '七' => 7,
        '捌' | '八' => 8,
        '玖' | '九' => 9,
        _ => return None,
    })
}

/// The multiplier of a unit character inside a four-digit section (`拾` 10, `佰` 100, `仟` 1000).
fn small_unit(c: char) -> Option<u64> {
    Some(match c {
        '拾' | '十' => 10,
        '佰' | '百' | '伯' => 100,
        '仟' | '千' | '阡' | '什' => 1000,
        _ => return None,
    })
}

/// The multiplier of a section unit (`万` 10⁴, `亿` 10⁸).
fn big_unit(c: char) -> Option<u64> {
    Some(match c {
        '万' | '萬' => 10_000,
        '亿' | '億' => 100_000_000,
        _ => return None,
    })
}

/// True for every character that can appear in a written-out amount.
pub fn is_amount_char(c: char) -> bool {
    digit_value(c).is_some()
        || small_unit(c).is_some()
        || big_unit(c).is_some()
        || matches!(c, '元' | '圆' | '圓' | '角' | '分' | '整' | '正')
}

/// True for characters only the financial upper case uses (`壹`..`玖`, `拾`, `佰`, `仟`, `圆`).
pub fn is_upper_only(c: char) -> bool {
    matches!(
        c,
        '壹' | '贰'
            | '貳'
            | '叁'
            | '叄'
            | '肆'
            | '伍'
            | '陆'
            | '陸'
            | '柒'
            | '捌'
            | '玖'
            | '拾'
            | '佰'
            | '仟'
            | '圆'
            | '圓'
    )
}

/// Parses an integer written in Chinese numerals: `叁拾万伍仟` → 305000, `二〇二六` → 2026
/// (digit by digit), `十一` → 11, `一千零五` → 1005. `None` when it is not a number.
pub fn parse_integer(text: &str) -> Option<u64> {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.is_empty() {
        return None;
    }
    // Digit-by-digit form (years: 二〇二六).
    if chars.len() >= 2 && chars.iter().all(|&c| digit_value(c).is_some()) {
        return chars
            .iter()
            .try_fold(0u64, |acc, &c| Some(acc.checked_mul(10)? + digit_value(c)?));
    }
    let mut total: u64 = 0; // completed 亿 parts
    let mut section: u64 = 0; // completed 万 part inside the current 亿
    let mut group: u64 = 0; // the current four-digit group
    let mut digit: Option<u64> = None;
    let mut last_unit: Option<u64> = None;
    for &c in &chars {
        if let Some(d) = digit_value(c) {
            if d == 0 {
                // 零 only marks a gap.
                if let Some(prev) = digit.take() {
                    group += prev;
                }
                continue;
            }
            if digit.is_some() {
                return None; // two digits in a row without a unit
            }
            digit = Some(d);
        } else if let Some(unit) = small_unit(c) {
            // Units fall within a group (仟 佰 拾): `叁拾贰佰` is a misread, not a number.
            if last_unit.is_some_and(|u| unit >= u) {
                return None;
            }
            last_unit = Some(unit);
            // A leading 拾 means 壹拾.
            group += digit.take().unwrap_or(1) * unit;
        } else if let Some(unit) = big_unit(c) {
            group += digit.take().unwrap_or(0);
            last_unit = None;
            if unit == 100_000_000 {
                total = (total + section + group).checked_mul(unit)?;
                section = 0;
            } else {
                section = (section + group).checked_mul(unit)?;
            }
            group = 0;
        } else {
            return None;
        }
    }
    group += digit.unwrap_or(0);
    Some(total + section + group)
}

/// Parses an amount written out in Chinese, e.g. `叁拾万伍仟元整` → 30500000 fen,
/// `壹仟零伍元伍角` → 100550, `人民币叁佰元零伍分` → 30005. Leading `人民币`/`RMB` and a
/// trailing `整`/`正` are ignored. `None` when the text is not such an amount or has no `元`.
pub fn parse_amount_fen(text: &str) -> Option<u64> {
    let cleaned: String = text
        .trim()
        .trim_start_matches("人民币")
        .trim_start_matches("RMB")
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, ':' | '：'))
        .collect();
    let cleaned = cleaned.trim_end_matches(['整', '正']);
    let yuan_at = cleaned.find(['元', '圆', '圓'])?;
    let (yuan_text, rest) = cleaned.split_at(yuan_at);
    let rest: String = rest.chars().skip(1).collect();
    let yuan = if yuan_text.is_empty() {
        0
    } else {
        parse_integer(yuan_text)?
    };
    let mut fen = 0u64;
    let mut pending: Option<u64> = None;
    for c in rest.chars() {
        if let Some(d) = digit_value(c) {
            if d != 0 {
                pending = Some(d);
            }
        } else if c == '角' {
            fen += pending.take()? * 10;
        } else if c == '分' {
            fen += pending.take()?;
        } else {
            return None;
        }
    }
    if pending.is_some() {
        return None;
    }
    yuan.checked_mul(100)?.checked_add(fen)
}

/// Writes an amount in fen in the financial upper case, the way contracts print it:
/// 30500000 → `叁拾万伍仟元整`, 100550 → `壹仟零伍元伍角`, 30005 → `叁佰元零伍分`.
///
/// `leading_one` writes `壹拾` rather than `拾` at the start (both are in use);
/// `jiao_zheng` writes `整` after a `角` with no `分`.
pub fn format_amount_upper(fen: u64, leading_one: bool, jiao_zheng: bool) -> String {
    const DIGITS: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];
    const UNITS: [&str; 4] = ["仟", "佰", "拾", ""];
    let yuan = fen / 100;
    let mut out = String::new();
    // Groups of four digits, highest first, each with its section unit.
    let groups = [
        (yuan / 100_000_000, "亿"),
        ((yuan / 10_000) % 10_000, "万"),
        (yuan % 10_000, ""),
    ];
    let mut pending_zero = false;
    for (group, section) in groups {
        if group == 0 {
            pending_zero = !out.is_empty();
            continue;
        }
        if !out.is_empty() && (pending_zero || group < 1000) {
            out.push('零');
        }
        pending_zero = false;
        let digits = [
            group / 1000,
            (group / 100) % 10,
            (group / 10) % 10,
            group % 10,
        ];
        let (mut zero, mut started) = (false, false);
        for (p, &d) in digits.iter().enumerate() {
            if d == 0 {
                zero = started;
                continue;
            }
            if zero {
                out.push('零');
                zero = false;
            }
            started = true;
            if !(d == 1 && p == 2 && out.is_empty() && !leading_one) {
                out.push(DIGITS[d as usize]);
            }
            out.push_str(UNITS[p]);
        }
        out.push_str(section);
    }
    if out.is_empty() {
        out.push('零');
    }
    out.push('元');
    let (jiao, f) = ((fen / 10) % 10, fen % 10);
    match (jiao, f) {
        (0, 0) => out.push('整'),
        (j, 0) => {
            out.push(DIGITS[j as usize]);
            out.push('角');
            if jiao_zheng {
                out.push('整');
            }
        }
        (0, f) => {
            out.push('零');
            out.push(DIGITS[f as usize]);
            out.push('分');
        }
        (j, f) => {
            out.push(DIGITS[j as usize]);
            out.push('角');
            out.push(DIGITS[f as usize]);
            out.push('分');
        }
    }
    out
}

/// Levenshtein distance between two strings, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_upper_and_lower_case() {
        assert_eq!(parse_integer("叁拾万伍仟"), Some(305_000));
        assert_eq!(parse_integer("三十万五千"), Some(305_000));
        assert_eq!(parse_integer("拾"), Some(10));
        assert_eq!(parse_integer("十一"), Some(11));
        assert_eq!(parse_integer("二十三"), Some(23));
        assert_eq!(parse_integer("壹仟零伍"), Some(1005));
        assert_eq!(parse_integer("壹亿零贰佰万零叁"), Some(102_000_003));
        assert_eq!(parse_integer("贰拾亿"), Some(2_000_000_000));
        assert_eq!(
            parse_integer("玖仟玖佰玖拾玖万玖仟玖佰玖拾玖"),
            Some(99_999_999)
        );
        assert_eq!(parse_integer("二〇二六"), Some(2026));
        assert_eq!(parse_integer("伍伍"), Some(55));
        assert_eq!(parse_integer("合同"), None);
        // Units must fall: 仟 misread as 拾 gives an impossible number.
        assert_eq!(parse_integer("叁拾贰佰"), None);
        assert_eq!(parse_integer(""), None);
    }

    #[test]
    fn formatting_round_trips() {
        assert_eq!(
            format_amount_upper(30_500_000, true, true),
            "叁拾万伍仟元整"
        );
        assert_eq!(format_amount_upper(1_000, true, true), "壹拾元整");
        assert_eq!(format_amount_upper(1_000, false, true), "拾元整");
        assert_eq!(format_amount_upper(100_550, true, false), "壹仟零伍元伍角");
        assert_eq!(format_amount_upper(30_005, true, true), "叁佰元零伍分");
        assert_eq!(
            format_amount_upper(10_000_000_300, true, true),
            "壹亿零叁元整"
        );
        for fen in [1, 99, 1_000_000, 123_456_789, 100_000_001, 7_000_000_070] {
            let text = format_amount_upper(fen, true, true);
            assert_eq!(parse_amount_fen(&text), Some(fen), "{text}");
        }
        assert_eq!(edit_distance("喜拾玖万参什元", "壹拾玖万叁仟元"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn amounts_with_jiao_fen_and_zero() {
        assert_eq!(parse_amount_fen("叁拾万伍仟元整"), Some(30_500_000));
        assert_eq!(parse_amount_fen("人民币叁拾万伍仟元整"), Some(30_500_000));
        assert_eq!(parse_amount_fen("壹仟零伍元伍角"), Some(100_550));
        assert_eq!(parse_amount_fen("叁佰元零伍分"), Some(30_005));
        assert_eq!(
            parse_amount_fen("壹万贰仟叁佰肆拾伍元陆角柒分"),
            Some(1_234_567)
        );
        assert_eq!(parse_amount_fen("拾元整"), Some(1_000));
        assert_eq!(parse_amount_fen("三十万元"), Some(30_000_000));
        // OCR look-alikes seen in real scans.
        assert_eq!(parse_amount_fen("参拾萬伍仟圆正"), Some(30_500_000));
        assert_eq!(parse_amount_fen("叁拾万伍仟"), None);
        assert_eq!(parse_amount_fen("叁拾万伍仟元角"), None);
    }
}
