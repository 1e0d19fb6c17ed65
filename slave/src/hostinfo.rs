//! (filled by a helper)
