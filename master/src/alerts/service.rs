//! Alert rules and silences as a service: [`AlertingService`] implements
//! [`model::service::AlertRules`]. Every change is validated (errors name the field),
//! written to the store, applied to the [`RuleEngine`] at once (so editing a firing rule
//! whose condition no longer holds resolves it, and deleting a rule resolves its alerts)
//! and audited once as `alert_rule.*` / `alert_silence.*`, refusals included.
//!
//! [`AlertHub`] holds the engine behind a lock and sends what it outputs: records to the
//! cluster (active list, console events, history), notifications to the
//! [`Notifier`]. Output is sent while the engine's lock is held, so records reach the
//! history in the order they happened whichever task produced them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use model::alert_rule::{
    AlertFailure, AlertRuleRecord, MAX_RULES, MAX_SILENCES, RuleInput, SilenceInput, SilenceRecord,
};
use model::audit::AuditResult;
use model::clock::Clock;
use model::ops::{BoxFuture, Caller};
use model::service::AuditLog;

use super::engine::{Output, RuleEngine};
use super::notify::Notifier;
use crate::cluster::Cluster;
use crate::services::{audit_entry, blocking, store_error};
use crate::store::Store;

/// The rule engine and where its output goes.
pub struct AlertHub {
    engine: Mutex<RuleEngine>,
    cluster: Cluster,
    notifier: Arc<dyn Notifier>,
}

impl std::fmt::Debug for AlertHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertHub").finish_non_exhaustive()
    }
}

impl AlertHub {
    /// An engine drawing alert ids from `cluster`'s counter, publishing to `cluster` and
    /// notifying through `notifier`; a target without a sample for `stale_ms` has no data.
    pub fn new(cluster: &Cluster, notifier: Arc<dyn Notifier>, stale_ms: u64) -> Arc<Self> {
        Arc::new(Self {
            engine: Mutex::new(RuleEngine::new(cluster.alert_ids(), stale_ms)),
            cluster: cluster.clone(),
            notifier,
        })
    }

    fn lock(&self) -> MutexGuard<'_, RuleEngine> {
        self.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the engine and sends its output (under the engine's lock).
    pub fn apply(&self, f: impl FnOnce(&mut RuleEngine) -> Output) {
        let mut engine = self.lock();
        let out = f(&mut engine);
        for record in out.records {
            self.cluster.publish_rule_alert(record);
        }
        for notice in out.notices {
            self.notifier.notify(&notice.channels, notice.notification);
        }
    }

    /// Reads the engine.
    pub fn with<T>(&self, f: impl FnOnce(&RuleEngine) -> T) -> T {
        f(&self.lock())
    }

    /// The cluster it publishes to.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }
}

/// The master's [`model::service::AlertRules`].
pub struct AlertingService {
    store: Arc<dyn Store>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    hub: Arc<AlertHub>,
    /// One change at a time (name uniqueness, counts).
    change: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for AlertingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertingService").finish_non_exhaustive()
    }
}

impl AlertingService {
    /// Writes the built-in rules at the first start, loads rules and silences into the
    /// hub's engine and gives it back the alerts that were firing when the master
    /// stopped. Blocking (store reads): call at start.
    pub fn open(
        store: Arc<dyn Store>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        hub: Arc<AlertHub>,
    ) -> Result<Self, crate::store::StoreError> {
        let now = clock.now_ms();
        if store.seed_alert_rules(&AlertRuleRecord::builtins())? {
            tracing::info!("wrote the built-in alert rules");
        }
        let rules = store.list_alert_rules()?;
        let silences: Vec<SilenceRecord> = store
            .list_silences()?
            .into_iter()
            .filter(|s| s.until_ms > now)
            .collect();
        let restored = hub.cluster().take_restored_alerts();
        hub.apply(|e| {
            let mut out = Output::default();
            for rule in rules {
                let o = e.set_rule(rule, now);
                out.records.extend(o.records);
                out.notices.extend(o.notices);
            }
            e.set_silences(silences);
            for alert in restored {
                e.restore(alert, now);
            }
            out
        });
        Ok(Self {
            store,
            audit,
            clock,
            hub,
            change: tokio::sync::Mutex::new(()),
        })
    }

