//! Commander's L4 gateway. Not built yet: the data plane (per-core monoio workers, splice
//! relay, balancing, health, limits, live reconfiguration) is issue #4. This crate holds no
//! code until then, so nothing here can be mistaken for a working gateway.
