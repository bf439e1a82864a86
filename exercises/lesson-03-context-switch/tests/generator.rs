//! What a generator must do: stop at each `yield_`, continue from there on the next `resume`.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use lesson_03_context_switch::Generator;

/// A log both sides write to, to see who ran when.
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn say(&self, line: impl Into<String>) {
        self.0.borrow_mut().push(line.into());
    }
    fn lines(&self) -> String {
        self.0.borrow().join("\n")
    }
}

#[test]
fn values_come_out_in_order() {
    let squares = Generator::new(|y| {
        for i in 1..=4u32 {
            y.yield_(i * i);
        }
    })
    .expect("a generator");
    assert_eq!(squares.collect::<Vec<_>>(), [1, 4, 9, 16]);
}

#[test]
fn body_and_caller_take_turns() {
    let log = Log::default();
    let body_log = log.clone();
    let mut numbers = Generator::new(move |y| {
        body_log.say("body:   started");
        for i in 1..=3 {
            body_log.say(format!("body:   yield {i}"));
            y.yield_(i);
            body_log.say(format!("body:   continued after {i}"));
        }
        body_log.say("body:   returns");
    })
    .expect("a generator");
    log.say("caller: created the generator");
    while let Some(n) = numbers.resume() {
        log.say(format!("caller: got {n}"));
    }
    log.say("caller: got None");
    insta::assert_snapshot!(log.lines());
}

#[test]
fn a_generator_does_only_the_work_asked_for() {
    let produced = Rc::new(RefCell::new(0u64));
    let counter = Rc::clone(&produced);
    let naturals = Generator::new(move |y| {
        // Practically endless: a generator is resumed as far as its caller wants, no further.
        for n in 0..1_000_000u64 {
            *counter.borrow_mut() += 1;
            y.yield_(n);
        }
    })
    .expect("a generator");
    let first: Vec<u64> = naturals.take(3).collect();
    assert_eq!(first, [0, 1, 2]);
    assert_eq!(
        *produced.borrow(),
        3,
        "the caller asked for 3 values, and the body produced {}",
        produced.borrow()
    );
}

#[test]
fn dropping_a_suspended_generator_runs_its_destructors() {
    struct Noisy(Log);
    impl Drop for Noisy {
        fn drop(&mut self) {
            self.0.say("body:   its local value is dropped");
        }
    }

    let log = Log::default();
    let body_log = log.clone();
    let mut generator = Generator::new(move |y| {
        let _local = Noisy(body_log.clone());
        y.yield_(1);
        y.yield_(2);
        body_log.say("body:   never gets here");
    })
    .expect("a generator");
    let first = generator.resume();
    log.say(format!("caller: got {first:?}, drops the generator"));
    drop(generator);
    log.say("caller: dropped");
    assert_eq!(
        log.lines(),
        "caller: got Some(1), drops the generator\n\
         body:   its local value is dropped\n\
         caller: dropped"
    );
}

#[test]
fn a_body_that_catches_the_cancel_still_finishes() {
    struct Noisy(Log);
    impl Drop for Noisy {
        fn drop(&mut self) {
            self.0.say("body:   its local value is dropped");
        }
    }

    let log = Log::default();
    let body_log = log.clone();
    let mut generator = Generator::new(move |y| {
        let _local = Noisy(body_log.clone());
        // A body may catch the unwind that cancels it (so may a library it calls)...
        let caught = catch_unwind(AssertUnwindSafe(|| y.yield_(1)));
        body_log.say(format!("body:   caught the cancel: {}", caught.is_err()));
        // ...but a dropped generator has nobody left to yield to: this must not suspend.
        y.yield_(2);
        body_log.say("body:   never gets here");
    })
    .expect("a generator");
    let first = generator.resume();
    log.say(format!("caller: got {first:?}, drops the generator"));
    drop(generator);
    log.say("caller: dropped");
    assert_eq!(
        log.lines(),
        "caller: got Some(1), drops the generator\n\
         body:   caught the cancel: true\n\
         body:   its local value is dropped\n\
         caller: dropped",
        "once a generator is dropped, every yield_ of its body must unwind, so that the body \
         ends, its destructors run and its stack can be freed"
    );
}

#[test]
fn a_panic_in_the_body_reaches_the_caller() {
    let made = catch_unwind(|| {
        Generator::new(|y| {
            y.yield_(1);
            panic!("the body gave up");
        })
    });
    let mut generator = made
        .expect(
            "the body panicked inside Generator::new: none of it may run before the first resume",
        )
        .expect("a generator");
    assert_eq!(
        generator.resume(),
        Some(1),
        "the body runs up to its first yield"
    );
    let caught =
        catch_unwind(AssertUnwindSafe(|| generator.resume())).expect_err("resume re-panics");
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"the body gave up"));
    assert_eq!(
        generator.resume(),
        None,
        "a generator that panicked is finished"
    );
}

#[test]
fn each_generator_runs_on_a_stack_of_its_own() {
    let caller_local = 0u8;
    let caller_addr = &caller_local as *const u8 as usize;
    let mut generator = Generator::new(|y| {
        let body_local = 0u8;
        y.yield_(&body_local as *const u8 as usize);
    })
    .expect("a generator");
    let body_addr = generator.resume().expect("one value");
    let distance = body_addr.abs_diff(caller_addr);
    assert!(
        distance > lesson_03_context_switch::STACK_SIZE,
        "the body's locals sit {distance} bytes from the caller's: same stack?"
    );
}
