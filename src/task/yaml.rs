//! Reading DM's YAML files with positions: every value knows its line, so a wrong type, a
//! missing key or an invalid value is an error naming the key and the line, and keys nobody
//! knows at a level we read (typos, mostly) come back as warnings.
//!
//! Parsing is saphyr's (the maintained successor of yaml-rust; serde_yaml is deprecated): it
//! keeps the position of every node, which a serde-based reader would lose.

use std::fmt;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

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
pub struct YamlDoc {
    file: String,
    root: MarkedYaml<'static>,
}

impl YamlDoc {
    /// Parses `text` (the contents of `file`); an empty document is an empty mapping.
    pub fn parse(file: &str, text: &str) -> Result<YamlDoc, ConfigError> {
        let documents = MarkedYaml::load_from_str(text).map_err(|e| ConfigError {
            file: file.to_owned(),
            key: String::new(),
            line: Some(e.marker().line()),
            message: format!("not valid YAML: {}", e.info()),
        })?;
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
    pub fn root(&self) -> Node<'_> {
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

/// A node of a document, with its key path.
#[derive(Clone)]
pub struct Node<'d> {
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
    pub fn line(&self) -> usize {
        self.line
    }

    /// The dotted key path, e.g. `from.port`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A mapping's entries, as (key, value) in file order.
    pub fn children(&self) -> Result<Vec<(String, Node<'d>)>, ConfigError> {
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

    fn entries(&self) -> Result<Vec<(String, usize, &'d MarkedYaml<'static>)>, ConfigError> {
        match &self.yaml.data {
            YamlData::Mapping(map) => Ok(map
                .iter()
                .map(|(k, v)| (scalar_text(k).unwrap_or_default(), k.span.start.line(), v))
                .collect()),
            YamlData::Value(Scalar::Null) => Ok(Vec::new()),
            _ => Err(self.error(format!("expected a mapping, found {}", describe(self.yaml)))),
        }
    }

    /// The value at `key`; `None` when absent or null.
    pub fn get(&self, key: &str) -> Result<Option<Node<'d>>, ConfigError> {
        Ok(self
            .entries()?
            .into_iter()
            .find(|(k, _, v)| k == key && !matches!(v.data, YamlData::Value(Scalar::Null)))
            .map(|(_, line, yaml)| Node {
                doc: self.doc,
                path: self.child_path(key),
                yaml,
                line,
            }))
    }

    /// Like [`Node::get`], but absence is an error.
    pub fn require(&self, key: &str) -> Result<Node<'d>, ConfigError> {
        self.get(key)?.ok_or_else(|| ConfigError {
            file: self.doc.file.clone(),
            key: self.child_path(key),
            line: Some(self.line()),
            message: "required, but missing".to_owned(),
        })
    }

    /// Keys of this mapping that are neither `used` nor `known`, with their lines.
    pub fn unknown_keys(
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

    /// A string; numbers and booleans are accepted as their text (YAML users write
    /// `password: 123456`).
    pub fn string(&self) -> Result<String, ConfigError> {
        scalar_text(self.yaml)
            .ok_or_else(|| self.error(format!("expected a string, found {}", describe(self.yaml))))
    }

    pub fn bool(&self) -> Result<bool, ConfigError> {
        match &self.yaml.data {
            YamlData::Value(Scalar::Boolean(b)) => Ok(*b),
            _ => Err(self.error(format!(
                "expected true or false, found {}",
                describe(self.yaml)
            ))),
        }
    }

    /// An integer within `range`.
    pub fn integer(&self, range: std::ops::RangeInclusive<i64>) -> Result<i64, ConfigError> {
        match &self.yaml.data {
            YamlData::Value(Scalar::Integer(i)) if range.contains(i) => Ok(*i),
            YamlData::Value(Scalar::Integer(i)) => Err(self.error(format!(
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
    pub fn items(&self) -> Result<Vec<Node<'d>>, ConfigError> {
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
    match &node.data {
        YamlData::Value(Scalar::Null) => "nothing",
        YamlData::Value(Scalar::Boolean(_)) => "a boolean",
        YamlData::Value(Scalar::Integer(_)) => "an integer",
        YamlData::Value(Scalar::FloatingPoint(_)) => "a number",
        YamlData::Value(Scalar::String(_)) | YamlData::Representation(..) => "a string",
        YamlData::Sequence(_) => "a list",
        YamlData::Mapping(_) => "a mapping",
        _ => "something else",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
