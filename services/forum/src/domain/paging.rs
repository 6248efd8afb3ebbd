//! Opaque page tokens: the keyset position of the last entry returned, tied
//! to the board or thread it was issued for. Hex of a small text record, so
//! they are URL-safe and need no extra dependency; they carry nothing secret.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::store::threads::ThreadCursor;

const THREADS_PREFIX: &str = "threads1";
const POSTS_PREFIX: &str = "posts1";

/// Why a page token was refused (INVALID_ARGUMENT on `page_token`).
#[derive(Debug, thiserror::Error)]
#[error("page_token: not a token issued for this listing")]
pub struct BadPageToken;

pub fn encode_threads(board_id: &str, cursor: &ThreadCursor) -> String {
    encode(&format!(
        "{THREADS_PREFIX}|{board_id}|{}|{}|{}|{}",
        cursor.as_of.timestamp_micros(),
        u8::from(cursor.pinned),
        cursor.activity.timestamp_micros(),
        cursor.thread_id
    ))
}

pub fn decode_threads(board_id: &str, token: &str) -> Result<ThreadCursor, BadPageToken> {
    let text = decode(token)?;
    let fields: Vec<&str> = text.split('|').collect();
    let [prefix, board, as_of, pinned, activity, thread_id] = fields.as_slice() else {
        return Err(BadPageToken);
    };
    if *prefix != THREADS_PREFIX || *board != board_id {
        return Err(BadPageToken);
    }
    Ok(ThreadCursor {
        as_of: micros(as_of)?,
        pinned: match *pinned {
            "0" => false,
            "1" => true,
            _ => return Err(BadPageToken),
        },
        activity: micros(activity)?,
        thread_id: Uuid::parse_str(thread_id).map_err(|_| BadPageToken)?,
    })
}

pub fn encode_posts(thread_id: Uuid, after_seq: i32) -> String {
    encode(&format!("{POSTS_PREFIX}|{thread_id}|{after_seq}"))
}

/// The position after which the next page starts.
pub fn decode_posts(thread_id: Uuid, token: &str) -> Result<i32, BadPageToken> {
    let text = decode(token)?;
    let fields: Vec<&str> = text.split('|').collect();
    let [prefix, thread, seq] = fields.as_slice() else {
        return Err(BadPageToken);
    };
    if *prefix != POSTS_PREFIX || Uuid::parse_str(thread).ok() != Some(thread_id) {
        return Err(BadPageToken);
    }
    let seq: i32 = seq.parse().map_err(|_| BadPageToken)?;
    if seq < 0 {
        return Err(BadPageToken);
    }
    Ok(seq)
}

fn micros(text: &str) -> Result<DateTime<Utc>, BadPageToken> {
    let value: i64 = text.parse().map_err(|_| BadPageToken)?;
    DateTime::from_timestamp_micros(value).ok_or(BadPageToken)
}

fn encode(text: &str) -> String {
    text.bytes().map(|byte| format!("{byte:02x}")).collect()
}

fn decode(token: &str) -> Result<String, BadPageToken> {
    if !token.len().is_multiple_of(2) || token.len() > 512 {
        return Err(BadPageToken);
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|index| {
            token
                .get(index..index + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or(BadPageToken)
        })
        .collect::<Result<Vec<u8>, _>>()?;
    String::from_utf8(bytes).map_err(|_| BadPageToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_tokens_round_trip_and_are_bound_to_their_board() {
        let cursor = ThreadCursor {
            as_of: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            pinned: true,
            activity: DateTime::from_timestamp_micros(1_600_000_000_000_001).unwrap(),
            thread_id: Uuid::now_v7(),
        };
        let token = encode_threads("talk", &cursor);
        assert_eq!(decode_threads("talk", &token).unwrap(), cursor);
        assert!(decode_threads("announcements", &token).is_err());
        assert!(decode_threads("talk", "zz").is_err());
    }

    #[test]
    fn post_tokens_are_bound_to_their_thread() {
        let thread = Uuid::now_v7();
        let token = encode_posts(thread, 42);
        assert_eq!(decode_posts(thread, &token).unwrap(), 42);
        assert!(decode_posts(Uuid::now_v7(), &token).is_err());
        assert!(
            decode_posts(
                thread,
                &encode_threads(
                    "talk",
                    &ThreadCursor {
                        as_of: DateTime::from_timestamp_micros(0).unwrap(),
                        pinned: false,
                        activity: DateTime::from_timestamp_micros(0).unwrap(),
                        thread_id: thread,
                    }
                )
            )
            .is_err()
        );
    }
}
