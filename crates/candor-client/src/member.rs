//! Calls made for a member: a front end forwards the member's session in
//! `authorization`, and its own credential moves to
//! `x-caller-authorization`, so the service knows both who asks (the front
//! end, for throttles and trusted `x-forwarded-for`) and for whom.

/// Marks a request as carrying a member's session; the connection then
/// sends its own token in `x-caller-authorization`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemberSession;

/// Makes `request` a call for the member whose session (or
/// password-change) token is `session_token`: the token goes in
/// `authorization`, the connection's own token in
/// `x-caller-authorization`. INVALID_ARGUMENT, and `request` unchanged,
/// when the token cannot be sent as metadata.
pub fn as_member<T>(
    request: &mut tonic::Request<T>,
    session_token: &str,
) -> Result<(), tonic::Status> {
    let value = tonic::metadata::MetadataValue::try_from(format!("Bearer {session_token}"))
        .map_err(|_| tonic::Status::invalid_argument("a session token must be visible ASCII"))?;
    request.metadata_mut().insert("authorization", value);
    request.extensions_mut().insert(MemberSession);
    Ok(())
}
