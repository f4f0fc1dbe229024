-- The single source of truth for the database. Applied at every node start: every statement
-- is idempotent, so applying it twice (or from two nodes at once, under the advisory lock
-- storage.db takes) changes nothing.

CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- A Telegram user who has talked to the bot. Deleting the row removes everything they own.
CREATE TABLE IF NOT EXISTS users (
    id              bigint PRIMARY KEY,              -- Telegram user id
    chat_id         bigint NOT NULL,                 -- private chat with the bot
    language        text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'ru')),
    username        text,
    show_username   boolean NOT NULL DEFAULT false,  -- reveal @username to matches
    onboarding_step text,                            -- NULL once the profile is complete
    is_paused       boolean NOT NULL DEFAULT false,  -- hidden from others by their own choice
    is_banned       boolean NOT NULL DEFAULT false,  -- hidden and refused by a moderator
    is_inactive     boolean NOT NULL DEFAULT false,  -- blocked the bot (403 from Telegram)
    is_hidden       boolean NOT NULL DEFAULT false,  -- reported by enough people, pending review
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_active_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS profiles (
    user_id       bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    name          text CHECK (char_length(name) BETWEEN 1 AND 64),
    age           smallint CHECK (age BETWEEN 18 AND 100),
    gender        text CHECK (gender IN ('m', 'f')),
    seeking       text CHECK (seeking IN ('m', 'f', 'any')),
    age_min       smallint CHECK (age_min BETWEEN 18 AND 100),
    age_max       smallint CHECK (age_max BETWEEN 18 AND 100),
    city          text CHECK (char_length(city) BETWEEN 1 AND 64),
    city_key      text,                              -- normalised city for equality matching
    latitude      double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude     double precision CHECK (longitude BETWEEN -180 AND 180),
    radius_km     integer NOT NULL DEFAULT 50 CHECK (radius_km BETWEEN 1 AND 20000),
    about         text CHECK (char_length(about) <= 1000),
    interests     text[] NOT NULL DEFAULT '{}' CHECK (cardinality(interests) <= 10),
    completed_at  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (age_min IS NULL OR age_max IS NULL OR age_min <= age_max),
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);

-- The feed reads candidates through the covering indexes further down (by place, gender and
-- rank); these first ones were never used and only slowed every profile write.
DROP INDEX IF EXISTS profiles_feed_idx;
DROP INDEX IF EXISTS profiles_city_idx;

CREATE TABLE IF NOT EXISTS photos (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position         smallint NOT NULL CHECK (position BETWEEN 0 AND 2),  -- 0 is the main photo
    object_key       text NOT NULL UNIQUE,           -- random key in the private bucket
    telegram_file_id text NOT NULL,                  -- reused whenever the photo is shown
    file_unique_id   text NOT NULL,
    content_type     text NOT NULL,
    size_bytes       integer NOT NULL CHECK (size_bytes > 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT photos_position_unique UNIQUE (user_id, position) DEFERRABLE INITIALLY IMMEDIATE,
    CONSTRAINT photos_same_file_once UNIQUE (user_id, file_unique_id)
);

-- Objects whose rows are gone but whose bytes may still sit in the bucket (a delete that died
-- halfway, or an account removal); the maintenance sweep empties it.
CREATE TABLE IF NOT EXISTS orphaned_objects (
    object_key  text PRIMARY KEY,
    queued_at   timestamptz NOT NULL DEFAULT now()
);

-- Level 1 (primary), 2 (behavioural) and 3 (combined) ratings with their components.
CREATE TABLE IF NOT EXISTS ratings (
    user_id      bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    primary_score     double precision NOT NULL DEFAULT 0,
    behaviour_score   double precision NOT NULL DEFAULT 0,
    combined_score    double precision NOT NULL DEFAULT 0,
    components   jsonb NOT NULL DEFAULT '{}',
    dirty        boolean NOT NULL DEFAULT true,      -- changed since the last sweep
    computed_at  timestamptz
);
CREATE INDEX IF NOT EXISTS ratings_dirty_idx ON ratings (user_id) WHERE dirty;
-- The feed orders by profiles.feed_score (a copy of combined_score), never by this table.
DROP INDEX IF EXISTS ratings_combined_idx;

CREATE TABLE IF NOT EXISTS sweep_runs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    node_id      text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    cursor_user  bigint,                             -- last user done, to resume a killed sweep
    processed    integer NOT NULL DEFAULT 0,
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed'))
);

