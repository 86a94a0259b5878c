//! Reading DM's YAML files with positions: every value knows its line, so a wrong type, a
//! missing key or an invalid value is an error naming the key and the line, and keys nobody
//! knows at a level we read (typos, mostly) come back as warnings.
//!
//! Parsing is saphyr's (the maintained successor of yaml-rust; serde_yaml is deprecated): it
//! keeps the position of every node, which a serde-based reader would lose.
//!
//! Scalars are read the way DM's decoder (yaml.v2) reads them, not as YAML 1.2 would: saphyr
//! keeps each scalar's text (`early_parse` off) and [`resolve`] applies yaml.v2's YAML 1.1
//! rules. So a string field keeps its text (`source-id: 007` is `007`, `password: 0123` is
//! `0123`: yaml.v2 sets a string field from the scalar's text), `on`/`yes`/`off` are
//! booleans, and merge keys (`<<: *anchor`) work.
//!
//! Bounded: a document nests at most [`MAX_DEPTH`] collections and holds at most [`MAX_NODES`]
//! nodes and [`MAX_TEXT_BYTES`] of scalar text, an alias counted as all it stands for (so an
//! alias bomb, of many nodes or of one large scalar, is refused, not expanded). Both are
//! checked as the parser's events arrive, one at a time, before anything deep or large is
//! built; saphyr's own `load` recurses once per level and so is not used.
//! Looking up a key costs O(1) after one O(n) pass over a mapping.

use std::collections::HashMap;
use std::fmt;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, ScalarStyle, YamlData, YamlLoader};
use saphyr_parser::{Event, SpannedEventReceiver};

/// The deepest nesting of collections a DM file may have (DM's own go a few levels deep).
pub(crate) const MAX_DEPTH: usize = 64;
/// The most nodes a document may have, aliases counted as what they expand to (a DM task with
/// a hundred thousand keys has about twice that).
pub(crate) const MAX_NODES: usize = 500_000;
/// The most scalar text a document may hold, aliases counted as what they expand to: a file is
/// at most 16 MiB, so only aliases can go past it.
pub(crate) const MAX_TEXT_BYTES: usize = 32 << 20;

/// Why a YAML file was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    /// Dotted key path, e.g. `from.port`.
    pub key: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.key.is_empty(), self.line) {
            (true, Some(line)) => write!(f, "{}:{line}: {}", self.file, self.message),
            (true, None) => write!(f, "{}: {}", self.file, self.message),
            (false, Some(line)) => {
                write!(f, "{}:{line}: {}: {}", self.file, self.key, self.message)
            }
            (false, None) => write!(f, "{}: {}: {}", self.file, self.key, self.message),
        }
    }
}

/// A parsed YAML document.
#[derive(Debug)]
pub(crate) struct YamlDoc {
    file: String,
    root: MarkedYaml<'static>,
}

impl YamlDoc {
    /// Parses `text` (the contents of `file`); an empty document is an empty mapping.
    pub(crate) fn parse(file: &str, text: &str) -> Result<YamlDoc, ConfigError> {
        let scan_error = |e: saphyr::ScanError| ConfigError {
            file: file.to_owned(),
            key: String::new(),
            line: Some(e.marker().line()),
            message: format!("not valid YAML: {}", e.info()),
        };
        let bounded = |line: usize, message: String| ConfigError {
            file: file.to_owned(),
            key: String::new(),
            line: Some(line),
            message,
        };
        let mut loader: YamlLoader<'_, MarkedYaml<'_>> = YamlLoader::default();
        loader.early_parse(false);
        // (nodes and scalar bytes when it began, anchor) of each open collection; the nodes
        // and scalar bytes each anchor stands for.
        let mut open: Vec<(usize, usize, usize)> = Vec::new();
        let mut anchored: HashMap<usize, (usize, usize)> = HashMap::new();
        let (mut nodes, mut bytes) = (0usize, 0usize);
        for event in saphyr_parser::Parser::new_from_str(text) {
            let (event, span) = event.map_err(scan_error)?;
            let line = span.start.line();
            match &event {
                Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                    nodes += 1;
                    open.push((nodes, bytes, *anchor));
                    if open.len() > MAX_DEPTH {
                        return Err(bounded(
                            line,
                            format!(
                                "nested more than {MAX_DEPTH} levels deep here; a DM file is a \
                                 few levels deep"
                            ),
                        ));
                    }
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    if let Some((began, bytes_before, anchor)) = open.pop()
                        && anchor != 0
                    {
                        anchored.insert(anchor, (nodes + 1 - began, bytes - bytes_before));
                    }
                }
                Event::Scalar(value, _, anchor, _) => {
                    nodes += 1;
                    bytes += value.len();
                    if *anchor != 0 {
                        anchored.insert(*anchor, (1, value.len()));
                    }
                }
                Event::Alias(anchor) => {
                    let (n, b) = anchored.get(anchor).copied().unwrap_or((1, 0));
                    nodes = nodes.saturating_add(n);
                    bytes = bytes.saturating_add(b);
                }
                _ => {}
            }
            if bytes > MAX_TEXT_BYTES {
                return Err(bounded(
                    line,
                    format!(
                        "more than {} MiB of text by here (an alias counts as all it stands \
                         for); a DM file holds a few KiB",
                        MAX_TEXT_BYTES >> 20
                    ),
                ));
            }
            if nodes > MAX_NODES {
                return Err(bounded(
                    line,
                    format!(
                        "more than {MAX_NODES} values by here (an alias counts as all it \
                         stands for); a DM file holds a few hundred"
                    ),
                ));
            }
            loader.on_event(event, span);
        }
        if let Some(e) = loader.error() {
            return Err(scan_error(e.clone()));
        }
        let documents = loader.into_documents();
        let root = documents
            .into_iter()
            .next()
            .map(into_static)
            .unwrap_or_else(|| {
                MarkedYaml::from_bare_yaml(saphyr::Yaml::Mapping(Default::default()))
            });
        Ok(YamlDoc {
            file: file.to_owned(),
            root,
        })
    }

    /// The top-level mapping.
    pub(crate) fn root(&self) -> Node<'_> {
        Node {
            doc: self,
            path: String::new(),
            yaml: &self.root,
            line: self.root.span.start.line(),
        }
    }
}

