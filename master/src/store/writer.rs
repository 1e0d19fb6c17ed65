//! [`StoreWriter`]: the one thread that writes metric samples.
//!
//! LMDB writes block on `fsync`, so they must never run on an io_uring executor. Executors
//! hand rows to [`StoreWriter::submit`], which only pushes onto an unbounded channel. The
//! writer thread sleeps until a row arrives, then drains whatever else is already queued (up to
//! [`MAX_BATCH_ROWS`]) and commits it as one transaction: under load many rows share one
//! `fsync` (group commit), when idle a single row is written at once.
//!
//! A failed batch is logged with `tracing::error!` and counted ([`StoreWriter::failed`]); its
//! rows are lost, the thread carries on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use super::{SampleRow, Store};

/// Most rows committed in one transaction.
pub const MAX_BATCH_ROWS: usize = 4096;

/// The writer thread has stopped (it was shut down or panicked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the store writer thread has stopped")]
pub struct WriterClosed;

enum Command {
    Row(SampleRow),
    Flush(SyncSender<()>),
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    batches: AtomicU64,
    failed: AtomicU64,
}

/// Handle of the sample writer thread. `Sync`: share it behind an `Arc`.
#[derive(Debug)]
pub struct StoreWriter {
    tx: Option<Sender<Command>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl StoreWriter {
    /// Starts the writer thread (named `store-writer`).
    ///
    /// Never panics: if the OS refuses a thread, the error is logged and every
    /// [`submit`](Self::submit) answers [`WriterClosed`]. Use [`try_spawn`](Self::try_spawn)
    /// to handle that case at start-up instead.
    pub fn spawn(store: Arc<dyn Store>) -> Self {
        Self::try_spawn(store).unwrap_or_else(|e| {
            tracing::error!("cannot start the store writer thread: {e}");
            StoreWriter {
                tx: None,
                thread: None,
                counters: Arc::default(),
            }
        })
    }

    /// Starts the writer thread; fails only if the OS refuses a thread.
    pub fn try_spawn(store: Arc<dyn Store>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let thread_counters = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(store.as_ref(), &rx, &thread_counters))?;
        Ok(StoreWriter {
            tx: Some(tx),
            thread: Some(thread),
            counters,
        })
    }

    /// Queues a row. Never blocks (the queue is unbounded).
    pub fn submit(&self, row: SampleRow) -> Result<(), WriterClosed> {
        self.send(Command::Row(row))
    }

    /// Blocks until every row submitted before this call has been committed (or has failed,
    /// see [`failed`](Self::failed)).
    pub fn flush(&self) -> Result<(), WriterClosed> {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        self.send(Command::Flush(ack_tx))?;
        ack_rx.recv().map_err(|_| WriterClosed)
    }

    /// Rows committed so far.
    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    /// Transactions committed so far.
    pub fn batches(&self) -> u64 {
        self.counters.batches.load(Ordering::Relaxed)
    }

    /// Rows lost to store errors so far.
    pub fn failed(&self) -> u64 {
        self.counters.failed.load(Ordering::Relaxed)
    }

    /// Writes everything queued, then stops and joins the thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn send(&self, command: Command) -> Result<(), WriterClosed> {
        match &self.tx {
            Some(tx) => tx.send(command).map_err(|_| WriterClosed),
            None => Err(WriterClosed),
        }
    }

    fn stop(&mut self) {
        // Closing the channel ends the thread once it has drained what is queued.
        drop(self.tx.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the store writer thread panicked");
        }
    }
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The thread's loop: block for one command, drain more without blocking, commit, ack.
fn run(store: &dyn Store, rx: &Receiver<Command>, counters: &Counters) {
    let mut batch = Vec::with_capacity(MAX_BATCH_ROWS);
    let mut acks = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Row(row) => batch.push(row),
                Command::Flush(ack) => acks.push(ack),
            }
            if batch.len() < MAX_BATCH_ROWS {
                next = rx.try_recv().ok();
            }
        }
        write_batch(store, &mut batch, counters);
        // Every row queued before these flush requests is in the batch just written.
        for ack in acks.drain(..) {
            let _ = ack.send(()); // the flusher may have given up waiting; that is fine
        }
    }
}

