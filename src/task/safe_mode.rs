//! The safe-mode decision of DM-COMPAT.md §3.3. Starting a task earlier than where it has
//! already been replays transactions the downstream has; DM's safe mode (INSERT as REPLACE,
//! UPDATE as DELETE + REPLACE) makes that replay harmless, and the checkpoint's
//! `exit_safe_binlog_*` columns say until where it must stay on. Starting later than the
//! checkpoint skips transactions: allowed, with a warning, since the downstream may keep rows
//! those transactions would have changed.

use super::location::{CheckpointLocation, LocationOrder};

/// What a source's checkpoint table holds for it (its global row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub checkpoint: CheckpointLocation,
    /// `exit_safe_binlog_*`, when set (a name or a GTID).
    pub exit_point: Option<CheckpointLocation>,
}

/// Safe mode from the start point until replication passes `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeModeWindow {
    pub until: CheckpointLocation,
}

/// The decision for one source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SafeModePlan {
    /// `None`: no window, the exit point is cleared.
    pub window: Option<SafeModeWindow>,
    /// For the source's `msg`: skipped binlog, locations that cannot be ordered.
    pub warnings: Vec<String>,
    /// For people: what was decided and why.
    pub note: String,
}

/// Decides safe mode for a task starting at `start` whose store holds `existing`.
pub fn plan_safe_mode(
    start: &CheckpointLocation,
    existing: Option<&StoredCheckpoint>,
) -> SafeModePlan {
    let Some(existing) = existing else {
        return SafeModePlan {
            note: "no previous checkpoint: no safe-mode window".to_owned(),
            ..SafeModePlan::default()
        };
    };
    let checkpoint = &existing.checkpoint;
    // The furthest point replication is known to have reached: the checkpoint, or a still
    // pending exit point beyond it.
    let reached = match &existing.exit_point {
        Some(exit) if matches!(exit.compare(checkpoint), LocationOrder::After) => exit,
        _ => checkpoint,
    };
    match start.compare(reached) {
        LocationOrder::Before => SafeModePlan {
            window: Some(SafeModeWindow {
                until: reached.clone(),
            }),
            warnings: Vec::new(),
            note: format!(
                "starting at {start}, before where the task had reached ({reached}): safe mode \
                 is on until replication passes {reached}"
            ),
        },
        LocationOrder::Same | LocationOrder::After => {
            let mut warnings = Vec::new();
            if matches!(start.compare(checkpoint), LocationOrder::After) {
                warnings.push(format!(
                    "the start point {start} is after the task's checkpoint {checkpoint}: the \
                     binlog between them is skipped, and the downstream may keep data those \
                     transactions would have changed"
                ));
            }
            SafeModePlan {
                window: None,
                warnings,
                note: format!(
                    "starting at {start}, not before where the task had reached ({reached}): no \
                     safe-mode window"
                ),
            }
        }
        LocationOrder::Incomparable(why) => SafeModePlan {
            window: Some(SafeModeWindow {
                until: checkpoint.clone(),
            }),
            warnings: vec![format!(
                "cannot tell whether the start point {start} is before or after the task's \
                 checkpoint {checkpoint}: {why}; safe mode stays on until replication passes \
                 {checkpoint}"
            )],
            note: "start point and checkpoint cannot be ordered: safe mode until the checkpoint"
                .to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(name: &str, pos: u32) -> CheckpointLocation {
        CheckpointLocation {
            binlog_name: name.into(),
            binlog_pos: pos,
            binlog_gtid: String::new(),
        }
    }

    fn stored(c: CheckpointLocation, e: Option<CheckpointLocation>) -> StoredCheckpoint {
        StoredCheckpoint {
            checkpoint: c,
            exit_point: e,
        }
    }

    #[test]
    fn fresh_task_has_no_window() {
        let plan = plan_safe_mode(&at("b.000001", 4), None);
        assert_eq!(plan.window, None);
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn earlier_start_opens_a_window_to_the_furthest_point() {
        let c = at("b.000005", 100);
        let plan = plan_safe_mode(&at("b.000003", 4), Some(&stored(c.clone(), None)));
        assert_eq!(plan.window.unwrap().until, c);
        // A pending exit point beyond the checkpoint is kept.
        let e = at("b.000007", 9);
        let plan = plan_safe_mode(
            &at("b.000003", 4),
            Some(&stored(c.clone(), Some(e.clone()))),
        );
        assert_eq!(plan.window.unwrap().until, e);
        // Between C and E: still inside the old window.
        let plan = plan_safe_mode(
            &at("b.000006", 4),
            Some(&stored(c.clone(), Some(e.clone()))),
        );
        assert_eq!(plan.window.unwrap().until, e);
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn later_start_clears_the_window_and_warns_about_skipped_binlog() {
        let c = at("b.000005", 100);
        let same = plan_safe_mode(&c, Some(&stored(c.clone(), None)));
        assert_eq!(same.window, None);
        assert!(same.warnings.is_empty());
        let later = plan_safe_mode(&at("b.000006", 4), Some(&stored(c.clone(), None)));
        assert_eq!(later.window, None);
        assert!(
            later.warnings[0].contains("skipped"),
            "{:?}",
            later.warnings
        );
        // At E exactly, after C: no window, but C..E is not replayed.
        let e = at("b.000007", 9);
        let at_e = plan_safe_mode(&e, Some(&stored(c, Some(e.clone()))));
        assert_eq!(at_e.window, None);
        assert_eq!(at_e.warnings.len(), 1);
    }

    #[test]
    fn incomparable_keeps_the_window_to_the_checkpoint() {
        let c = at("b.000005", 100);
        let plan = plan_safe_mode(&at("other.000001", 4), Some(&stored(c.clone(), None)));
        assert_eq!(plan.window.unwrap().until, c);
        assert!(plan.warnings[0].contains("cannot tell"));
    }
}
