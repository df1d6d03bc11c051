//! change (being written).
