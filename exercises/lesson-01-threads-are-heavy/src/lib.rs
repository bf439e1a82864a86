//! Lesson 01 (being written).
