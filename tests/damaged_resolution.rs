//! Whole resolutions over damaged directories of real binlogs: truncated files (every offset of
//! the small ones, random offsets of the large ones), single and many bit flips, forged
//! `event_size` and `log_pos`, inserted garbage, zero-length and magic-only files, a file that
//! is not a binlog, an index naming files that are gone. Every run ends in bounded time with
//! either an answer at the start of a real transaction or an error that names the file and the
//! offset. Each run takes every way through a file (one pass, two halves, bisection) because
//! the tuning makes them apply at any size.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use startpoint::binlog::{BinlogReader, ReadOptions};
use startpoint::resolve::{GtidMode, Request, ScanTuning, resolve_files_tuned};
use startpoint::source::local::BinlogDir;
use startpoint::testkit::binlog_writer::{
    FileSpec, SequenceWriter, Trailing, TrxShape, TrxSpec, WriterFlavor,
};
use startpoint::unit::{TimeBasis, UnitReader};

/// Every way through a file applies, whatever its size.
const EAGER: ScanTuning = ScanTuning {
    bisect_min_bytes: 0,
    parallel_min_bytes: 0,
    walk_span: 1,
};

/// A run that takes longer than this hangs.
const BOUND: Duration = Duration::from_secs(60);

/// A directory of binlog files to damage: its files (name, bytes) in order, and an index.
struct Corpus {
    label: String,
    files: Vec<(String, Vec<u8>)>,
    /// Start times (µs) to resolve: before, inside and after the history.
    times: Vec<i64>,
    /// Per file, the offsets an answer may have: where its transactions start, its first
    /// event (a file without transactions starts there) and its end (where the next file's
    /// transactions continue).
    starts: Vec<Vec<u64>>,
    /// The corpus written out once; damaged files are written over and put back.
    dir: tempfile::TempDir,
}

impl Corpus {
    fn new(label: &str, files: Vec<(String, Vec<u8>)>) -> Corpus {
        let mut all = Vec::new();
        let mut starts = Vec::new();
        for (name, bytes) in &files {
            let units = units(name, bytes);
            all.extend(units.iter().map(|u| u.1));
            let mut file_starts: Vec<u64> = units.iter().map(|u| u.0).collect();
            file_starts.extend(event_starts(bytes).first());
            file_starts.push(bytes.len() as u64);
            starts.push(file_starts);
        }
        all.sort_unstable();
        let mut times = vec![0, i64::MAX / 2];
        if let (Some(&third), Some(&late)) = (all.get(all.len() / 3), all.get(all.len() * 9 / 10)) {
            times.push(third);
            times.push(late + 1);
        }
        times.sort_unstable();
        times.dedup();
        let corpus = Corpus {
            label: label.to_owned(),
            files,
            times,
            starts,
            dir: tempfile::tempdir().unwrap(),
        };
        corpus.write(corpus.dir.path(), &[]);
        corpus
    }

    fn write(&self, dir: &Path, index_extra: &[&str]) {
        let mut index = String::new();
        for (name, bytes) in &self.files {
            std::fs::write(dir.join(name), bytes).unwrap();
            index.push_str(&format!("./{name}\n"));
        }
        for extra in index_extra {
            index.push_str(&format!("./{extra}\n"));
        }
        let base = self.files[0].0.split('.').next().unwrap();
        std::fs::write(dir.join(format!("{base}.index")), index).unwrap();
    }
}

/// (pos, commit µs) of each unit of an undamaged file.
fn units(name: &str, bytes: &[u8]) -> Vec<(u64, i64)> {
    let options = ReadOptions {
        newest: true,
        ..ReadOptions::default()
    };
    let source = BinlogReader::from_bytes(name, bytes.to_vec(), options).unwrap();
    let mut reader = UnitReader::new(source, true);
    let mut out = Vec::new();
    while let Some(unit) = reader.next_unit().unwrap() {
        out.push((unit.pos, unit.commit_us()));
    }
    out
}

/// Offsets of the events of an undamaged file, by walking `event_size` fields.
fn event_starts(bytes: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut at = 4usize;
    while at + 19 <= bytes.len() {
        out.push(at as u64);
        let size = u32::from_le_bytes(bytes[at + 9..at + 13].try_into().unwrap()) as usize;
        if size < 19 {
            break;
        }
        at += size;
    }
    out
}

