//! Lesson 16: Debugging.

// ANCHOR: answer
/// What the lesson's test checks.
pub fn answer() -> u32 {
    // TODO(lesson): make this return 42.
    0
}
// ANCHOR_END: answer
