//! Projects in the `data` environment: the `projects` database (one
//! [`ProjectRecord`] per project, keyed by name) and `project_revisions` (the spec of each
//! revision, keyed by name ++ `0x00` ++ revision `u64` BE, so one project's revisions
//! iterate oldest first). Layout in [`super::schema`].
//!
//! A record and the revision it introduces are written in one transaction, and at most
//! [`MAX_REVISIONS`] revisions are kept per project: older ones are pruned in the same
//! transaction, never the controller's target or previous revision.

use std::collections::BTreeMap;

use heed::types::Bytes;
use heed::{CommitToken, Database, DatabaseOpener, OnCommit, RwTxn, WithoutTls};
use model::project::{ProjectSpec, Revision};

use super::gateways::GatewayStore;
use super::lmdb::{LmdbStore, decode, encode};
use super::{MemoryStore, StoreError, schema};
use crate::projects::record::{MAX_REVISIONS, ProjectRecord};

/// The three databases (standalone gateways share the projects' gateway ports, so they
/// open with them; see `super::gateways`).
pub(crate) struct ProjectDbs<'e> {
    projects: Database<'e, Bytes, Bytes>,
    revisions: Database<'e, Bytes, Bytes>,
    pub(in crate::store) gateways: Database<'e, Bytes, Bytes>,
}

impl<'e> ProjectDbs<'e> {
    /// Creates (or opens) both databases inside the store's opening transaction.
    pub(crate) fn create(
        o: &DatabaseOpener<'e, WithoutTls>,
        w: &mut RwTxn<'e>,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            projects: o.create_database(w, Some(schema::PROJECTS_DB))?,
            revisions: o.create_database(w, Some(schema::PROJECT_REVISIONS_DB))?,
            gateways: o.create_database(w, Some(schema::GATEWAYS_DB))?,
        })
    }
}

impl OnCommit for ProjectDbs<'_> {
    type Committed = ProjectDbs<'static>;

    fn on_commit(self, token: &CommitToken) -> ProjectDbs<'static> {
        ProjectDbs {
            projects: self.projects.on_commit(token),
            revisions: self.revisions.on_commit(token),
            gateways: self.gateways.on_commit(token),
        }
    }
}

/// Where projects and their revision history are kept, with the standalone gateways
/// (whose ports a project's gateway must not take).
pub trait ProjectStore: GatewayStore + Send + Sync + 'static {
    /// Creates a project with its first revision (`record.latest_revision`) in one
    /// transaction; `Ok(false)` (nothing written) when the name is taken.
    fn create_project(
        &self,
        record: &ProjectRecord,
        spec: &ProjectSpec,
    ) -> Result<bool, StoreError>;

    /// Replaces a project's record and, with `revision`, writes that spec as that revision
    /// (a new one, or an in-place change of an existing one) and prunes the history, in one
    /// transaction; `Ok(false)` (nothing written) when no such project exists.
    fn update_project(
        &self,
        record: &ProjectRecord,
        revision: Option<(Revision, &ProjectSpec)>,
    ) -> Result<bool, StoreError>;

    /// One project.
    fn get_project(&self, name: &str) -> Result<Option<ProjectRecord>, StoreError>;

    /// Every project, by name.
    fn list_projects(&self) -> Result<Vec<ProjectRecord>, StoreError>;

    /// The spec of one revision.
    fn project_revision(
        &self,
        name: &str,
        revision: Revision,
    ) -> Result<Option<ProjectSpec>, StoreError>;

    /// Every revision kept, oldest first.
    fn project_revisions(&self, name: &str) -> Result<Vec<(Revision, ProjectSpec)>, StoreError>;

    /// Removes a project and its history; `Ok(false)` when no such project exists.
    fn delete_project(&self, name: &str) -> Result<bool, StoreError>;
}

fn revision_key(name: &str, revision: Revision) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 9);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(&revision.to_be_bytes());
    key
}

