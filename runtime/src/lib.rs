//! goro: a goroutine runtime built from scratch.
#![warn(missing_docs)]