/// What was done to the corpus, for messages and for checking answers.
struct Damage {
    what: String,
    /// The damaged file, if the damage is inside one.
    file: Option<String>,
    /// Bytes inserted at an offset shift the positions after it.
    inserted: Option<(u64, u64)>,
    /// One of many similar runs (every offset of a file): two start times, one basis.
    light: bool,
}

/// Resolves every start time of `corpus` as damaged by `damage` (already written in `dir`),
/// in a thread that must finish within [`BOUND`], and checks each outcome.
fn check(corpus: &Corpus, dir: &Path, damage: &Damage) {
    let (tx, rx) = mpsc::channel();
    let path = dir.to_path_buf();
    let times = if damage.light {
        corpus.times[1..corpus.times.len() - 1].to_vec()
    } else {
        corpus.times.clone()
    };
    let bases = if damage.light {
        vec![TimeBasis::Commit]
    } else {
        vec![TimeBasis::Commit, TimeBasis::Begin]
    };
    std::thread::spawn(move || {
        let mut outcomes = Vec::new();
        for start_us in times {
            for &basis in &bases {
                let outcome = std::panic::catch_unwind(|| {
                    let sequence = BinlogDir::open(&path).map_err(|e| e.to_string())?;
                    let request = Request {
                        start_us,
                        basis,
                        gtid: GtidMode::Auto,
                    };
                    resolve_files_tuned(&sequence, &request, EAGER)
                        .map(|r| r.location.map(|l| (l.file, l.pos)))
                        .map_err(|e| e.to_string())
                });
                outcomes.push((start_us, basis, outcome));
            }
        }
        let _ = tx.send(outcomes);
    });
    let outcomes = rx.recv_timeout(BOUND).unwrap_or_else(|_| {
        panic!(
            "{}: {}: no answer within {BOUND:?}",
            corpus.label, damage.what
        )
    });
    for (start_us, basis, outcome) in outcomes {
        let what = format!(
            "{}: {} (start {start_us}, {basis:?})",
            corpus.label, damage.what
        );
        let result = outcome.unwrap_or_else(|_| panic!("{what}: panicked"));
        match result {
            Ok(None) => {}
            Ok(Some((file, pos))) => {
                let index = corpus
                    .files
                    .iter()
                    .position(|(name, _)| *name == file)
                    .unwrap_or_else(|| panic!("{what}: answered {file}, not a file of the corpus"));
                let mut starts = corpus.starts[index].clone();
                if let (Some((at, len)), Some(damaged)) = (damage.inserted, &damage.file)
                    && *damaged == file
                {
                    starts = starts
                        .into_iter()
                        .map(|s| if s >= at { s + len } else { s })
                        .collect();
                }
                assert!(
                    starts.contains(&pos),
                    "{what}: answered {file}:{pos}, which is not where a transaction starts"
                );
            }
            Err(message) => {
                if let Some(file) = &damage.file {
                    assert!(
                        message.contains(file.as_str()) && message.contains("offset"),
                        "{what}: the error does not name {file} and an offset: {message}"
                    );
                }
            }
        }
    }
}

/// Writes `corpus` with `files` replaced (`None` removes a file) into a fresh directory.
fn damaged_dir(
    corpus: &Corpus,
    replace: &[(&str, Option<Vec<u8>>)],
    index_extra: &[&str],
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    corpus.write(dir.path(), index_extra);
    for (name, bytes) in replace {
        let path = dir.path().join(name);
        match bytes {
            Some(bytes) => std::fs::write(&path, bytes).unwrap(),
            None => std::fs::remove_file(&path).unwrap(),
        }
    }
    dir
}

fn run(corpus: &Corpus, file: &str, bytes: Vec<u8>, what: String, inserted: Option<(u64, u64)>) {
    run_as(corpus, file, bytes, what, inserted, false);
}

fn run_as(
    corpus: &Corpus,
    file: &str,
    bytes: Vec<u8>,
    what: String,
    inserted: Option<(u64, u64)>,
    light: bool,
) {
    let path = corpus.dir.path().join(file);
    std::fs::write(&path, bytes).unwrap();
    check(
        corpus,
        corpus.dir.path(),
        &Damage {
            what,
            file: Some(file.to_owned()),
            inserted,
            light,
        },
    );
    let original = &corpus.files.iter().find(|f| f.0 == file).unwrap().1;
    std::fs::write(&path, original).unwrap();
}

