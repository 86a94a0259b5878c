//! Resolution from local files: the server-derived answers of the fixture corpus, the public
//! binlogs, and a property test comparing the fast path with the linear reference on generated
//! corpora (both flavours, both bases, clocks going backwards, empty files, purged files, DM
//! relay layout).

use std::path::Path;

use proptest::prelude::*;

use startpoint::resolve::linear::resolve_linear;
use startpoint::resolve::{
    GtidMode, Request, Resolution, ScanTuning, Status, resolve_files, resolve_files_tuned,
    too_late_message,
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

#[test]
fn fixture_search_opens_few_files() {
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
    // Nine files: the binary search and its neighbours, then the target file once more.
    assert!(fast.stats.files_opened <= 7, "{:?}", fast.stats);
    let total: u64 = sequence
        .files
        .iter()
        .map(|f| std::fs::metadata(&f.path).unwrap().len())
        .sum();
    assert!(
        fast.stats.bytes_read < total / 2,
        "{:?} of {total}",
        fast.stats
    );
}

/// Every public binlog (and the two-file sequences) resolves like the linear reference at
/// every unit's time, just before it and just after it.
#[test]
fn public_binlogs_resolve_like_the_reference() {
    let public = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/public");
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

fn corpus() -> impl Strategy<Value = (WriterFlavor, Vec<Vec<GenTrx>>, Layout)> {
    let trx = (0u32..99, 0u32..6, 0u32..1_000_000, any::<bool>());
    (
        prop::sample::select(WriterFlavor::ALL.to_vec()),
        prop::collection::vec(prop::collection::vec(trx, 0..6), 1..5),
        prop_oneof![
            Just(Layout::Indexed),
            Just(Layout::Unindexed),
            Just(Layout::Purged),
            Just(Layout::Relay)
        ],
    )
}

/// Writes the corpus; returns the sequence as the resolver sees it and every probe time.
fn lay_out(
    flavor: WriterFlavor,
    files: &[Vec<(u32, u32, u32, bool)>],
    layout: Layout,
    dir: &Path,
) -> (BinlogDir, Vec<i64>) {
    let mut writer = SequenceWriter::new(flavor, "mysql-bin");
    let mut written = Vec::new();
    let mut probes = vec![i64::from(BASE) * 1_000_000];
    for (i, trxs) in files.iter().enumerate() {
        let created = BASE + 100 * i as u32;
        probes.extend([created, created + 1, created + 100].map(|s| i64::from(s) * 1_000_000));
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
                    begin_ts: created + start,
                    commit_ts: created + (start + duration).min(99),
                    commit_micros: micros,
                    domain: start % 2,
                    origin: 0,
                    gtid_gap: 0,
                })
                .collect(),
        };
        let file = writer.write_file(&spec, i + 1 == files.len());
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
        fast.steps.join("\n")
    };
    let mysql = steps_for(WriterFlavor::MySql80Gtid, TimeBasis::Commit);
    assert!(mysql.contains("bisected by commit time"), "{mysql}");
    assert!(
        mysql.contains("hopping from GTID event to GTID event on two threads"),
        "{mysql}"
    );
    let maria = steps_for(WriterFlavor::MariaDb, TimeBasis::Commit);
    assert!(maria.contains("read in two halves"), "{maria}");
    let begin = steps_for(WriterFlavor::MySql80Gtid, TimeBasis::Begin);
    assert!(begin.contains("read in two halves"), "{begin}");
}
