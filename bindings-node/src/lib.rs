//! node bindings for oddsight (being written).
