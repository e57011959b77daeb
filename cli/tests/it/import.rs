//! `outpost import` with files generated here: a GBK CSV as Excel on a Chinese Windows saves
//! it (CRLF, quoted fields with commas), and an .xlsx written by `rust_xlsxwriter`.

use super::{s, Cli, TestResult};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Rows 2..=10 (row 1 is the header): 2 refused, 1 imported without its bad phone, 2
/// duplicates within the file, 刘洋 duplicates a stored contact when the test adds one first.
const ROWS: &[&str] = &[
    "姓名,公司,职位,手机,邮箱,微信号,地址",
    "张伟,深圳市华强科技有限公司,采购经理,138 0013 8000,zhang.wei@huaqiang.com,zw88,\"深圳市南山区科技园, 高新南一道\"",
    "李娜,华为技术有限公司,销售总监,13900139000,li.na@huawei.com,lina_hw,\"深圳市龙岗区, 坂田\"",
    "王芳,腾讯科技,,12345,wang@qq.com,,",
    ",无名公司,,13700137000,,,",
    "赵敏,阿里巴巴,经理,13600136000,not-an-email,,",
    "张伟,华强科技,采购总监,+86 138-0013-8000,,zw88_2,",
    "陈刚,\"京东, 北京\",主管,(010) 6552 9988,chen@jd.com,,",
    "李娜,华为技术,,,LI.NA@HUAWEI.COM,,",
    "刘洋,比亚迪,工程师,13500135000,,,",
    ",,,,,,",
];

fn gbk_csv(dir: &Path) -> Result<PathBuf, std::io::Error> {
    let text = ROWS.join("\r\n") + "\r\n";
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    let path = dir.join("客户.csv");
    std::fs::write(&path, &bytes)?;
    Ok(path)
}

fn report_lines(summary: &Value) -> Result<Vec<Vec<String>>, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(s(&summary["report"]))?;
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the report of a GBK file is GBK, not UTF-8"
    );
    let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
    assert!(!bad);
    Ok(text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut cells = Vec::new();
            let mut cur = String::new();
            let mut quoted = false;
            for c in l.chars() {
                match c {
                    '"' => quoted = !quoted,
                    ',' if !quoted => cells.push(std::mem::take(&mut cur)),
                    _ => cur.push(c),
                }
            }
            cells.push(cur);
            cells
        })
        .collect())
}

#[test]
fn gbk_csv_from_excel_counts_report_and_extra() -> TestResult {
    let cli = Cli::new()?;
    let dir = tempfile::tempdir()?;
    let file = gbk_csv(dir.path())?;
    let liu = cli.ok(&[
        "contact",
        "add",
        "--name",
        "刘洋",
        "--phone",
        "135 0013 5000",
    ])?;
    let file_arg = file.to_string_lossy().to_string();

    let dry = cli.ok(&["import", &file_arg, "--dry-run"])?;
    assert_eq!(dry["dry_run"], Value::Bool(true));
    assert_eq!(
        cli.ok(&["contact", "list"])?.as_array().map(Vec::len),
        Some(1)
    );

    let out = cli.run(&["import", &file_arg])?;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sum = out.json;
    assert_eq!(sum["rows"], 9, "{sum}");
    assert_eq!(sum["imported"], 4, "{sum}");
    assert_eq!(sum["skipped"], 2, "{sum}");
    assert_eq!(sum["warnings"], 1, "{sum}");
    assert_eq!(sum["duplicates"], 3, "{sum}");
    assert_eq!(s(&sum["encoding"]), "gbk");
    for key in ["imported", "skipped", "warnings", "duplicates"] {
        assert_eq!(dry[key], sum[key], "a dry run counts the same: {key}");
    }
    assert!(out.stderr.contains("importing: 9/9 rows"), "{}", out.stderr);
    assert_eq!(
        Path::new(&s(&sum["report"])),
        dir.path().join("客户.report.csv"),
        "the report is next to the input"
    );
    let lines = report_lines(&sum)?;
    assert_eq!(lines[0], ["row", "column", "value", "reason"]);
    let by_row = |row: &str| {
        lines
            .iter()
            .find(|l| l[0] == row)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(lines.len(), 7, "{lines:?}");
    assert_eq!(by_row("4")[1..3], ["手机".to_string(), "12345".to_string()]);
    assert!(
        by_row("4")[3].starts_with("phone left out"),
        "{:?}",
        by_row("4")
    );
    assert_eq!(by_row("5")[1], "姓名");
    assert_eq!(
        by_row("6")[1..3],
        ["邮箱".to_string(), "not-an-email".to_string()]
    );
    assert!(by_row("7")[3].contains("row 2"), "{:?}", by_row("7"));
    assert!(by_row("9")[3].contains("row 3"), "{:?}", by_row("9"));
    assert!(
        by_row("10")[3].contains(&s(&liu["id"])),
        "{:?}",
        by_row("10")
    );

    let list = cli.ok(&["contact", "list"])?;
    let names: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| s(&c["name"]))
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    let wang = cli.ok(&["search", "王芳"])?;
    assert_eq!(wang[0]["phones"], serde_json::json!([]));
    assert_eq!(wang[0]["emails"], serde_json::json!(["wang@qq.com"]));
    let zhang = cli.ok(&["search", "张伟"])?;
    assert_eq!(zhang.as_array().map(Vec::len), Some(1));
    assert_eq!(
        s(&zhang[0]["extra"]["微信号"]),
        "zw88",
        "unknown columns land in extra"
    );
    assert_eq!(s(&zhang[0]["address"]), "深圳市南山区科技园, 高新南一道");
    assert_eq!(s(&zhang[0]["source"]), "");
    let chen = cli.ok(&["search", "陈刚"])?;
    assert_eq!(s(&chen[0]["company"]), "京东, 北京");
    assert_eq!(chen[0]["phones"], serde_json::json!(["+861065529988"]));

    // Again: everything is now a duplicate of the store.
    let again = cli.ok(&["import", &file_arg])?;
    assert_eq!(again["imported"], 0);
    assert_eq!(again["duplicates"], 7);
    Ok(())
}