fn into_static(node: MarkedYaml<'_>) -> MarkedYaml<'static> {
    // saphyr's loaded nodes own their text; rebuilding them with 'static is a deep copy of
    // small configuration files.
    let span = node.span;
    let data = match node.data {
        YamlData::Value(scalar) => YamlData::Value(match scalar {
            Scalar::Null => Scalar::Null,
            Scalar::Boolean(b) => Scalar::Boolean(b),
            Scalar::Integer(i) => Scalar::Integer(i),
            Scalar::FloatingPoint(f) => Scalar::FloatingPoint(f),
            Scalar::String(s) => Scalar::String(s.into_owned().into()),
        }),
        YamlData::Representation(text, style, _) => {
            YamlData::Representation(text.into_owned().into(), style, None)
        }
        YamlData::Sequence(items) => {
            YamlData::Sequence(items.into_iter().map(into_static).collect())
        }
        YamlData::Mapping(map) => YamlData::Mapping(
            map.into_iter()
                .map(|(k, v)| (into_static(k), into_static(v)))
                .collect(),
        ),
        YamlData::Tagged(_, inner) => return into_static(*inner),
        YamlData::Alias(a) => YamlData::Alias(a),
        YamlData::BadValue => YamlData::BadValue,
    };
    MarkedYaml { span, data }
}

/// A mapping's entries in file order, each key once: a later one replaces an earlier one in
/// its place (O(1) per entry).
#[derive(Default)]
struct Entries<'d> {
    list: Vec<(String, usize, &'d MarkedYaml<'static>)>,
    at: HashMap<String, usize>,
}

impl<'d> Entries<'d> {
    fn upsert(&mut self, entry: (String, usize, &'d MarkedYaml<'static>)) {
        match self.at.get(&entry.0) {
            Some(&i) => self.list[i] = entry,
            None => {
                self.at.insert(entry.0.clone(), self.list.len());
                self.list.push(entry);
            }
        }
    }
}

/// A node of a document, with its key path.
#[derive(Clone)]
pub(crate) struct Node<'d> {
    doc: &'d YamlDoc,
    path: String,
    yaml: &'d MarkedYaml<'static>,
    /// Where the node's key is (a block mapping's own span starts on its first key's line).
    line: usize,
}

impl fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Node({} at line {})", self.path, self.line())
    }
}

impl<'d> Node<'d> {
    pub(crate) fn line(&self) -> usize {
        self.line
    }

    /// The dotted key path, e.g. `from.port`.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// A mapping's entries, as (key, value) in file order.
    pub(crate) fn children(&self) -> Result<Vec<(String, Node<'d>)>, ConfigError> {
        Ok(self
            .entries()?
            .into_iter()
            .map(|(key, line, yaml)| {
                let node = Node {
                    doc: self.doc,
                    path: self.child_path(&key),
                    yaml,
                    line,
                };
                (key, node)
            })
            .collect())
    }

    fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.doc.file.clone(),
            key: self.path.clone(),
            line: Some(self.line()),
            message: message.into(),
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The mapping's entries in file order, merge keys (`<<: *anchor`, or a list of them)
    /// expanded as yaml.v2 does: a merged entry never overrides a key the mapping has itself,
    /// and of several merged mappings the first wins.
    fn entries(&self) -> Result<Vec<(String, usize, &'d MarkedYaml<'static>)>, ConfigError> {
        let mut out = Entries::default();
        self.collect_entries(self.yaml, &mut out, 0)?;
        Ok(out.list)
    }

    fn collect_entries(
        &self,
        yaml: &'d MarkedYaml<'static>,
        out: &mut Entries<'d>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let map = match &yaml.data {
            YamlData::Mapping(map) => map,
            _ if is_null(yaml) => return Ok(()),
            _ => {
                let what = if depth == 0 {
                    ""
                } else {
                    "a merge key's value: "
                };
                return Err(self.error(format!(
                    "{what}expected a mapping, found {}",
                    describe(yaml)
                )));
            }
        };
        // yaml.v2 applies the entries in file order, a `<<` where it stands: a later entry
        // overrides an earlier one, and of a list of merged mappings the first wins.
        for (k, v) in map.iter() {
            let key = scalar_text(k).unwrap_or_default();
            let plain = matches!(k.data, YamlData::Representation(_, ScalarStyle::Plain, _));
            if key == "<<" && plain && depth < 8 {
                let sources: Vec<&'d MarkedYaml<'static>> = match &v.data {
                    YamlData::Sequence(items) => items.iter().rev().collect(),
                    _ => vec![v],
                };
                for source in sources {
                    let mut merged = Entries::default();
                    self.collect_entries(source, &mut merged, depth + 1)?;
                    for entry in merged.list {
                        out.upsert(entry);
                    }
                }
                continue;
            }
            out.upsert((key, k.span.start.line(), v));
        }
        Ok(())
    }

    /// Whether this value is null (`~`, `null` or nothing).
    pub(crate) fn is_null(&self) -> bool {
        is_null(self.yaml)
    }

    /// The value at `key`; `None` when absent or null.
    pub(crate) fn get(&self, key: &str) -> Result<Option<Node<'d>>, ConfigError> {
        Ok(self
            .entries()?
            .into_iter()
            .find(|(k, _, v)| k == key && !is_null(v))
            .map(|(_, line, yaml)| Node {
                doc: self.doc,
                path: self.child_path(key),
                yaml,
                line,
            }))
    }

    /// Like [`Node::get`], but absence is an error.
    pub(crate) fn require(&self, key: &str) -> Result<Node<'d>, ConfigError> {
        self.get(key)?.ok_or_else(|| ConfigError {
            file: self.doc.file.clone(),
            key: self.child_path(key),
            line: Some(self.line()),
            message: "required, but missing".to_owned(),
        })
    }

    /// Keys of this mapping that are neither `used` nor `known`, with their lines.
    pub(crate) fn unknown_keys(
        &self,
        used: &[&str],
        known: &[&str],
    ) -> Result<Vec<(String, usize)>, ConfigError> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|(k, _, _)| !used.contains(&k.as_str()) && !known.contains(&k.as_str()))
            .map(|(k, line, _)| (self.child_path(&k), line))
            .collect())
    }

    /// A string: any scalar, as its text (yaml.v2 sets a string field from the text, so
    /// `password: 0123` is `0123` and `source-id: 007` is `007`).
    pub(crate) fn string(&self) -> Result<String, ConfigError> {
        match resolve(self.yaml) {
            Some(Resolved::Null) => Ok(String::new()),
            Some(_) => Ok(scalar_text(self.yaml).unwrap_or_default()),
            None => Err(self.error(format!("expected a string, found {}", describe(self.yaml)))),
        }
    }

    /// A boolean, YAML 1.1's as yaml.v2 reads them (`true`, `yes`, `on`, `y`…).
    pub(crate) fn bool(&self) -> Result<bool, ConfigError> {
        match resolve(self.yaml) {
            Some(Resolved::Bool(b)) => Ok(b),
            _ => Err(self.error(format!(
                "expected true or false, found {}",
                describe(self.yaml)
            ))),
        }
    }

    /// An integer within `range` (yaml.v2: decimal, `0x` hex, `0` or `0o` octal, `0b`
    /// binary, `_` separators; a float is truncated, as yaml.v2 sets an int field from one, so
    /// `port: 3306.0` and `port: 03309`, no octal and so a float, are 3306 and 3309).
    pub(crate) fn integer(&self, range: std::ops::RangeInclusive<i64>) -> Result<i64, ConfigError> {
        let resolved = match resolve(self.yaml) {
            Some(Resolved::Float) => scalar_text(self.yaml)
                .and_then(|t| t.replace('_', "").parse::<f64>().ok())
                .filter(|f| f.is_finite() && f.abs() < 9.2e18)
                .map(|f| Resolved::Int(f.trunc() as i64)),
            other => other,
        };
        match resolved {
            Some(Resolved::Int(i)) if range.contains(&i) => Ok(i),
            Some(Resolved::Int(i)) => Err(self.error(format!(
                "{i} is out of range ({}..={})",
                range.start(),
                range.end()
            ))),
            _ => Err(self.error(format!(
                "expected an integer, found {}",
                describe(self.yaml)
            ))),
        }
    }

    /// A sequence's items.
    pub(crate) fn items(&self) -> Result<Vec<Node<'d>>, ConfigError> {
        match &self.yaml.data {
            YamlData::Sequence(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, yaml)| Node {
                    doc: self.doc,
                    path: format!("{}[{i}]", self.path),
                    yaml,
                    line: yaml.span.start.line(),
                })
                .collect()),
            _ => Err(self.error(format!("expected a list, found {}", describe(self.yaml)))),
        }
    }
}

