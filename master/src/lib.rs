//! Commander master: cluster state, the LMDB store, the protocol endpoint and the control
//! plane. See `docs/ARCHITECTURE.md` for how data flows between the pieces.

pub mod config;
pub mod model;
pub mod store;
