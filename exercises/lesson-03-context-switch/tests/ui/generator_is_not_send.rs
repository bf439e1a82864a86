// A generator's stack may hold values that belong to the thread that made it (here an `Rc`,
// whose counter is not atomic). Moving the generator to another thread must not compile.
use std::rc::Rc;

use lesson_03_context_switch::Generator;

fn main() {
    let shared = Rc::new(5);
    let mut generator = Generator::new(move |y| y.yield_(*shared)).unwrap();
    std::thread::spawn(move || generator.resume());
}
