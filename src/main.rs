fn main() {
    println!("bangtin");
}
