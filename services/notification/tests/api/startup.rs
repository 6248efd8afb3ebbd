//! The service starts the way an operator runs it, and stops cleanly: the
//! checks every Candor service passes, from candor-testkit.

candor_testkit::service_startup_tests! {
    service: candor_notification,
    binary: "candor-notification",
    grpc_service: "candor.notification.v1.NotificationService",
    settings: [("ORGANISATION_NAME", "Candor Books")],
    required: ["DATABASE_URL", "OPERATOR_TOKEN", "SERVICE_TOKEN", "ORGANISATION_NAME"],
}