CREATE TABLE IF NOT EXISTS rating_history (
    sweep_id        bigint NOT NULL REFERENCES sweep_runs (id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    primary_score   double precision NOT NULL,
    behaviour_score double precision NOT NULL,
    combined_score  double precision NOT NULL,
    components      jsonb NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sweep_id, user_id)
);
CREATE INDEX IF NOT EXISTS rating_history_user_idx ON rating_history (user_id, recorded_at);

-- Views, likes and skips: one row per pair and kind; repeating the action updates the row.
CREATE TABLE IF NOT EXISTS interactions (
    actor_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('view', 'like', 'skip')),
    message     text CHECK (char_length(message) <= 300),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, kind, target_id),
    CHECK (actor_id <> target_id)
);
CREATE INDEX IF NOT EXISTS interactions_target_idx ON interactions (target_id, kind, created_at);

-- One match per unordered pair: user_low < user_high.
CREATE TABLE IF NOT EXISTS matches (
    id                  bigserial PRIMARY KEY,
    user_low            bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_high           bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status              text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'unmatched', 'blocked')),
    conversation        text NOT NULL DEFAULT 'none'
                        CHECK (conversation IN ('none', 'started', 'replied')),
    started_by          bigint,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_activity_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT matches_pair_unique UNIQUE (user_low, user_high),
    CHECK (user_low < user_high)
);
CREATE INDEX IF NOT EXISTS matches_high_idx ON matches (user_high);

-- Metadata of each relayed chat message (never its content), once per source update.
CREATE TABLE IF NOT EXISTS chat_messages (
    match_id     bigint NOT NULL REFERENCES matches (id) ON DELETE CASCADE,
    sender_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    update_id    bigint NOT NULL,
    kind         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sender_id, update_id)
);
CREATE INDEX IF NOT EXISTS chat_messages_match_idx ON chat_messages (match_id, created_at);

CREATE TABLE IF NOT EXISTS blocks (
    blocker_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX IF NOT EXISTS blocks_blocked_idx ON blocks (blocked_id);

CREATE TABLE IF NOT EXISTS reports (
    id           bigserial PRIMARY KEY,
    reporter_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reported_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason       text NOT NULL CHECK (reason IN ('spam', 'fake', 'adult', 'offensive', 'other')),
    comment      text CHECK (char_length(comment) <= 500),
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'banned', 'dismissed')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    reviewed_by  bigint,
    reviewed_at  timestamptz,
    CONSTRAINT reports_once_per_reporter UNIQUE (reporter_id, reported_id),
    CHECK (reporter_id <> reported_id)
);
CREATE INDEX IF NOT EXISTS reports_open_idx ON reports (reported_id) WHERE status = 'open';

-- Discovery: the feed, like notices and the pass each viewer is on (docs/discovery.md).

-- Great-circle distance in km (mean Earth radius), the same formula as domain.geo.haversine_km.
-- A plain immutable SQL function, so the planner inlines it into the feed query.
CREATE OR REPLACE FUNCTION km_between(lat1 double precision, lon1 double precision,
                                      lat2 double precision, lon2 double precision)
    RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 2 * 6371.0088 * asin(sqrt(least(1.0,
        power(sin(radians(lat2 - lat1) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lon2 - lon1) / 2), 2))))
$$;

