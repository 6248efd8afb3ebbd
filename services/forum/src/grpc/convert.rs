//! Stored rows as contract messages.

use candor_platform::links::PublicLinks;
use candor_proto::forum::v1::{Author, AuthorKind, Board, CannedReply, Post, Thread};

use crate::domain::canned;
use crate::store::AuthorView;
use crate::store::boards::BoardRow;
use crate::store::canned::CannedReplyRow;
use crate::store::{PostRow, ThreadRow};

pub use candor_platform::time::timestamp;

pub fn author(view: &AuthorView) -> Author {
    let kind = if view.deactivated {
        AuthorKind::FormerMember
    } else if view.is_system {
        AuthorKind::System
    } else if view.is_staff {
        AuthorKind::Staff
    } else {
        AuthorKind::Member
    };
    let display_name = if view.deactivated {
        String::new()
    } else {
        view.display_name.clone().unwrap_or_default()
    };
    Author {
        account_id: view.account_id.to_string(),
        display_name,
        kind: kind as i32,
    }
}

pub fn thread(row: &ThreadRow, links: &PublicLinks) -> Thread {
    Thread {
        thread_id: row.thread_id.to_string(),
        board_id: row.board_id.clone(),
        title: row.title.clone(),
        author: Some(author(&row.author())),
        first_post_id: row.first_post_id.to_string(),
        post_count: u32::try_from(row.post_count).unwrap_or(0),
        pinned: row.pinned,
        locked: row.locked,
        incident_id: row.incident_id.clone().unwrap_or_default(),
        url: links.forum_thread(row.thread_id),
        created_at: Some(timestamp(row.created_at)),
        last_activity_at: Some(timestamp(row.last_activity_at)),
    }
}

pub fn post(row: &PostRow) -> Post {
    let deleted = row.deleted_at.is_some();
    Post {
        post_id: row.post_id.to_string(),
        thread_id: row.thread_id.to_string(),
        author: Some(author(&row.author())),
        body: if deleted {
            String::new()
        } else {
            row.body.clone()
        },
        in_reply_to_post_id: row
            .in_reply_to_post_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        canned_reply_id: row.canned_reply_id.clone().unwrap_or_default(),
        deleted,
        created_at: Some(timestamp(row.created_at)),
        edited_at: row.edited_at.map(timestamp),
        deleted_at: row.deleted_at.map(timestamp),
    }
}

pub fn board(row: BoardRow) -> Board {
    Board {
        board_id: row.board_id,
        name: row.name,
        description: row.description,
        staff_only_threads: row.staff_only_threads,
    }
}

pub fn canned_reply(row: CannedReplyRow) -> CannedReply {
    let required_variables = canned::required_variables(&row.body_template);
    CannedReply {
        canned_reply_id: row.canned_reply_id,
        title: row.title,
        body_template: row.body_template,
        required_variables,
    }
}
