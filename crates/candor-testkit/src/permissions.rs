//! Checks a running service against the permission table: for every RPC of
//! the service in `candor_platform::auth::permissions`, every caller not in
//! its row is refused with PERMISSION_DENIED naming the caller and the RPC,
//! an unknown credential with UNAUTHENTICATED, and the callers in the row
//! are let through (to whatever the handler answers an empty request).
//!
//! Requests are sent as raw bytes (an empty message, valid for every
//! request type), so one check covers every RPC without typed clients.

use anyhow::Context as _;
use candor_platform::auth::Caller;
use candor_platform::auth::permissions::{PERMISSIONS, Permission};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::environment::caller_token;

/// Sends and receives message bodies as they are.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        use tokio_util::bytes::BufMut as _;
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        use tokio_util::bytes::Buf as _;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

/// Credentials for one probe call.
#[derive(Debug, Clone, Copy)]
enum Presented {
    Bearer(&'static str),
    ForwardedBy(&'static str),
    Nothing,
}

const UNKNOWN_TOKEN: &str = "not-a-credential-of-any-caller-0123";

/// The status of an empty call to `permission`'s RPC with `presented`.
async fn call(
    channel: &Channel,
    permission: &Permission,
    presented: Presented,
) -> anyhow::Result<Code> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.context("the channel is not ready")?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(permission.method);
    let mut metadata = tonic::metadata::MetadataMap::new();
    match presented {
        Presented::Bearer(token) => {
            metadata.insert("authorization", format!("Bearer {token}").parse()?);
        }
        Presented::ForwardedBy(token) => {
            metadata.insert("authorization", format!("Bearer {UNKNOWN_TOKEN}").parse()?);
            metadata.insert("x-caller-authorization", format!("Bearer {token}").parse()?);
        }
        Presented::Nothing => {}
    }
    let result = if permission.client_streaming {
        let mut request = tonic::Request::new(tokio_stream::iter(Vec::<Vec<u8>>::new()));
        *request.metadata_mut() = metadata;
        grpc.client_streaming(request, path, RawCodec)
            .await
            .map(|_| ())
    } else {
        let mut request = tonic::Request::new(Vec::new());
        *request.metadata_mut() = metadata;
        grpc.unary(request, path, RawCodec).await.map(|_| ())
    };
    Ok(match result {
        Ok(()) => Code::Ok,
        Err(status) => {
            if status.code() == Code::PermissionDenied
                && !status.message().contains(permission.method)
                && !status.message().contains("staff")
            {
                anyhow::bail!(
                    "{}: PERMISSION_DENIED without naming the RPC: {status:?}",
                    permission.method
                );
            }
            status.code()
        }
    })
}

/// Checks every RPC of `service` (`candor.forum.v1.ForumService`) served on
/// `channel`, by a service started with the test kit's caller tokens.
/// Returns how many RPCs were checked.
pub async fn check_every_rpc(channel: Channel, service: &str) -> anyhow::Result<usize> {
    let rows: Vec<&Permission> = PERMISSIONS
        .iter()
        .filter(|permission| permission.service() == service)
        .collect();
    anyhow::ensure!(
        !rows.is_empty(),
        "the permission table has no RPC of {service}"
    );
    for permission in &rows {
        let method = permission.method;
        for caller in permission.refused_callers() {
            let code = call(
                &channel,
                permission,
                Presented::Bearer(caller_token(caller)),
            )
            .await?;
            anyhow::ensure!(
                code == Code::PermissionDenied,
                "{method}: the {caller} caller got {code:?}, not PERMISSION_DENIED"
            );
        }
        let code = call(&channel, permission, Presented::ForwardedBy(UNKNOWN_TOKEN)).await?;
        anyhow::ensure!(
            code == Code::Unauthenticated,
            "{method}: an unknown x-caller-authorization got {code:?}, not UNAUTHENTICATED"
        );
        if !permission.public && permission.session.is_none() {
            for presented in [Presented::Bearer(UNKNOWN_TOKEN), Presented::Nothing] {
                let code = call(&channel, permission, presented).await?;
                anyhow::ensure!(
                    code == Code::Unauthenticated,
                    "{method}: {presented:?} got {code:?}, not UNAUTHENTICATED"
                );
            }
        }
        if !permission.public {
            for caller in permission.callers.iter().copied() {
                let code = call(
                    &channel,
                    permission,
                    Presented::Bearer(caller_token(caller)),
                )
                .await?;
                anyhow::ensure!(
                    !matches!(code, Code::PermissionDenied | Code::Unauthenticated),
                    "{method}: the {caller} caller, in its row, got {code:?}"
                );
            }
        }
        if permission.session.is_some() {
            // A front end forwarding a member's session reaches the handler
            // (which then finds the session unknown).
            let code = call(
                &channel,
                permission,
                Presented::ForwardedBy(caller_token(Caller::FrontEnd)),
            )
            .await?;
            anyhow::ensure!(
                code != Code::PermissionDenied,
                "{method}: a forwarded member call got PERMISSION_DENIED"
            );
        }
    }
    Ok(rows.len())
}