-- The feed's order key: the combined rating, copied here by a trigger, so that one index holds
-- where a profile is, its gender and its rank (an ordered keyset scan needs them together).
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS feed_score double precision NOT NULL DEFAULT 0;
-- Grid cells of shared coordinates at two sizes (storage.feed_batch.cell_of computes the same):
-- 0.25 degree cells for small radii, 2 degree cells for large ones.
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS cell_small integer GENERATED ALWAYS AS (
    floor((latitude + 90) / 0.25)::integer * 1441 + floor((longitude + 180) / 0.25)::integer
) STORED;
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS cell_large integer GENERATED ALWAYS AS (
    floor((latitude + 90) / 2)::integer * 181 + floor((longitude + 180) / 2)::integer
) STORED;

CREATE OR REPLACE FUNCTION copy_feed_score() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE profiles SET feed_score = NEW.combined_score
    WHERE user_id = NEW.user_id AND feed_score IS DISTINCT FROM NEW.combined_score;
    RETURN NULL;
END
$$;
-- Rating sweeps write thousands of rows at once and copy the scores in one statement
-- (storage/ratings.py); they set dating.bulk_ratings for their transaction to skip this.
CREATE OR REPLACE TRIGGER ratings_copy_feed_score
    AFTER INSERT OR UPDATE OF combined_score ON ratings
    FOR EACH ROW WHEN (current_setting('dating.bulk_ratings', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION copy_feed_score();

-- Whether the account may be shown at all: onboarding over, not paused, banned, inactive or
-- hidden, and a photo (storage/_rules.py USER_VISIBLE says the same, and every card is checked
-- against it). Kept on the profile by the triggers below, so that the feed's index scans leave
-- out the people who cannot be shown: never shown, so never decided on, they pile up at the top
-- of a place its viewers have browsed, and a page of them is a page read for nothing.
CREATE OR REPLACE FUNCTION account_listed(account bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM users u WHERE u.id = account AND u.onboarding_step IS NULL
                   AND NOT (u.is_paused OR u.is_banned OR u.is_inactive OR u.is_hidden)
                   AND EXISTS (SELECT 1 FROM photos ph WHERE ph.user_id = account))
$$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'profiles'
                     AND column_name = 'listed') THEN
        ALTER TABLE profiles ADD COLUMN listed boolean NOT NULL DEFAULT false;
        UPDATE profiles SET listed = account_listed(user_id);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION profile_listed_at_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.listed := account_listed(NEW.user_id);
    RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER profiles_listed
    BEFORE INSERT ON profiles FOR EACH ROW EXECUTE FUNCTION profile_listed_at_insert();

CREATE OR REPLACE FUNCTION relist(account bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE profiles SET listed = account_listed(account)
    WHERE user_id = account AND listed IS DISTINCT FROM account_listed(account)
$$;
CREATE OR REPLACE FUNCTION user_listing_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM relist(NEW.id);
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION photo_listing_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM relist(CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END);
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER users_listed
    AFTER UPDATE OF onboarding_step, is_paused, is_banned, is_inactive, is_hidden ON users
    FOR EACH ROW WHEN (
        (OLD.onboarding_step IS NULL, OLD.is_paused, OLD.is_banned, OLD.is_inactive, OLD.is_hidden)
        IS DISTINCT FROM
        (NEW.onboarding_step IS NULL, NEW.is_paused, NEW.is_banned, NEW.is_inactive, NEW.is_hidden))
    EXECUTE FUNCTION user_listing_changed();
CREATE OR REPLACE TRIGGER photos_listed
    AFTER INSERT OR DELETE ON photos FOR EACH ROW EXECUTE FUNCTION photo_listing_changed();

-- One index per kind of place: equality on the place and the gender, then the rank, so the
-- feed reads each (place, gender) in rank order from a keyset cursor and stops at LIMIT.
-- They cover every column the feed's filters read (listed, age, wishes, coordinates), so the
-- scan runs index-only and visits the heap only for candidates that pass (bench/feed.py,
-- docs/discovery.md).
DROP INDEX IF EXISTS profiles_feed_city_idx;
DROP INDEX IF EXISTS profiles_feed_cell_small_idx;
DROP INDEX IF EXISTS profiles_feed_cell_large_idx;
DROP INDEX IF EXISTS profiles_feed_by_city_idx;
DROP INDEX IF EXISTS profiles_feed_by_small_cell_idx;
DROP INDEX IF EXISTS profiles_feed_by_large_cell_idx;
CREATE INDEX IF NOT EXISTS profiles_listed_by_city_idx
    ON profiles (city_key, gender, feed_score, user_id)
    INCLUDE (listed, age, seeking, age_min, age_max)
    WHERE completed_at IS NOT NULL AND city_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS profiles_listed_by_small_cell_idx
    ON profiles (cell_small, gender, feed_score, user_id)
    INCLUDE (listed, age, seeking, age_min, age_max, latitude, longitude)
    WHERE completed_at IS NOT NULL AND cell_small IS NOT NULL;
CREATE INDEX IF NOT EXISTS profiles_listed_by_large_cell_idx
    ON profiles (cell_large, gender, feed_score, user_id)
    INCLUDE (listed, age, seeking, age_min, age_max, latitude, longitude)
    WHERE completed_at IS NOT NULL AND cell_large IS NOT NULL;

-- When a profile last became visible or changed so that it may now fit someone: finished, resumed
-- from a pause, unbanned, unhidden, active again, its first photo, or an edit of what the rules
-- read (gender, wishes, age, place). A viewer's pass reads the people of its places visible
-- since it last looked and serves them next (domain.feed_pass.admit_fresh), so nobody who
-- joins waits for the viewer's next pass. NULL: visible since before the column existed.
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS visible_since timestamptz;

CREATE OR REPLACE FUNCTION profile_visible_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.completed_at IS NOT NULL THEN
            NEW.visible_since := now();
        END IF;
    ELSIF (OLD.completed_at IS NULL AND NEW.completed_at IS NOT NULL)
        OR (NEW.completed_at IS NOT NULL
            AND (OLD.gender, OLD.seeking, OLD.age, OLD.age_min, OLD.age_max, OLD.city_key,
                 OLD.latitude, OLD.longitude)
                IS DISTINCT FROM (NEW.gender, NEW.seeking, NEW.age, NEW.age_min, NEW.age_max,
                                  NEW.city_key, NEW.latitude, NEW.longitude)) THEN
        NEW.visible_since := now();
    END IF;
    RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER profiles_visible_since
    BEFORE INSERT OR UPDATE ON profiles
    FOR EACH ROW EXECUTE FUNCTION profile_visible_since();

CREATE OR REPLACE FUNCTION user_visible_again() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE profiles SET visible_since = now() WHERE user_id = NEW.id;
    RETURN NULL;
END
$$;
-- Finishing onboarding, or any of the hiding flags cleared (coming back from being away for
-- inactivity clears is_paused with away_since, storage.accounts.Accounts.touch).
CREATE OR REPLACE TRIGGER users_visible_again
    AFTER UPDATE OF onboarding_step, is_paused, is_banned, is_inactive, is_hidden ON users
    FOR EACH ROW WHEN (
        (OLD.onboarding_step IS NOT NULL AND NEW.onboarding_step IS NULL)
        OR (OLD.is_paused AND NOT NEW.is_paused) OR (OLD.is_banned AND NOT NEW.is_banned)
        OR (OLD.is_inactive AND NOT NEW.is_inactive) OR (OLD.is_hidden AND NOT NEW.is_hidden))
    EXECUTE FUNCTION user_visible_again();

CREATE OR REPLACE FUNCTION photo_visible_again() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM photos WHERE user_id = NEW.user_id AND id <> NEW.id) THEN
        UPDATE profiles SET visible_since = now() WHERE user_id = NEW.user_id;
    END IF;
    RETURN NULL;
END
$$;
-- A first photo makes a finished profile visible.
CREATE OR REPLACE TRIGGER photos_visible_again
    AFTER INSERT ON photos FOR EACH ROW EXECUTE FUNCTION photo_visible_again();

-- The fresh read of a pass (storage.feed_batch.fresh): per place and gender, the few people
-- visible since a moment ago.
CREATE INDEX IF NOT EXISTS profiles_fresh_by_city_idx ON profiles (city_key, gender, visible_since)
    WHERE completed_at IS NOT NULL AND visible_since IS NOT NULL;
CREATE INDEX IF NOT EXISTS profiles_fresh_by_small_cell_idx
    ON profiles (cell_small, gender, visible_since)
    WHERE completed_at IS NOT NULL AND visible_since IS NOT NULL;
CREATE INDEX IF NOT EXISTS profiles_fresh_by_large_cell_idx
    ON profiles (cell_large, gender, visible_since)
    WHERE completed_at IS NOT NULL AND visible_since IS NOT NULL;

-- A viewer's own interactions by time: the daily like count, the last skip, old skips.
CREATE INDEX IF NOT EXISTS interactions_actor_time_idx ON interactions (actor_id, kind, created_at);
-- Whether the viewer decided on a candidate (liked or skipped): the feed's pages probe it for
-- each candidate they pass over, index-only, one entry per decision (storage/_rules.py UNDECIDED).
CREATE INDEX IF NOT EXISTS interactions_decided_idx ON interactions (actor_id, target_id)
    WHERE kind IN ('like', 'skip');

-- Where each viewer is in their pass over the candidates: the filters it was built for, the
-- (possibly widened) radius, the keyset cursor, and the next few candidates already chosen.
CREATE TABLE IF NOT EXISTS feed_passes (
    viewer_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    filters       text NOT NULL,
    radius_km     integer NOT NULL,
    widened       boolean NOT NULL DEFAULT false,
    widened_told  boolean NOT NULL DEFAULT false,
    after_score   double precision NOT NULL DEFAULT 'Infinity',
    after_id      bigint NOT NULL DEFAULT 9223372036854775807,
    queue         bigint[] NOT NULL DEFAULT '{}',
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz                        -- the ranked pass found nobody further
);
-- The rest of domain.feed_pass.PassState: the likers in front of the queue, the fresh read's
-- watermark and the newcomers let in within FRESH_OVERLAP of it (ids and times, pairwise).
ALTER TABLE feed_passes ADD COLUMN IF NOT EXISTS likers bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE feed_passes ADD COLUMN IF NOT EXISTS fresh_since timestamptz;
ALTER TABLE feed_passes ADD COLUMN IF NOT EXISTS admitted_ids bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE feed_passes ADD COLUMN IF NOT EXISTS admitted_at timestamptz[] NOT NULL DEFAULT '{}';

-- "Someone likes you" notices, at most one per user per LIKE_NOTICE_MINUTES.
CREATE TABLE IF NOT EXISTS like_notices (
    user_id       bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    pending       boolean NOT NULL DEFAULT false,    -- a like arrived since the last notice
    last_sent_at  timestamptz
);
CREATE INDEX IF NOT EXISTS like_notices_due_idx ON like_notices (last_sent_at) WHERE pending;

-- Rating sweeps (storage/ratings.py): one row per firing of a kind of sweep, so that when
-- every node's scheduler fires, the first to insert the (kind, slot) row runs it.
ALTER TABLE sweep_runs ADD COLUMN IF NOT EXISTS slot timestamptz;
CREATE UNIQUE INDEX IF NOT EXISTS sweep_runs_firing_idx ON sweep_runs (kind, slot);
-- An incremental sweep rates the people in interactions and matches since the last one.
CREATE INDEX IF NOT EXISTS interactions_created_idx ON interactions (created_at);
CREATE INDEX IF NOT EXISTS matches_activity_idx ON matches (last_activity_at);

-- Platform-wide figures the feed ranking needs, refreshed by every rating sweep: the mean like
-- rate received and given per gender (priors) and the mean recent impressions (popularity cap).
CREATE TABLE IF NOT EXISTS ranking_stats (
    name         text PRIMARY KEY,
    value        double precision NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now()
);

-- Safety records that outlive an account (issue 16, docs/privacy.md). Keyed by
-- domain.safety_keys.safety_key (HMAC-SHA256 of the Telegram id with a server secret), never by
-- users.id, so no cascade removes them and they name nobody by themselves: an account deleted
-- and made again with the same Telegram id gets its blocks (both ways), its ban and the open
-- reports against it back. Nothing else about the person is kept here.
CREATE TABLE IF NOT EXISTS safety_blocks (
    blocker_key  bytea NOT NULL CHECK (octet_length(blocker_key) = 32),
    blocked_key  bytea NOT NULL CHECK (octet_length(blocked_key) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_key, blocked_key),
    CHECK (blocker_key <> blocked_key)
);
CREATE INDEX IF NOT EXISTS safety_blocks_blocked_idx ON safety_blocks (blocked_key);

-- A ban lasts until a moderator lifts it (lifted_at); the reason is the report reason.
CREATE TABLE IF NOT EXISTS safety_bans (
    subject_key  bytea PRIMARY KEY CHECK (octet_length(subject_key) = 32),
    reason       text NOT NULL CHECK (reason IN ('spam', 'fake', 'adult', 'offensive', 'other')),
    banned_by    bigint,
    banned_at    timestamptz NOT NULL DEFAULT now(),
    lifted_at    timestamptz
);

-- Open reports against a person, kept while they are open (a review deletes the row): the
-- reason only, no comment and no attached messages, and the reporter's key so that the same
-- person reports once and a dismissal lowers their weight (domain.reports).
CREATE TABLE IF NOT EXISTS safety_open_reports (
    reported_key  bytea NOT NULL CHECK (octet_length(reported_key) = 32),
    reporter_key  bytea NOT NULL CHECK (octet_length(reporter_key) = 32),
    reason        text NOT NULL CHECK (reason IN ('spam', 'fake', 'adult', 'offensive', 'other')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (reported_key, reporter_key),
    CHECK (reported_key <> reporter_key)
);

-- A reporter's track record, for the weight of their next reports (domain.reports.Reporter).
CREATE TABLE IF NOT EXISTS safety_reporter_records (
    reporter_key       bytea PRIMARY KEY CHECK (octet_length(reporter_key) = 32),
    reports_upheld     integer NOT NULL DEFAULT 0 CHECK (reports_upheld >= 0),
    reports_dismissed  integer NOT NULL DEFAULT 0 CHECK (reports_dismissed >= 0)
);

-- Times of location changes, for the daily limit (domain.location_privacy); a day's worth is
-- enough, the maintenance sweep deletes older rows; deleted with the account.
CREATE TABLE IF NOT EXISTS location_changes (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, changed_at)
);

-- Each sender's first message to each match, kept a day to catch the same opener sent to many
-- people (domain.content_checks.repeated_opener; only openers long enough to count); older rows
-- go at the sender's next opener; deleted with either account.
CREATE TABLE IF NOT EXISTS chat_openers (
    sender_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text          text NOT NULL,
    sent_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sender_id, recipient_id)
);

