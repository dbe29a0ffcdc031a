-- subject_keys holds the data subjects' keys that exist, wrapped under the
-- master key (never in clear): one per tenant and subject. newest is at
-- least the timestamp of every event sealed under the key, rounded up to
-- the store's resolution.
CREATE TABLE subject_keys (
    kid        text        PRIMARY KEY,
    tenant     text        NOT NULL,
    subject    text        NOT NULL,
    wrapped    bytea       NOT NULL,
    newest     timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, subject)
);
CREATE INDEX subject_keys_newest ON subject_keys (newest);

-- subject_keys_erased is what is kept of a destroyed key: whose it was,
-- why and when it was destroyed, not the key. pending is true until the
-- erasure's event is in the log.
CREATE TABLE subject_keys_erased (
    kid          text        PRIMARY KEY,
    tenant       text        NOT NULL,
    subject      text        NOT NULL,
    reason       text        NOT NULL,
    requested_by text        NOT NULL,
    erased_at    timestamptz NOT NULL DEFAULT now(),
    pending      boolean     NOT NULL DEFAULT true
);
CREATE INDEX subject_keys_erased_subject ON subject_keys_erased (tenant, subject, erased_at);
CREATE INDEX subject_keys_erased_pending ON subject_keys_erased (erased_at) WHERE pending;
