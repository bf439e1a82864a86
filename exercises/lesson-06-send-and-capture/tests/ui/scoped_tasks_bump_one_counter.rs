// Scoped tasks may borrow, so the race can be written again: two tasks that both borrow
// `hits` mutably, at the same time. The borrow checker refuses it as it refuses two `&mut`
// anywhere else; an atomic or a Mutex (borrowed by both) is the way.
use lesson_06_send_and_capture::scope;

fn main() {
    let mut hits = 0;
    scope(|s| {
        s.go("a", || hits += 1);
        s.go("b", || hits += 1);
    });
    println!("{hits}");
}