fn fixture_corpus() -> Corpus {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mariadb/binlog");
    let sequence = BinlogDir::open(&dir).unwrap();
    let files = sequence
        .files
        .iter()
        .map(|f| (f.name.clone(), std::fs::read(dir.join(&f.name)).unwrap()))
        .collect();
    Corpus::new("MariaDB fixtures", files)
}

fn written_corpus(flavor: WriterFlavor, files: usize, trxs: u32) -> Corpus {
    let mut writer = SequenceWriter::new(flavor, "binlog").with_row_image(60);
    let mut out = Vec::new();
    for f in 0..files {
        let base = 1_900_000_000 + (f as u32) * trxs;
        let specs = (0..trxs)
            .map(|i| TrxSpec {
                shape: match i % 7 {
                    0 => TrxShape::Ddl,
                    3 => TrxShape::StatementDml,
                    _ => TrxShape::RowDml { statements: 2 },
                },
                begin_ts: base + i,
                commit_ts: base + i + 1,
                commit_micros: i * 7 % 1_000_000,
                domain: 0,
                origin: u32::from(flavor == WriterFlavor::MariaDb),
                gtid_gap: 0,
            })
            .collect();
        let written = writer.write_file(
            &FileSpec {
                created: base,
                trxs: specs,
                trailing: Trailing::Nothing,
            },
            f + 1 == files,
        );
        out.push((written.name.clone(), written.bytes));
    }
    Corpus::new(&format!("writer {flavor:?}"), out)
}

fn corpora() -> Vec<Corpus> {
    vec![
        fixture_corpus(),
        written_corpus(WriterFlavor::MySql80Gtid, 3, 150),
        written_corpus(WriterFlavor::MySql57Gtid, 2, 80),
        written_corpus(WriterFlavor::MySql56NoGtid, 2, 60),
    ]
}

/// Small pseudo-random numbers, the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

#[test]
fn truncated_files() {
    let mut rng = Rng(0x5eed_0001);
    for corpus in corpora() {
        for (name, bytes) in &corpus.files {
            // Every offset of small files (and of the first 150 bytes of all), random offsets
            // of the rest.
            let every = bytes.len() <= 5_000;
            let cuts: Vec<usize> = if every {
                (0..bytes.len()).collect()
            } else {
                (0..150)
                    .chain((0..30).map(|_| rng.below(bytes.len())))
                    .collect()
            };
            for (n, cut) in cuts.into_iter().enumerate() {
                // Every offset: each run with a few start times; one in 16 with all of them.
                run_as(
                    &corpus,
                    name,
                    bytes[..cut].to_vec(),
                    format!("{name} cut at {cut}"),
                    None,
                    every && n % 16 != 0,
                );
            }
        }
    }
}

#[test]
fn flipped_bits() {
    let mut rng = Rng(0x5eed_0002);
    for corpus in corpora() {
        for (name, bytes) in &corpus.files {
            for _ in 0..40 {
                let at = rng.below(bytes.len());
                let bit = rng.below(8);
                let mut damaged = bytes.clone();
                damaged[at] ^= 1 << bit;
                run(
                    &corpus,
                    name,
                    damaged,
                    format!("{name} bit {bit} of byte {at} flipped"),
                    None,
                );
            }
            for round in 0..10 {
                let mut damaged = bytes.clone();
                let count = 2 + rng.below(40);
                for _ in 0..count {
                    let at = rng.below(bytes.len());
                    damaged[at] ^= 1 << rng.below(8);
                }
                run(
                    &corpus,
                    name,
                    damaged,
                    format!("{name} with {count} bits flipped (round {round})"),
                    None,
                );
            }
        }
    }
}