/// What a scalar is, as yaml.v2 resolves it (YAML 1.1, `resolve.go`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Float,
    Str,
}

fn is_null(node: &MarkedYaml<'_>) -> bool {
    resolve(node) == Some(Resolved::Null)
}

/// yaml.v2's resolution of a scalar; `None` for a collection. Only plain scalars are typed:
/// a quoted or block scalar is a string.
fn resolve(node: &MarkedYaml<'_>) -> Option<Resolved> {
    let text = match &node.data {
        YamlData::Representation(text, ScalarStyle::Plain, _) => text.as_ref(),
        YamlData::Representation(..) => return Some(Resolved::Str),
        YamlData::Value(Scalar::Null) => return Some(Resolved::Null),
        YamlData::Value(Scalar::Boolean(b)) => return Some(Resolved::Bool(*b)),
        YamlData::Value(Scalar::Integer(i)) => return Some(Resolved::Int(*i)),
        YamlData::Value(Scalar::FloatingPoint(_)) => return Some(Resolved::Float),
        YamlData::Value(Scalar::String(_)) => return Some(Resolved::Str),
        _ => return None,
    };
    Some(match text {
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Resolved::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Resolved::Bool(false)
        }
        _ => match go_int(text) {
            Some(i) => Resolved::Int(i),
            None if is_float(text) => Resolved::Float,
            None => Resolved::Str,
        },
    })
}

/// Go's `strconv.ParseInt(text without "_", 0, 64)`, which yaml.v2 applies to plain scalars:
/// an optional sign, then `0x`/`0X` hex, `0b`/`0B` binary, `0o`/`0O` or a leading `0` octal,
/// else decimal.
fn go_int(text: &str) -> Option<i64> {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let (negative, digits) = match plain.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, plain.strip_prefix('+').unwrap_or(&plain)),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x").or(digits.strip_prefix("0X"))
    {
        (16, hex)
    } else if let Some(bin) = digits.strip_prefix("0b").or(digits.strip_prefix("0B")) {
        (2, bin)
    } else if let Some(oct) = digits.strip_prefix("0o").or(digits.strip_prefix("0O")) {
        (8, oct)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// YAML 1.1 floats as yaml.v2 takes them (what Go's `ParseFloat` accepts, and `.inf`, `.nan`).
fn is_float(text: &str) -> bool {
    matches!(
        text,
        ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
            | ".nan"
            | ".NaN"
            | ".NAN"
    ) || (text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE_".contains(&b))
        && text.replace('_', "").parse::<f64>().is_ok())
}

fn scalar_text(node: &MarkedYaml<'_>) -> Option<String> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Some(f.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string()),
        YamlData::Representation(text, _, _) => Some(text.to_string()),
        _ => None,
    }
}

