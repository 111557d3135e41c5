//! What the device tests over pseudo-terminals share.

use std::path::PathBuf;

/// Where a simulator's pseudo-terminal link goes: straight in the temporary folder, named after
/// this test process so parallel runs never collide. The simulator removes its link when it
/// stops, so nothing is left behind (a folder per run would be).
pub fn pty_link(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("drivers-{}-{name}", std::process::id()))
}
