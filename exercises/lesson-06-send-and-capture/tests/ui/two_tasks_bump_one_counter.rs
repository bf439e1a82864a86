// The data race from Go's `counter++` in many goroutines: two tasks writing one variable.
use lesson_06_send_and_capture::go;

fn main() {
    let mut hits = 0;
    go("a", || hits += 1);
    go("b", || hits += 1);
    println!("{hits}");
}