-- The last texts each person received in each chat (storage.chats.RECENT_TEXTS, a week at
-- most), kept only so that a report can attach them (actors/session/moderation.py); deleted with
-- the match or either account.
CREATE TABLE IF NOT EXISTS recent_chat_texts (
    match_id      bigint NOT NULL REFERENCES matches (id) ON DELETE CASCADE,
    recipient_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    update_id     bigint NOT NULL,
    text          text NOT NULL,
    sent_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (match_id, recipient_id, update_id)
);

-- Texts a reporter attached to a report (copied from recent_chat_texts); deleted when the report
-- is reviewed, or with it.
CREATE TABLE IF NOT EXISTS report_messages (
    report_id  bigint NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    sent_at    timestamptz NOT NULL,
    text       text NOT NULL
);
CREATE INDEX IF NOT EXISTS report_messages_report_idx ON report_messages (report_id);

-- Perceptual hashes of stored photos (domain.images.perceptual_hash), to flag the same photo on
-- several accounts; deleted with the photo.
ALTER TABLE photos ADD COLUMN IF NOT EXISTS perceptual_hash bigint;
CREATE INDEX IF NOT EXISTS photos_perceptual_hash_idx ON photos (perceptual_hash);

-- The key of a live account's safety records (domain.safety_keys.safety_key of users.id), set at
-- registration and gone with the row: it links the safety_* tables to the accounts they concern
-- now, so a returning Telegram id gets its blocks, ban and open reports back (storage.accounts).
ALTER TABLE users ADD COLUMN IF NOT EXISTS safety_key bytea
    CHECK (octet_length(safety_key) = 32);
