//! Telling a person's name from the other short lines of a card: surnames (Chinese and
//! Japanese), the labels, slogans and headings that are never names, and a Latin name that
//! shares its line with the title (`Emily Tan General Manager`).

use crate::scan::ocr::{OcrLine, OcrWord};

/// Chinese surnames, the ~300 most common single-character ones.
const CN_SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧司诸章晖常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由";
/// Two-character Chinese surnames.
const CN_DOUBLE_SURNAMES: &[&str] = &[
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "令狐", "夏侯", "端木", "轩辕",
];
/// Common Japanese surnames (kanji).
const JP_SURNAMES: &[&str] = &[
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "渡邊",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "佐々木",
    "山口",
    "松本",
    "井上",
    "木村",
    "斎藤",
    "斉藤",
    "清水",
    "山崎",
    "池田",
    "橋本",
    "阿部",
    "石川",
    "山下",
    "中島",
    "石井",
    "小川",
    "前田",
    "岡田",
    "長谷川",
    "藤田",
    "後藤",
    "近藤",
    "村上",
    "遠藤",
    "青木",
    "坂本",
    "福田",
    "太田",
    "西村",
    "藤井",
    "金子",
    "岡本",
    "藤原",
    "中野",
    "三浦",
    "原田",
    "中川",
    "松田",
    "竹内",
    "小野",
    "田村",
    "中山",
    "和田",
    "石田",
    "森田",
    "上田",
    "内田",
    "柴田",
    "酒井",
    "宮崎",
    "横山",
    "高木",
    "安藤",
    "宮本",
    "大野",
    "小島",
    "谷口",
    "今井",
    "工藤",
    "高田",
    "増田",
    "丸山",
    "杉山",
    "村田",
    "大塚",
    "新井",
    "小山",
    "平野",
    "藤本",
    "河野",
    "上野",
    "野口",
    "武田",
    "松井",
    "千葉",
    "岩崎",
    "菅原",
    "木下",
    "久保",
    "佐野",
    "野村",
    "松尾",
    "市川",
    "菊地",
    "杉本",
    "古川",
    "大西",
    "島田",
    "水野",
    "桜井",
    "高野",
    "渡部",
    "吉川",
    "山内",
    "西田",
    "飯田",
    "菅野",
    "服部",
    "樋口",
    "福島",
    "川口",
    "永井",
    "松岡",
    "田口",
    "山中",
    "森本",
    "土屋",
    "矢野",
    "広瀬",
    "秋山",
    "石原",
    "松下",
    "大橋",
    "松浦",
    "吉村",
    "岩田",
    "小池",
    "馬場",
    "浅野",
    "荒木",
    "大久保",
    "野田",
    "小松",
    "吉岡",
    "熊谷",
    "平田",
    "荒井",
    "北村",
    "川村",
    "中西",
];
/// Words that are never part of a person's name: labels, headings, slogans, parts of
/// addresses and companies.
pub const NOT_NAME: &[&str] = &[
    "公司",
    "有限",
    "集团",
    "地址",
    "电话",
    "手机",
    "邮箱",
    "网址",
    "传真",
    "省",
    "市",
    "区",
    "路",
    "号",
    "科技",
    "中心",
    "部",
    "扫一扫",
    "扫码",
    "邮编",
    "职位",
    "职称",
    "职务",
    "主办",
    "业务",
    "微信",
    "二维码",
    "欢迎",
    "关注",
    "官网",
    "热线",
    "服务",
    "专业",
    "品牌",
    "名片",
    "姓名",
    "客户",
    "营销",
    "销售",
    "经营",
    "产品",
    "质量",
    "诚信",
    "致力",
    "创新",
    "共赢",
    "专注",
    "制造",
    "批发",
    "零售",
    "工厂",
    "店",
    "厂",
    "行",
    "会",
    "局",
    "院",
    "所",
    "处",
    "室",
    "株式",
    "会社",
    "有限会社",
    "担当",
    "営業",
];

/// The surname a Han name starts with, if any: a Chinese double or single surname, or a
/// Japanese one.
pub fn surname(name: &str) -> Option<&str> {
    if let Some(s) = CN_DOUBLE_SURNAMES
        .iter()
        .chain(JP_SURNAMES)
        .find(|s| name.starts_with(**s) && name.len() > s.len())
    {
        return Some(s);
    }
    let first = name.chars().next()?;
    (CN_SURNAMES.contains(first) && name.chars().count() >= 2).then(|| &name[..first.len_utf8()])
}

/// True for a Japanese surname.
pub fn is_japanese_surname(s: &str) -> bool {
    JP_SURNAMES.contains(&s)
}

/// Whether `text` holds a word that is never part of a name.
pub fn not_a_name(text: &str) -> bool {
    NOT_NAME.iter().any(|w| text.contains(w))
}

/// A Han name of 2-4 characters (5 for a Japanese surname of three), or `None`.
pub fn han_name(text: &str) -> Option<(String, bool)> {
    let joined: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let n = joined.chars().count();
    if !joined.chars().all(super::is_han) || not_a_name(&joined) {
        return None;
    }
    let s = surname(&joined);
    let has_surname = s.is_some();
    let max = if s.is_some_and(is_japanese_surname) {
        5
    } else {
        4
    };
    ((2..=max).contains(&n)).then_some((joined, has_surname))
}

