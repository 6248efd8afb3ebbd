//! The permission table against the contracts and the README: every RPC in
//! `candor_proto`'s descriptors has exactly one row, every row names an RPC
//! of the descriptors, and the README prints the
//! table the code enforces.

use candor_platform::auth::permissions::{PERMISSIONS, markdown_table, permission_of};
use prost::Message as _;

/// Every RPC of the Candor services in the descriptors: (path, client streaming).
fn described_rpcs() -> Vec<(String, bool)> {
    let set = prost_types::FileDescriptorSet::decode(candor_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut rpcs = Vec::new();
    for file in set.file {
        let package = file.package().to_owned();
        for service in &file.service {
            for method in &service.method {
                rpcs.push((
                    format!("/{package}.{}/{}", service.name(), method.name()),
                    method.client_streaming(),
                ));
            }
        }
    }
    rpcs
}

#[test]
fn every_described_rpc_has_a_row_and_every_row_an_rpc() {
    let described = described_rpcs();
    assert!(described.len() >= 30, "{described:?}");
    for (path, client_streaming) in &described {
        let row = permission_of(path).unwrap_or_else(|| panic!("{path} has no permission row"));
        assert_eq!(row.client_streaming, *client_streaming, "{path}");
    }
    for row in PERMISSIONS {
        let known = described.iter().any(|(path, _)| path == row.method);
        assert!(known, "{} is not an RPC of candor_proto", row.method);
    }
}

#[test]
fn the_readme_prints_the_table_the_code_enforces() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let begin = "<!-- permissions:begin (generated from candor_platform::auth::permissions; a test checks it) -->\n";
    let end = "<!-- permissions:end -->";
    let start = readme
        .find(begin)
        .expect("the README's permission table markers")
        + begin.len();
    let stop = readme[start..].find(end).expect("the end marker") + start;
    assert_eq!(
        &readme[start..stop],
        markdown_table(),
        "README.md's permission table differs from the code; paste the expected text between the markers"
    );
}
