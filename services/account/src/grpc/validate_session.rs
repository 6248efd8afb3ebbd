//! ValidateSession: the member behind a session token, for the services
//! that take member sessions (their `SessionResolver`).

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::account::v1::{ValidateSessionRequest, ValidateSessionResponse};
use tonic::Request;

use super::Shared;
use crate::convert;
use crate::domain::tokens;
use crate::domain::validation::TOKEN;
use crate::errors::ValidateSessionError;
use crate::store::sessions;

#[tracing::instrument(skip_all)]
pub async fn validate_session(
    shared: &Shared,
    request: Request<ValidateSessionRequest>,
) -> Result<ValidateSessionResponse, ValidateSessionError> {
    let token = request.into_inner().session_token;
    TOKEN
        .check_verbatim(&token)
        .map_err(|reason| InvalidField::new("session_token", reason))?;
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
    let session = sessions::find_live(&mut conn, &tokens::hash(&token))
        .await
        .context("looking up the session")?
        .ok_or(ValidateSessionError::UnknownSession)?;
    Ok(ValidateSessionResponse {
        account_id: session.account_id.to_string(),
        display_name: session.display_name,
        roles: convert::roles(&session.roles),
        expires_at: Some(convert::timestamp(session.expires_at)),
    })
}
