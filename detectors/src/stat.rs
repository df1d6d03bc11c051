//! stat (being written).
