//! Realistic, deterministic contacts for tests and benchmarks.
//!
//! A sales rep's address book in China: mostly Chinese names (weighted by how common the
//! surname is), some English names, companies like `深圳市恒通科技有限公司`, titles, mobile
//! numbers typed the ways reps type them (`138 0013 8000`, `+86 138-0013-8000`), some
//! landlines (`0755-52659655`), pinyin e-mail addresses, postal addresses and, sometimes, notes.
//!
//! Everything comes from a seeded [`Rng`] written here, so a seed always gives the same
//! contacts on every machine and every Rust version. [`contact_at`] gives random access: the
//! `i`-th contact of a seed without generating the ones before it.
//!
//! ```
//! use outpost_tests::fixtures::{contact_at, Rng, contact};
//! let a = contact_at(7, 42);
//! assert_eq!(a, contact_at(7, 42));
//! let mut rng = Rng::new(7);
//! let first = contact(&mut rng, 0);
//! assert!(!first.name.is_empty());
//! ```

use outpost_core::NewContact;
use std::collections::BTreeMap;

/// A small, fast, seeded pseudo-random generator (SplitMix64). Not for cryptography.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The generator for item `i` of `seed`: independent of how many items came before.
    pub fn for_index(seed: u64, i: usize) -> Rng {
        let mut mix = Rng(seed ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng(mix.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` must be positive).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    /// One item of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `n` random decimal digits.
    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

/// Common Chinese surnames with their pinyin and relative frequency (tenths of a percent).
#[rustfmt::skip]
pub const SURNAMES: &[(&str, &str, u32)] = &[
    ("王", "wang", 71), ("李", "li", 70), ("张", "zhang", 66), ("刘", "liu", 54), ("陈", "chen", 45),
    ("杨", "yang", 31), ("黄", "huang", 26), ("赵", "zhao", 23), ("吴", "wu", 20), ("周", "zhou", 19),
    ("徐", "xu", 16), ("孙", "sun", 15), ("马", "ma", 14), ("朱", "zhu", 13), ("胡", "hu", 13),
    ("郭", "guo", 11), ("何", "he", 11), ("高", "gao", 10), ("林", "lin", 10), ("罗", "luo", 9),
    ("郑", "zheng", 8), ("梁", "liang", 8), ("谢", "xie", 7), ("宋", "song", 6), ("唐", "tang", 6),
    ("许", "xu", 6), ("韩", "han", 5), ("冯", "feng", 5), ("邓", "deng", 5), ("曹", "cao", 5),
    ("彭", "peng", 5), ("曾", "zeng", 5), ("肖", "xiao", 5), ("田", "tian", 4), ("董", "dong", 4),
    ("袁", "yuan", 4), ("潘", "pan", 4), ("于", "yu", 4), ("蒋", "jiang", 4), ("蔡", "cai", 4),
    ("余", "yu", 4), ("杜", "du", 4), ("叶", "ye", 4), ("程", "cheng", 3), ("苏", "su", 3),
    ("魏", "wei", 3), ("吕", "lv", 3), ("丁", "ding", 3), ("任", "ren", 3), ("沈", "shen", 3),
    ("姚", "yao", 3), ("卢", "lu", 3), ("姜", "jiang", 3), ("崔", "cui", 3), ("钟", "zhong", 3),
    ("谭", "tan", 3), ("陆", "lu", 3), ("汪", "wang", 3), ("范", "fan", 3), ("金", "jin", 3),
    ("石", "shi", 3), ("廖", "liao", 3), ("贾", "jia", 3), ("夏", "xia", 3), ("韦", "wei", 2),
    ("方", "fang", 2), ("白", "bai", 2), ("邹", "zou", 2), ("孟", "meng", 2), ("熊", "xiong", 2),
    ("秦", "qin", 2), ("邱", "qiu", 2), ("江", "jiang", 2), ("尹", "yin", 2), ("薛", "xue", 2),
    ("段", "duan", 2), ("雷", "lei", 2), ("侯", "hou", 2), ("龙", "long", 2), ("史", "shi", 2),
    ("陶", "tao", 2), ("黎", "li", 2), ("贺", "he", 2), ("顾", "gu", 2), ("毛", "mao", 2),
    ("郝", "hao", 2), ("龚", "gong", 2), ("邵", "shao", 2), ("万", "wan", 2), ("钱", "qian", 2),
    ("严", "yan", 2), ("欧阳", "ouyang", 1), ("司马", "sima", 1), ("诸葛", "zhuge", 1),
];

/// Characters of given names with their pinyin.
#[rustfmt::skip]
pub const GIVEN: &[(&str, &str)] = &[
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"),
    ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀", "xiu"),
    ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("桂", "gui"), ("英", "ying"), ("华", "hua"),
    ("文", "wen"), ("辉", "hui"), ("建", "jian"), ("国", "guo"), ("志", "zhi"), ("海", "hai"),
    ("红", "hong"), ("玉", "yu"), ("鹏", "peng"), ("飞", "fei"), ("宇", "yu"), ("浩", "hao"),
    ("凯", "kai"), ("俊", "jun"), ("帆", "fan"), ("婷", "ting"), ("雪", "xue"), ("琳", "lin"),
    ("晨", "chen"), ("欣", "xin"), ("佳", "jia"), ("思", "si"), ("子", "zi"), ("梓", "zi"), ("涵", "han"),
    ("轩", "xuan"), ("萱", "xuan"), ("博", "bo"), ("雨", "yu"), ("嘉", "jia"), ("怡", "yi"),
    ("晓", "xiao"), ("春", "chun"), ("东", "dong"), ("波", "bo"), ("林", "lin"), ("斌", "bin"),
    ("成", "cheng"), ("云", "yun"), ("峰", "feng"), ("慧", "hui"), ("颖", "ying"), ("倩", "qian"),
    ("莉", "li"), ("兰", "lan"), ("梅", "mei"), ("玲", "ling"), ("瑞", "rui"), ("宁", "ning"),
    ("鑫", "xin"), ("健", "jian"), ("亮", "liang"), ("彬", "bin"), ("阳", "yang"), ("旭", "xu"),
    ("坤", "kun"), ("蕾", "lei"), ("薇", "wei"), ("璐", "lu"), ("晶", "jing"), ("一", "yi"),
    ("天", "tian"), ("家", "jia"), ("永", "yong"), ("德", "de"), ("立", "li"), ("新", "xin"),
    ("小", "xiao"), ("金", "jin"), ("秋", "qiu"), ("佩", "pei"), ("振", "zhen"),
];

/// English given names.
pub const ENGLISH_GIVEN: &[&str] = &[
    "David", "Michael", "John", "James", "Robert", "William", "Kevin", "Tony", "Jason", "Peter",
    "Eric", "Frank", "Steven", "Andrew", "Daniel", "Jennifer", "Lisa", "Grace", "Emily", "Sarah",
    "Linda", "Amy", "Jessica", "Helen", "Cindy", "Vivian", "Anna", "Sophie", "Olivia", "Mark",
];

/// English family names (including the romanized Cantonese ones common in Hong Kong).
pub const ENGLISH_FAMILY: &[&str] = &[
    "Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Taylor", "Anderson", "Thomas",
    "Martin", "Lee", "Wong", "Chan", "Cheung", "Ng", "Lam", "Tan", "Schmidt", "Müller", "Garcia",
];

/// A city: its province (empty for municipalities), area code, districts and roads.
#[derive(Debug, Clone, Copy)]
pub struct City {
    /// `深圳`.
    pub name: &'static str,
    /// `广东省`, or `""` for a municipality like Beijing.
    pub province: &'static str,
    /// Telephone area code with its trunk 0 (`0755`).
    pub area_code: &'static str,
    /// Districts (`南山区`).
    pub districts: &'static [&'static str],
    /// Roads (`科技园路`).
    pub roads: &'static [&'static str],
}

/// Cities that contacts live and work in. Every area code here has 8-digit local numbers.
#[rustfmt::skip]
pub const CITIES: &[City] = &[
    City { name: "深圳", province: "广东省", area_code: "0755", districts: &["南山区", "福田区", "罗湖区", "宝安区", "龙岗区", "龙华区"], roads: &["深南大道", "科技园路", "华强北路", "高新南一道", "滨海大道", "创业路"] },
    City { name: "广州", province: "广东省", area_code: "020", districts: &["天河区", "越秀区", "海珠区", "白云区", "番禺区"], roads: &["天河路", "体育西路", "中山大道", "环市东路", "珠江东路"] },
    City { name: "上海", province: "", area_code: "021", districts: &["浦东新区", "徐汇区", "静安区", "黄浦区", "闵行区", "长宁区"], roads: &["张江路", "南京西路", "淮海中路", "世纪大道", "漕宝路", "延安西路"] },
    City { name: "北京", province: "", area_code: "010", districts: &["朝阳区", "海淀区", "东城区", "西城区", "丰台区"], roads: &["建国路", "中关村大街", "长安街", "望京街", "学院路"] },
    City { name: "杭州", province: "浙江省", area_code: "0571", districts: &["西湖区", "滨江区", "余杭区", "上城区", "拱墅区"], roads: &["文三路", "江南大道", "文一西路", "延安路", "莫干山路"] },
    City { name: "成都", province: "四川省", area_code: "028", districts: &["武侯区", "锦江区", "青羊区", "高新区", "成华区"], roads: &["天府大道", "人民南路", "春熙路", "蜀都大道", "科华北路"] },
    City { name: "武汉", province: "湖北省", area_code: "027", districts: &["洪山区", "江汉区", "武昌区", "汉阳区"], roads: &["光谷大道", "解放大道", "中北路", "珞喻路"] },
    City { name: "南京", province: "江苏省", area_code: "025", districts: &["鼓楼区", "玄武区", "建邺区", "江宁区"], roads: &["中山路", "汉中路", "江东中路", "珠江路"] },
    City { name: "苏州", province: "江苏省", area_code: "0512", districts: &["工业园区", "姑苏区", "吴中区", "相城区"], roads: &["星湖街", "干将路", "人民路", "金鸡湖大道"] },
    City { name: "东莞", province: "广东省", area_code: "0769", districts: &["南城区", "东城区", "松山湖"], roads: &["鸿福路", "东莞大道", "莞太路", "新城大道"] },
    City { name: "佛山", province: "广东省", area_code: "0757", districts: &["禅城区", "南海区", "顺德区"], roads: &["季华路", "佛山大道", "桂澜路", "汾江路"] },
    City { name: "天津", province: "", area_code: "022", districts: &["和平区", "河西区", "南开区", "滨海新区"], roads: &["南京路", "友谊路", "卫津路", "黄海路"] },
    City { name: "重庆", province: "", area_code: "023", districts: &["渝中区", "江北区", "渝北区", "南岸区"], roads: &["解放碑步行街", "建新北路", "金开大道", "南坪正街"] },
    City { name: "西安", province: "陕西省", area_code: "029", districts: &["雁塔区", "碑林区", "未央区"], roads: &["高新路", "长安路", "唐延路", "科技路"] },
    City { name: "青岛", province: "山东省", area_code: "0532", districts: &["市南区", "崂山区", "黄岛区"], roads: &["香港中路", "海尔路", "东海西路"] },
    City { name: "宁波", province: "浙江省", area_code: "0574", districts: &["鄞州区", "海曙区", "江北区"], roads: &["天童南路", "中山东路", "宁穿路"] },
    City { name: "合肥", province: "安徽省", area_code: "0551", districts: &["蜀山区", "包河区", "政务区"], roads: &["长江西路", "望江西路", "潜山路"] },
    City { name: "长沙", province: "湖南省", area_code: "0731", districts: &["岳麓区", "芙蓉区", "天心区"], roads: &["五一大道", "麓谷大道", "芙蓉中路"] },
    City { name: "郑州", province: "河南省", area_code: "0371", districts: &["金水区", "郑东新区", "中原区"], roads: &["花园路", "商务外环路", "农业路"] },
];

/// Two-character company brands with their pinyin (for e-mail domains).
#[rustfmt::skip]
pub const BRANDS: &[(&str, &str)] = &[
    ("华信", "huaxin"), ("恒通", "hengtong"), ("鼎盛", "dingsheng"), ("金桥", "jinqiao"), ("宏达", "hongda"),
    ("瑞康", "ruikang"), ("新源", "xinyuan"), ("博远", "boyuan"), ("天泽", "tianze"), ("中科", "zhongke"),
    ("海纳", "haina"), ("联创", "lianchuang"), ("安达", "anda"), ("正泰", "zhengtai"), ("永兴", "yongxing"),
    ("汇通", "huitong"), ("众诚", "zhongcheng"), ("盛世", "shengshi"), ("启明", "qiming"),
    ("星辰", "xingchen"), ("嘉禾", "jiahe"), ("德胜", "desheng"), ("远航", "yuanhang"), ("万达", "wanda"),
    ("华强", "huaqiang"), ("创维", "chuangwei"), ("蓝海", "lanhai"), ("银河", "yinhe"), ("东方", "dongfang"),
    ("长城", "changcheng"), ("光明", "guangming"), ("泰和", "taihe"),
];

/// Industry words of company names.
#[rustfmt::skip]
pub const INDUSTRIES: &[&str] = &[
    "科技", "电子", "贸易", "实业", "信息技术", "医疗器械", "物流", "建设工程", "食品", "新能源", "网络科技", "生物科技", "环保科技",
    "机械设备", "文化传媒", "供应链管理", "智能制造", "化工",
];

/// Job titles.
#[rustfmt::skip]
pub const TITLES: &[&str] = &[
    "总经理", "副总经理", "销售经理", "销售总监", "销售主管", "采购经理", "采购主管", "市场总监", "技术总监", "财务经理", "行政主管", "项目经理",
    "区域经理", "大客户经理", "董事长", "经理", "业务员", "客户经理", "总监", "工程师", "CEO", "CTO", "Sales Manager",
    "Purchasing Manager",
];

/// Mobile prefixes (13x, 15x, 18x) that are in service.
pub const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "180", "181", "182", "183", "184", "185", "186",
    "187", "188", "189",
];

const PERSONAL_DOMAINS: &[&str] = &[
    "163.com",
    "126.com",
    "qq.com",
    "sina.com",
    "foxmail.com",
    "gmail.com",
    "hotmail.com",
    "sohu.com",
];

const SOURCES: &[&str] = &[
    "card_scan",
    "card_scan",
    "manual",
    "import",
    "referral",
    "trade_show",
];

const NOTE_TEMPLATES: &[&str] = &[
    "展会上认识，对{industry}产品很感兴趣，下周回访。",
    "老客户{name}介绍，需要报价单。",
    "下周三上午拜访，带样品和合同。",
    "决策人是{title}，预算在第三季度批下来。",
    "要求寄样品到公司前台，联系人{name}。",
    "上次拜访没见到人，改约电话沟通。",
    "Met at the Canton Fair; wants a quote for 500 units.",
    "对价格比较敏感，竞争对手是{brand}。",
    "已签框架协议，每月下单一次。",
];

fn surname(rng: &mut Rng) -> (&'static str, &'static str) {
    let total: u32 = SURNAMES.iter().map(|s| s.2).sum();
    let mut x = rng.below(total as usize) as u32;
    for &(s, p, w) in SURNAMES {
        if x < w {
            return (s, p);
        }
        x -= w;
    }
    ("王", "wang")
}

/// A Chinese name and its pinyin parts: (`张伟`, `zhang`, `wei`).
pub fn chinese_name(rng: &mut Rng) -> (String, &'static str, String) {
    let (family, family_py) = surname(rng);
    let mut name = family.to_string();
    let mut given_py = String::new();
    for _ in 0..if rng.chance(35) { 1 } else { 2 } {
        let (c, p) = rng.pick(GIVEN);
        name.push_str(c);
        given_py.push_str(p);
    }
    (name, family_py, given_py)
}

/// A mobile number as a rep might type it; always a valid Chinese mobile.
pub fn mobile(rng: &mut Rng) -> String {
    let prefix = rng.pick(MOBILE_PREFIXES);
    let (a, b) = (rng.digits(4), rng.digits(4));
    match rng.below(6) {
        0 => format!("{prefix} {a} {b}"),
        1 => format!("+86 {prefix}-{a}-{b}"),
        2 => format!("{prefix}-{a}-{b}"),
        _ => format!("{prefix}{a}{b}"),
    }
}

/// A landline in `city`, e.g. `0755-52659655`.
pub fn landline(rng: &mut Rng, city: &City) -> String {
    // Local numbers start 2-8; a second digit 0 is avoided because `800` after 010/021 is not a
    // valid fixed line.
    let (first, second) = (rng.range(2, 8), rng.range(1, 9));
    let rest = rng.digits(6);
    if rng.chance(20) {
        format!(
            "({}) {first}{second}{} {}",
            city.area_code,
            &rest[..2],
            &rest[2..]
        )
    } else {
        format!("{}-{first}{second}{rest}", city.area_code)
    }
}

/// A company, e.g. `深圳市恒通科技有限公司`, with its brand's pinyin.
pub fn company(rng: &mut Rng, city: &City) -> (String, &'static str) {
    let (brand, brand_py) = rng.pick(BRANDS);
    let industry = rng.pick(INDUSTRIES);
    let suffix = match rng.below(20) {
        0..=11 => "有限公司",
        12..=16 => "股份有限公司",
        17..=18 => "集团有限公司",
        _ => "集团",
    };
    let prefix = if rng.chance(85) {
        format!("{}市", city.name)
    } else {
        String::new()
    };
    (format!("{prefix}{brand}{industry}{suffix}"), brand_py)
}

/// A postal address in `city`, e.g. `广东省深圳市南山区科技园路88号华信大厦1203室`.
pub fn address(rng: &mut Rng, city: &City) -> String {
    let mut a = format!(
        "{}{}市{}{}{}号",
        city.province,
        city.name,
        rng.pick(city.districts),
        rng.pick(city.roads),
        rng.range(1, 999)
    );
    if rng.chance(50) {
        let (brand, _) = rng.pick(BRANDS);
        a.push_str(&format!(
            "{brand}大厦{}{:02}室",
            rng.range(1, 32),
            rng.range(1, 20)
        ));
    }
    a
}

fn note(rng: &mut Rng, name: &str, title: &str, industry: &str) -> String {
    let (brand, _) = rng.pick(BRANDS);
    rng.pick(NOTE_TEMPLATES)
        .replace("{industry}", industry)
        .replace("{name}", name)
        .replace("{title}", title)
        .replace("{brand}", brand)
}

/// Contact number `i` drawn from `rng`. Deterministic: the same generator state and `i` give
/// the same contact. `i` appears only in ERP ids of imported contacts.
pub fn contact(rng: &mut Rng, i: usize) -> NewContact {
    let city = *rng.pick(CITIES);
    let english = rng.chance(10);
    let (name, local_parts) = if english {
        let given = *rng.pick(ENGLISH_GIVEN);
        let family = *rng.pick(ENGLISH_FAMILY);
        let lower = |s: &str| s.to_lowercase().replace('ü', "u");
        (format!("{given} {family}"), (lower(given), lower(family)))
    } else {
        let (name, family_py, given_py) = chinese_name(rng);
        (name, (given_py, family_py.to_string()))
    };
    let (given_py, family_py) = local_parts;
    let (company, brand_py) = if rng.chance(92) {
        company(rng, &city)
    } else {
        (String::new(), "")
    };
    let title = if rng.chance(85) {
        rng.pick(TITLES).to_string()
    } else {
        String::new()
    };

    let mut phones = Vec::new();
    if rng.chance(95) {
        phones.push(mobile(rng));
    }
    if rng.chance(15) {
        phones.push(mobile(rng));
    }
    if rng.chance(25) {
        phones.push(landline(rng, &city));
    }

    let mut emails = Vec::new();
    if rng.chance(60) {
        let local = match rng.below(5) {
            0 => format!("{family_py}{given_py}"),
            1 => format!("{given_py}.{family_py}"),
            2 => format!("{family_py}{given_py}{}", rng.range(1, 99)),
            3 => format!("{family_py}.{given_py}{}", rng.range(1970, 2002)),
            _ => format!("{}{}", &given_py[..1], family_py),
        };
        let domain = if !brand_py.is_empty() && rng.chance(60) {
            format!(
                "{brand_py}{}",
                rng.pick(&[".com", ".com.cn", ".cn", "-tech.com", "group.com"])
            )
        } else {
            rng.pick(PERSONAL_DOMAINS).to_string()
        };
        emails.push(format!("{local}@{domain}"));
    }
    if rng.chance(20) {
        emails.push(format!("{}@qq.com", rng.range(10_000_000, 2_999_999_999)));
    }
    if rng.chance(5) && !emails.is_empty() {
        // Typed on a phone keyboard.
        emails[0] = emails[0].to_uppercase();
    }

    let address = if rng.chance(70) {
        address(rng, &city)
    } else {
        String::new()
    };
    let industry = rng.pick(INDUSTRIES).to_string();
    let notes = if rng.chance(30) {
        note(rng, &name, &title, &industry)
    } else {
        String::new()
    };
    let source = rng.pick(SOURCES).to_string();

    let mut extra = BTreeMap::new();
    if rng.chance(20) {
        extra.insert(
            "wechat".to_string(),
            format!("{family_py}_{given_py}{}", rng.digits(2)),
        );
    }
    if source == "import" {
        extra.insert("erp_id".to_string(), format!("C{i:07}"));
    }

    let some = |s: String| if s.is_empty() { None } else { Some(s) };
    NewContact {
        name,
        company: some(company),
        title: some(title),
        phones,
        emails,
        address: some(address),
        source: Some(source),
        owner: None,
        notes: some(notes),
        extra,
    }
}

/// Contact number `i` of `seed`, independent of the contacts before it.
pub fn contact_at(seed: u64, i: usize) -> NewContact {
    contact(&mut Rng::for_index(seed, i), i)
}

/// The first `n` contacts of `seed`.
pub fn contacts(seed: u64, n: usize) -> impl Iterator<Item = NewContact> {
    (0..n).map(move |i| contact_at(seed, i))
}
