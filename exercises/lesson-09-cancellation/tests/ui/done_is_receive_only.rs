// `done()` hands out the receiving end only (Go: `Done() <-chan struct{}`): a task that could
// send on it, or close it, could cancel a context it does not own.
use lesson_09_cancellation::{Context, with_cancel};

fn main() {
    let (ctx, _cancel) = with_cancel(&Context::background());
    ctx.done().send(());
}
