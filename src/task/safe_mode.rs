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
///
/// R, the furthest point DM may already have executed, is the checkpoint C or its pending exit
/// point E beyond it (DM saves E as the furthest location it reached when it stopped, so an E
/// that cannot be ordered against C is still kept). A start before R replays, so safe mode
/// stays on until R; a start after C skips (C, S], which is said even when S is before E.
/// When S and R cannot be ordered, safe mode stays on until R, and the message says so:
/// an exit point is never dropped, and never one known to lie behind S.
pub fn plan_safe_mode(
    start: &CheckpointLocation,
    existing: Option<&StoredCheckpoint>,
) -> SafeModePlan {
    let Some(existing) = existing.filter(|e| !e.checkpoint.is_fresh()) else {
        return SafeModePlan {
            note: "no previous checkpoint: no safe-mode window".to_owned(),
            ..SafeModePlan::default()
        };
    };
    let checkpoint = &existing.checkpoint;
    let mut warnings = Vec::new();
    let exit = existing
        .exit_point
        .as_ref()
        .filter(|e| !e.binlog_name.is_empty() || e.has_gtids());
    let reached = match exit {
        None => checkpoint,
        Some(exit) => match exit.compare(checkpoint) {
            LocationOrder::After => exit,
            LocationOrder::Same | LocationOrder::Before => checkpoint,
            LocationOrder::Incomparable(why) => {
                warnings.push(format!(
                    "the task's pending safe-mode exit point {exit} cannot be ordered against \
                     its checkpoint {checkpoint} ({why}); it is kept as the furthest point \
                     replication may have reached"
                ));
                exit
            }
        },
    };
    let skipped = || {
        format!(
            "the start point {start} is after the task's checkpoint {checkpoint}: the binlog \
             between them may be skipped, and the downstream may keep data those transactions \
             would have changed"
        )
    };
    let after_checkpoint = matches!(start.compare(checkpoint), LocationOrder::After);
    match start.compare(reached) {
        LocationOrder::Before => {
            if after_checkpoint {
                warnings.push(skipped());
            }
            SafeModePlan {
                window: Some(SafeModeWindow {
                    until: reached.clone(),
                }),
                warnings,
                note: format!(
                    "starting at {start}, before where the task may have reached ({reached}): \
                     safe mode is on until replication passes {reached}"
                ),
            }
        }
        LocationOrder::Same | LocationOrder::After => {
            if after_checkpoint {
                warnings.push(skipped());
            }
            SafeModePlan {
                window: None,
                warnings,
                note: format!(
                    "starting at {start}, not before where the task may have reached \
                     ({reached}): no safe-mode window"
                ),
            }
        }
        LocationOrder::Incomparable(why) => {
            if after_checkpoint {
                warnings.push(skipped());
            }
            warnings.push(format!(
                "cannot tell whether the start point {start} is before or after {reached}, \
                 where the task may have reached ({why}); safe mode stays on until \
                 replication passes {reached}"
            ));
            SafeModePlan {
                window: Some(SafeModeWindow {
                    until: reached.clone(),
                }),
                warnings,
                note: format!(
                    "start point and {reached} cannot be ordered: safe mode until {reached}"
                ),
            }
        }
    }
}

