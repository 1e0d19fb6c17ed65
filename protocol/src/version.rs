//! Protocol version negotiation: both sides announce a range, the highest common one wins.

/// Lowest message-format version this build speaks.
pub const PROTOCOL_VERSION_MIN: u16 = 1;
/// Highest message-format version this build speaks.
pub const PROTOCOL_VERSION_MAX: u16 = 4;
/// First version with host and Docker operations, progress, typed failures and cancel
/// ([`crate::ops`]); a master must not send them on a session of a lower version.
pub const OPS_VERSION: u16 = 2;
/// First version whose slaves send a log (not followed) in acknowledged batches instead of
/// one final answer (see "Streamed logs" in [`crate::ops`]). No message type changed.
pub const STREAMED_LOGS_VERSION: u16 = 3;
/// First version whose desired and observed states carry workloads (project replicas and
/// gateways, [`crate::workload`]); a master sends a desired state only from this version.
pub const WORKLOADS_VERSION: u16 = 4;

/// The highest version in both `[peer_min, peer_max]` and our range, if any.
pub fn negotiate(peer_min: u16, peer_max: u16) -> Option<u16> {
    let low = peer_min.max(PROTOCOL_VERSION_MIN);
    let high = peer_max.min(PROTOCOL_VERSION_MAX);
    (peer_min <= peer_max && low <= high).then_some(high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_highest_common() {
        assert_eq!(negotiate(1, 1), Some(1));
        assert_eq!(negotiate(1, 9), Some(PROTOCOL_VERSION_MAX));
        assert_eq!(negotiate(0, 1), Some(1));
    }

    #[test]
    fn refuses_disjoint_or_inverted_ranges() {
        assert_eq!(negotiate(PROTOCOL_VERSION_MAX + 1, u16::MAX), None);
        assert_eq!(negotiate(0, 0), None);
        assert_eq!(negotiate(5, 1), None);
    }
}
