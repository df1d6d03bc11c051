//! period (being written).
