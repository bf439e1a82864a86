// Sending moves the value: the sender cannot keep using (or changing) what it sent. In Go
// you can send a slice and go on writing to it; here that is a compile error.
use lesson_07_channels::channel;

fn main() {
    let (tx, _rx) = channel::<Vec<u8>>(1);
    let order = vec![1, 2, 3];
    tx.send(order).unwrap();
    println!("{}", order.len());
}