CREATE UNIQUE INDEX IF NOT EXISTS users_safety_key_idx ON users (safety_key);
CREATE INDEX IF NOT EXISTS safety_open_reports_reporter_idx ON safety_open_reports (reporter_key);
-- == Issue 14, part A: profile video, 💌 likes with voice or video, the verified badge ===
-- One video of up to 15 s per profile, kept like photos: bytes in the private bucket under a
-- random key, Telegram's file_id (always a video's: a video note is re-uploaded as one) reused
-- to show it. Deleted with the account (its object queued in orphaned_objects).
CREATE TABLE IF NOT EXISTS profile_videos (
    user_id          bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    object_key       text NOT NULL UNIQUE,
    telegram_file_id text NOT NULL,
    file_unique_id   text NOT NULL,
    content_type     text NOT NULL,
    size_bytes       integer NOT NULL CHECK (size_bytes > 0),
    duration_s       smallint NOT NULL CHECK (duration_s BETWEEN 0 AND 15),
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- A 💌 like's message may be a voice message or a video note instead of text (its file_id only:
-- it is passed on, never downloaded).
ALTER TABLE interactions ADD COLUMN IF NOT EXISTS message_kind text
    CHECK (message_kind IN ('voice', 'video_note'));
ALTER TABLE interactions ADD COLUMN IF NOT EXISTS message_file_id text;

