//! counts (being written).
