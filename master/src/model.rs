//! Persistent records (filled by a helper).