-- Verification: a video note doing a gesture the bot picked, reviewed by a moderator. One row
-- per request; a new request supersedes the open one. users.verified_at is the badge.
CREATE TABLE IF NOT EXISTS verifications (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    gesture         text NOT NULL,
    video_file_id   text,                            -- NULL until the video note arrives
    status          text NOT NULL DEFAULT 'asked'
                    CHECK (status IN ('asked', 'pending', 'approved', 'refused', 'superseded')),
    refusal_reason  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    submitted_at    timestamptz,
    reviewed_by     bigint,
    reviewed_at     timestamptz
);
CREATE INDEX IF NOT EXISTS verifications_user_idx ON verifications (user_id, created_at);
CREATE INDEX IF NOT EXISTS verifications_pending_idx ON verifications (submitted_at)
    WHERE status = 'pending';
ALTER TABLE users ADD COLUMN IF NOT EXISTS verified_at timestamptz;
-- The search setting "verified people only".
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS verified_only boolean NOT NULL DEFAULT false;
-- A verification approved makes the person fit viewers who want verified people only: they
-- are newcomers to those viewers' passes (visible_since, further up).
CREATE OR REPLACE TRIGGER users_verified_visible
    AFTER UPDATE OF verified_at ON users
    FOR EACH ROW WHEN (OLD.verified_at IS NULL AND NEW.verified_at IS NOT NULL)
    EXECUTE FUNCTION user_visible_again();

