//! Master configuration (filled by a helper).
