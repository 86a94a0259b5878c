//! Resolution from local files: the server-derived answers of the fixture corpus, the public
//! binlogs, and a property test comparing the fast path with the linear reference on generated
//! corpora (both flavours, both bases, clocks going backwards, empty files, purged files, DM
//! relay layout).

use std::path::Path;

use proptest::prelude::*;

use startpoint::resolve::linear::resolve_linear;
use std::sync::Arc;

use startpoint::resolve::cache::SummaryCache;
use startpoint::resolve::explain::{NoClockSkip, Note, Step};
use startpoint::resolve::{
    FileDecision, GtidMode, LocalSequence, Request, Resolution, ScanTuning, Status, resolve,
    resolve_files, resolve_files_tuned, too_late_message,
};
use startpoint::source::local::BinlogDir;
use startpoint::source::relay::{RELAY_INDEX, open_relay_dir};
use startpoint::start_time::{StartTime, Zone};
use startpoint::testkit::binlog_writer::{
    FileSpec, SequenceWriter, Trailing, TrxShape, TrxSpec, WriterFlavor,
};
use startpoint::testkit::fixtures;
use startpoint::testkit::oracle::Basis;
use startpoint::unit::TimeBasis;

fn basis(b: Basis) -> TimeBasis {
    match b {
        Basis::Commit => TimeBasis::Commit,
        Basis::Begin => TimeBasis::Begin,
    }
}

/// (status, file, pos, gtid): what two resolutions must agree on.
fn summary(r: &Resolution) -> (Status, Option<(String, u64)>, Option<String>) {
    (
        r.status,
        r.location.as_ref().map(|l| (l.file.clone(), l.pos)),
        r.gtid.as_ref().map(ToString::to_string),
    )
}

#[test]
fn every_fixture_answer_holds() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mariadb");
    let expected = fixtures::load(&corpus).unwrap();
    let sequence = BinlogDir::open(&corpus.join("binlog")).unwrap();
    for case in &expected.cases {
        let start = StartTime::parse(&case.input)
            .unwrap()
            .resolve(&Zone::Local)
            .unwrap();
        let request = Request {
            start_us: start.instant_us,
            basis: basis(case.time_basis),
            gtid: GtidMode::Auto,
        };
        let fast = resolve_files(&sequence, &request).unwrap();
        let what = format!("{} ({:?})", case.input, case.time_basis);
        assert_eq!(fast.status.as_str(), case.status, "{what}");
        match fast.status {
            Status::AboveUpperBound => {
                assert_eq!(Some(too_late_message(&case.input)), case.error, "{what}");
            }
            _ => {
                let location = fast.location.as_ref().unwrap();
                assert_eq!(Some(&location.file), case.binlog_name.as_ref(), "{what}");
                assert_eq!(Some(location.pos), case.binlog_pos, "{what}");
                assert_eq!(Some(fast.gtid_text()), case.binlog_gtid, "{what}");
            }
        }
        let linear = resolve_linear(&sequence, &request).unwrap();
        assert_eq!(summary(&fast), summary(&linear), "{what}");
    }
}

/// MariaDB's clock is not monotonic and a file's creation time bounds nothing before it
/// (SEMANTICS.md §6): every file before the answer is read, and `--explain` says why.
#[test]
fn mariadb_fixture_reads_every_file_before_the_answer() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mariadb/binlog");
    let sequence = BinlogDir::open(&corpus).unwrap();
    let start = StartTime::parse("2030-03-31 02:00:00Z")
        .unwrap()
        .resolve(&Zone::Local)
        .unwrap();
    let request = Request {
        start_us: start.instant_us,
        basis: TimeBasis::Commit,
        gtid: GtidMode::Auto,
    };
    let fast = resolve_files(&sequence, &request).unwrap();
    assert_eq!(fast.status, Status::InRange);
    let answer = &fast.location.as_ref().unwrap().file;
    let index = sequence
        .files
        .iter()
        .position(|f| &f.name == answer)
        .unwrap();
    let before: u64 = sequence.files[..index]
        .iter()
        .map(|f| std::fs::metadata(&f.path).unwrap().len())
        .sum();
    assert!(
        fast.stats.bytes_read >= before,
        "{:?} of {before}",
        fast.stats
    );
    assert!(
        fast.steps
            .iter()
            .any(|step| matches!(step, Step::ClockSkipsNothing { .. })),
        "{:#?}",
        fast.steps
    );
}

/// Writes `files` (each a list of transactions) with every file's FDE and the ROTATE before it
/// dated `rotations[i]`, into `dir` with an index.
fn write_rotated(
    flavor: WriterFlavor,
    dir: &Path,
    files: &[(u32, Vec<TrxSpec>)],
    step_back_before: Option<usize>,
) -> BinlogDir {
    let mut writer = SequenceWriter::new(flavor, "mysql-bin");
    let mut names = Vec::new();
    for (i, (created, trxs)) in files.iter().enumerate() {
        if step_back_before == Some(i) {
            writer.step_clock_back();
        }
        let rotated_at = files.get(i + 1).map(|(next, _)| *next);
        let spec = FileSpec {
            created: *created,
            trxs: trxs.clone(),
            trailing: Trailing::Nothing,
        };
        let file = writer.write_file_rotated(&spec, i + 1 == files.len(), rotated_at);
        std::fs::write(dir.join(&file.name), &file.bytes).unwrap();
        names.push(file.name);
    }
    let index: String = names.iter().map(|n| format!("./{n}\n")).collect();
    std::fs::write(dir.join("mysql-bin.index"), index).unwrap();
    BinlogDir::open(dir).unwrap()
}

