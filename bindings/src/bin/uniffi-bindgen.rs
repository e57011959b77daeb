//! The workspace's `uniffi-bindgen`: generates the Kotlin and Swift bindings from the
//! built `outpost_ffi` cdylib in library mode, e.g.
//! `uniffi-bindgen generate --library target/debug/liboutpost_ffi.so --language kotlin --out-dir out`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
