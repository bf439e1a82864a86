//! Lesson 16: Debugging.

// ANCHOR: answer
/// What the lesson's test checks.
pub fn answer() -> u32 {
    42
}
// ANCHOR_END: answer
