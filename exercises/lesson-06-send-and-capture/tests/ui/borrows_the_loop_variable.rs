// Go (before 1.22) shares one `i` between every iteration, and every goroutine may print 3.
// In Rust each iteration has its own `i`, but it dies when the iteration ends, while the
// task may run later: borrowing it is refused.
use lesson_06_send_and_capture::go;

fn main() {
    for i in 0..3 {
        go("printer", || println!("{i}"));
    }
}
