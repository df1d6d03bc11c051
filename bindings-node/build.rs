//! Build script of the Node addon: napi-build's per-platform link settings (on Linux with glibc
//! only `-z nodelete`, which is harmless for the test binaries `cargo test` links as well).

fn main() {
    napi_build::setup();
}
