//! Compiles every `.proto` file under the workspace's `proto/` directory with
//! protox (no system `protoc`), writes the encoded file descriptor set to
//! `OUT_DIR/candor_descriptor.bin` (for gRPC reflection and JSON), and
//! generates prost messages and tonic clients and servers from it.

use std::{
    error::Error,
    path::{Path, PathBuf},
};

use protox::prost::Message as _;

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    println!("cargo:rerun-if-changed={}", proto_root.display());
    println!("cargo:rerun-if-changed=build.rs");

    let mut proto_files = Vec::new();
    collect_proto_files(&proto_root, &proto_root, &mut proto_files)?;
    proto_files.sort();
    if proto_files.is_empty() {
        return Err(format!("no .proto files under {}", proto_root.display()).into());
    }

    let file_descriptor_set = protox::compile(&proto_files, [&proto_root])?;

    // Fail the build, not the first service start, if the set cannot be
    // loaded by prost-reflect (the JSON mapping relies on it at runtime).
    prost_reflect::DescriptorPool::from_file_descriptor_set(file_descriptor_set.clone())?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("candor_descriptor.bin"),
        file_descriptor_set.encode_to_vec(),
    )?;

    let mut config = tonic_prost_build::Config::new();
    config
        .enable_type_names()
        .type_name_domain(["."], "type.googleapis.com");

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(file_descriptor_set, config)?;

    Ok(())
}

/// Collects the paths of all `.proto` files below `dir`, relative to `root`
/// (the include path protox resolves imports against).
fn collect_proto_files(
    root: &Path,
    dir: &Path,
    found: &mut Vec<PathBuf>,
) -> Result<(), Box<dyn Error>> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_proto_files(root, &path, found)?;
        } else if path
            .extension()
            .is_some_and(|extension| extension == "proto")
        {
            found.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}
