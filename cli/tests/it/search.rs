use super::{Cli, TestResult};

fn names(cli: &Cli, q: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let v = cli.ok(&["search", q])?;
    Ok(v.as_array()
        .ok_or("array")?
        .iter()
        .map(|c| super::s(&c["name"]))
        .collect())
}

#[test]
fn cjk_substrings_latin_prefixes_and_phones() -> TestResult {
    let cli = Cli::new()?;
    cli.ok(&[
        "contact",
        "add",
        "--name",
        "张伟",
        "--company",
        "深圳市华强科技有限公司",
        "--phone",
        "13800138000",
        "--email",
        "zw@huaqiang.com",
    ])?;
    cli.ok(&[
        "contact",
        "add",
        "--name",
        "Li Na",
        "--company",
        "Globex",
        "--notes",
        "喜欢喝普洱茶",
    ])?;
    assert_eq!(names(&cli, "张")?, ["张伟"]);
    assert_eq!(names(&cli, "张伟")?, ["张伟"]);
    assert_eq!(names(&cli, "科技")?, ["张伟"]);
    assert_eq!(names(&cli, "华强科技有限")?, ["张伟"]);
    assert_eq!(names(&cli, "普洱")?, ["Li Na"]);
    assert_eq!(names(&cli, "GLOB")?, ["Li Na"]);
    assert_eq!(names(&cli, "li")?, ["Li Na"]);
    assert_eq!(names(&cli, "0013 8000")?, ["张伟"]);
    assert_eq!(names(&cli, "huaq")?, ["张伟"]);
    assert!(names(&cli, "上海")?.is_empty());
    assert_eq!(
        cli.ok(&["search", "张", "--limit", "0"])?
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    Ok(())
}