fn trx(begin_ts: u32, commit_ts: u32, micros: u32) -> TrxSpec {
    TrxSpec::at(begin_ts, commit_ts).with_micros(micros)
}

/// A 6-second autocommit statement started at :12 rotates the log when it commits, so the new
/// file's FDE and the old file's ROTATE say :12 while three other sessions' transactions
/// committed at :13–:17 sit in the old file. Choosing the start file by creation time would
/// answer the new file for :14 (skipping them), or "too late"; every start time around the
/// boundary gives the linear answer, in every flavour and under both bases.
#[test]
fn a_late_dated_rotation_never_skips_the_previous_files_transactions() {
    const T0: u32 = 1_900_000_000;
    for flavor in [
        WriterFlavor::MariaDb,
        WriterFlavor::MySql57Gtid,
        WriterFlavor::MySql80Gtid,
        WriterFlavor::MySql80Anonymous,
    ] {
        // The long statement: MariaDB and MySQL 5.7 date all its events with its start; MySQL
        // 8.0 records its real commit time in the GTID event.
        let long_commit =
            if flavor == WriterFlavor::MySql80Gtid || flavor == WriterFlavor::MySql80Anonymous {
                T0 + 18
            } else {
                T0 + 12
            };
        let files = vec![
            (
                T0,
                vec![
                    trx(T0 + 1, T0 + 1, 10),
                    trx(T0 + 5, T0 + 5, 10),
                    trx(T0 + 13, T0 + 13, 10),
                    trx(T0 + 14, T0 + 15, 10),
                    trx(T0 + 16, T0 + 17, 10),
                    trx(T0 + 12, long_commit, 10),
                ],
            ),
            (
                T0 + 12,
                vec![trx(T0 + 19, T0 + 19, 10), trx(T0 + 21, T0 + 22, 10)],
            ),
            (T0 + 12, vec![trx(T0 + 30, T0 + 30, 10)]),
            (T0 + 31, vec![trx(T0 + 32, T0 + 32, 10)]),
        ];
        let dir = tempfile::tempdir().unwrap();
        let sequence = write_rotated(flavor, dir.path(), &files, None);
        for basis in [TimeBasis::Commit, TimeBasis::Begin] {
            for gtid in [GtidMode::Auto, GtidMode::Off] {
                for second in 0..40 {
                    for delta in [-1, 0, 1] {
                        let start_us = i64::from(T0 + second) * 1_000_000 + delta;
                        let request = Request {
                            start_us,
                            basis,
                            gtid,
                        };
                        let linear = resolve_linear(&sequence, &request).unwrap();
                        for tuning in [ScanTuning::default(), EAGER] {
                            let fast = resolve_files_tuned(&sequence, &request, tuning).unwrap();
                            assert_eq!(
                                summary(&fast),
                                summary(&linear),
                                "{flavor:?} {basis:?} {gtid:?} at T0+{second}s{delta:+}µs\n{}",
                                explained(&fast.steps)
                            );
                        }
                    }
                }
            }
        }
        // The case of the report: :14 lies in the first file, not the second.
        let request = Request {
            start_us: i64::from(T0 + 14) * 1_000_000,
            basis: TimeBasis::Commit,
            gtid: GtidMode::Auto,
        };
        let fast = resolve_files(&sequence, &request).unwrap();
        assert_eq!(fast.status, Status::InRange, "{flavor:?}");
        assert_eq!(
            fast.location.unwrap().file,
            "mysql-bin.000001",
            "{flavor:?}"
        );
    }
}

