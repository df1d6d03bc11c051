//! trend (being written).