/// Why DM could not use `exit` as the exit point of a task restarting at `start`, if it could
/// not: without GTIDs, DM orders binlog names by their base name as a plain string
/// (go-mysql `CompareBinlogFileName`), so across base names it may leave safe mode at once or
/// never.
pub fn dm_cannot_order(start: &CheckpointLocation, exit: &CheckpointLocation) -> Option<String> {
    if start.has_gtids() && exit.has_gtids() {
        return None;
    }
    let base = |name: &str| {
        name.rsplit_once('.')
            .map(|(b, _)| b.split('|').next().unwrap_or(b).to_owned())
    };
    match (base(&start.binlog_name), base(&exit.binlog_name)) {
        (Some(a), Some(b)) if a != b => Some(format!(
            "DM cannot use the exit point {exit}: its binlog base name differs from the start \
             point's ({start}), and without GTIDs DM orders binlog names as plain strings, so it \
             may leave safe mode at once or never; watch the task, or give both GTIDs"
        )),
        _ => None,
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
        // Between C and E: still inside the old window, and (C, S] may be skipped (issue 16,
        // item 6: DM-COMPAT §3.3 asks for the warning; (C, E] was only maybe executed).
        let plan = plan_safe_mode(
            &at("b.000006", 4),
            Some(&stored(c.clone(), Some(e.clone()))),
        );
        assert_eq!(plan.window.unwrap().until, e);
        assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
        assert!(plan.warnings[0].contains("skipped"), "{:?}", plan.warnings);
    }

    fn gtid(name: &str, pos: u32, gtid: &str) -> CheckpointLocation {
        CheckpointLocation {
            binlog_name: name.into(),
            binlog_pos: pos,
            binlog_gtid: gtid.into(),
        }
    }

    const U1: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const U2: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

    /// Issue 16, item 2: with E after C and S crossing E (a failover, errant transactions), the
    /// window became C: E was lost, and the exit point could lie behind S.
    #[test]
    fn a_pending_exit_point_is_kept_when_the_start_crosses_it() {
        let c = gtid("b.000005", 100, &format!("{U1}:1-10"));
        let e = gtid("b.000007", 9, &format!("{U1}:1-20"));
        let s = gtid("b.000006", 4, &format!("{U1}:1-15,{U2}:1-3"));
        let plan = plan_safe_mode(&s, Some(&stored(c.clone(), Some(e.clone()))));
        assert_eq!(plan.window.unwrap().until, e, "{:?}", plan.warnings);
        let text = plan.warnings.join(" | ");
        assert!(
            text.contains("skipped") && text.contains("cannot tell"),
            "{text}"
        );
        assert!(text.contains("b.000007:9"), "names E, not C: {text}");
        // E that cannot be ordered against C is kept too.
        let e = gtid("b.000007", 9, &format!("{U2}:1-5"));
        let plan = plan_safe_mode(
            &gtid("b.000003", 4, &format!("{U1}:1-5")),
            Some(&stored(c, Some(e.clone()))),
        );
        assert_eq!(plan.window.unwrap().until, e);
    }

    /// Issue 16, item 7: DM's fresh row ('', 4, '') is no checkpoint.
    #[test]
    fn dms_fresh_row_opens_no_window() {
        let plan = plan_safe_mode(&at("b.000003", 4), Some(&stored(at("", 4), None)));
        assert_eq!(plan.window, None);
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    /// Issue 16, item 4: DM's MariaDB text after a failover; S before C in DM's eyes.
    #[test]
    fn a_start_before_dms_mariadb_checkpoint_opens_a_window() {
        let c = gtid("m.000012", 4, "0-1-100,0-2-150");
        let plan = plan_safe_mode(
            &gtid("m.000015", 4, "0-2-120"),
            Some(&stored(c.clone(), None)),
        );
        assert_eq!(plan.window.unwrap().until, c);
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    /// Issue 16, item 5: at a rotation C ends file 12 and S starts file 13 with the same GTIDs:
    /// the same location, no "skipped" warning.
    #[test]
    fn equal_gtid_sets_across_a_rotation_skip_nothing() {
        let c = gtid("b.000012", 9_000, &format!("{U1}:1-10"));
        let s = gtid("b.000013", 4, &format!("{U1}:1-10"));
        let plan = plan_safe_mode(&s, Some(&stored(c, None)));
        assert_eq!(plan.window, None);
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn dm_cannot_order_exit_points_across_base_names_without_gtids() {
        let why = dm_cannot_order(&at("other.000001", 4), &at("b.000005", 100)).unwrap();
        assert!(why.contains("plain strings"), "{why}");
        assert_eq!(
            dm_cannot_order(&at("b.000001", 4), &at("b.000005", 100)),
            None
        );
        assert_eq!(
            dm_cannot_order(
                &gtid("other.000001", 4, &format!("{U1}:1-3")),
                &gtid("b.000005", 100, &format!("{U1}:1-5"))
            ),
            None
        );
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
