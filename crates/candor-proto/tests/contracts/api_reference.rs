//! `docs/api.md` is the reference generated from the proto comments; it
//! must match them. `CANDOR_UPDATE_API_REFERENCE=1` rewrites it.

use std::path::PathBuf;

use candor_proto::reference;

#[test]
fn api_reference_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(reference::PATH);
    let generated = reference::markdown().unwrap();
    if std::env::var_os("CANDOR_UPDATE_API_REFERENCE").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == generated,
        "{} is out of date with proto/: regenerate it with \
         CANDOR_UPDATE_API_REFERENCE=1 cargo test -p candor-proto --test contracts api_reference",
        reference::PATH
    );
}

#[test]
fn the_reference_covers_every_rpc_field_and_value() {
    let generated = reference::markdown().unwrap();
    let pool = candor_proto::descriptor_pool().unwrap();
    for service in pool
        .services()
        .filter(|service| service.full_name().starts_with("candor."))
    {
        assert!(
            generated.contains(&format!("### {}\n", service.full_name())),
            "{}",
            service.full_name()
        );
        for method in service.methods() {
            assert!(
                generated.contains(&format!("`rpc {}(", method.name())),
                "{}",
                method.full_name()
            );
        }
    }
    for message in pool
        .all_messages()
        .filter(|message| message.full_name().starts_with("candor.") && !message.is_map_entry())
    {
        assert!(
            generated.contains(&format!("#### {}\n", message.full_name())),
            "{}",
            message.full_name()
        );
    }
    // A field's comment reaches its row: the idempotency key of every event.
    assert!(generated.contains("idempotency key"));
    // The status codes of an RPC reach its section.
    let login = &generated[generated.find("#### Login\n").unwrap()..];
    assert!(login[..login.find("\n#### ").unwrap()].contains("RESOURCE_EXHAUSTED"));
}