fn revision_prefix(name: &str) -> Vec<u8> {
    let mut key = name.as_bytes().to_vec();
    key.push(0);
    key
}

/// Revisions to drop so that at most [`MAX_REVISIONS`] remain, oldest first, sparing the
/// ones the controller still needs.
fn prunable(kept: &[Revision], record: &ProjectRecord) -> Vec<Revision> {
    let excess = kept.len().saturating_sub(MAX_REVISIONS);
    let needed = [
        Some(record.controller.target),
        record.controller.previous,
        Some(record.latest_revision),
    ];
    kept.iter()
        .copied()
        .filter(|r| !needed.contains(&Some(*r)))
        .take(excess)
        .collect()
}

impl LmdbStore {
    fn revisions_of(
        &self,
        txn: &heed::RoTxn<'_, WithoutTls>,
        name: &str,
    ) -> Result<Vec<(Revision, ProjectSpec)>, StoreError> {
        let prefix = revision_prefix(name);
        let mut out = Vec::new();
        for item in self.projects.revisions.prefix_iter(txn, &prefix)? {
            let (key, raw) = item?;
            let rev = key
                .get(prefix.len()..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StoreError::Corrupt {
                    key: format!("{}/{name}", schema::PROJECT_REVISIONS_DB),
                    reason: format!("a key of {} bytes", key.len()),
                })?;
            let spec = decode(raw, || {
                format!("{}/{name}/{rev}", schema::PROJECT_REVISIONS_DB)
            })?;
            out.push((rev, spec));
        }
        Ok(out)
    }
}

impl ProjectStore for LmdbStore {
    fn create_project(
        &self,
        record: &ProjectRecord,
        spec: &ProjectSpec,
    ) -> Result<bool, StoreError> {
        let json = encode(record, "project record")?;
        let spec_json = encode(spec, "project spec")?;
        let mut wtxn = self.data.write_txn()?;
        if self
            .projects
            .projects
            .get(&wtxn, record.name.as_bytes())?
            .is_some()
        {
            return Ok(false);
        }
        self.projects
            .projects
            .put(&mut wtxn, record.name.as_bytes(), &json)?;
        self.projects.revisions.put(
            &mut wtxn,
            &revision_key(&record.name, record.latest_revision),
            &spec_json,
        )?;
        wtxn.commit()?;
        Ok(true)
    }

    fn update_project(
        &self,
        record: &ProjectRecord,
        revision: Option<(Revision, &ProjectSpec)>,
    ) -> Result<bool, StoreError> {
        let json = encode(record, "project record")?;
        let spec_json = revision
            .map(|(rev, s)| encode(s, "project spec").map(|j| (rev, j)))
            .transpose()?;
        let mut wtxn = self.data.write_txn()?;
        if self
            .projects
            .projects
            .get(&wtxn, record.name.as_bytes())?
            .is_none()
        {
            return Ok(false);
        }
        self.projects
            .projects
            .put(&mut wtxn, record.name.as_bytes(), &json)?;
        if let Some((rev, spec_json)) = spec_json {
            self.projects
                .revisions
                .put(&mut wtxn, &revision_key(&record.name, rev), &spec_json)?;
            let kept: Vec<Revision> = self
                .revisions_of(&wtxn, &record.name)?
                .into_iter()
                .map(|(r, _)| r)
                .collect();
            for r in prunable(&kept, record) {
                self.projects
                    .revisions
                    .delete(&mut wtxn, &revision_key(&record.name, r))?;
            }
        }
        wtxn.commit()?;
        Ok(true)
    }

    fn get_project(&self, name: &str) -> Result<Option<ProjectRecord>, StoreError> {
        let rtxn = self.data.read_txn()?;
        self.projects
            .projects
            .get(&rtxn, name.as_bytes())?
            .map(|raw| decode(raw, || format!("{}/{name}", schema::PROJECTS_DB)))
            .transpose()
    }

