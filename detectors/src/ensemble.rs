//! ensemble (being written).
