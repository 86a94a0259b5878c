//! `operate-source create|show|stop`: DM source configs kept in the state directory (where DM
//! keeps them in its master's etcd), answered in DM's shapes ([`super::dm`]). Passwords never
//! appear in a reply.

use std::path::{Path, PathBuf};

use super::dm::{OperateSourceEntry, OperateSourceResponse, SOURCE_NOT_FOUND, shown};
use super::source::SourceConfig;
use super::state::StateDir;
use super::yaml::ConfigError;

/// `create`: every file is read and checked before any is stored. Returns the reply and the
/// files' warnings (unknown keys) for people.
pub fn create(
    state: &StateDir,
    source_files: &[PathBuf],
    worker: &str,
) -> (OperateSourceResponse, Vec<String>) {
    let mut parsed = Vec::new();
    for path in source_files {
        match read(path) {
            Ok(found) => parsed.push(found),
            Err(error) => return (failed(error.to_string()), Vec::new()),
        }
    }
    let mut warnings = Vec::new();
    let mut sources = Vec::new();
    for (config, text) in &parsed {
        warnings.extend(config.warnings.iter().cloned());
        sources.push(match state.create_source(config, text) {
            Ok(true) => entry(worker, true, String::new(), &config.source_id),
            Ok(false) => entry(
                worker,
                false,
                format!(
                    "source {id} already exists; run `startpoint operate-source stop {id}` \
                     first to replace it",
                    id = config.source_id
                ),
                &config.source_id,
            ),
            Err(err) => entry(worker, false, err.to_string(), &config.source_id),
        });
    }
    (replied(sources), warnings)
}

/// `show`: the stored sources (`selected` only, when given), passwords masked.
pub fn show(state: &StateDir, selected: &[String], worker: &str) -> OperateSourceResponse {
    let all = match state.sources() {
        Ok(all) => all,
        Err(err) => return failed(err.to_string()),
    };
    let mut sources: Vec<OperateSourceEntry> = all
        .iter()
        .filter(|s| selected.is_empty() || selected.contains(&s.source_id))
        .map(|s| OperateSourceEntry {
            config: Some(shown(s)),
            ..entry(worker, true, String::new(), &s.source_id)
        })
        .collect();
    for id in selected {
        if !all.iter().any(|s| &s.source_id == id) {
            sources.push(entry(worker, false, SOURCE_NOT_FOUND.to_owned(), id));
        }
    }
    replied(sources)
}

/// `stop`: the source's config removed.
pub fn stop(state: &StateDir, source_id: &str, worker: &str) -> OperateSourceResponse {
    replied(vec![match state.remove_source(source_id) {
        Ok(true) => entry(worker, true, String::new(), source_id),
        Ok(false) => entry(
            worker,
            false,
            format!("source {source_id} does not exist"),
            source_id,
        ),
        Err(err) => entry(worker, false, err.to_string(), source_id),
    }])
}

fn entry(worker: &str, result: bool, msg: String, source: &str) -> OperateSourceEntry {
    OperateSourceEntry {
        result,
        msg,
        source: source.to_owned(),
        worker: if result {
            worker.to_owned()
        } else {
            String::new()
        },
        config: None,
    }
}

fn replied(sources: Vec<OperateSourceEntry>) -> OperateSourceResponse {
    OperateSourceResponse {
        result: sources.iter().all(|s| s.result),
        msg: String::new(),
        sources,
    }
}

/// Why a source file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SourceFileError {
    #[error(transparent)]
    Read(#[from] crate::input::InputError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

fn read(path: &Path) -> Result<(SourceConfig, String), SourceFileError> {
    let text = crate::input::read_text(path, "a source file")?;
    let config = SourceConfig::parse(&path.display().to_string(), &text)?;
    Ok((config, text))
}

fn failed(msg: String) -> OperateSourceResponse {
    OperateSourceResponse {
        result: false,
        msg,
        sources: Vec::new(),
    }
}
