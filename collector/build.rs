// The artifact specs are embedded with include_dir!; tell cargo to rebuild when they change.
fn main() {
    println!("cargo:rerun-if-changed=../artifact-specs");
}
