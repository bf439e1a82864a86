// Go's errgroup idiom for results in order: every task writes its slot of a slice that the
// function owns, and `g.Wait()` makes that safe to read afterwards.
//
//     results := make([]int, len(ids))
//     for i, id := range ids {
//         g.Go(func() error { results[i] = lookup(id); return nil })
//     }
//
// A goro task may outlive the function that spawned it (nothing in the type system ties it
// to `wait`), so it cannot borrow `results`. The group hands results back from `wait`, in
// order, instead.
use goro::ctx::Context;
use lesson_11_bounded_concurrency::Group;

/// `group.spawn(task)`, with the bound every goro task has (the one on `goro::spawn`).
fn go<F>(group: &mut Group<(), String>, task: F)
where
    F: FnOnce(Context) -> Result<(), String> + Send + 'static,
{
    group.spawn(task);
}

fn main() {
    let mut results = vec![0u32; 3];
    let (mut group, _ctx) = Group::with_context(&Context::background(), 2);
    for (i, slot) in results.iter_mut().enumerate() {
        go(&mut group, move |_ctx| {
            *slot = i as u32 * 10;
            Ok(())
        });
    }
    group.wait().unwrap();
    println!("{results:?}");
}
