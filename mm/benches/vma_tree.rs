fn main() { println!("vma_tree bench: not written yet"); }
