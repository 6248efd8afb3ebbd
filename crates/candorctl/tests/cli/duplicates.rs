//! A notice that lists the same thing twice is refused before anything is
//! published, naming the entry it repeats and its line.

use crate::{candorctl, repo_path, text};

#[test]
fn a_repeated_recommendation_is_named_with_the_entry_it_repeats_and_its_line() {
    let example = std::fs::read_to_string(repo_path("deploy/examples/breach.toml")).unwrap();
    let action = "\"Be wary of emails asking for your password; we will never ask for it.\"";
    let repeated = example.replace(
        &format!("recommended_actions = [{action}]"),
        &format!("recommended_actions = [\n    {action},\n    \"Check your statements.\",\n    {action},\n]"),
    );
    assert_ne!(repeated, example, "the example's recommendation moved");
    let line = repeated
        .lines()
        .enumerate()
        .filter(|(_, text)| text.contains("Be wary of emails"))
        .nth(1)
        .unwrap()
        .0
        + 1;
    let path = std::env::temp_dir().join(format!("candorctl-{}-repeated.toml", std::process::id()));
    std::fs::write(&path, repeated).unwrap();
    let path = path.to_string_lossy().into_owned();
    // No broker is reachable here: validation must fail before any connection.
    let output = candorctl(
        &["breach", "report", "--file", &path],
        &[("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")],
    );
    assert_eq!(output.status.code(), Some(65), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{path}:{line}: recommended_actions[2]: duplicate of recommended_actions[0]"
        )),
        "{stderr}"
    );
}
