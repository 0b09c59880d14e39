//! Pod records: a named group of containers sharing one network namespace, which the pod's
//! infra process (`berth __pod-infra`) holds. Kept in `pods/<id>/record.json`, beside the
//! pod's shared /etc/hosts and /etc/resolv.conf.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use fs_err as fs;
use serde::{Deserialize, Serialize};

use super::containers::{HelperProcess, PortMapping};
use super::{Result, StorageError, Store, WriteLock, io_error};
use crate::util;

/// One pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodRecord {
    /// 64 hex digits.
    pub id: String,
    /// Unique among pods.
    pub name: String,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// `--label`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `-p` (host port 0: chosen when the infra starts).
    #[serde(default)]
    pub port_bindings: Vec<PortMapping>,
    /// The infra process, while it runs.
    #[serde(default)]
    pub infra: Option<HelperProcess>,
    /// The published ports of the running infra.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// Its pasta.
    #[serde(default)]
    pub network_helper: Option<HelperProcess>,
}

impl Store {
    /// The directory of a pod.
    pub fn pod_dir(&self, id: &str) -> PathBuf {
        self.paths.root().join("pods").join(id)
    }

    /// Every pod record, newest first.
    pub fn list_pods(&self) -> Result<Vec<PodRecord>> {
        let mut pods =
            self.list_records(&self.paths.root().join("pods"), |id| self.load_pod(id))?;
        pods.sort_by_key(|p| std::cmp::Reverse(p.created));
        Ok(pods)
    }

    /// Reads one pod record.
    pub fn load_pod(&self, id: &str) -> Result<PodRecord> {
        let path = self.pod_dir(id).join("record.json");
        let text = fs::read(&path).map_err(io_error("failed to read", &path))?;
        serde_json::from_slice(&text).map_err(|source| StorageError::Corrupt { path, source })
    }

    /// Writes a new pod record (under the write lock, so that names stay unique).
    pub fn create_pod(&self, _lock: &WriteLock, record: &PodRecord) -> Result<()> {
        let dir = self.pod_dir(&record.id);
        fs::create_dir_all(&dir).map_err(io_error("failed to create", &dir))?;
        self.save_pod(record)
    }

    /// Replaces a pod record atomically (its infra is its only writer while it runs).
    pub fn save_pod(&self, record: &PodRecord) -> Result<()> {
        let path = self.pod_dir(&record.id).join("record.json");
        let text = serde_json::to_vec_pretty(record).unwrap_or_default();
        util::fs::atomic_write(&path, &text).map_err(io_error("failed to write", &path))
    }

    /// Reads, changes and saves a pod record.
    pub fn update_pod(&self, id: &str, change: impl FnOnce(&mut PodRecord)) -> Result<PodRecord> {
        let mut record = self.load_pod(id)?;
        change(&mut record);
        self.save_pod(&record)?;
        Ok(record)
    }

    /// Removes a pod's directory.
    pub fn remove_pod_dir(&self, lock: &WriteLock, id: &str) -> Result<()> {
        self.remove_tree(lock, &self.pod_dir(id))
    }
}
