//! mirror-log
