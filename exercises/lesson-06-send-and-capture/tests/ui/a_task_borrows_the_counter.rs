// Go's `counter++` from many goroutines starts with a task that uses the caller's counter.
// Borrowing it is refused (a task may outlive it); `move` would compile, and give each task a
// copy of its own, which is not what the Go program meant either.
use lesson_06_send_and_capture::go;

fn main() {
    let mut hits = 0;
    go("a", || hits += 1);
}
