//! [`AlertWriter`]: the thread that keeps the alert history in the store.
//!
//! Alert records are written in the order they happened (a firing record, then its
//! resolution, which replaces it), so they go through one channel to one thread rather
//! than through independent blocking tasks that could overtake each other. After each
//! write the history is pruned to its bound. A failed write is logged; the thread goes on.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use model::alert::AlertRecord;

use crate::store::Store;

enum Command {
    Put(AlertRecord),
    Flush(SyncSender<()>),
}

/// Handle of the alert writer thread; the thread ends when the handle is dropped (after
/// writing what is queued).
#[derive(Debug)]
pub struct AlertWriter {
    tx: Option<Sender<Command>>,
}

impl AlertWriter {
    /// Starts the thread (named `alert-writer`), keeping the newest `keep` alerts. If the
    /// OS refuses a thread, the error is logged and alerts are not persisted.
    pub fn spawn(store: Arc<dyn Store>, keep: u64) -> Self {
        let (tx, rx) = mpsc::channel();
        let started = std::thread::Builder::new()
            .name("alert-writer".into())
            .spawn(move || run(store.as_ref(), &rx, keep));
        match started {
            Ok(_) => Self { tx: Some(tx) },
            Err(e) => {
                tracing::error!("cannot start the alert writer thread: {e}");
                Self { tx: None }
            }
        }
    }

    /// Queues a record. Never blocks.
    pub fn submit(&self, alert: AlertRecord) {
        let sent = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send(Command::Put(alert)).is_ok());
        if !sent {
            tracing::error!("the alert writer is gone; an alert was not saved");
        }
    }

    /// Blocks until every record submitted before has been written (or has failed).
    pub fn flush(&self) {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        if let Some(tx) = &self.tx
            && tx.send(Command::Flush(ack_tx)).is_ok()
        {
            let _ = ack_rx.recv();
        }
    }
}

fn run(store: &dyn Store, rx: &Receiver<Command>, keep: u64) {
    while let Ok(command) = rx.recv() {
        match command {
            Command::Put(alert) => {
                if let Err(e) = store.put_alert(&alert) {
                    tracing::error!(
                        alert = alert.id,
                        node = alert.node,
                        "cannot save an alert: {e}"
                    );
                    continue;
                }
                match store.prune_alerts(keep) {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(removed = n, "pruned the alert history"),
                    Err(e) => tracing::warn!("cannot prune the alert history: {e}"),
                }
            }
            Command::Flush(ack) => {
                let _ = ack.send(());
            }
        }
    }
}