fn write_batch(store: &dyn Store, batch: &mut Vec<SampleRow>, counters: &Counters) {
    if batch.is_empty() {
        return;
    }
    let rows = batch.len() as u64;
    match store.append_samples(batch) {
        Ok(()) => {
            counters.written.fetch_add(rows, Ordering::Relaxed);
            counters.batches.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            counters.failed.fetch_add(rows, Ordering::Relaxed);
            tracing::error!(rows, "failed to write metric samples: {e}");
        }
    }
    batch.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EnvKind, MemoryStore, SeriesUsage, StoreError, StoreSizes, Tier};
    use model::cluster::{EnrollRefusal, JoinTokenRecord, NodeRecord};

    fn row(node_id: u64, taken_at_ms: u64) -> SampleRow {
        SampleRow {
            node_id,
            taken_at_ms,
            bytes: taken_at_ms.to_le_bytes().to_vec(),
        }
    }

    #[test]
    fn flush_makes_rows_visible_and_batches_group() {
        let store = Arc::new(MemoryStore::new());
        let writer = StoreWriter::spawn(store.clone());
        for t in 0..10_000 {
            writer.submit(row(t % 3, t)).unwrap();
        }
        writer.flush().unwrap();
        assert_eq!(writer.written(), 10_000);
        assert!(writer.batches() >= 3, "at most 4096 rows per batch");
        assert!(writer.batches() <= 10_000);
        assert_eq!(writer.failed(), 0);
        assert_eq!(
            store.samples(1, 0, u64::MAX, usize::MAX).unwrap().len(),
            3333
        );
        writer.flush().unwrap(); // an empty flush answers too
    }

    #[test]
    fn shutdown_and_drop_write_everything_queued() {
        let store = Arc::new(MemoryStore::new());
        let writer = StoreWriter::spawn(store.clone());
        for t in 0..500 {
            writer.submit(row(1, t)).unwrap();
        }
        writer.shutdown();
        assert_eq!(
            store.samples(1, 0, u64::MAX, usize::MAX).unwrap().len(),
            500
        );

        let writer = StoreWriter::spawn(store.clone());
        writer.submit(row(2, 1)).unwrap();
        drop(writer);
        assert!(store.latest_sample(2).unwrap().is_some());
    }

    /// A store whose sample writes always fail.
    struct Broken(MemoryStore);

    impl Store for Broken {
        fn schema_version(&self) -> Result<u32, StoreError> {
            self.0.schema_version()
        }
        fn enroll_node(
            &self,
            s: &[u8; 32],
            k: &[u8; 32],
            v: &str,
            n: u64,
        ) -> Result<Result<NodeRecord, EnrollRefusal>, StoreError> {
            self.0.enroll_node(s, k, v, n)
        }
        fn put_node(&self, n: &NodeRecord) -> Result<(), StoreError> {
            self.0.put_node(n)
        }
        fn get_node(&self, id: u64) -> Result<Option<NodeRecord>, StoreError> {
            self.0.get_node(id)
        }
        fn node_by_key(&self, k: &[u8; 32]) -> Result<Option<NodeRecord>, StoreError> {
            self.0.node_by_key(k)
        }
        fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
            self.0.list_nodes()
        }
        fn set_revoked(&self, id: u64, r: bool) -> Result<bool, StoreError> {
            self.0.set_revoked(id, r)
        }
        fn update_node(
            &self,
            id: u64,
            change: &mut dyn FnMut(&mut NodeRecord),
        ) -> Result<bool, StoreError> {
            self.0.update_node(id, change)
        }
        fn put_join_token(&self, t: &JoinTokenRecord) -> Result<(), StoreError> {
            self.0.put_join_token(t)
        }
        fn list_join_tokens(&self) -> Result<Vec<JoinTokenRecord>, StoreError> {
            self.0.list_join_tokens()
        }
        fn append_series(&self, _: Tier, _: &[SampleRow]) -> Result<(), StoreError> {
            Err(StoreError::Corrupt {
                key: "samples".into(),
                reason: "broken on purpose".into(),
            })
        }
        fn series(
            &self,
            tier: Tier,
            n: u64,
            f: u64,
            t: u64,
            l: usize,
        ) -> Result<Vec<SampleRow>, StoreError> {
            self.0.series(tier, n, f, t, l)
        }
        fn latest_in_series(&self, tier: Tier, n: u64) -> Result<Option<SampleRow>, StoreError> {
            self.0.latest_in_series(tier, n)
        }
        fn prune_series(&self, tier: Tier, o: u64) -> Result<u64, StoreError> {
            self.0.prune_series(tier, o)
        }
        fn series_nodes(&self, tier: Tier) -> Result<Vec<u64>, StoreError> {
            self.0.series_nodes(tier)
        }
        fn series_usage(&self, tier: Tier) -> Result<SeriesUsage, StoreError> {
            self.0.series_usage(tier)
        }
        fn sizes(&self) -> StoreSizes {
            self.0.sizes()
        }
        fn env_dir(&self, env: EnvKind) -> Option<std::path::PathBuf> {
            self.0.env_dir(env)
        }
        fn copy_compacted(&self, env: EnvKind, dest: &std::path::Path) -> Result<u64, StoreError> {
            self.0.copy_compacted(env, dest)
        }
        fn next_task_id(&self) -> Result<u64, StoreError> {
            self.0.next_task_id()
        }
        fn put_task(&self, t: &model::task::TaskRecord) -> Result<(), StoreError> {
            self.0.put_task(t)
        }
        fn get_task(&self, id: u64) -> Result<Option<model::task::TaskRecord>, StoreError> {
            self.0.get_task(id)
        }
        fn list_tasks(
            &self,
            b: Option<u64>,
            l: usize,
        ) -> Result<Vec<model::task::TaskRecord>, StoreError> {
            self.0.list_tasks(b, l)
        }
        fn put_alert(&self, a: &model::alert::AlertRecord) -> Result<(), StoreError> {
            self.0.put_alert(a)
        }
        fn list_alerts(
            &self,
            b: Option<u64>,
            l: usize,
        ) -> Result<Vec<model::alert::AlertRecord>, StoreError> {
            self.0.list_alerts(b, l)
        }
        fn alert_count(&self) -> Result<u64, StoreError> {
            self.0.alert_count()
        }
        fn prune_alerts(&self, k: u64) -> Result<u64, StoreError> {
            self.0.prune_alerts(k)
        }
        fn list_alert_rules(&self) -> Result<Vec<model::alert_rule::AlertRuleRecord>, StoreError> {
            self.0.list_alert_rules()
        }
        fn put_alert_rule(
            &self,
            r: &model::alert_rule::AlertRuleRecord,
        ) -> Result<model::alert_rule::AlertRuleRecord, StoreError> {
            self.0.put_alert_rule(r)
        }
        fn delete_alert_rule(&self, id: u64) -> Result<bool, StoreError> {
            self.0.delete_alert_rule(id)
        }
        fn seed_alert_rules(
            &self,
            r: &[model::alert_rule::AlertRuleRecord],
        ) -> Result<bool, StoreError> {
            self.0.seed_alert_rules(r)
        }
        fn list_silences(&self) -> Result<Vec<model::alert_rule::SilenceRecord>, StoreError> {
            self.0.list_silences()
        }
        fn put_silence(
            &self,
            s: &model::alert_rule::SilenceRecord,
        ) -> Result<model::alert_rule::SilenceRecord, StoreError> {
            self.0.put_silence(s)
        }
        fn delete_silence(&self, id: u64) -> Result<bool, StoreError> {
            self.0.delete_silence(id)
        }
        fn prune_tasks(&self, k: u64) -> Result<u64, StoreError> {
            self.0.prune_tasks(k)
        }
    }

    #[test]
    fn store_errors_are_counted_not_fatal() {
        let writer = StoreWriter::spawn(Arc::new(Broken(MemoryStore::new())));
        writer.submit(row(1, 1)).unwrap();
        writer.flush().unwrap();
        writer.submit(row(1, 2)).unwrap();
        writer.flush().unwrap();
        assert_eq!(writer.failed(), 2);
        assert_eq!(writer.written(), 0);
    }
}
