-- FIT-bot schema, version 1. Portable SQL for SQLite and PostgreSQL:
--   {{id}}  becomes the dialect's auto-increment primary key;
--   times are ISO 8601 UTC text (fixed width, so they sort), booleans are 0/1 integers,
--   scores are integer tenths of a point (7,5 is 75), Telegram ids are BIGINT.

CREATE TABLE caseworkers (
    id {{id}},
    name TEXT NOT NULL,
    team TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL CHECK (role IN ('caseworker', 'leader')),
    telegram_user_id BIGINT UNIQUE,
    language TEXT NOT NULL DEFAULT 'da',
    created_at TEXT NOT NULL,
    linked_at TEXT,
    disabled_at TEXT
);

-- The chat where a caseworker (or a leader) receives summaries, alerts and digests.
CREATE TABLE channels (
    id {{id}},
    caseworker_id BIGINT NOT NULL REFERENCES caseworkers (id),
    chat_id BIGINT NOT NULL,
    chat_type TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    linked_at TEXT NOT NULL,
    unlinked_at TEXT
);
CREATE UNIQUE INDEX channels_one_active ON channels (caseworker_id) WHERE unlinked_at IS NULL;
CREATE INDEX channels_chat ON channels (chat_id);

CREATE TABLE cases (
    id {{id}},
    caseworker_id BIGINT NOT NULL REFERENCES caseworkers (id),
    label TEXT NOT NULL,
    -- casefolded label: "a12" and "A12" are one case (folded in Python, since SQL LOWER() differs by backend)
    label_key TEXT NOT NULL,
    age_band TEXT NOT NULL CHECK (age_band IN ('6-12', '13-17', 'adult')),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE UNIQUE INDEX cases_label ON cases (caseworker_id, label_key);
CREATE INDEX cases_open ON cases (caseworker_id, status);

-- A person who answers for a case: a parent/caregiver, a young person (13-17) or a child (6-12).
CREATE TABLE respondents (
    id {{id}},
    case_id BIGINT NOT NULL REFERENCES cases (id),
    role TEXT NOT NULL CHECK (role IN ('parent', 'youth', 'child')),
    telegram_user_id BIGINT,
    language TEXT NOT NULL DEFAULT 'da',
    status TEXT NOT NULL DEFAULT 'invited'
        CHECK (status IN ('invited', 'consenting', 'active', 'declined', 'withdrawn')),
    created_at TEXT NOT NULL,
    joined_at TEXT,
    withdrawn_at TEXT,
    unreachable_since TEXT
);
CREATE INDEX respondents_case ON respondents (case_id);
CREATE INDEX respondents_user ON respondents (telegram_user_id);

-- Deep-link tokens, stored only as SHA-256 hashes. purpose 'respondent' binds to a respondent,
-- 'caseworker' to a caseworker's enrolment.
CREATE TABLE invitations (
    id {{id}},
    token_hash TEXT NOT NULL UNIQUE,
    purpose TEXT NOT NULL CHECK (purpose IN ('respondent', 'caseworker')),
    respondent_id BIGINT REFERENCES respondents (id),
    caseworker_id BIGINT REFERENCES caseworkers (id),
    created_by BIGINT REFERENCES caseworkers (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT
);

-- Bad /start tokens per Telegram user, for throttling guessing.
CREATE TABLE token_failures (
    telegram_user_id BIGINT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX token_failures_user ON token_failures (telegram_user_id, at);

CREATE TABLE consents (
    id {{id}},
    respondent_id BIGINT NOT NULL REFERENCES respondents (id),
    given INTEGER NOT NULL,
    text_version TEXT NOT NULL,
    language TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX consents_respondent ON consents (respondent_id);

CREATE TABLE meetings (
    id {{id}},
    case_id BIGINT NOT NULL REFERENCES cases (id),
    held_at TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES caseworkers (id),
    created_at TEXT NOT NULL
);
CREATE INDEX meetings_case ON meetings (case_id, held_at);

-- One questionnaire per meeting and respondent, by construction.
CREATE TABLE questionnaires (
    id {{id}},
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    respondent_id BIGINT NOT NULL REFERENCES respondents (id),
    ors_instrument TEXT NOT NULL,
    srs_instrument TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'scheduled'
        CHECK (status IN ('scheduled', 'sent', 'in_progress', 'completed', 'declined', 'expired', 'cancelled')),
    position INTEGER NOT NULL DEFAULT 0,
    chat_id BIGINT,
    message_id BIGINT,
    created_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    sent_at TEXT,
    reminded_at TEXT,
    completed_at TEXT,
    expires_at TEXT,
    UNIQUE (meeting_id, respondent_id)
);
CREATE INDEX questionnaires_respondent ON questionnaires (respondent_id, status);

-- position 0-3 are the ORS items, 4-7 the SRS items; value NULL means skipped.
CREATE TABLE answers (
    questionnaire_id BIGINT NOT NULL REFERENCES questionnaires (id),
    position INTEGER NOT NULL,
    value INTEGER CHECK (value IS NULL OR value BETWEEN 0 AND 100),
    answered_at TEXT NOT NULL,
    PRIMARY KEY (questionnaire_id, position)
);

CREATE TABLE alerts (
    id {{id}},
    case_id BIGINT NOT NULL REFERENCES cases (id),
    respondent_id BIGINT REFERENCES respondents (id),
    questionnaire_id BIGINT REFERENCES questionnaires (id),
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by BIGINT REFERENCES caseworkers (id)
);
CREATE INDEX alerts_case ON alerts (case_id, acknowledged_at);

-- The outbox: every send the bot initiates, and every timed action, is a row with its due time.
-- dedupe_key makes "the prompt for this questionnaire" or "Monday's digest for caseworker 7" unique.
CREATE TABLE outbox (
    id {{id}},
    kind TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    chat_id BIGINT,
    priority INTEGER NOT NULL DEFAULT 5,
    payload TEXT NOT NULL DEFAULT '{}',
    due_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'done', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    done_at TEXT,
    outcome TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, due_at);

-- Updates already applied, so an update delivered twice changes nothing the second time.
CREATE TABLE processed_updates (
    update_id BIGINT PRIMARY KEY,
    at TEXT NOT NULL
);

-- Who read or changed what, and when. Never answers or names: ids and a short action.
CREATE TABLE audit_events (
    id {{id}},
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    case_id BIGINT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_case ON audit_events (case_id, at);

-- Small facts the operator needs (last contact with the Bot API, ...).
CREATE TABLE health (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
