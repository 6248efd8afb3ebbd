//! The forum's gRPC routes: the generated `ForumServiceServer`, except that
//! ListPosts is answered with pages that are already encoded.
//!
//! The page cache keeps each page as the bytes of its `ListPostsResponse`.
//! The generated server would want a message, which costs cloning every post
//! out of the cache and encoding it again on each read (profiled at about a
//! third of the server's CPU per call on a 50-post page). Here the one
//! method goes through [`EncodedPageCodec`], which writes those bytes as they
//! are; every other method goes to the generated server. On the wire nothing
//! changes: the body is the same `ListPostsResponse`.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use candor_proto::forum::v1::ListPostsRequest;
use candor_proto::forum::v1::forum_service_server::ForumServiceServer;
use prost::Message as _;
use prost::bytes::{BufMut as _, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::{NamedService, UnaryService};
use tonic::{Code, Request, Response, Status};

use candor_platform::grpc::{Reason, respond, status_with_reason};

use super::{ForumApi, list_posts};

/// The method this module serves itself.
const LIST_POSTS_PATH: &str = "/candor.forum.v1.ForumService/ListPosts";

/// What `GrpcServer::add_service` is given for the forum API.
#[derive(Clone)]
pub struct ForumRoutes {
    api: Arc<ForumApi>,
    generated: ForumServiceServer<ForumApi>,
    max_message_bytes: usize,
}

impl ForumRoutes {
    /// Routes that decode and send messages of at most `max_message_bytes`
    /// (`GRPC_MAX_MESSAGE_BYTES`).
    pub fn new(api: ForumApi, max_message_bytes: usize) -> Self {
        let api = Arc::new(api);
        Self {
            generated: ForumServiceServer::from_arc(api.clone())
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
            api,
            max_message_bytes,
        }
    }
}

impl NamedService for ForumRoutes {
    const NAME: &'static str = <ForumServiceServer<ForumApi> as NamedService>::NAME;
}

impl Service<http::Request<tonic::body::Body>> for ForumRoutes {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if request.uri().path() != LIST_POSTS_PATH {
            return self.generated.call(request);
        }
        let method = ListPostsMethod(self.api.clone());
        let max_message_bytes = self.max_message_bytes;
        Box::pin(async move {
            // As the generated server: no compression, the configured sizes.
            let mut grpc = tonic::server::Grpc::new(EncodedPageCodec)
                .apply_max_message_size_config(Some(max_message_bytes), Some(max_message_bytes));
            Ok(grpc.unary(method, request).await)
        })
    }
}

struct ListPostsMethod(Arc<ForumApi>);

impl UnaryService<ListPostsRequest> for ListPostsMethod {
    type Response = Bytes;
    type Future = BoxFuture<Response<Bytes>, Status>;

    fn call(&mut self, request: Request<ListPostsRequest>) -> Self::Future {
        let api = self.0.clone();
        Box::pin(async move { respond(list_posts::list_posts(&api, request.into_inner()).await) })
    }
}

/// Decodes a `ListPostsRequest` with prost; encodes a response that is
/// already an encoded `ListPostsResponse` by copying it into the frame.
struct EncodedPageCodec;

impl Codec for EncodedPageCodec {
    type Encode = Bytes;
    type Decode = ListPostsRequest;
    type Encoder = EncodedPageCodec;
    type Decoder = EncodedPageCodec;

    fn encoder(&mut self) -> Self::Encoder {
        EncodedPageCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        EncodedPageCodec
    }
}

impl Encoder for EncodedPageCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for EncodedPageCodec {
    type Item = ListPostsRequest;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<ListPostsRequest>, Status> {
        // What the generated server answers to a malformed message:
        // tonic-prost's INTERNAL with the decode error, given its reason as
        // the platform gives it to every status sent without one
        // (`fill_in_error_details`).
        ListPostsRequest::decode(src).map(Some).map_err(|error| {
            status_with_reason(Code::Internal, error.to_string(), Reason::INTERNAL_ERROR)
        })
    }
}
