//! seasonal (being written).