    /// The hub (for the evaluator).
    pub fn hub(&self) -> &Arc<AlertHub> {
        &self.hub
    }

    async fn audited<T>(
        &self,
        caller: &Caller,
        action: &str,
        target: String,
        outcome: Result<T, AlertFailure>,
    ) -> Result<T, AlertFailure> {
        let (result, detail) = match &outcome {
            Ok(_) => (AuditResult::Ok, String::new()),
            Err(
                e @ (AlertFailure::Invalid(_) | AlertFailure::NotFound(_) | AlertFailure::Full(_)),
            ) => (AuditResult::Denied, e.to_string()),
            Err(e) => (AuditResult::Failed, e.to_string()),
        };
        self.audit
            .record(audit_entry(caller, action, &target, result, detail))
            .await;
        outcome
    }

    async fn rules_now(&self) -> Result<Vec<AlertRuleRecord>, AlertFailure> {
        let store = Arc::clone(&self.store);
        Ok(blocking(move || store.list_alert_rules().map_err(store_error)).await?)
    }

    /// Validates `input` as rule `id` (0: new) against the other rules.
    async fn checked(&self, id: u64, input: RuleInput) -> Result<AlertRuleRecord, AlertFailure> {
        let mut rule = input.validate()?;
        let rules = self.rules_now().await?;
        if rules.iter().any(|r| r.id != id && r.name == rule.name) {
            return Err(model::Invalid::new(
                "name",
                format!("name: a rule named {:?} exists", rule.name),
            )
            .into());
        }
        if id == 0 && rules.len() >= MAX_RULES {
            return Err(AlertFailure::Full(format!(
                "at most {MAX_RULES} rules; delete one first"
            )));
        }
        let old = rules.iter().find(|r| r.id == id);
        if id != 0 && old.is_none() {
            return Err(AlertFailure::NotFound(format!("no alert rule {id}")));
        }
        rule.id = id;
        rule.builtin = old.is_some_and(|r| r.builtin);
        rule.updated_ms = self.clock.now_ms();
        Ok(rule)
    }

    async fn save(&self, rule: AlertRuleRecord) -> Result<AlertRuleRecord, AlertFailure> {
        let store = Arc::clone(&self.store);
        let saved = blocking(move || store.put_alert_rule(&rule).map_err(store_error)).await?;
        let now = self.clock.now_ms();
        let engine_rule = saved.clone();
        self.hub.apply(move |e| e.set_rule(engine_rule, now));
        Ok(saved)
    }

    async fn live_silences(&self) -> Result<Vec<SilenceRecord>, AlertFailure> {
        let store = Arc::clone(&self.store);
        let now = self.clock.now_ms();
        Ok(blocking(move || {
            let all = store.list_silences().map_err(store_error)?;
            let (live, expired): (Vec<_>, Vec<_>) = all.into_iter().partition(|s| s.until_ms > now);
            for s in expired {
                store.delete_silence(s.id).map_err(store_error)?;
            }
            Ok(live)
        })
        .await?)
    }
}

