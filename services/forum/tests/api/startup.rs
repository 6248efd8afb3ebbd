//! The service starts the way an operator runs it, and stops cleanly: the
//! checks every Candor service passes, from candor-testkit.

candor_testkit::service_startup_tests! {
    service: candor_forum,
    binary: "candor-forum",
    grpc_service: "candor.forum.v1.ForumService",
    settings: [],
    required: ["DATABASE_URL", "OPERATOR_TOKEN", "SERVICE_TOKEN"],
}
