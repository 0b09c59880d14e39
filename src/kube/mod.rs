//! Kubernetes manifests: the v1 subset berth writes (`kube generate`) and reads (`kube play`),
//! read into a validated [`PodPlan`] per pod; never touches containers. The YAML crate is
//! wrapped here (as in `compose/load.rs`), so it can be swapped.
//!
//! Uses only `oci`.

pub mod model;
mod plan;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use plan::{ContainerPlan, MountKind, MountPlan, PodPlan, PortPlan, plan};

/// The kinds `kube play` reads, as its errors list them.
pub const SUPPORTED_KINDS: &str = "Pod, Deployment, ConfigMap (and Service, which is ignored)";

/// Why a manifest was refused; each names the file and, where known, the object.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// Not YAML, or a document that does not fit its kind.
    #[error("`{}`: document {document}: {message}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based.
        document: usize,
        /// The parser's words.
        message: String,
    },
    /// A kind berth does not run.
    #[error("`{}`: document {document}: unsupported kind `{kind}`: berth kube play supports {SUPPORTED_KINDS}", file.display())]
    UnsupportedKind {
        /// The file.
        file: PathBuf,
        /// 1-based.
        document: usize,
        /// As written.
        kind: String,
    },
    /// A valid manifest that asks for something berth cannot do, or that contradicts itself.
    #[error("{object}: {message}")]
    Unsupported {
        /// `pod "web"`, `container "web/app"`.
        object: String,
        /// What and why.
        message: String,
    },
    /// The file holds no Pod or Deployment.
    #[error("`{}`: no Pod or Deployment to play", .0.display())]
    Empty(PathBuf),
    /// Serialising failed (a bug).
    #[error("cannot write YAML: {0}")]
    Write(String),
}

/// One document of a manifest file that berth reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    /// A Pod.
    Pod(model::Pod),
    /// A Deployment.
    Deployment(model::Deployment),
    /// A ConfigMap.
    ConfigMap(model::ConfigMap),
    /// A Service: what it publishes is already each container's `hostPort`.
    Service,
}

/// The header every object has.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    kind: Option<String>,
}

/// Parses a (multi-document) manifest; `file` names it in errors. Every document's kind is
/// checked before any is read further, so a bad kind is reported first.
pub fn parse_documents(file: &Path, text: &str) -> Result<Vec<Document>, KubeError> {
    let syntax = |document: usize, message: String| KubeError::Syntax {
        file: file.to_owned(),
        document,
        message,
    };
    let mut values = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = serde_yaml_ng::Value::deserialize(document)
            .map_err(|error| syntax(index + 1, error.to_string()))?;
        if value.is_null() {
            continue;
        }
        let header: Header = serde_yaml_ng::from_value(value.clone())
            .map_err(|error| syntax(index + 1, error.to_string()))?;
        let kind = header
            .kind
            .ok_or_else(|| syntax(index + 1, "no `kind`".to_owned()))?;
        if !matches!(
            kind.as_str(),
            "Pod" | "Deployment" | "ConfigMap" | "Service"
        ) {
            return Err(KubeError::UnsupportedKind {
                file: file.to_owned(),
                document: index + 1,
                kind,
            });
        }
        values.push((index + 1, kind, value));
    }
    let mut documents = Vec::new();
    for (number, kind, value) in values {
        let read = |error: serde_yaml_ng::Error| syntax(number, format!("{kind}: {error}"));
        documents.push(match kind.as_str() {
            "Pod" => Document::Pod(serde_yaml_ng::from_value(value).map_err(read)?),
            "Deployment" => Document::Deployment(serde_yaml_ng::from_value(value).map_err(read)?),
            "ConfigMap" => Document::ConfigMap(serde_yaml_ng::from_value(value).map_err(read)?),
            _ => Document::Service,
        });
    }
    Ok(documents)
}

/// Writes objects as one multi-document YAML stream, separated by `---` as kubectl does.
pub fn to_yaml<T: Serialize>(objects: &[T]) -> Result<String, KubeError> {
    let mut out = String::new();
    for (index, object) in objects.iter().enumerate() {
        if index > 0 {
            out.push_str("---\n");
        }
        out.push_str(
            &serde_yaml_ng::to_string(object)
                .map_err(|error| KubeError::Write(error.to_string()))?,
        );
    }
    Ok(out)
}

/// A Kubernetes object name (DNS-1123 label) made from a berth name: lowercase, `_` and `.`
/// become `-`, other characters go; at most 63 characters.
pub fn object_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            '_' | '.' | '/' => Some('-'),
            _ => None,
        })
        .collect();
    out.truncate(63);
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "berth".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The ConfigMaps of a file, by name.
fn config_maps(documents: &[Document]) -> BTreeMap<&str, &model::ConfigMap> {
    documents
        .iter()
        .filter_map(|d| match d {
            Document::ConfigMap(map) => Some((map.metadata.name.as_str(), map)),
            _ => None,
        })
        .collect()
}
