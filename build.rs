//! With the `train` feature, binaries and tests find libtorch's shared libraries through an
//! rpath to `$LIBTORCH/lib`, so nothing has to be added to LD_LIBRARY_PATH.

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let (Some(_), Some(libtorch)) = (std::env::var_os("CARGO_FEATURE_TRAIN"), std::env::var_os("LIBTORCH")) {
        let lib = std::path::Path::new(&libtorch).join("lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
