//! Volumes: `volumes/<name>/_data` (what containers mount) and `meta.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use fs_err as fs;
use serde::{Deserialize, Serialize};

use super::{Result, StorageError, Store, WriteLock, io_error};
use crate::util;

/// What berth knows of a volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeRecord {
    /// Its name (64 hex digits for anonymous ones).
    pub name: String,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Made for one container (`-v /path`, or an image's VOLUME).
    #[serde(default)]
    pub anonymous: bool,
}

impl Store {
    /// The directory containers mount.
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.paths.volumes().join(name).join("_data")
    }

    /// Creates a volume unless it exists; returns its record.
    pub fn ensure_volume(
        &self,
        _lock: &WriteLock,
        name: &str,
        labels: &BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<VolumeRecord> {
        if let Ok(existing) = self.load_volume(name) {
            return Ok(existing);
        }
        let data = self.volume_data(name);
        fs::create_dir_all(&data).map_err(io_error("failed to create", &data))?;
        let record = VolumeRecord {
            name: name.to_owned(),
            created: Utc::now(),
            labels: labels.clone(),
            anonymous,
        };
        let path = self.paths.volumes().join(name).join("meta.json");
        let text = serde_json::to_vec_pretty(&record).unwrap_or_default();
        util::fs::atomic_write(&path, &text).map_err(io_error("failed to write", &path))?;
        Ok(record)
    }

    /// Reads a volume's record (volumes made by hand without one get a default).
    pub fn load_volume(&self, name: &str) -> Result<VolumeRecord> {
        let dir = self.paths.volumes().join(name);
        if !dir.join("_data").is_dir() {
            return Err(StorageError::Io {
                action: "no such volume",
                path: dir,
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let path = dir.join("meta.json");
        match fs::read(&path) {
            Ok(text) => serde_json::from_slice(&text)
                .map_err(|source| StorageError::Corrupt { path, source }),
            Err(_) => Ok(VolumeRecord {
                name: name.to_owned(),
                created: Utc::now(),
                labels: BTreeMap::new(),
                anonymous: false,
            }),
        }
    }

    /// Every volume.
    pub fn list_volumes(&self) -> Result<Vec<VolumeRecord>> {
        let dir = self.paths.volumes();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut volumes: Vec<VolumeRecord> = entries
            .flatten()
            .filter_map(|e| self.load_volume(&e.file_name().to_string_lossy()).ok())
            .collect();
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(volumes)
    }

    /// Removes a volume and its content. Call inside berth's user namespace.
    pub fn remove_volume(&self, lock: &WriteLock, name: &str) -> Result<()> {
        self.remove_tree(lock, &self.paths.volumes().join(name))
    }
}
