//! Pull simulation (being written).