impl model::service::AlertRules for AlertingService {
    fn rules(&self) -> BoxFuture<'_, Result<Vec<AlertRuleRecord>, AlertFailure>> {
        Box::pin(self.rules_now())
    }

    fn rule(&self, id: u64) -> BoxFuture<'_, Result<AlertRuleRecord, AlertFailure>> {
        Box::pin(async move {
            self.rules_now()
                .await?
                .into_iter()
                .find(|r| r.id == id)
                .ok_or_else(|| AlertFailure::NotFound(format!("no alert rule {id}")))
        })
    }

    fn create_rule<'a>(
        &'a self,
        caller: &'a Caller,
        input: RuleInput,
    ) -> BoxFuture<'a, Result<AlertRuleRecord, AlertFailure>> {
        Box::pin(async move {
            let name = input.name.trim().to_owned();
            let _one = self.change.lock().await;
            let outcome = match self.checked(0, input).await {
                Ok(rule) => self.save(rule).await,
                Err(e) => Err(e),
            };
            let target = match &outcome {
                Ok(r) => format!("alert_rule/{}", r.id),
                Err(_) => format!("alert_rule/{name}"),
            };
            self.audited(caller, "alert_rule.create", target, outcome)
                .await
        })
    }

    fn update_rule<'a>(
        &'a self,
        caller: &'a Caller,
        id: u64,
        input: RuleInput,
    ) -> BoxFuture<'a, Result<AlertRuleRecord, AlertFailure>> {
        Box::pin(async move {
            let _one = self.change.lock().await;
            let outcome = match self.checked(id, input).await {
                Ok(rule) => self.save(rule).await,
                Err(e) => Err(e),
            };
            self.audited(
                caller,
                "alert_rule.update",
                format!("alert_rule/{id}"),
                outcome,
            )
            .await
        })
    }

    fn delete_rule<'a>(
        &'a self,
        caller: &'a Caller,
        id: u64,
    ) -> BoxFuture<'a, Result<(), AlertFailure>> {
        Box::pin(async move {
            let _one = self.change.lock().await;
            let store = Arc::clone(&self.store);
            let outcome =
                match blocking(move || store.delete_alert_rule(id).map_err(store_error)).await {
                    Ok(true) => {
                        let now = self.clock.now_ms();
                        self.hub.apply(|e| e.remove_rule(id, now));
                        Ok(())
                    }
                    Ok(false) => Err(AlertFailure::NotFound(format!("no alert rule {id}"))),
                    Err(e) => Err(AlertFailure::Service(e)),
                };
            self.audited(
                caller,
                "alert_rule.delete",
                format!("alert_rule/{id}"),
                outcome,
            )
            .await
        })
    }

    fn silences(&self) -> BoxFuture<'_, Result<Vec<SilenceRecord>, AlertFailure>> {
        Box::pin(self.live_silences())
    }

    fn create_silence<'a>(
        &'a self,
        caller: &'a Caller,
        input: SilenceInput,
    ) -> BoxFuture<'a, Result<SilenceRecord, AlertFailure>> {
        Box::pin(async move {
            let _one = self.change.lock().await;
            let now = self.clock.now_ms();
            let rule = input.rule.trim().to_owned();
            let outcome = async {
                let silence = input.validate(&caller.user, now)?;
                let mut live = self.live_silences().await?;
                if live.len() >= MAX_SILENCES {
                    return Err(AlertFailure::Full(format!(
                        "at most {MAX_SILENCES} silences; delete one first"
                    )));
                }
                let store = Arc::clone(&self.store);
                let saved =
                    blocking(move || store.put_silence(&silence).map_err(store_error)).await?;
                live.push(saved.clone());
                self.hub.apply(|e| {
                    e.set_silences(live);
                    Output::default()
                });
                Ok(saved)
            }
            .await;
            let target = match &outcome {
                Ok(s) => format!("alert_silence/{}", s.id),
                Err(_) => format!("alert_silence/{rule}"),
            };
            self.audited(caller, "alert_silence.create", target, outcome)
                .await
        })
    }

    fn delete_silence<'a>(
        &'a self,
        caller: &'a Caller,
        id: u64,
    ) -> BoxFuture<'a, Result<(), AlertFailure>> {
        Box::pin(async move {
            let _one = self.change.lock().await;
            let store = Arc::clone(&self.store);
            let outcome =
                match blocking(move || store.delete_silence(id).map_err(store_error)).await {
                    Ok(true) => match self.live_silences().await {
                        Ok(live) => {
                            self.hub.apply(|e| {
                                e.set_silences(live);
                                Output::default()
                            });
                            Ok(())
                        }
                        Err(e) => Err(e),
                    },
                    Ok(false) => Err(AlertFailure::NotFound(format!("no silence {id}"))),
                    Err(e) => Err(AlertFailure::Service(e)),
                };
            self.audited(
                caller,
                "alert_silence.delete",
                format!("alert_silence/{id}"),
                outcome,
            )
            .await
        })
    }
}

/// Every node running a replica of each project, for `{"project":NAME}` scopes.
pub fn project_nodes(
    projects: &[model::project::api::ProjectView],
) -> std::collections::BTreeMap<String, BTreeSet<u64>> {
    projects
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.replicas.iter().map(|r| r.node).collect::<BTreeSet<u64>>(),
            )
        })
        .collect()
}
