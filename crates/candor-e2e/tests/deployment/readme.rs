use candor_e2e::services;

use crate::read;

#[test]
fn readme_documents_every_setting_of_every_service() {
    let readme = read("README.md");
    for expected in services() {
        for setting in &expected.settings {
            assert!(
                readme.contains(&format!("`{}`", setting.env)),
                "README.md does not document {} ({})",
                setting.env,
                expected.binary
            );
        }
    }
}

#[test]
fn readme_names_the_two_setup_commands() {
    let readme = read("README.md");
    assert!(
        readme.contains("docker compose up --build"),
        "README shows how to run the system"
    );
    assert!(
        readme.contains("scripts/test"),
        "README shows how to run the tests"
    );
}

#[test]
fn the_readme_breach_example_really_parses_and_validates() {
    let readme = read("README.md");
    let start = readme.find("```json\n").expect("README has a JSON example") + "```json\n".len();
    let length = readme[start..].find("\n```").expect("the JSON block ends");
    let json = &readme[start..start + length];
    let breach: candor_proto::events::v1::BreachReported =
        candor_proto::decode_json(json.as_bytes()).expect("the README example parses");
    breach
        .validate(std::time::SystemTime::now())
        .expect("the README example passes the event's validation");
    assert_eq!(
        json.trim(),
        read("crates/candor-proto/tests/data/breach_reported.json").trim()
    );
}