/// Splits a Latin line that holds a name and then a title (`Emily Tan General Manager`,
/// `David Wong | Sales Director`): the name is the first two or three capitalized words,
/// the title the rest when it holds a title word.
pub fn split_latin_name_title(text: &str, title_words: &[&str]) -> Option<(String, String)> {
    let words: Vec<&str> = text
        .split([' ', '|', '/', ','])
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() < 3 {
        return None;
    }
    let has_title = |rest: &[&str]| {
        let upper = rest.join(" ").to_uppercase();
        title_words.iter().any(|t| upper.contains(t))
    };
    // A name in capitals before a title in mixed case (`TRAN VAN NAM Sales Manager`): the
    // name ends where the case changes.
    let all_caps =
        |w: &str| w.chars().any(char::is_alphabetic) && !w.chars().any(char::is_lowercase);
    let caps = words.iter().take_while(|w| all_caps(w)).count();
    if (2..=4).contains(&caps) && caps < words.len() && has_title(&words[caps..]) {
        let name = words[..caps].join(" ");
        if !has_title(&words[..caps]) {
            return Some((name, words[caps..].join(" ")));
        }
    }
    for k in [2usize, 3] {
        if words.len() <= k {
            break;
        }
        let (name, rest) = (&words[..k], &words[k..]);
        let name_like = name.iter().all(|w| {
            w.chars().next().is_some_and(char::is_uppercase)
                && w.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '.'))
        });
        let rest_text = rest.join(" ");
        let name_upper = name.join(" ").to_uppercase();
        if name_like
            && !title_words.iter().any(|t| name_upper.contains(t))
            && title_words
                .iter()
                .any(|t| rest_text.to_uppercase().contains(t))
        {
            return Some((name.join(" "), rest_text));
        }
    }
    None
}

/// A line of letters set apart one by one (`M A S A S H I   A R A I`, `章  晖  平`) as words:
/// the letters joined, the words split at the gaps clearly wider than the letters' (from the
/// word boxes, or two spaces in one box's text). `None` when the line is not letter-spaced.
pub fn join_letter_spaced(line: &OcrLine) -> Option<String> {
    let single = |t: &str| {
        let mut cs = t.chars();
        cs.next().is_some_and(char::is_alphabetic) && cs.next().is_none()
    };
    let spaced = |tokens: &[&str]| {
        tokens.len() >= 4 && tokens.iter().filter(|t| single(t)).count() * 10 >= tokens.len() * 6
    };
    // One box whose text keeps the spacing: single spaces between letters, more between words.
    if line.words.len() == 1 {
        let text = line.words[0].text.trim();
        let tokens: Vec<&str> = text.split_whitespace().collect();
        if !spaced(&tokens) || !text.contains("  ") {
            return None;
        }
        let words: Vec<String> = text
            .split("  ")
            .map(|w| w.split_whitespace().collect::<String>())
            .filter(|w| !w.is_empty())
            .collect();
        return Some(words.join(" "));
    }
    let words: Vec<&OcrWord> = line
        .words
        .iter()
        .filter(|w| !w.text.trim().is_empty())
        .collect();
    let tokens: Vec<&str> = words.iter().map(|w| w.text.trim()).collect();
    if !spaced(&tokens) {
        return None;
    }
    let gaps: Vec<f32> = words
        .windows(2)
        .map(|p| p[1].bbox.x as f32 - (p[0].bbox.x + p[0].bbox.w) as f32)
        .collect();
    let mut sorted = gaps.clone();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[sorted.len() / 2].max(0.0);
    let mut heights: Vec<u32> = words.iter().map(|w| w.bbox.h).collect();
    heights.sort_unstable();
    let height = heights[heights.len() / 2] as f32;
    let wide = (median * 1.8).max(median + 0.25 * height);
    let mut out = String::from(tokens[0]);
    for (gap, token) in gaps.iter().zip(&tokens[1..]) {
        if *gap > wide {
            out.push(' ');
        }
        out.push_str(token);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn han_names_and_what_is_not_one() {
        assert_eq!(han_name("章 晖 平"), Some(("章晖平".to_string(), true)));
        assert_eq!(han_name("欧阳娜娜"), Some(("欧阳娜娜".to_string(), true)));
        assert_eq!(han_name("新井正志"), Some(("新井正志".to_string(), true)));
        assert_eq!(han_name("佐々木"), None, "kana is not Han");
        for label in ["业务主办", "职位职称", "邮编", "扫一扫"] {
            assert_eq!(han_name(label), None, "{label}");
        }
        assert_eq!(han_name("张伟销售经理"), None);
    }

    #[test]
    fn latin_name_and_title_on_one_line() {
        let titles = ["MANAGER", "DIRECTOR", "CEO"];
        assert_eq!(
            split_latin_name_title("Emily Tan General Manager", &titles),
            Some(("Emily Tan".to_string(), "General Manager".to_string()))
        );
        assert_eq!(
            split_latin_name_title("David Wong | Sales Director", &titles),
            Some(("David Wong".to_string(), "Sales Director".to_string()))
        );
        assert_eq!(
            split_latin_name_title("IT Management Guider", &titles),
            None
        );
        assert_eq!(
            split_latin_name_title("TRAN VAN NAM Sales Manager", &titles),
            Some(("TRAN VAN NAM".to_string(), "Sales Manager".to_string()))
        );
        assert_eq!(
            split_latin_name_title("DAVID WONG SALES DIRECTOR", &titles),
            Some(("DAVID WONG".to_string(), "SALES DIRECTOR".to_string()))
        );
    }
}