-- Photos added or removed after an approval take the badge away and put the same video note
-- back in the moderators' queue, to be checked against the new photos (a trigger, so that no
-- path that changes photos can forget it).
CREATE OR REPLACE FUNCTION photos_changed_unverify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    owner bigint := coalesce(NEW.user_id, OLD.user_id);
BEGIN
    UPDATE users SET verified_at = NULL WHERE id = owner AND verified_at IS NOT NULL;
    IF FOUND THEN
        UPDATE verifications SET status = 'pending', submitted_at = now(), reviewed_by = NULL,
                                 reviewed_at = NULL
        WHERE user_id = owner AND status = 'approved';
    END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER photos_unverify
    AFTER INSERT OR DELETE ON photos
    FOR EACH ROW EXECUTE FUNCTION photos_changed_unverify();
-- == end of issue 14, part A ====================================================================
-- Issue 14, items 4–7: recent activity, invitations, contact exchange, Telegram touches. -----

-- Paused for inactivity (domain.activity): the maintenance sweep sets it with is_paused, so the
-- feed's rules need nothing new; the person's next update clears both. A pause the person chose
-- leaves it NULL, so coming back never undoes that. away_noticed_at: the last "people liked you
-- while you were away" message (at most one a week).
ALTER TABLE users ADD COLUMN IF NOT EXISTS away_since timestamptz;
ALTER TABLE users ADD COLUMN IF NOT EXISTS away_noticed_at timestamptz;
CREATE INDEX IF NOT EXISTS users_awaiting_pause_idx ON users (last_active_at)
    WHERE NOT is_paused AND onboarding_step IS NULL;
