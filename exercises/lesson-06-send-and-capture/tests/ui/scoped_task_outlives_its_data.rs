// A scoped task may borrow what outlives the scope, not what the scope's body creates: the
// body returns (and drops `order`) before the scope waits for its tasks.
use lesson_06_send_and_capture::scope;

fn main() {
    scope(|s| {
        let order = String::from("soup");
        s.go("cook", || println!("{order}"));
    });
}
