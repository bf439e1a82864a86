// An audit hook handed in by another part of the program, as a trait object. The compiler
// cannot see what state the hook keeps, so it cannot tell whether calling it again after it
// panicked halfway is safe; it assumes it is not. A supervisor calls its handler again after a
// panic, so this handler is refused.
use lesson_10_panics::{Update, handler};

fn main() {
    let audit: Box<dyn Fn(&Update) + Send + Sync> = Box::new(|update| println!("{update:?}"));
    let _apply = handler(move |update| {
        audit(update);
        // ... apply the update
    });
}
