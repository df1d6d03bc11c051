//! esd (being written).
