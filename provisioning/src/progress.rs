//! One line per step, for a technician watching the screen: `✓` done, `✗` failed, `!` worth
//! knowing. Errors that stop a command are printed by [`crate::error::ProvisionError::report`].

use std::fmt::Display;

/// A step that went well.
pub fn ok(step: &str, text: impl Display) {
    println!("✓ {step}: {text}");
}

/// A step that failed without stopping the command.
pub fn fail(step: &str, text: impl Display) {
    println!("✗ {step}: {text}");
}

/// Something the technician should know.
pub fn note(step: &str, text: impl Display) {
    println!("! {step}: {text}");
}
