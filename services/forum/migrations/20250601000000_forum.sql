-- Boards, authors, threads, posts and canned replies of candor-forum.

CREATE TABLE boards (
    board_id           text PRIMARY KEY CHECK (board_id ~ '^[a-z0-9-]{1,32}$'),
    name               text NOT NULL,
    description        text NOT NULL,
    staff_only_threads boolean NOT NULL,
    display_order      integer NOT NULL UNIQUE
);

INSERT INTO boards (board_id, name, description, staff_only_threads, display_order) VALUES
    ('announcements', 'Announcements', 'News and incident notices from the staff.', true, 1),
    ('talk', 'Talk', 'Everything else: questions, ideas, books.', false, 2);

-- One row per account that ever posted, with the name last seen from its
-- session. Deactivation erases the name and keeps the row, so posts stay
-- attributed to "a former member".
CREATE TABLE authors (
    account_id     uuid PRIMARY KEY,
    display_name   text,
    is_staff       boolean NOT NULL DEFAULT false,
    is_system      boolean NOT NULL DEFAULT false,
    last_posted_at timestamptz,
    deactivated_at timestamptz,
    CHECK (deactivated_at IS NULL OR display_name IS NULL)
);

-- The staff system account: incident threads and operator/service callers.
INSERT INTO authors (account_id, display_name, is_staff, is_system)
VALUES ('00000000-0000-7000-8000-000000000001', 'Candor staff', true, true);

CREATE TABLE threads (
    thread_id          uuid PRIMARY KEY,
    board_id           text NOT NULL REFERENCES boards (board_id),
    title              text NOT NULL,
    author_id          uuid NOT NULL REFERENCES authors (account_id),
    first_post_id      uuid NOT NULL,
    post_count         integer NOT NULL CHECK (post_count >= 1),
    pinned             boolean NOT NULL DEFAULT false,
    locked             boolean NOT NULL DEFAULT false,
    -- Set for an incident's announcement thread: at most one per incident.
    incident_id        text UNIQUE,
    -- SHA-256 of the BreachReported that opened it, to tell a redelivery
    -- from a conflicting publish of the same incident.
    incident_digest    bytea,
    request_id         uuid,
    created_at         timestamptz NOT NULL,
    last_activity_at   timestamptz NOT NULL,
    UNIQUE (author_id, request_id)
);

CREATE INDEX threads_listing ON threads (board_id, pinned DESC, last_activity_at DESC, thread_id DESC);

CREATE TABLE posts (
    post_id             uuid PRIMARY KEY,
    thread_id           uuid NOT NULL REFERENCES threads (thread_id),
    -- Position in the thread, 1-based; assigned under the thread's row lock,
    -- so it follows created_at and commits in order (the paging key).
    seq                 integer NOT NULL CHECK (seq >= 1),
    author_id           uuid NOT NULL REFERENCES authors (account_id),
    body                text NOT NULL,
    in_reply_to_post_id uuid REFERENCES posts (post_id),
    canned_reply_id     text,
    request_id          uuid,
    created_at          timestamptz NOT NULL,
    edited_at           timestamptz,
    deleted_at          timestamptz,
    UNIQUE (thread_id, seq),
    UNIQUE (author_id, request_id)
);

CREATE INDEX posts_recent_by_author ON posts (author_id, created_at DESC);
CREATE INDEX posts_by_thread_time ON posts (thread_id, created_at);

CREATE TABLE canned_replies (
    canned_reply_id text PRIMARY KEY CHECK (canned_reply_id ~ '^[a-z0-9-]{1,64}$'),
    title           text NOT NULL,
    body_template   text NOT NULL
);

INSERT INTO canned_replies (canned_reply_id, title, body_template) VALUES
    ('deactivate-account', 'How to delete your account',
     E'Hello {member_display_name},\n\nyou can deactivate your account yourself at {deactivation_url}. We email you a confirmation link; once you confirm, your sessions end and your email address and display name are erased. Your posts stay, shown as written by a former member.\n\nIf anything is unclear, ask here: {thread_url}'),
    ('reset-password', 'How to choose a new password',
     E'Hello {member_display_name},\n\nplease choose a new password at {password_reset_url}. We email you a link that is valid for a short time. If you used the same password elsewhere, change it there too.'),
    ('answer-follow-up', 'We will follow up',
     E'Hello {member_display_name},\n\nthank you for asking. {answer}\n\nWe will post updates in this thread: {thread_url}. More discussion lives at {forum_url}.');
