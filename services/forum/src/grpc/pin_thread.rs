//! PinThread: staff pin or unpin a thread.

use candor_proto::forum::v1::{PinThreadRequest, PinThreadResponse};
use tonic::Request;

use super::ForumApi;
use super::moderation::set_thread_flag;
use crate::errors::SetThreadFlagError;
use crate::store::threads::ThreadFlag;

#[tracing::instrument(skip_all, fields(thread_id = %request.get_ref().thread_id))]
pub(super) async fn pin_thread(
    api: &ForumApi,
    request: Request<PinThreadRequest>,
) -> Result<PinThreadResponse, SetThreadFlagError> {
    let pinned = request.get_ref().pinned;
    let thread = set_thread_flag(api, request, ThreadFlag::Pinned, pinned).await?;
    tracing::info!(pinned, "thread pin changed");
    Ok(PinThreadResponse {
        thread: Some(thread),
    })
}
