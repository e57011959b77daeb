//! `outpost metrics`: what this device measured (see `outpost_core::store::experience`).

use outpost_core::{Error, ExperienceSummary, Store};
use std::fmt::Write as _;

/// Runs `outpost metrics [--json]`.
pub(crate) fn run(store: &Store, json: bool) -> Result<(), Error> {
    let summary = store.experience()?;
    if json {
        return crate::print(&summary);
    }
    crate::out(&render(&summary))
}

/// The summary as a table for people.
pub(crate) fn render(m: &ExperienceSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:>7} {:>9} {:>9} {:>9}",
        "action", "count", "p50 ms", "p95 ms", "max ms"
    );
    if m.actions.is_empty() {
        let _ = writeln!(out, "(no actions recorded)");
    }
    for a in &m.actions {
        let _ = writeln!(
            out,
            "{:<22} {:>7} {:>9} {:>9} {:>9}",
            a.action, a.count, a.p50_ms, a.p95_ms, a.max_ms
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "crashes recovered:        {}", m.crashes_recovered);
    let _ = writeln!(
        out,
        "records created offline:  {} ({} reached the server)",
        m.offline_created, m.offline_synced
    );
    if m.sync_failures.is_empty() {
        let _ = writeln!(out, "sync failures:            none");
    } else {
        let reasons: Vec<String> = m
            .sync_failures
            .iter()
            .map(|f| format!("{} {}", f.reason, f.count))
            .collect();
        let _ = writeln!(out, "sync failures:            {}", reasons.join(", "));
    }
    let _ = writeln!(out, "events not yet sent:      {}", m.unsent_events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use outpost_core::{ActionStats, FailureCount};

    #[test]
    fn table_shows_every_number() {
        let m = ExperienceSummary {
            actions: vec![ActionStats {
                action: "contact.quick_create".into(),
                count: 3,
                p50_ms: 12,
                p95_ms: 40,
                max_ms: 41,
            }],
            crashes_recovered: 2,
            offline_created: 9,
            offline_synced: 8,
            sync_failures: vec![FailureCount {
                reason: "network".into(),
                count: 4,
            }],
            unsent_events: 1,
        };
        let text = render(&m);
        assert!(text.contains("contact.quick_create"));
        assert!(text.contains("41"));
        assert!(text.contains("crashes recovered:        2"));
        assert!(text.contains("9 (8 reached the server)"));
        assert!(text.contains("network 4"));
    }
}
