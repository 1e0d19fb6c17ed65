//! Storage (filled by a helper).
