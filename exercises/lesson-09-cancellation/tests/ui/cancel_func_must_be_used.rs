// A `CancelFunc` cancels when it is dropped, so ignoring one cancels the context before anyone
// has used it. (Go's `go vet` reports a cancel function that is never called.)
#![deny(unused_must_use)]

use lesson_09_cancellation::{Context, with_cancel};

fn main() {
    with_cancel(&Context::background());
}
