//! A DM relay directory (`relay-dir`): `server-uuid.index` lists sub-directories
//! `<upstream server-uuid>.<seq>`, one per upstream server DM relayed from (a new one after each
//! failover), each holding binlog files named as on the upstream and a `relay.meta`.
//!
//! All sub-directories listed form one sequence, in index order (DM itself searches only the
//! current one). A listed sub-directory that is missing is a purged gap; each sub-directory's
//! files are ordered like a binlog directory's.

use std::path::{Path, PathBuf};

use super::local::{BinlogDir, LeftOut, LocalSourceError};

/// The index DM keeps at the top of a relay directory.
pub const RELAY_INDEX: &str = "server-uuid.index";

/// Lists a DM relay directory as one sequence of binlog files.
pub fn open_relay_dir(dir: &Path) -> Result<BinlogDir, LocalSourceError> {
    let index = dir.join(RELAY_INDEX);
    if !index.exists() && dir.is_dir() {
        return Err(LocalSourceError::NotRelayDir {
            dir: dir.to_path_buf(),
        });
    }
    let text = crate::input::read_text(&index, "DM's relay index").map_err(|source| {
        LocalSourceError::Index {
            dir: dir.to_path_buf(),
            source,
        }
    })?;
    let mut sequence = BinlogDir {
        dir: dir.to_path_buf(),
        index: Some(index),
        files: Vec::new(),
        purged: Vec::new(),
        left_out: Vec::new(),
    };
    for subdir in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if subdir.chars().any(char::is_control) {
            sequence.left_out.push(LeftOut {
                name: crate::input::escape_controls(subdir).into_owned(),
                why: format!("listed in {RELAY_INDEX}, but its name holds control characters"),
                quiet: false,
            });
            continue;
        }
        let path: PathBuf = dir.join(subdir);
        if !path.is_dir() {
            sequence.purged.push((
                sequence.files.len(),
                format!("{subdir}/ (the whole sub-directory)"),
            ));
            continue;
        }
        let listing = match BinlogDir::open(&path) {
            Ok(listing) => listing,
            // A sub-directory DM created before relaying anything.
            Err(LocalSourceError::Empty { .. }) => continue,
            Err(err) => return Err(err),
        };
        for (at, name) in listing.purged {
            sequence
                .purged
                .push((sequence.files.len() + at, format!("{subdir}/{name}")));
        }
        sequence.left_out.extend(
            listing
                .left_out
                .into_iter()
                .filter(|l| l.name != "relay.meta")
                .map(|l| LeftOut {
                    name: format!("{subdir}/{}", l.name),
                    ..l
                }),
        );
        sequence
            .files
            .extend(listing.files.into_iter().map(|mut file| {
                file.relay_subdir = Some(subdir.to_owned());
                file
            }));
    }
    if sequence.files.is_empty() {
        return Err(LocalSourceError::Empty {
            dir: dir.to_path_buf(),
            hint: format!(" (its {RELAY_INDEX} names no sub-directory with binlog files)"),
        });
    }
    Ok(sequence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::reader::BINLOG_MAGIC;
    use std::fs;

    #[test]
    fn sub_directories_form_one_sequence_in_index_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = "7e427cc0-091c-11e9-9e45-72b7c59d52d7.000001";
        let b = "842965eb-091c-11e9-9e45-9a3bff03fa39.000002";
        for (sub, files) in [
            (a, ["mysql-bin.000003", "mysql-bin.000004"]),
            (b, ["mysql-bin.000001", "mysql-bin.000002"]),
        ] {
            fs::create_dir(dir.path().join(sub)).unwrap();
            for f in files {
                fs::write(dir.path().join(sub).join(f), BINLOG_MAGIC).unwrap();
            }
            fs::write(
                dir.path().join(sub).join("relay.meta"),
                "binlog-name = \"x\"",
            )
            .unwrap();
        }
        fs::write(
            dir.path().join(RELAY_INDEX),
            format!("{a}\ngone.000000\n{b}\n"),
        )
        .unwrap();
        let sequence = open_relay_dir(dir.path()).unwrap();
        let names: Vec<(String, String)> = sequence
            .files
            .iter()
            .map(|f| (f.relay_subdir.clone().unwrap(), f.name.clone()))
            .collect();
        assert_eq!(
            names,
            [
                (a.to_owned(), "mysql-bin.000003".to_owned()),
                (a.to_owned(), "mysql-bin.000004".to_owned()),
                (b.to_owned(), "mysql-bin.000001".to_owned()),
                (b.to_owned(), "mysql-bin.000002".to_owned()),
            ]
        );
        assert_eq!(
            sequence.purged,
            [(2, "gone.000000/ (the whole sub-directory)".to_owned())]
        );
        assert!(sequence.left_out.is_empty(), "{:?}", sequence.left_out);
    }

    #[test]
    fn a_directory_without_the_index_is_not_a_relay_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_relay_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("server-uuid.index"), "{err}");
    }
}
