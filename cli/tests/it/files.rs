use super::{Cli, TestResult};

#[test]
fn damaged_file_error_names_it_and_leaves_it_until_moved_aside() -> TestResult {
    let cli = Cli::new()?;
    std::fs::write(&cli.db, b"\x00\x01not sqlite at all".repeat(64))?;
    let before = std::fs::read(&cli.db)?;
    let out = cli.run(&["contact", "list"])?;
    assert_eq!(out.code, 1);
    assert!(out.stderr.starts_with("error: corrupt: "), "{}", out.stderr);
    assert!(out.stderr.contains(&cli.db.display().to_string()));
    assert!(
        out.stderr.contains("move-aside"),
        "tells the way out: {}",
        out.stderr
    );
    assert_eq!(std::fs::read(&cli.db)?, before);
    let moved = cli.ok(&["db", "move-aside"])?;
    let to = moved["moved_to"].as_str().ok_or("moved_to")?;
    assert_eq!(std::fs::read(to)?, before, "moved, not deleted");
    cli.ok(&["contact", "add", "--name", "新库"])?;
    let check = cli.ok(&["db", "check"])?;
    assert_eq!(check["ok"], true);
    Ok(())
}