#[test]
fn merge_duplicates_folds_rows_into_the_first() -> TestResult {
    let cli = Cli::new()?;
    let dir = tempfile::tempdir()?;
    let file = gbk_csv(dir.path())?;
    let liu = cli.ok(&["contact", "add", "--name", "刘洋", "--phone", "13500135000"])?;
    let sum = cli.ok(&["import", &file.to_string_lossy(), "--merge-duplicates"])?;
    assert_eq!(sum["imported"], 4, "{sum}");
    assert_eq!(sum["duplicates"], 3);
    assert_eq!(sum["merged"], 3);
    let liu = cli.ok(&["contact", "get", &s(&liu["id"])])?;
    assert_eq!(
        s(&liu["company"]),
        "比亚迪",
        "a stored contact gains what it lacked"
    );
    let zhang = cli.ok(&["search", "张伟"])?;
    assert_eq!(
        s(&zhang[0]["title"]),
        "采购经理",
        "the first row's values stay"
    );
    assert_eq!(s(&zhang[0]["extra"]["微信号"]), "zw88");
    Ok(())
}

#[test]
fn xlsx_with_numeric_phones_maps_and_reports() -> TestResult {
    let cli = Cli::new()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("leads.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, h) in [
        "Name",
        "Company",
        "Mobile",
        "E-mail",
        "客户等级",
        "联系人备注",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, col as u16, *h)?;
    }
    let rows: &[(&str, &str, f64, &str, &str)] = &[
        (
            "Zhang Wei",
            "Huaqiang Technology Co., Ltd.",
            13800138000.0,
            "zw@hq.com",
            "A",
        ),
        ("Li Na", "Huawei", 123.0, "li@hw.com", "B"),
        ("Wei Zhang", "Huaqiang", 13800138000.0, "", "A"),
        ("王芳", "腾讯", 13900139000.0, "wf@qq.com", "C"),
    ];
    for (i, (name, company, phone, email, grade)) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, *name)?;
        sheet.write_string(r, 1, *company)?;
        sheet.write_number(r, 2, *phone)?;
        if !email.is_empty() {
            sheet.write_string(r, 3, *email)?;
        }
        sheet.write_string(r, 4, *grade)?;
        sheet.write_string(r, 5, "见面聊")?;
    }
    book.save(&path)?;
    let sum = cli.ok(&[
        "import",
        &path.to_string_lossy(),
        "--map",
        "联系人备注=notes",
        "--map",
        "客户等级=grade",
    ])?;
    assert_eq!(sum["rows"], 4, "{sum}");
    assert_eq!(sum["imported"], 3, "{sum}");
    assert_eq!(sum["skipped"], 0);
    assert_eq!(sum["warnings"], 1);
    assert_eq!(sum["duplicates"], 1);
    assert_eq!(s(&sum["encoding"]), "xlsx");
    let report = std::fs::read(s(&sum["report"]))?;
    assert!(
        report.starts_with(&[0xEF, 0xBB, 0xBF]),
        "UTF-8 with BOM, for Excel"
    );
    let text = String::from_utf8_lossy(&report[3..]).to_string();
    assert!(text.contains("3,Mobile,123,"), "{text}");
    let zhang = cli.ok(&["search", "Zhang"])?;
    assert_eq!(zhang[0]["phones"], serde_json::json!(["+8613800138000"]));
    assert_eq!(s(&zhang[0]["notes"]), "见面聊");
    assert_eq!(s(&zhang[0]["extra"]["grade"]), "A");

    let bad = cli.run(&["import", &path.to_string_lossy(), "--map", "Nope=name"])?;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("map"), "{}", bad.stderr);
    let wrong = cli.run(&["import", &path.to_string_lossy(), "--encoding", "latin1"])?;
    assert_eq!(wrong.code, 2);
    Ok(())
}