    fn list_projects(&self) -> Result<Vec<ProjectRecord>, StoreError> {
        let rtxn = self.data.read_txn()?;
        let mut out = Vec::new();
        for item in self.projects.projects.iter(&rtxn)? {
            let (key, raw) = item?;
            out.push(decode(raw, || {
                format!("{}/{}", schema::PROJECTS_DB, String::from_utf8_lossy(key))
            })?);
        }
        Ok(out)
    }

    fn project_revision(
        &self,
        name: &str,
        revision: Revision,
    ) -> Result<Option<ProjectSpec>, StoreError> {
        let rtxn = self.data.read_txn()?;
        self.projects
            .revisions
            .get(&rtxn, &revision_key(name, revision))?
            .map(|raw| {
                decode(raw, || {
                    format!("{}/{name}/{revision}", schema::PROJECT_REVISIONS_DB)
                })
            })
            .transpose()
    }

    fn project_revisions(&self, name: &str) -> Result<Vec<(Revision, ProjectSpec)>, StoreError> {
        let rtxn = self.data.read_txn()?;
        self.revisions_of(&rtxn, name)
    }

    fn delete_project(&self, name: &str) -> Result<bool, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        if !self.projects.projects.delete(&mut wtxn, name.as_bytes())? {
            return Ok(false);
        }
        let keys: Vec<Vec<u8>> = self
            .revisions_of(&wtxn, name)?
            .into_iter()
            .map(|(r, _)| revision_key(name, r))
            .collect();
        for key in keys {
            self.projects.revisions.delete(&mut wtxn, &key)?;
        }
        wtxn.commit()?;
        Ok(true)
    }
}

/// The memory store's projects: record and revisions by name.
pub(crate) type MemoryProjects = BTreeMap<String, (ProjectRecord, BTreeMap<Revision, ProjectSpec>)>;

impl ProjectStore for MemoryStore {
    fn create_project(
        &self,
        record: &ProjectRecord,
        spec: &ProjectSpec,
    ) -> Result<bool, StoreError> {
        let mut map = self.projects_map();
        if map.contains_key(&record.name) {
            return Ok(false);
        }
        let revisions = BTreeMap::from([(record.latest_revision, spec.clone())]);
        map.insert(record.name.clone(), (record.clone(), revisions));
        Ok(true)
    }

    fn update_project(
        &self,
        record: &ProjectRecord,
        revision: Option<(Revision, &ProjectSpec)>,
    ) -> Result<bool, StoreError> {
        let mut map = self.projects_map();
        let Some((stored, revisions)) = map.get_mut(&record.name) else {
            return Ok(false);
        };
        *stored = record.clone();
        if let Some((rev, spec)) = revision {
            revisions.insert(rev, spec.clone());
            let kept: Vec<Revision> = revisions.keys().copied().collect();
            for r in prunable(&kept, record) {
                revisions.remove(&r);
            }
        }
        Ok(true)
    }

    fn get_project(&self, name: &str) -> Result<Option<ProjectRecord>, StoreError> {
        Ok(self.projects_map().get(name).map(|(r, _)| r.clone()))
    }

    fn list_projects(&self) -> Result<Vec<ProjectRecord>, StoreError> {
        Ok(self
            .projects_map()
            .values()
            .map(|(r, _)| r.clone())
            .collect())
    }

    fn project_revision(
        &self,
        name: &str,
        revision: Revision,
    ) -> Result<Option<ProjectSpec>, StoreError> {
        Ok(self
            .projects_map()
            .get(name)
            .and_then(|(_, revs)| revs.get(&revision).cloned()))
    }

    fn project_revisions(&self, name: &str) -> Result<Vec<(Revision, ProjectSpec)>, StoreError> {
        Ok(self
            .projects_map()
            .get(name)
            .map(|(_, revs)| revs.iter().map(|(r, s)| (*r, s.clone())).collect())
            .unwrap_or_default())
    }

    fn delete_project(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.projects_map().remove(name).is_some())
    }
}

#[cfg(test)]
mod tests;
