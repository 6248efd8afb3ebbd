//! The service starts the way an operator runs it, and stops cleanly: the
//! checks every Candor service passes, from candor-testkit.

candor_testkit::service_startup_tests! {
    service: candor_account,
    binary: "candor-account",
    grpc_service: "candor.account.v1.AccountService",
    settings: [("LEGACY_HASH_KEY", "test-legacy-hash-key-0123456789abcdef")],
    required: ["DATABASE_URL", "OPERATOR_TOKEN", "SERVICE_TOKEN", "LEGACY_HASH_KEY"],
}
