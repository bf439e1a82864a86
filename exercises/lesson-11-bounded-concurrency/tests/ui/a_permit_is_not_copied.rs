// A permit is a promise to give one slot back. A copy of it would give the slot back twice,
// and the semaphore would let in more holders than it has permits.
use lesson_11_bounded_concurrency::Semaphore;

fn keep_a_copy<T: Clone>(permit: &T) -> T {
    permit.clone()
}

fn main() {
    let sem = Semaphore::new(1);
    let permit = sem.acquire();
    let copy = keep_a_copy(&permit);
    drop(permit);
    drop(copy);
}