-- Photos and videos relayed from this person are sent with protect_content.
ALTER TABLE users ADD COLUMN IF NOT EXISTS protect_media boolean NOT NULL DEFAULT false;

-- Each person's invitation code (the deep link's ref_<code>), made on the first /invite.
CREATE TABLE IF NOT EXISTS invite_codes (
    user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Who came through whose link (once per new account); it counts for the inviter only from
-- completed_at, when the invitee finished a profile (set with onboarding's last step).
CREATE TABLE IF NOT EXISTS invitations (
    invitee_id    bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    inviter_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at     timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    CHECK (invitee_id <> inviter_id)
);
CREATE INDEX IF NOT EXISTS invitations_inviter_idx ON invitations (inviter_id, completed_at);
-- When the invitation began to earn the inviter the ranking's invitation boost
-- (domain.ranking.invitation_boost): set with completed_at unless the inviter already had
-- INVITATIONS_PER_PERIOD counted within INVITATION_PERIOD_DAYS, when it stays NULL for good.
ALTER TABLE invitations ADD COLUMN IF NOT EXISTS counted_at timestamptz;
-- The incremental rating sweep finds inviters whose boost is running by it.
CREATE INDEX IF NOT EXISTS invitations_counted_idx ON invitations (counted_at)
    WHERE counted_at IS NOT NULL;

-- Consent to exchange Telegram contacts within a match: one row per side that agreed; the
-- exchange happens when both rows exist (storage.contacts).
CREATE TABLE IF NOT EXISTS contact_consents (
    match_id    bigint NOT NULL REFERENCES matches (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (match_id, user_id)
);

-- The per-user fence (storage.fence): an update handled, committed in the same transaction as
-- its effects, with the replies it rendered and the sends to other users still to make. A
-- redelivered update that finds its row does nothing again. Kept 26 h (Telegram keeps
-- updates 24 h), purged by the maintenance job; user_id is NULL for an account's deletion.
CREATE TABLE IF NOT EXISTS handled_updates (
    work        text PRIMARY KEY,
    user_id     bigint,
    replies     jsonb NOT NULL,
    deliveries  jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS handled_updates_created_idx ON handled_updates (created_at);
CREATE INDEX IF NOT EXISTS handled_updates_user_idx ON handled_updates (user_id);
