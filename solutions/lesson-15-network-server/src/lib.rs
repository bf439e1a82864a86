//! Lesson 15: A network server.

// ANCHOR: answer
/// What the lesson's test checks.
pub fn answer() -> u32 {
    42
}
// ANCHOR_END: answer
