//! The service starts the way an operator runs it, and stops cleanly: the
//! checks every Candor service passes, from candor-testkit.

candor_testkit::service_startup_tests! {
    service: candor_membership,
    binary: "candor-membership",
    grpc_service: "candor.membership.v1.MembershipService",
    settings: [],
    required: ["DATABASE_URL", "OPERATOR_TOKEN", "SERVICE_TOKEN"],
}