fn describe(node: &MarkedYaml<'_>) -> &'static str {
    match (resolve(node), &node.data) {
        (Some(Resolved::Null), _) => "nothing",
        (Some(Resolved::Bool(_)), _) => "a boolean",
        (Some(Resolved::Int(_)), _) => "an integer",
        (Some(Resolved::Float), _) => "a number",
        (Some(Resolved::Str), _) => "a string",
        (None, YamlData::Sequence(_)) => "a list",
        (None, YamlData::Mapping(_)) => "a mapping",
        _ => "something else",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scalars and merge keys are read as yaml.v2, DM's decoder, reads them: a string field
    /// keeps its text (`007` stays `007`, never `7`; `0123` never `123`), `<<` merges, and the
    /// YAML 1.1 booleans `on`/`yes` read as true.
    #[test]
    fn scalars_and_merge_keys_read_as_yaml_v2_reads_them() {
        let text = "\
base: &inst
  source-id: 007
  password: 0123
  enable-gtid: on
  port: 3306
list:
  - <<: *inst
    port: 3307
  - <<: [*inst, {extra: 1}]
over:
  port: 1
  <<: *inst
quoted: \"on\"
octal: 0123
hex: 0x1F
neg: -12_000
float: 1.5
empty:
tilde: ~
";
        let doc = YamlDoc::parse("t.yaml", text).unwrap();
        let root = doc.root();
        let base = root.require("base").unwrap();
        assert_eq!(base.require("source-id").unwrap().string().unwrap(), "007");
        assert_eq!(base.require("password").unwrap().string().unwrap(), "0123");
        assert!(base.require("enable-gtid").unwrap().bool().unwrap());
        let items = root.require("list").unwrap().items().unwrap();
        assert_eq!(
            items[0].require("source-id").unwrap().string().unwrap(),
            "007"
        );
        assert_eq!(
            items[0]
                .require("port")
                .unwrap()
                .integer(0..=65535)
                .unwrap(),
            3307
        );
        assert_eq!(
            items[1]
                .require("port")
                .unwrap()
                .integer(0..=65535)
                .unwrap(),
            3306
        );
        assert_eq!(
            items[1].require("extra").unwrap().integer(0..=9).unwrap(),
            1
        );
        assert!(
            items[0]
                .unknown_keys(&["source-id", "password", "enable-gtid", "port"], &[])
                .unwrap()
                .is_empty(),
            "the merge key itself is no key"
        );
        // A merge after an explicit key overrides it, as yaml.v2 applies entries in order.
        let over = root.require("over").unwrap();
        assert_eq!(
            over.require("port").unwrap().integer(0..=65535).unwrap(),
            3306
        );
        assert!(
            root.require("quoted").unwrap().bool().is_err(),
            "a quoted on is a string"
        );
        assert_eq!(root.require("quoted").unwrap().string().unwrap(), "on");
        assert_eq!(root.require("octal").unwrap().integer(0..=999).unwrap(), 83);
        assert_eq!(root.require("hex").unwrap().integer(0..=999).unwrap(), 31);
        assert_eq!(
            root.require("neg").unwrap().integer(-99_999..=0).unwrap(),
            -12_000
        );
        // yaml.v2 truncates a float into an int field; `03309` is no octal, so a float.
        assert_eq!(root.require("float").unwrap().integer(0..=9).unwrap(), 1);
        let doc = YamlDoc::parse("t.yaml", "a: 3306.0\nb: 03309\nc: 1e3\n").unwrap();
        let int = |k: &str| doc.root().require(k).unwrap().integer(0..=65535).unwrap();
        assert_eq!((int("a"), int("b"), int("c")), (3306, 3309, 1000));
        assert!(root.get("empty").unwrap().is_none());
        assert!(root.get("tilde").unwrap().is_none());
    }

    #[test]
    fn values_errors_and_unknown_keys_name_the_line() {
        let text = "name: t1\nport: 3306\nfrom:\n  host: db1\n  port: high\nflag: yes\nlist: [1, 2]\ntypo-key: 1\n";
        let doc = YamlDoc::parse("task.yaml", text).unwrap();
        let root = doc.root();
        assert_eq!(root.require("name").unwrap().string().unwrap(), "t1");
        assert_eq!(
            root.require("port").unwrap().integer(1..=65535).unwrap(),
            3306
        );
        let from = root.require("from").unwrap();
        let err = from
            .require("port")
            .unwrap()
            .integer(1..=65535)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "task.yaml:5: from.port: expected an integer, found a string"
        );
        let err = root.require("missing").unwrap_err();
        assert_eq!(err.key, "missing");
        assert_eq!(root.require("list").unwrap().items().unwrap().len(), 2);
        let unknown = root
            .unknown_keys(&["name", "port", "from", "list"], &["flag"])
            .unwrap();
        assert_eq!(unknown, [("typo-key".to_owned(), 8)]);
        assert!(
            YamlDoc::parse("bad.yaml", "a: [1, 2\n")
                .unwrap_err()
                .to_string()
                .starts_with("bad.yaml:")
        );
        assert!(
            YamlDoc::parse("empty.yaml", "")
                .unwrap()
                .root()
                .get("x")
                .unwrap()
                .is_none()
        );
    }
}