#[test]
fn forged_sizes_and_positions() {
    let mut rng = Rng(0x5eed_0003);
    for corpus in corpora() {
        for (name, bytes) in &corpus.files {
            let starts = event_starts(bytes);
            let picked: Vec<u64> = if starts.len() <= 12 {
                starts.clone()
            } else {
                (0..12).map(|_| starts[rng.below(starts.len())]).collect()
            };
            for at in picked {
                let at = at as usize;
                let size = u32::from_le_bytes(bytes[at + 9..at + 13].try_into().unwrap());
                let log_pos = u32::from_le_bytes(bytes[at + 13..at + 17].try_into().unwrap());
                for (field, value) in [
                    (9, 0),
                    (9, 19),
                    (9, size - 1),
                    (9, size + 1),
                    (9, size + 4096),
                    (9, u32::MAX),
                    (13, 0),
                    (13, log_pos - 1),
                    (13, log_pos + 1),
                    (13, u32::MAX),
                ] {
                    let mut damaged = bytes.clone();
                    damaged[at + field..at + field + 4].copy_from_slice(&value.to_le_bytes());
                    let which = if field == 9 { "event_size" } else { "log_pos" };
                    run(
                        &corpus,
                        name,
                        damaged,
                        format!("{name}: event at {at} with {which} {value}"),
                        None,
                    );
                }
            }
        }
    }
}

#[test]
fn inserted_garbage() {
    let mut rng = Rng(0x5eed_0004);
    for corpus in corpora() {
        for (name, bytes) in &corpus.files {
            let starts = event_starts(bytes);
            for round in 0..12 {
                // At an event boundary half the time, anywhere otherwise.
                let at = if round % 2 == 0 {
                    starts[rng.below(starts.len())] as usize
                } else {
                    4 + rng.below(bytes.len() - 4)
                };
                let len = [1, 4, 19, 64, 1000][rng.below(5)];
                let garbage: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
                let mut damaged = bytes[..at].to_vec();
                damaged.extend_from_slice(&garbage);
                damaged.extend_from_slice(&bytes[at..]);
                run(
                    &corpus,
                    name,
                    damaged,
                    format!("{name} with {len} garbage bytes inserted at {at}"),
                    Some((at as u64, len as u64)),
                );
            }
        }
    }
}

#[test]
fn degenerate_files_and_directories() {
    for corpus in corpora() {
        let names: Vec<String> = corpus.files.iter().map(|f| f.0.clone()).collect();
        for name in &names {
            for (bytes, what) in [
                (Vec::new(), "zero-length"),
                (vec![0xfe, b'b', b'i', b'n'], "magic-only"),
                (b"#!/bin/sh\necho not a binlog\n".to_vec(), "a shell script"),
            ] {
                run(
                    &corpus,
                    name,
                    bytes,
                    format!("{name} replaced by {what}"),
                    None,
                );
            }
        }
        // A file that is not a binlog beside the sequence, listed in the index and not.
        let dir = damaged_dir(&corpus, &[], &["notes.txt"]);
        std::fs::write(dir.path().join("notes.txt"), "not a binlog").unwrap();
        std::fs::write(dir.path().join("core.12345"), vec![0u8; 4096]).unwrap();
        std::fs::create_dir(dir.path().join("subdir")).unwrap();
        check(
            &corpus,
            dir.path(),
            &Damage {
                what: "a text file in the index and garbage beside it".into(),
                file: None,
                inserted: None,
                light: false,
            },
        );
        // An index naming files that are gone: first, middle and last, and one never written.
        for gone in [0, names.len() / 2, names.len() - 1] {
            let dir = damaged_dir(&corpus, &[(&names[gone], None)], &["mysql-bin.999999"]);
            check(
                &corpus,
                dir.path(),
                &Damage {
                    what: format!(
                        "{} missing, and the index naming one never written",
                        names[gone]
                    ),
                    file: None,
                    inserted: None,
                    light: false,
                },
            );
        }
        // Every file gone but the index.
        let replace: Vec<(&str, Option<Vec<u8>>)> =
            names.iter().map(|n| (n.as_str(), None)).collect();
        let dir = damaged_dir(&corpus, &replace, &[]);
        let sequence = BinlogDir::open(dir.path());
        if let Ok(sequence) = sequence {
            let request = Request {
                start_us: corpus.times[2],
                basis: TimeBasis::Commit,
                gtid: GtidMode::Auto,
            };
            let err = resolve_files_tuned(&sequence, &request, EAGER)
                .map(|r| r.location)
                .expect_err("an answer from an empty directory");
            let _ = err.to_string();
        }
    }
}
