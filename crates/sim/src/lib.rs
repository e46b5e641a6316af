//! mirror-sim
