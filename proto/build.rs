//! Compiles proto/*.proto into prost messages and grpcio services.
//!
//! protoc comes from the `protoc-bin-vendored` crate, so no system protoc is
//! needed; the generated code lands in OUT_DIR and is included by src/rpc.rs.

fn main() {
    let protos = ["proto/status.proto", "proto/chat.proto", "proto/verify.proto"];
    for proto in &protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc for this platform");
    std::env::set_var("PROTOC", protoc);
    let mut config = prost_build::Config::new();
    config.service_generator(Box::new(grpcio_compiler::prost_codegen::Generator));
    config.compile_protos(&protos, &["proto"]).expect("compile .proto files");
}