/// MySQL 8.0 under the commit basis: files before the answer are skipped on the commit clock
/// (a probe per file searched), the answer equals the linear one, and `--explain` says so.
#[test]
fn mysql8_files_are_skipped_on_the_commit_clock() {
    const T0: u32 = 1_900_000_000;
    let files: Vec<(u32, Vec<TrxSpec>)> = (0..12u32)
        .map(|f| {
            // Every file dated long before its transactions: creation times bound nothing.
            (
                T0 + f,
                (0..20u32)
                    .map(|i| trx(T0 + 100 * f + i, T0 + 100 * f + i, i * 7))
                    .collect(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let sequence = write_rotated(WriterFlavor::MySql80Gtid, dir.path(), &files, None);
    let request = Request {
        start_us: i64::from(T0 + 905) * 1_000_000,
        basis: TimeBasis::Commit,
        gtid: GtidMode::Auto,
    };
    let fast = resolve_files(&sequence, &request).unwrap();
    let linear = resolve_linear(&sequence, &request).unwrap();
    assert_eq!(summary(&fast), summary(&linear));
    assert_eq!(fast.location.as_ref().unwrap().file, "mysql-bin.000010");
    assert!(
        fast.steps
            .iter()
            .any(|step| matches!(step, Step::SkippedOnClock { count: 9, .. })),
        "{:#?}",
        fast.steps
    );
    // Probes (a binary search over 12 files) and the target file.
    assert!(
        fast.stats.files_opened <= 7,
        "{:?}\n{:#?}",
        fast.stats,
        fast.steps
    );
    // The begin basis has no monotonic clock: everything before the answer is read.
    let begin = Request {
        basis: TimeBasis::Begin,
        ..request
    };
    let fast = resolve_files(&sequence, &begin).unwrap();
    assert_eq!(
        summary(&fast),
        summary(&resolve_linear(&sequence, &begin).unwrap())
    );
    assert!(fast.steps.contains(&Step::ClockSkipsNothing {
        why: NoClockSkip::BeginBasis
    }));
}

/// A clock that stepped back between files contradicts the skip: the resolution notices it on
/// what it reads and reads every file from the first.
#[test]
fn a_commit_clock_that_steps_back_makes_every_file_read() {
    const T0: u32 = 1_900_000_000;
    let mut files: Vec<(u32, Vec<TrxSpec>)> = (0..4u32)
        .map(|f| {
            (
                T0 + 100 * f,
                (0..10u32)
                    .map(|i| trx(T0 + 100 * f + i, T0 + 100 * f + i, 0))
                    .collect(),
            )
        })
        .collect();
    // File 3 starts after the step back: its transactions commit at +150.., between file 1's
    // and file 2's, so file 2 (+200..) holds transactions later than file 3's first.
    files[3].1 = (0..10u32)
        .map(|i| trx(T0 + 150 + i, T0 + 150 + i, 0))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let sequence = write_rotated(WriterFlavor::MySql80Gtid, dir.path(), &files, Some(3));
    for second in [150, 155, 160, 205, 209, 210] {
        let request = Request {
            start_us: i64::from(T0 + second) * 1_000_000,
            basis: TimeBasis::Commit,
            gtid: GtidMode::Auto,
        };
        let fast = resolve_files(&sequence, &request).unwrap();
        let linear = resolve_linear(&sequence, &request).unwrap();
        assert_eq!(
            summary(&fast),
            summary(&linear),
            "+{second}s\n{}",
            explained(&fast.steps)
        );
        if second == 205 {
            assert!(
                fast.steps.iter().any(|step| matches!(
                    step,
                    Step::ClockSkipsNothing {
                        why: NoClockSkip::SteppedBack { .. }
                    }
                )),
                "{:#?}",
                fast.steps
            );
        }
    }
}

/// Every public binlog (and the two-file sequences) resolves like the linear reference at
/// every unit's time, just before it and just after it.
#[test]
fn public_binlogs_resolve_like_the_reference() {
    let public = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/public");
    let mut sequences = Vec::new();
    for dir in std::fs::read_dir(&public).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        if dir.join("binlog.index").exists() {
            sequences.push(BinlogDir::open(&dir).unwrap());
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".gz")
                || name == "non-binlog"
                || name.starts_with("corrupt")
                || name.contains("truncated")
            {
                continue;
            }
            let single = tempfile::tempdir().unwrap().keep();
            std::fs::copy(&path, single.join(&name)).unwrap();
            sequences.push(BinlogDir::open(&single).unwrap());
        }
    }
    assert!(sequences.len() > 25);
    for sequence in &sequences {
        let linear_units = all_times(sequence);
        for basis in [TimeBasis::Commit, TimeBasis::Begin] {
            for &t in &linear_units {
                for start_us in [t - 1, t, t + 1, t - 1_000_000, t + 1_000_000] {
                    let request = Request {
                        start_us,
                        basis,
                        gtid: GtidMode::Auto,
                    };
                    let fast = resolve_files(sequence, &request).unwrap();
                    let linear = resolve_linear(sequence, &request).unwrap();
                    assert_eq!(
                        summary(&fast),
                        summary(&linear),
                        "{} at {start_us}",
                        sequence.dir.display()
                    );
                }
            }
        }
    }
}

/// Every unit time of a sequence (both bases).
fn all_times(sequence: &BinlogDir) -> Vec<i64> {
    use startpoint::binlog::{FileEventSource, ReadOptions};
    use startpoint::unit::UnitReader;
    let mut times = Vec::new();
    for (i, file) in sequence.files.iter().enumerate() {
        let newest = i + 1 == sequence.files.len();
        let mut units = UnitReader::new(
            FileEventSource::open(
                &file.path,
                ReadOptions {
                    newest,
                    ..ReadOptions::default()
                },
            )
            .unwrap(),
            false,
        );
        while let Some(unit) = units.next_unit().unwrap() {
            times.push(unit.commit_us());
            times.push(unit.begin_us());
        }
    }
    times.sort_unstable();
    times.dedup();
    times
}

/// How the generated files are laid out on disk.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// One directory with an index.
    Indexed,
    /// One directory, no index: ordered by name.
    Unindexed,
    /// One directory whose index lists a file that is gone.
    Purged,
    /// A DM relay directory with two sub-directories.
    Relay,
}

const BASE: u32 = 1_900_000_000;

/// Every faster way, on files of any size: bisection down to single bytes, two halves.
const EAGER: ScanTuning = ScanTuning {
    bisect_min_bytes: 0,
    parallel_min_bytes: 0,
    walk_span: 1,
};

/// One generated transaction: start offset in its file, duration, commit µs, DDL or not.
type GenTrx = (u32, u32, u32, bool);

/// Seconds added to a file's FDE and to the ROTATE before the next file: earlier than the
/// file's transactions, equal, or later (SEMANTICS.md §6: servers date both with the start of
/// the statement that rotated the log).
type FileDates = (i32, i32);

fn corpus() -> impl Strategy<Value = (WriterFlavor, Vec<Vec<GenTrx>>, Layout)> {
    corpus_dated().prop_map(|(flavor, files, layout, _)| (flavor, files, layout))
}

fn corpus_dated() -> impl Strategy<Value = (WriterFlavor, Vec<Vec<GenTrx>>, Layout, Vec<FileDates>)>
{
    let trx = (0u32..99, 0u32..6, 0u32..1_000_000, any::<bool>());
    let dates = prop_oneof![
        Just((0, 0)),
        (-250i32..250, -250i32..250),
        (0i32..2, 99i32..101),
    ];
    (
        prop::sample::select(WriterFlavor::ALL.to_vec()),
        prop::collection::vec(prop::collection::vec(trx, 0..6), 1..5),
        prop_oneof![
            Just(Layout::Indexed),
            Just(Layout::Unindexed),
            Just(Layout::Purged),
            Just(Layout::Relay)
        ],
        prop::collection::vec(dates, 5),
    )
}

/// Writes the corpus; returns the sequence as the resolver sees it and every probe time.
fn lay_out(
    flavor: WriterFlavor,
    files: &[Vec<(u32, u32, u32, bool)>],
    layout: Layout,
    dir: &Path,
) -> (BinlogDir, Vec<i64>) {
    lay_out_dated(flavor, files, layout, &[], dir)
}

/// [`lay_out`] with each file's FDE moved by `dates[i].0` seconds and its ROTATE dated
/// `dates[i].1` seconds after the file's nominal start.
fn lay_out_dated(
    flavor: WriterFlavor,
    files: &[Vec<(u32, u32, u32, bool)>],
    layout: Layout,
    dates: &[FileDates],
    dir: &Path,
) -> (BinlogDir, Vec<i64>) {
    let mut writer = SequenceWriter::new(flavor, "mysql-bin");
    let mut written = Vec::new();
    let mut probes = vec![i64::from(BASE) * 1_000_000];
    for (i, trxs) in files.iter().enumerate() {
        let nominal = BASE + 100 * i as u32;
        let (fde, rotate) = dates.get(i).copied().unwrap_or((0, 0));
        let created = nominal.saturating_add_signed(fde);
        let rotated_at = (rotate != 0).then(|| nominal.saturating_add_signed(rotate));
        for s in [created, created + 1, nominal, nominal + 1, nominal + 100] {
            probes.push(i64::from(s) * 1_000_000);
        }
        let spec = FileSpec {
            created,
            trailing: Trailing::Nothing,
            trxs: trxs
                .iter()
                .map(|&(start, duration, micros, ddl)| TrxSpec {
                    shape: if ddl {
                        TrxShape::Ddl
                    } else {
                        TrxShape::RowDml { statements: 1 }
                    },
                    begin_ts: nominal + start,
                    commit_ts: nominal + (start + duration).min(99),
                    commit_micros: micros,
                    domain: start % 2,
                    origin: 0,
                    gtid_gap: 0,
                })
                .collect(),
        };
        let file = writer.write_file_rotated(&spec, i + 1 == files.len(), rotated_at);
        for unit in &file.units {
            for t in [unit.commit_us, i64::from(unit.begin_ts) * 1_000_000] {
                probes.extend([t - 1, t, t + 1]);
            }
        }
        written.push(file);
    }
    let names: Vec<String> = written.iter().map(|f| f.name.clone()).collect();
    let sequence = match layout {
        Layout::Indexed | Layout::Unindexed | Layout::Purged => {
            for file in &written {
                std::fs::write(dir.join(&file.name), &file.bytes).unwrap();
            }
            if !matches!(layout, Layout::Unindexed) {
                let index: String = names.iter().map(|n| format!("./{n}\n")).collect();
                std::fs::write(dir.join("mysql-bin.index"), index).unwrap();
            }
            if matches!(layout, Layout::Purged) && written.len() > 2 {
                std::fs::remove_file(dir.join(&names[1])).unwrap();
            }
            BinlogDir::open(dir).unwrap()
        }
        Layout::Relay => {
            let split = written.len().div_ceil(2);
            let subdirs = [
                "3e3e3e3e-3e3e-3e3e-3e3e-3e3e3e3e3e3e.000001",
                "a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1.000002",
            ];
            for (i, file) in written.iter().enumerate() {
                let sub = dir.join(subdirs[usize::from(i >= split)]);
                std::fs::create_dir_all(&sub).unwrap();
                std::fs::write(sub.join(&file.name), &file.bytes).unwrap();
                std::fs::write(sub.join("relay.meta"), "binlog-name = \"x\"\n").unwrap();
            }
            let used = if split < written.len() { 2 } else { 1 };
            std::fs::write(dir.join(RELAY_INDEX), subdirs[..used].join("\n") + "\n").unwrap();
            open_relay_dir(dir).unwrap()
        }
    };
    probes.sort_unstable();
    probes.dedup();
    (sequence, probes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn the_fast_path_gives_the_linear_answer((flavor, files, layout) in corpus()) {
        let dir = tempfile::tempdir().unwrap();
        let (sequence, probes) = lay_out(flavor, &files, layout, dir.path());
        for basis in [TimeBasis::Commit, TimeBasis::Begin] {
            for gtid in [GtidMode::Auto, GtidMode::Off] {
                for &start_us in &probes {
                    let request = Request { start_us, basis, gtid };
                    let fast = resolve_files(&sequence, &request).unwrap();
                    let linear = resolve_linear(&sequence, &request).unwrap();
                    prop_assert_eq!(summary(&fast), summary(&linear), "{:?} {:?} {:?} at {}", flavor, layout, basis, start_us);
                    let eager = resolve_files_tuned(&sequence, &request, EAGER).unwrap();
                    prop_assert_eq!(summary(&eager), summary(&linear), "eager {:?} {:?} {:?} at {}", flavor, layout, basis, start_us);
                    if let Some(location) = &fast.location {
                        let relay = matches!(layout, Layout::Relay);
                        prop_assert_eq!(location.relay_subdir.is_some(), relay);
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    /// FDE and ROTATE times anywhere (earlier than the file's transactions, equal, later):
    /// every path still gives the linear answer.
    #[test]
    fn creation_and_rotate_times_never_change_the_answer((flavor, files, layout, dates) in corpus_dated()) {
        let dir = tempfile::tempdir().unwrap();
        let (sequence, probes) = lay_out_dated(flavor, &files, layout, &dates, dir.path());
        for basis in [TimeBasis::Commit, TimeBasis::Begin] {
            for gtid in [GtidMode::Auto, GtidMode::Off] {
                for &start_us in &probes {
                    let request = Request { start_us, basis, gtid };
                    let linear = resolve_linear(&sequence, &request).unwrap();
                    for tuning in [ScanTuning::default(), EAGER] {
                        let fast = resolve_files_tuned(&sequence, &request, tuning).unwrap();
                        prop_assert_eq!(summary(&fast), summary(&linear), "{:?} {:?} {:?} {:?} at {}\n{}", flavor, layout, basis, dates, start_us, explained(&fast.steps));
                    }
                }
            }
        }
    }
}

/// Resolves with `cache` (read and filled) and `tuning`.
fn resolve_cached(
    sequence: &BinlogDir,
    request: &Request,
    tuning: ScanTuning,
    cache: &Arc<SummaryCache>,
) -> Resolution {
    resolve(
        &mut LocalSequence::new(sequence)
            .with_tuning(tuning)
            .with_cache(cache.clone()),
        request,
    )
    .unwrap()
}

/// Empties `dir` (files and sub-directories).
fn clear(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 60, ..ProptestConfig::default() })]

    /// Summaries never change an answer: a cache being filled and then warm, the
    /// same cache after every file was replaced by another of the same name (stale), and a
    /// damaged cache all give the linear answer.
    #[test]
    fn summaries_never_change_the_answer(
        (flavor, files, layout, dates) in corpus_dated(),
        (_, replaced, _, replaced_dates) in corpus_dated(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(SummaryCache::open(cache_dir.path()));
        prop_assert!(cache.is_active());
        let (sequence, probes) = lay_out_dated(flavor, &files, layout, &dates, dir.path());
        let step = (probes.len() / 25).max(1);
        let check = |sequence: &BinlogDir, probes: &[i64], cache: &Arc<SummaryCache>| -> Result<(), TestCaseError> {
            for basis in [TimeBasis::Commit, TimeBasis::Begin] {
                for gtid in [GtidMode::Auto, GtidMode::Off] {
                    for &start_us in probes.iter().step_by(step) {
                        let request = Request { start_us, basis, gtid };
                        let linear = resolve_linear(sequence, &request).unwrap();
                        for tuning in [ScanTuning::default(), EAGER] {
                            let cached = resolve_cached(sequence, &request, tuning, cache);
                            prop_assert_eq!(summary(&cached), summary(&linear), "{:?} {:?} {:?} {:?} at {}\n{}", flavor, layout, basis, gtid, start_us, explained(&cached.steps));
                        }
                    }
                }
            }
            Ok(())
        };
        // Filled, then warm (every probe twice over).
        check(&sequence, &probes, &cache)?;
        check(&sequence, &probes, &cache)?;
        // Stale: other files under the same names.
        clear(dir.path());
        let (sequence, probes) = lay_out_dated(flavor, &replaced, layout, &replaced_dates, dir.path());
        check(&sequence, &probes, &cache)?;
        // Damaged.
        drop(cache);
        for entry in std::fs::read_dir(cache_dir.path()).unwrap() {
            std::fs::write(entry.unwrap().path(), b"garbage, not SQLite").unwrap();
        }
        let damaged = Arc::new(SummaryCache::open(cache_dir.path()));
        prop_assert!(!damaged.is_active());
        check(&sequence, &probes, &damaged)?;
    }
}

/// A warm cache skips the files a run read in full, says so per file, and reads a file again
/// once it was replaced under the same name (a restore, RESET MASTER).
#[test]
fn a_warm_cache_skips_files_read_before_and_not_replaced_ones() {
    const T0: u32 = 1_900_000_000;
    let files: Vec<(u32, Vec<TrxSpec>)> = (0..6u32)
        .map(|f| {
            (
                T0 + 100 * f,
                (0..50u32)
                    .map(|i| trx(T0 + 100 * f + i, T0 + 100 * f + i, 0))
                    .collect(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let sequence = write_rotated(WriterFlavor::MariaDb, dir.path(), &files, None);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(SummaryCache::open(cache_dir.path()));
    let request = Request {
        start_us: i64::from(T0 + 520) * 1_000_000,
        basis: TimeBasis::Commit,
        gtid: GtidMode::Auto,
    };
    let linear = resolve_linear(&sequence, &request).unwrap();
    let cold = resolve_cached(&sequence, &request, ScanTuning::default(), &cache);
    assert_eq!(summary(&cold), summary(&linear));
    assert!(
        cold.files[..5]
            .iter()
            .all(|f| f.decision == FileDecision::Read),
        "{:?}",
        cold.files
    );
    let warm = resolve_cached(&sequence, &request, ScanTuning::default(), &cache);
    assert_eq!(summary(&warm), summary(&linear));
    assert!(
        warm.files[..5]
            .iter()
            .all(|f| f.decision == FileDecision::SkippedOnSummary),
        "{:?}",
        warm.files
    );
    assert!(
        warm.stats.bytes_read * 3 < cold.stats.bytes_read,
        "{:?} vs {:?}",
        warm.stats,
        cold.stats
    );
    assert!(warm.notes.is_empty(), "{:?}", warm.notes);

    // File 3 replaced by another of the same name whose transactions are later: read again.
    let mut later = files.clone();
    later[2].1 = (0..50u32)
        .map(|i| trx(T0 + 530 + i, T0 + 530 + i, 0))
        .collect();
    clear(dir.path());
    let sequence = write_rotated(WriterFlavor::MariaDb, dir.path(), &later, None);
    let linear = resolve_linear(&sequence, &request).unwrap();
    assert_eq!(linear.location.as_ref().unwrap().file, "mysql-bin.000003");
    let again = resolve_cached(&sequence, &request, ScanTuning::default(), &cache);
    assert_eq!(summary(&again), summary(&linear));
    assert!(
        again
            .notes
            .iter()
            .any(|n| matches!(n, Note::StaleSummary { file } if file == "mysql-bin.000003")),
        "{:?}",
        again.notes
    );
}

/// Longer files (hundreds of transactions, a clock that mostly rises but stands still and,
/// in header times, goes back), so that bisection and the two halves have room to work.
fn long_corpus() -> impl Strategy<Value = (WriterFlavor, Vec<Vec<GenTrx>>)> {
    let trx = (
        0u32..3,
        0u32..4,
        0u32..1_000_000,
        prop::bool::weighted(0.05),
    );
    (
        prop::sample::select(vec![
            WriterFlavor::MySql80Gtid,
            WriterFlavor::MySql80Anonymous,
            WriterFlavor::MySql57Gtid,
            WriterFlavor::MariaDb,
        ]),
        prop::collection::vec(prop::collection::vec(trx, 0..400), 1..4),
    )
}

/// Turns per-transaction steps into times rising through the file (99 s per file at most).
fn rising(files: &[Vec<GenTrx>]) -> Vec<Vec<GenTrx>> {
    files
        .iter()
        .map(|trxs| {
            let mut at = 0u32;
            trxs.iter()
                .map(|&(step, duration, micros, ddl)| {
                    at = (at + step).min(90);
                    (at, duration, micros, ddl)
                })
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn bisection_and_halves_give_the_linear_answer((flavor, files) in long_corpus()) {
        let dir = tempfile::tempdir().unwrap();
        let files = rising(&files);
        let (sequence, probes) = lay_out(flavor, &files, Layout::Indexed, dir.path());
        let step = (probes.len() / 60).max(1);
        for basis in [TimeBasis::Commit, TimeBasis::Begin] {
            for gtid in [GtidMode::Auto, GtidMode::Off] {
                for &start_us in probes.iter().step_by(step) {
                    let request = Request { start_us, basis, gtid };
                    let linear = resolve_linear(&sequence, &request).unwrap();
                    for tuning in [EAGER, ScanTuning { walk_span: 4096, ..EAGER }] {
                        let fast = resolve_files_tuned(&sequence, &request, tuning).unwrap();
                        prop_assert_eq!(summary(&fast), summary(&linear), "{:?} {:?} {:?} at {}", flavor, basis, tuning, start_us);
                    }
                }
            }
        }
    }
}

/// The faster ways are really taken where they apply (and say so in the steps).
#[test]
fn bisection_hops_and_halves_are_taken_where_they_apply() {
    let steps_for = |flavor: WriterFlavor, basis: TimeBasis| {
        let dir = tempfile::tempdir().unwrap();
        let files = rising(&[(0..600u32)
            .map(|i| (i % 2, 1, i * 997 % 1_000_000, false))
            .collect()]);
        let (sequence, _) = lay_out(flavor, &files, Layout::Indexed, dir.path());
        let request = Request {
            start_us: i64::from(BASE + 60) * 1_000_000,
            basis,
            gtid: GtidMode::Auto,
        };
        let fast = resolve_files_tuned(
            &sequence,
            &request,
            ScanTuning {
                walk_span: 256,
                ..EAGER
            },
        )
        .unwrap();
        assert_eq!(
            summary(&fast),
            summary(&resolve_linear(&sequence, &request).unwrap())
        );
        fast.steps
    };
    let took = |steps: &[Step], step: fn(&Step) -> bool| steps.iter().any(step);
    let mysql = steps_for(WriterFlavor::MySql80Gtid, TimeBasis::Commit);
    assert!(
        took(&mysql, |s| matches!(s, Step::Bisected { .. })),
        "{mysql:#?}"
    );
    assert!(
        took(&mysql, |s| matches!(
            s,
            Step::GtidsHopped {
                two_threads: true,
                ..
            }
        )),
        "{mysql:#?}"
    );
    let maria = steps_for(WriterFlavor::MariaDb, TimeBasis::Commit);
    assert!(
        took(&maria, |s| matches!(s, Step::Halves { .. })),
        "{maria:#?}"
    );
    let begin = steps_for(WriterFlavor::MySql80Gtid, TimeBasis::Begin);
    assert!(
        took(&begin, |s| matches!(s, Step::Halves { .. })),
        "{begin:#?}"
    );
}

/// The opt-in assumptions (SEMANTICS.md §6, last paragraph): off by default; when turned on
/// they skip files without reading them and the answer names them; a transaction read that
/// contradicts one turns it off, and the answer is then the linear one.
#[test]
fn assumptions_skip_files_only_when_asked_and_give_way_to_what_is_read() {
    use startpoint::resolve::Assumption;
    const T0: u32 = 1_900_000_000;
    // Six MariaDB files, each created at its first transaction; file 2 ends with a 90 s
    // statement that rotated the log, so file 3 is dated 90 s before file 2's last commit.
    let mut files: Vec<(u32, Vec<TrxSpec>)> = (0..6u32)
        .map(|f| {
            let at = T0 + 200 * f;
            (at, (0..20u32).map(|i| trx(at + i, at + i, 0)).collect())
        })
        .collect();
    files[2].1.push(trx(T0 + 400 + 30, T0 + 400 + 120, 0));
    files[3].0 = T0 + 400 + 30;
    let dir = tempfile::tempdir().unwrap();
    let sequence = write_rotated(WriterFlavor::MariaDb, dir.path(), &files, None);
    let request = |second: u32| Request {
        start_us: i64::from(T0 + second) * 1_000_000,
        basis: TimeBasis::Commit,
        gtid: GtidMode::Auto,
    };
    let with = |assumption: Option<Assumption>, second: u32| {
        resolve(
            &mut LocalSequence::new(&sequence).with_assumption(assumption),
            &request(second),
        )
        .unwrap()
    };
    let ten_seconds = Some(Assumption::MaxStatement { us: 10_000_000 });
    // Without it nothing is skipped; with it the files before file 5 are.
    let plain = with(None, 1005);
    assert!(plain.assumption.is_none());
    assert!(
        plain
            .files
            .iter()
            .all(|f| f.decision != FileDecision::SkippedOnAssumption)
    );
    let assumed = with(ten_seconds, 1005);
    assert_eq!(summary(&assumed), summary(&plain));
    assert_eq!(assumed.assumption.as_deref(), Some("max-statement=10s"));
    let skipped = assumed
        .files
        .iter()
        .filter(|f| f.decision == FileDecision::SkippedOnAssumption)
        .count();
    // File 4 is not: file 5 was created at +1000 s, and 1000 + 1 + 10 > 1005.
    assert_eq!(skipped, 4, "{:?}", assumed.files);
    // Start times for which the assumption starts at file 2 (file 1 ends by file 2's creation
    // + 11 s, file 2 by file 3's + 11 s = +441 s): reading file 2 meets the 120 s commit, which
    // contradicts it; it is turned off and the answer is the linear one. (From +441 s on it
    // would skip file 2 and the long statement in it, unseen: that is why it is opt-in.)
    for second in [421, 425, 440] {
        let linear = resolve_linear(&sequence, &request(second)).unwrap();
        let assumed = with(ten_seconds, second);
        assert_eq!(summary(&assumed), summary(&linear), "+{second}s");
        assert!(
            assumed.assumption.is_none(),
            "+{second}s: {:?}",
            assumed.steps
        );
        assert!(
            assumed
                .notes
                .iter()
                .any(|n| matches!(n, Note::AssumptionDoesNotHold { .. })),
            "+{second}s: {:?}",
            assumed.notes
        );
    }
    // Where it holds, it is used and agrees with the linear answer.
    for second in [412, 605, 650, 1005, 1100] {
        let linear = resolve_linear(&sequence, &request(second)).unwrap();
        let assumed = with(ten_seconds, second);
        assert_eq!(summary(&assumed), summary(&linear), "+{second}s");
        assert!(
            assumed.assumption.is_some(),
            "+{second}s: {:?}",
            assumed.steps
        );
    }
    let contradicted = with(ten_seconds, 400 + 25);
    assert!(
        contradicted.assumption.is_none(),
        "{:?}",
        contradicted.steps
    );
    assert!(contradicted.notes.iter().any(
        |n| matches!(n, Note::AssumptionDoesNotHold { assumption, .. }
                if assumption == "max-statement=10s")
    ));

    // Modification times: each file last written a second after its last transaction.
    for (file, (_, trxs)) in sequence.files.iter().zip(&files) {
        let last = trxs
            .iter()
            .map(|t| t.commit_ts.max(t.begin_ts))
            .max()
            .unwrap();
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(last) + 1);
        std::fs::File::options()
            .write(true)
            .open(&file.path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
    let by_mtime = with(Some(Assumption::FileMtime), 1005);
    assert_eq!(summary(&by_mtime), summary(&plain));
    assert_eq!(by_mtime.assumption.as_deref(), Some("mtime-bounds"));
    // File 2 touched to +425 s, before its long statement's commit at +520 s: a start time
    // that begins the reading at file 2 meets that commit, and the assumption is turned off.
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(T0 + 425));
    std::fs::File::options()
        .write(true)
        .open(&sequence.files[2].path)
        .unwrap()
        .set_modified(when)
        .unwrap();
    let touched = with(Some(Assumption::FileMtime), 421);
    assert_eq!(
        summary(&touched),
        summary(&resolve_linear(&sequence, &request(421)).unwrap())
    );
    assert!(touched.assumption.is_none(), "{:?}", touched.steps);
}

/// Concurrent runs share one cache: four threads, each with its own handle on the same store,
/// resolving and filling it at once, all give the linear answers, and the store is whole
/// afterwards.
#[test]
fn concurrent_runs_share_one_cache() {
    const T0: u32 = 1_900_000_000;
    let files: Vec<(u32, Vec<TrxSpec>)> = (0..8u32)
        .map(|f| {
            let at = T0 + 100 * f;
            (at, (0..40u32).map(|i| trx(at + i, at + i, 0)).collect())
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let sequence = write_rotated(WriterFlavor::MariaDb, dir.path(), &files, None);
    let cache_dir = tempfile::tempdir().unwrap();
    std::thread::scope(|scope| {
        for worker in 0..4u32 {
            let (sequence, cache_dir) = (&sequence, cache_dir.path());
            scope.spawn(move || {
                let cache = Arc::new(SummaryCache::open(cache_dir));
                assert!(cache.is_active(), "{:?}", cache.take_notes());
                for round in 0..10u32 {
                    let request = Request {
                        start_us: i64::from(T0 + (worker * 97 + round * 61) % 820) * 1_000_000,
                        basis: TimeBasis::Commit,
                        gtid: GtidMode::Auto,
                    };
                    let cached = resolve_cached(sequence, &request, ScanTuning::default(), &cache);
                    let linear = resolve_linear(sequence, &request).unwrap();
                    assert_eq!(summary(&cached), summary(&linear));
                    assert!(cached.notes.is_empty(), "{:?}", cached.notes);
                }
            });
        }
    });
    let cache = Arc::new(SummaryCache::open(cache_dir.path()));
    let request = Request {
        start_us: i64::from(T0 + 790) * 1_000_000,
        basis: TimeBasis::Commit,
        gtid: GtidMode::Auto,
    };
    let warm = resolve_cached(&sequence, &request, ScanTuning::default(), &cache);
    assert_eq!(
        warm.files
            .iter()
            .filter(|f| f.decision == FileDecision::SkippedOnSummary)
            .count(),
        7,
        "{:?}",
        warm.files
    );
}

/// Found in review: a file time kept to the whole second (tar, ext3, a copy) is below the
/// µs commit times of the second it names, so `--assume-mtime-bounds` bounds a file by the
/// next whole second after its modification time, not by the time itself.
#[test]
fn mtime_bounds_round_whole_second_times_up() {
    use startpoint::resolve::Assumption;
    const T0: u32 = 1_900_000_000;
    let files: Vec<(u32, Vec<TrxSpec>)> = (0..3u32)
        .map(|f| {
            let at = T0 + 100 * f;
            (
                at,
                (0..5u32).map(|i| trx(at + i, at + i, 700_000)).collect(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let sequence = write_rotated(WriterFlavor::MySql80Gtid, dir.path(), &files, None);
    // File 1's last commit is at +104.7 s; its time is kept as +104 s.
    for (file, second) in sequence.files.iter().zip([4u32, 104, 204]) {
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(T0 + second));
        std::fs::File::options()
            .write(true)
            .open(&file.path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
    let request = Request {
        start_us: i64::from(T0 + 104) * 1_000_000 + 500_000,
        basis: TimeBasis::Commit,
        gtid: GtidMode::Auto,
    };
    let assumed = resolve(
        &mut LocalSequence::new(&sequence).with_assumption(Some(Assumption::FileMtime)),
        &request,
    )
    .unwrap();
    let linear = resolve_linear(&sequence, &request).unwrap();
    assert_eq!(summary(&assumed), summary(&linear));
    assert_eq!(linear.location.unwrap().file, "mysql-bin.000002");
}

/// The steps as `--explain` prints them, for a failure message.
fn explained(steps: &[Step]) -> String {
    steps
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
