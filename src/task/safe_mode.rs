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
pub(crate) struct SafeModeWindow {
    pub until: CheckpointLocation,
}

/// The decision for one source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SafeModePlan {
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
/// point E beyond it (DM saves E as the furthest location it reached when it stopped). A start
/// before R replays, so safe mode stays on until R; a start after C skips (C, S], which is
/// said even when S is before E. When S and R cannot be ordered, safe mode stays on until R,
/// and the message says so: an exit point is never dropped, and never one known to lie at or
/// behind S. When E and C cannot be ordered against each other, each of them that S is not
/// known to be at or after stays a candidate, E first.
pub(crate) fn plan_safe_mode(
    start: &CheckpointLocation,
    existing: Option<&StoredCheckpoint>,
) -> SafeModePlan {
    // DM's fresh row ('', 4, '') is no checkpoint; an exit point beside it still counts (DM
    // loads it whatever the global point is).
    let checkpoint = existing.map(|e| &e.checkpoint).filter(|c| !c.is_fresh());
    let exit = existing
        .and_then(|e| e.exit_point.as_ref())
        .filter(|e| !e.binlog_name.is_empty() || e.has_gtids());
    let mut warnings = Vec::new();
    // The points replication may have reached, furthest first.
    let reached: Vec<&CheckpointLocation> = match (checkpoint, exit) {
        (None, None) => {
            return SafeModePlan {
                note: "no previous checkpoint: no safe-mode window".to_owned(),
                ..SafeModePlan::default()
            };
        }
        (Some(c), None) => vec![c],
        (None, Some(e)) => vec![e],
        (Some(c), Some(e)) => match e.compare(c) {
            LocationOrder::After => vec![e],
            LocationOrder::Same | LocationOrder::Before => vec![c],
            LocationOrder::Incomparable(why) => {
                warnings.push(format!(
                    "the task's pending safe-mode exit point {e} cannot be ordered against its \
                     checkpoint {c} ({why})"
                ));
                vec![e, c]
            }
        },
    };
    if let Some(c) = checkpoint
        && matches!(start.compare(c), LocationOrder::After)
    {
        warnings.push(format!(
            "the start point {start} is after the task's checkpoint {c}: the binlog between \
             them may be skipped, and the downstream may keep data those transactions would \
             have changed"
        ));
    }
    // The first point S is not known to be at or after.
    let mut unordered = Vec::new();
    let until = reached.iter().copied().find(|r| match start.compare(r) {
        LocationOrder::Before => true,
        LocationOrder::Same | LocationOrder::After => false,
        LocationOrder::Incomparable(why) => {
            unordered.push((*r, why));
            true
        }
    });
    let Some(until) = until else {
        let r = reached[0];
        return SafeModePlan {
            window: None,
            warnings,
            note: format!(
                "starting at {start}, not before where the task may have reached ({r}): no \
                 safe-mode window"
            ),
        };
    };
    if let Some((r, why)) = unordered.first().filter(|(r, _)| *r == until) {
        warnings.push(format!(
            "cannot tell whether the start point {start} is before or after {r}, where the \
             task may have reached ({why}); safe mode stays on until replication passes {r}"
        ));
    }
    SafeModePlan {
        window: Some(SafeModeWindow {
            until: until.clone(),
        }),
        warnings,
        note: format!(
            "starting at {start}, before where the task may have reached ({until}) or not \
             known to be after it: safe mode is on until replication passes {until}"
        ),
    }
}

/// What to tell the user when DM will not keep the window from `start` to `exit` as meant: DM
/// compares the two its own way (`CheckpointLocation::dm_order`, by GTID set only with
/// `enable-gtid: true`, else by binlog name as a plain string and position), and when it does
/// not find `start` before `exit` it leaves safe mode at the first event (or never enters it).
pub(crate) fn dm_window_warning(
    start: &CheckpointLocation,
    exit: &CheckpointLocation,
    enable_gtid: bool,
) -> Option<String> {
    if start.dm_order(exit, enable_gtid).is_lt() {
        return None;
    }
    let how = match enable_gtid {
        true => "by GTID set, or by binlog position where the sets cross",
        false => "by binlog name (as a plain string) and position, since enable-gtid is off",
    };
    Some(format!(
        "DM cannot use the exit point {exit}: comparing locations {how}, it does not find the \
         start point {start} before it, so it will not keep safe mode until there; watch the \
         task for duplicate-key errors, or start at or after {exit}"
    ))
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
        // Between C and E: still inside the old window, and (C, S] may be skipped (DM-COMPAT
        // §3.3 asks for the warning: (C, E] was only maybe executed).
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

    /// With E after C and S crossing E (a failover, errant transactions), the window runs until
    /// E, not C, and the warning names E: the pending exit point is kept, and the window never
    /// ends at a point behind S. An E that cannot be ordered against C is kept as well.
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

    /// DM's fresh row ('', 4, '') is no checkpoint, so it opens no window.
    #[test]
    fn dms_fresh_row_opens_no_window() {
        let plan = plan_safe_mode(&at("b.000003", 4), Some(&stored(at("", 4), None)));
        assert_eq!(plan.window, None);
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    /// DM's MariaDB text after a failover (a GTID per (domain, server_id)) is read as DM reads
    /// it: S is before C, in DM's eyes and here, so a window opens until C.
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

    /// At a rotation C ends file 12 and S starts file 13 with the same GTIDs: the same
    /// location, so no window and no "skipped" warning.
    #[test]
    fn equal_gtid_sets_across_a_rotation_skip_nothing() {
        let c = gtid("b.000012", 9_000, &format!("{U1}:1-10"));
        let s = gtid("b.000013", 4, &format!("{U1}:1-10"));
        let plan = plan_safe_mode(&s, Some(&stored(c, None)));
        assert_eq!(plan.window, None);
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    /// Without GTIDs DM orders base names as plain strings: an exit point in another binlog
    /// sequence may never be passed, or passed at once, and the warning says so.
    #[test]
    fn dm_cannot_use_an_exit_point_it_does_not_see_after_the_start() {
        let why = dm_window_warning(&at("z.000001", 4), &at("b.000005", 100), false).unwrap();
        assert!(why.contains("plain string"), "{why}");
        assert_eq!(
            dm_window_warning(&at("b.000001", 4), &at("b.000005", 100), false),
            None
        );
        let s = gtid("z.000001", 4, &format!("{U1}:1-3"));
        let e = gtid("b.000005", 100, &format!("{U1}:1-5"));
        assert_eq!(dm_window_warning(&s, &e, true), None, "GTIDs decide");
        assert!(
            dm_window_warning(&s, &e, false).is_some(),
            "positions decide"
        );
    }

    /// With E and C that cannot be ordered against each other, S at E but before C keeps a
    /// window until C, which is still ahead of S.
    #[test]
    fn a_start_at_an_unordered_exit_point_but_before_the_checkpoint_keeps_a_window() {
        let c = at("b.000005", 100);
        let e = gtid("", 0, &format!("{U1}:1-9"));
        let s = gtid("b.000003", 4, &format!("{U1}:1-9"));
        let plan = plan_safe_mode(&s, Some(&stored(c.clone(), Some(e))));
        assert_eq!(plan.window.unwrap().until, c);
    }

    #[test]
    fn a_fresh_row_with_an_exit_point_keeps_it() {
        let e = at("b.000007", 9);
        let plan = plan_safe_mode(
            &at("b.000003", 4),
            Some(&stored(at("", 4), Some(e.clone()))),
        );
        assert_eq!(plan.window.unwrap().until, e);
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
