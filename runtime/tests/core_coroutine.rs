//! The public coroutine layer (lesson 03): resume/suspend, panics, and drop.

use std::cell::Cell;
use std::rc::Rc;

use goro::coroutine::{CoState, Coroutine};
use goro::stack::Stack;

fn stack() -> Stack {
    Stack::new(64 * 1024).expect("reserve a stack")
}

#[test]
fn resume_runs_until_the_next_suspend() {
    let steps = Rc::new(Cell::new(0));
    let s = steps.clone();
    let mut co = Coroutine::new(stack(), move |y| {
        for _ in 0..3 {
            s.set(s.get() + 1);
            y.suspend();
        }
    });
    assert_eq!(steps.get(), 0, "nothing runs before the first resume");
    for expected in 1..=3 {
        assert_eq!(co.resume(), CoState::Suspended);
        assert_eq!(steps.get(), expected);
    }
    assert_eq!(co.resume(), CoState::Finished);
    assert!(co.is_finished());
}

#[test]
fn a_panic_in_the_body_comes_out_of_resume() {
    let mut co = Coroutine::new(stack(), |y| {
        y.suspend();
        panic!("inside the coroutine");
    });
    assert_eq!(co.resume(), CoState::Suspended);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| co.resume())).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"inside the coroutine"));
    assert!(co.is_finished());
}

#[test]
fn dropping_a_suspended_coroutine_runs_its_destructors() {
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    let after = Rc::new(Cell::new(false));
    let a = after.clone();
    let mut co = Coroutine::new(stack(), move |y| {
        let _flag = Flag(d);
        y.suspend();
        a.set(true);
    });
    co.resume();
    drop(co);
    assert!(dropped.get(), "the body's locals were dropped");
    assert!(
        !after.get(),
        "the body did not continue past its suspension point"
    );
}

#[test]
fn resuming_a_finished_coroutine_panics() {
    let mut co = Coroutine::new(stack(), |_| {});
    assert_eq!(co.resume(), CoState::Finished);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| co.resume())).unwrap_err();
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("after the coroutine finished"), "{msg}");
}

#[test]
fn cancellation_is_sticky_when_the_body_catches_it() {
    // A body that catches the cancellation and suspends again must be unwound again, and
    // finish: otherwise dropping it would have to leak its stack.
    let caught = Rc::new(Cell::new(0));
    let ended = Rc::new(Cell::new(false));
    let (c, e) = (caught.clone(), ended.clone());
    let mut co = Coroutine::new(stack(), move |y| {
        for _ in 0..3 {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.suspend()));
            if r.is_err() {
                c.set(c.get() + 1);
            }
        }
        e.set(true);
    });
    assert_eq!(co.resume(), CoState::Suspended);
    drop(co);
    assert_eq!(
        caught.get(),
        3,
        "the first cancellation and each suspend after it unwind"
    );
    assert!(
        ended.get(),
        "the body ran to its end, so its stack was freed"
    );
}
