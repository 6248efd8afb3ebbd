//! LockThread: staff lock or unlock a thread (members can no longer reply
//! or edit in a locked thread).

use candor_proto::forum::v1::{LockThreadRequest, LockThreadResponse};
use tonic::Request;

use super::ForumApi;
use super::moderation::set_thread_flag;
use crate::errors::SetThreadFlagError;
use crate::store::threads::ThreadFlag;

#[tracing::instrument(skip_all, fields(thread_id = %request.get_ref().thread_id))]
pub(super) async fn lock_thread(
    api: &ForumApi,
    request: Request<LockThreadRequest>,
) -> Result<LockThreadResponse, SetThreadFlagError> {
    let locked = request.get_ref().locked;
    let thread = set_thread_flag(api, request, ThreadFlag::Locked, locked).await?;
    tracing::info!(locked, "thread lock changed");
    Ok(LockThreadResponse {
        thread: Some(thread),
    })
}
