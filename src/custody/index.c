/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metadata index in SQLite.
 *
 * One writer connection, used under a mutex, does every write; readers come
 * from a pool of connections, each used by one thread at a time, so reads
 * never wait for each other or for the mutex. Every connection prepares its
 * statements once, on first use. SQLite runs in multi-thread mode per
 * connection (SQLITE_OPEN_NOMUTEX): our own locking keeps a connection to
 * one thread.
 *
 * Migrations are a list of SQL steps; step i takes the schema from version
 * i to i + 1 (PRAGMA user_version). They run in one IMMEDIATE transaction
 * that rereads the version first, so two processes opening a fresh file at
 * once migrate it once.
 */
#include "vitrine/index.h"
#include "vitrine/buf.h"
#include "vitrine/clock.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Static_assert(VT_INDEX_JURISDICTION_MAX == VT_JURISDICTION_MAX, "jurisdiction sizes");
_Static_assert(VT_TOKEN_REGION_MAX == VT_REGION_MAX, "region sizes");

#define APPLICATION_ID	0x56545249 /* "VTRI" */
#define BUSY_TIMEOUT_MS 10000

static const char *const migrations[] = {
    /* 0 -> 1: the tables of issue 3. */
    "CREATE TABLE tokens ("
    " id INTEGER PRIMARY KEY,"
    " hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
    " role TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " tenant TEXT,"
    " region TEXT,"
    " created INTEGER NOT NULL,"
    " revoked INTEGER,"
    " CHECK ((role = 'submitter') = (tenant IS NOT NULL AND region IS NOT NULL)"
    "  OR revoked IS NOT NULL),"
    " CHECK ((tenant IS NULL) = (region IS NULL)));"
    "CREATE UNIQUE INDEX tokens_valid_name ON tokens(name) WHERE revoked IS NULL;"
    "CREATE TABLE samples ("
    " sha256 BLOB PRIMARY KEY CHECK (length(sha256) = 32),"
    " sha1 BLOB NOT NULL CHECK (length(sha1) = 20),"
    " md5 BLOB NOT NULL CHECK (length(md5) = 16),"
    " size INTEGER NOT NULL CHECK (size >= 0),"
    " first_seen INTEGER NOT NULL,"
    " jurisdiction TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX samples_sha1 ON samples(sha1);"
    "CREATE INDEX samples_md5 ON samples(md5);"
    "CREATE TABLE sightings ("
    " id INTEGER PRIMARY KEY,"
    " sample BLOB NOT NULL REFERENCES samples(sha256),"
    " tenant TEXT NOT NULL,"
    " region TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " time INTEGER NOT NULL,"
    " log_index INTEGER);"
    "CREATE INDEX sightings_sample ON sightings(sample, tenant);"
    "CREATE INDEX sightings_tenant ON sightings(tenant);"
    "CREATE TABLE tags ("
    " sample BLOB NOT NULL REFERENCES samples(sha256),"
    " tag TEXT NOT NULL,"
    " PRIMARY KEY (sample, tag)) WITHOUT ROWID;"
    "CREATE INDEX tags_tag ON tags(tag);"
    "CREATE TABLE access_requests ("
    " id INTEGER PRIMARY KEY,"
    " token INTEGER REFERENCES tokens(id),"
    " role TEXT NOT NULL,"
    " resource TEXT NOT NULL,"
    " reason TEXT NOT NULL,"
    " ticket TEXT NOT NULL,"
    " result TEXT NOT NULL,"
    " time INTEGER NOT NULL,"
    " log_index INTEGER);"
    "CREATE INDEX access_requests_token ON access_requests(token);",
    /* 1 -> 2: analyses of issue 4. The queue of new work is a table fed
     * by a trigger in the transaction that records a sample, so a sample
     * stored before a crash is analysed after it. */
    "CREATE TABLE analyses ("
    " sample BLOB PRIMARY KEY REFERENCES samples(sha256),"
    " ruleset TEXT NOT NULL,"
    " verdict TEXT NOT NULL CHECK (verdict IN ('clean', 'unknown', 'suspicious', 'malicious')),"
    " type TEXT, mime TEXT, ssdeep TEXT, tlsh TEXT,"
    " entropy REAL NOT NULL,"
    " report TEXT NOT NULL,"
    " analysed INTEGER NOT NULL,"
    " log_index INTEGER) WITHOUT ROWID;"
    "CREATE INDEX analyses_ruleset ON analyses(ruleset);"
    "CREATE INDEX analyses_verdict ON analyses(verdict);"
    "CREATE TABLE matches ("
    " sample BLOB NOT NULL REFERENCES samples(sha256),"
    " ns TEXT NOT NULL,"
    " rule TEXT NOT NULL,"
    " PRIMARY KEY (sample, ns, rule)) WITHOUT ROWID;"
    "CREATE INDEX matches_rule ON matches(rule, ns);"
    "CREATE TABLE children ("
    " parent BLOB NOT NULL REFERENCES samples(sha256),"
    " path TEXT NOT NULL,"
    " child BLOB NOT NULL CHECK (length(child) = 32),"
    " PRIMARY KEY (parent, path)) WITHOUT ROWID;"
    "CREATE INDEX children_child ON children(child);"
    "CREATE TABLE analysis_queue ("
    " sample BLOB PRIMARY KEY REFERENCES samples(sha256),"
    " priority INTEGER NOT NULL,"
    " queued INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX analysis_queue_order ON analysis_queue(priority DESC, queued);"
    "CREATE TRIGGER samples_queue AFTER INSERT ON samples BEGIN"
    " INSERT OR IGNORE INTO analysis_queue (sample, priority, queued)"
    "  VALUES (NEW.sha256, 0, NEW.first_seen); END;"
    "INSERT INTO analysis_queue (sample, priority, queued)"
    " SELECT sha256, 0, first_seen FROM samples;",
    /* 2 -> 3: an `analysis` entry about to be logged is recorded first,
     * so a restart can tell whether it reached the log; and the
     * retro-scan's cursor, so a restart resumes it. */
    "CREATE TABLE analysis_pending ("
    " sample BLOB PRIMARY KEY REFERENCES samples(sha256),"
    " entry BLOB NOT NULL CHECK (length(entry) = 32),"
    " log_from INTEGER NOT NULL CHECK (log_from >= 0),"
    " log_index INTEGER) WITHOUT ROWID;"
    "CREATE TABLE analysis_cursor ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " ruleset TEXT NOT NULL,"
    " after BLOB NOT NULL CHECK (length(after) = 32));",
    /* 3 -> 4: a `sample` entry about to be logged is recorded first, so
     * the next upload after a crash can tell whether it got there. */
    "CREATE TABLE IF NOT EXISTS sample_pending ("
    " sample BLOB PRIMARY KEY REFERENCES samples(sha256),"
    " entry BLOB NOT NULL CHECK (length(entry) = 32),"
    " log_from INTEGER NOT NULL CHECK (log_from >= 0),"
    " tenant TEXT NOT NULL,"
    " region TEXT NOT NULL,"
    " time INTEGER NOT NULL) WITHOUT ROWID;",
    /* 4 -> 5: the rest of the submission a pending `sample` entry stands
     * for, so that a sighting recovered after a crash has the name,
     * source and tags the customer sent. Rows of version 4 get "". */
    "ALTER TABLE sample_pending ADD COLUMN name TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE sample_pending ADD COLUMN source TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE sample_pending ADD COLUMN tags TEXT NOT NULL DEFAULT '';",
};
#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
_Static_assert(N_MIGRATIONS == VT_INDEX_SCHEMA_VERSION, "one migration per version");

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_TOKEN_BY_HASH,
	ST_TOKEN_BY_ID,
	ST_TOKEN_BY_NAME,
	ST_TOKEN_INSERT,
	ST_TOKEN_LIST,
	ST_TOKEN_REVOKE,
	ST_SAMPLE_INSERT,
	ST_SAMPLE_BY_SHA256,
	ST_SAMPLE_BY_SHA1,
	ST_SAMPLE_BY_MD5,
	ST_SIGHTING_INSERT,
	ST_SIGHTING_LIST,
	ST_SIGHTING_LIST_TENANT,
	ST_TAG_INSERT,
	ST_TAG_LIST,
	ST_ACCESS_INSERT,
	ST_VERDICT,
	ST_ANALYSIS_PUT,
	ST_MATCHES_DEL,
	ST_MATCH_PUT,
	ST_CHILDREN_DEL,
	ST_CHILD_PUT,
	ST_QUEUE_DEL,
	ST_ANALYSIS_GET,
	ST_MATCH_LIST,
	ST_CHILD_LIST,
	ST_QUEUE_LIST,
	ST_STALE_LIST,
	ST_REQUEUE,
	ST_COUNT_SAMPLES,
	ST_COUNT_QUEUE,
	ST_COUNT_CURRENT,
	ST_COUNT_ANALYSES,
	ST_PENDING_PUT,
	ST_PENDING_GET,
	ST_PENDING_LIST,
	ST_PENDING_SET,
	ST_PENDING_DEL,
	ST_CURSOR_GET,
	ST_CURSOR_PUT,
	ST_CURSOR_DEL,
	ST_SPENDING_PUT,
	ST_SPENDING_GET,
	ST_SPENDING_DEL,
	ST_SPENDING_ALL,
	ST_N
};

#define TOKEN_COLS    "id, hash, role, name, tenant, region, created, revoked"
#define SAMPLE_COLS   "sha256, sha1, md5, size, first_seen, jurisdiction"
#define SIGHTING_COLS "id, sample, tenant, region, name, source, time, log_index"

static const char *const sql[ST_N] = {
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_TOKEN_BY_HASH] = "SELECT " TOKEN_COLS " FROM tokens WHERE hash = ?1",
    [ST_TOKEN_BY_ID] = "SELECT " TOKEN_COLS " FROM tokens WHERE id = ?1",
    [ST_TOKEN_BY_NAME] = "SELECT " TOKEN_COLS " FROM tokens WHERE name = ?1"
			 " ORDER BY revoked IS NOT NULL, id DESC LIMIT 1",
    [ST_TOKEN_INSERT] = "INSERT INTO tokens (hash, role, name, tenant, region, created, revoked)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_TOKEN_LIST] = "SELECT " TOKEN_COLS " FROM tokens ORDER BY id",
    [ST_TOKEN_REVOKE] = "UPDATE tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
    [ST_SAMPLE_INSERT] = "INSERT INTO samples (" SAMPLE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
			 " ON CONFLICT (sha256) DO NOTHING",
    [ST_SAMPLE_BY_SHA256] = "SELECT " SAMPLE_COLS " FROM samples WHERE sha256 = ?1",
    [ST_SAMPLE_BY_SHA1] = "SELECT " SAMPLE_COLS " FROM samples WHERE sha1 = ?1"
			  " ORDER BY sha256 LIMIT 1",
    [ST_SAMPLE_BY_MD5] = "SELECT " SAMPLE_COLS " FROM samples WHERE md5 = ?1"
			 " ORDER BY sha256 LIMIT 1",
    [ST_SIGHTING_INSERT] = "INSERT INTO sightings (sample, tenant, region, name, source, time,"
			   " log_index) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_SIGHTING_LIST] = "SELECT " SIGHTING_COLS " FROM sightings WHERE sample = ?1 ORDER BY id",
    [ST_SIGHTING_LIST_TENANT] = "SELECT " SIGHTING_COLS " FROM sightings"
				" WHERE sample = ?1 AND tenant = ?2 ORDER BY id",
    [ST_TAG_INSERT] = "INSERT INTO tags (sample, tag) VALUES (?1, ?2)"
		      " ON CONFLICT (sample, tag) DO NOTHING",
    [ST_TAG_LIST] = "SELECT tag FROM tags WHERE sample = ?1 ORDER BY tag",
    [ST_ACCESS_INSERT] = "INSERT INTO access_requests (token, role, resource, reason, ticket,"
			 " result, time, log_index) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_VERDICT] = "SELECT verdict FROM analyses WHERE sample = ?1",
    [ST_ANALYSIS_PUT] = "INSERT INTO analyses (sample, ruleset, verdict, type, mime, ssdeep, tlsh,"
			" entropy, report, analysed, log_index)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
			" ON CONFLICT (sample) DO UPDATE SET ruleset = ?2, verdict = ?3, type = ?4,"
			" mime = ?5, ssdeep = ?6, tlsh = ?7, entropy = ?8, report = ?9,"
			" analysed = ?10, log_index = coalesce(?11, log_index)",
    [ST_MATCHES_DEL] = "DELETE FROM matches WHERE sample = ?1",
    [ST_MATCH_PUT] = "INSERT INTO matches (sample, ns, rule) VALUES (?1, ?2, ?3)"
		     " ON CONFLICT DO NOTHING",
    [ST_CHILDREN_DEL] = "DELETE FROM children WHERE parent = ?1",
    [ST_CHILD_PUT] = "INSERT INTO children (parent, path, child) VALUES (?1, ?2, ?3)"
		     " ON CONFLICT DO NOTHING",
    [ST_QUEUE_DEL] = "DELETE FROM analysis_queue WHERE sample = ?1",
    [ST_ANALYSIS_GET] = "SELECT ruleset, verdict, type, mime, ssdeep, tlsh, entropy, report,"
			" analysed, log_index FROM analyses WHERE sample = ?1",
    [ST_MATCH_LIST] = "SELECT ns, rule FROM matches WHERE sample = ?1 ORDER BY ns, rule",
    [ST_CHILD_LIST] = "SELECT path, child FROM children WHERE parent = ?1 ORDER BY path",
    [ST_QUEUE_LIST] = "SELECT sample FROM analysis_queue ORDER BY priority DESC, queued LIMIT ?1",
    [ST_STALE_LIST] = "SELECT sample FROM analyses WHERE sample > ?1 AND ruleset != ?2"
		      " ORDER BY sample LIMIT ?3",
    [ST_REQUEUE] = "INSERT INTO analysis_queue (sample, priority, queued) VALUES (?1, 1, ?2)"
		   " ON CONFLICT (sample) DO UPDATE SET priority = 1, queued = ?2",
    [ST_COUNT_SAMPLES] = "SELECT count(*) FROM samples",
    [ST_COUNT_QUEUE] = "SELECT count(*) FROM analysis_queue",
    [ST_COUNT_CURRENT] = "SELECT count(*) FROM analyses WHERE ruleset = ?1",
    [ST_COUNT_ANALYSES] = "SELECT count(*) FROM analyses",
    [ST_PENDING_PUT] = "INSERT INTO analysis_pending (sample, entry, log_from, log_index)"
		       " VALUES (?1, ?2, ?3, NULL) ON CONFLICT (sample) DO UPDATE SET entry = ?2,"
		       " log_from = ?3, log_index = NULL",
    [ST_PENDING_GET] = "SELECT sample, entry, log_from, log_index FROM analysis_pending"
		       " WHERE sample = ?1",
    [ST_PENDING_LIST] = "SELECT sample, entry, log_from, log_index FROM analysis_pending"
			" ORDER BY sample",
    [ST_PENDING_SET] = "UPDATE analysis_pending SET log_index = ?2 WHERE sample = ?1",
    [ST_PENDING_DEL] = "DELETE FROM analysis_pending WHERE sample = ?1",
    [ST_CURSOR_GET] = "SELECT ruleset, after FROM analysis_cursor WHERE id = 1",
    [ST_CURSOR_PUT] = "INSERT INTO analysis_cursor (id, ruleset, after) VALUES (1, ?1, ?2)"
		      " ON CONFLICT (id) DO UPDATE SET ruleset = ?1, after = ?2",
    [ST_CURSOR_DEL] = "DELETE FROM analysis_cursor",
    [ST_SPENDING_PUT] = "INSERT INTO sample_pending (sample, entry, log_from, tenant, region, time,"
			" name, source, tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
			" ON CONFLICT (sample) DO UPDATE SET entry = ?2, log_from = ?3,"
			" tenant = ?4, region = ?5, time = ?6, name = ?7, source = ?8, tags = ?9",
    [ST_SPENDING_GET] = "SELECT sample, entry, log_from, tenant, region, time, name, source, tags"
			" FROM sample_pending WHERE sample = ?1",
    [ST_SPENDING_DEL] = "DELETE FROM sample_pending WHERE sample = ?1 AND (?2 IS NULL OR entry = ?2)",
    [ST_SPENDING_ALL] = "SELECT sample FROM sample_pending ORDER BY sample",
};

typedef struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[ST_N];
	struct conn *next; /* in the pool of idle readers */
} conn;

struct vt_index {
	char path[4096];
	int version;
	pthread_mutex_t wmu; /* guards writer */
	conn *writer;
	pthread_mutex_t pmu; /* guards idle */
	conn *idle;
};

/* Translate a SQLite failure into our codes, with its message. */
static int db_error(sqlite3 *db, int rc, const char *what)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	int code;
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED: code = VT_EBUSY; break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: code = VT_ECORRUPT; break;
	case SQLITE_NOMEM: code = VT_ENOMEM; break;
	case SQLITE_CONSTRAINT: code = VT_EINVAL; break;
	case SQLITE_TOOBIG: code = VT_ETOOBIG; break;
	default: code = VT_EIO; break;
	}
	return vt_error_set(code, "index: %s: %s", what, msg);
}

static void conn_close(conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close(c->db);
	free(c);
}

static int conn_open(conn **out, const char *path, bool create)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	conn *c;
	int rc, err = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	if ((rc = sqlite3_open_v2(path, &c->db, flags, NULL)) != SQLITE_OK) {
		err = db_error(c->db, rc, path);
		goto done;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	/* synchronous=NORMAL in WAL mode: a commit survives a crash of the
	 * process, not always a power loss; token changes switch to FULL. */
	if ((rc = sqlite3_exec(c->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
			       NULL, NULL, NULL)) != SQLITE_OK)
		err = db_error(c->db, rc, path);
done:
	if (err < 0) {
		conn_close(c);
		return err;
	}
	*out = c;
	return 0;
}

/* The statement id of c, prepared on first use and reset for reuse. */
static int stmt(sqlite3_stmt **out, conn *c, int id)
{
	int rc;
	if (!c->st[id]) {
		rc = sqlite3_prepare_v3(c->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
					NULL);
		if (rc != SQLITE_OK)
			return db_error(c->db, rc, "prepare");
	}
	*out = c->st[id];
	return 0;
}

static void release(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

static int reader_get(conn **out, vt_index *idx)
{
	conn *c;
	pthread_mutex_lock(&idx->pmu);
	c = idx->idle;
	if (c)
		idx->idle = c->next;
	pthread_mutex_unlock(&idx->pmu);
	if (c) {
		*out = c;
		return 0;
	}
	return conn_open(out, idx->path, false);
}

static void reader_put(vt_index *idx, conn *c)
{
	pthread_mutex_lock(&idx->pmu);
	c->next = idx->idle;
	idx->idle = c;
	pthread_mutex_unlock(&idx->pmu);
}

static int64_t now(void)
{
	return (int64_t)time(NULL);
}

static int exec(conn *c, const char *q, const char *what)
{
	int rc = sqlite3_exec(c->db, q, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db_error(c->db, rc, what);
}

static int pragma_int(int *out, conn *c, const char *q)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(c->db, q, -1, &s, NULL), err = 0;
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		*out = sqlite3_column_int(s, 0);
	else
		err = db_error(c->db, rc, q);
	sqlite3_finalize(s);
	return err;
}

static int migrate(vt_index *idx)
{
	conn *c = idx->writer;
	int err, version = 0, app = 0, objects = 0;
	char q[64];

	if ((err = exec(c, "BEGIN IMMEDIATE", "cannot lock the index")) < 0)
		return err;
	if ((err = pragma_int(&version, c, "PRAGMA user_version")) < 0 ||
	    (err = pragma_int(&app, c, "PRAGMA application_id")) < 0 ||
	    (err = pragma_int(&objects, c, "SELECT count(*) FROM sqlite_master")) < 0)
		goto done;
	if ((version == 0 && objects > 0) || (version > 0 && app != APPLICATION_ID)) {
		err = vt_error_set(VT_ECORRUPT, "%s is an SQLite database but not a vitrine index",
				   idx->path);
		goto done;
	}
	if (version < 0 || (size_t)version > N_MIGRATIONS) {
		err = vt_error_set(VT_EINVAL,
				   "%s has schema version %d but this vitrine knows versions up "
				   "to %d: use a newer vitrine",
				   idx->path, version, VT_INDEX_SCHEMA_VERSION);
		goto done;
	}
	for (size_t i = (size_t)version; i < N_MIGRATIONS; i++) {
		if ((err = exec(c, migrations[i], "migration")) < 0) {
			err = vt_error_wrap(err, "schema version %zu to %zu", i, i + 1);
			goto done;
		}
	}
	snprintf(q, sizeof(q), "PRAGMA user_version = %d", (int)N_MIGRATIONS);
	if ((size_t)version < N_MIGRATIONS &&
	    ((err = exec(c, q, "set the schema version")) < 0 ||
	     (err = exec(c, "PRAGMA application_id = 1448366665", "set the application id")) < 0))
		goto done;
	err = exec(c, "COMMIT", "commit the migration");
done:
	if (err < 0)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	else
		idx->version = (int)N_MIGRATIONS;
	return err;
}
_Static_assert(APPLICATION_ID == 1448366665, "the application id in migrate()");

static int insert_token(conn *c, const vt_hash *h, const char *role, const char *name,
			const char *tenant, const char *region, int64_t created, int64_t revoked,
			int64_t *id);

/* Import DIR/tokens of vitrine before the index, once (docs/index.md). */
static int import_legacy(vt_index *idx, const char *dir)
{
	char path[4096], done_path[4096];
	vt_buf b;
	int err, lineno = 0;
	char *p, *nl;
	bool began = false;

	snprintf(path, sizeof(path), "%s/tokens", dir);
	snprintf(done_path, sizeof(done_path), "%s/tokens.imported", dir);
	vt_buf_init(&b, 16 << 20);
	err = vt_fs_read(&b, AT_FDCWD, path);
	if (err == VT_ENOTFOUND) {
		vt_error_clear();
		err = 0;
		goto done;
	}
	if (err < 0 || (err = vt_buf_addc(&b, '\0')) < 0 ||
	    (err = exec(idx->writer, "BEGIN IMMEDIATE", "import tokens")) < 0)
		goto done;
	began = true;
	for (p = (char *)b.ptr; p && *p; p = nl ? nl + 1 : NULL) {
		char *hex, *role, *name, *save = NULL, alt[VT_TOKEN_NAME_MAX + 1];
		vt_hash h;
		int64_t id;
		lineno++;
		if ((nl = strchr(p, '\n')) != NULL)
			*nl = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		hex = strtok_r(p, " ", &save);
		role = strtok_r(NULL, " ", &save);
		name = strtok_r(NULL, " ", &save);
		if (!hex || !role || !name || strtok_r(NULL, " ", &save) ||
		    vt_hex_decode(h.b, VT_HASH_SIZE, hex, strlen(hex)) < 0 ||
		    vt_token_check_role(role) < 0 || vt_token_check_name(name) < 0) {
			err = vt_error_set(VT_ECORRUPT,
					   "%s line %d: expected \"<sha256> <role> "
					   "<name>\"",
					   path, lineno);
			goto done;
		}
		/* A submitter of old had no tenant: it cannot be valid now. */
		err = insert_token(idx->writer, &h, role, name, NULL, NULL, now(),
				   strcmp(role, "submitter") == 0 ? now() : 0, &id);
		if (err == VT_EEXISTS) {
			/* Same hash already imported, or the name is taken. */
			snprintf(alt, sizeof(alt), "legacy-%.16s", hex);
			err = insert_token(idx->writer, &h, role, alt, NULL, NULL, now(),
					   strcmp(role, "submitter") == 0 ? now() : 0, &id);
			if (err == VT_EEXISTS)
				err = 0;
		}
		if (err < 0)
			goto done;
	}
	err = exec(idx->writer, "COMMIT", "import tokens");
	began = false;
	/* Imported twice is harmless (hashes are unique), so rename after. */
	if (err == 0 && rename(path, done_path) < 0)
		err = vt_error_sys(VT_EIO, errno, "cannot rename %s", path);
	if (err == 0)
		err = vt_fs_sync_dir(AT_FDCWD, dir);
done:
	if (began)
		sqlite3_exec(idx->writer->db, "ROLLBACK", NULL, NULL, NULL);
	vt_buf_dispose(&b);
	return err;
}

int vt_index_open(vt_index **out, const char *dir)
{
	vt_index *idx;
	char mode[16] = "";
	sqlite3_stmt *s = NULL;
	int err, rc;

	if ((idx = calloc(1, sizeof(*idx))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	pthread_mutex_init(&idx->wmu, NULL);
	pthread_mutex_init(&idx->pmu, NULL);
	if ((size_t)snprintf(idx->path, sizeof(idx->path), "%s/index.sqlite", dir) >=
	    sizeof(idx->path)) {
		err = vt_error_set(VT_EINVAL, "data directory path too long");
		goto done;
	}
	if ((err = conn_open(&idx->writer, idx->path, true)) < 0)
		goto done;
	/* The first read of the file: a damaged header shows here. */
	rc = sqlite3_prepare_v2(idx->writer->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	s = NULL;
	if (rc != SQLITE_ROW) {
		err = db_error(idx->writer->db, rc, idx->path);
		if (err == VT_ECORRUPT)
			err = vt_error_wrap(err, "not a usable index (restore it from a backup)");
		goto done;
	}
	if (strcmp(mode, "wal") != 0) {
		err = vt_error_set(VT_EIO, "%s: cannot switch to WAL mode (%s)", idx->path, mode);
		goto done;
	}
	if ((err = migrate(idx)) < 0 || (err = import_legacy(idx, dir)) < 0)
		goto done;
done:
	sqlite3_finalize(s);
	if (err < 0) {
		vt_index_close(idx);
		return err;
	}
	*out = idx;
	return 0;
}

void vt_index_close(vt_index *idx)
{
	if (!idx)
		return;
	while (idx->idle) {
		conn *c = idx->idle;
		idx->idle = c->next;
		conn_close(c);
	}
	conn_close(idx->writer);
	pthread_mutex_destroy(&idx->wmu);
	pthread_mutex_destroy(&idx->pmu);
	free(idx);
}

int vt_index_schema_version(const vt_index *idx)
{
	return idx->version;
}

int vt_index_check(vt_index *idx)
{
	sqlite3_stmt *s = NULL;
	conn *c = NULL;
	int err, rc;

	if ((err = reader_get(&c, idx)) < 0)
		return err;
	rc = sqlite3_prepare_v2(c->db, "PRAGMA quick_check", -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(s, 0);
		if (!r || strcmp(r, "ok") != 0)
			err = vt_error_set(VT_ECORRUPT, "%s: %s", idx->path, r ? r : "damaged");
	} else {
		err = db_error(c->db, rc, idx->path);
	}
	sqlite3_finalize(s);
	s = NULL;
	if (err == 0) {
		rc = sqlite3_prepare_v2(c->db, "PRAGMA foreign_key_check", -1, &s, NULL);
		if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
			err = vt_error_set(VT_ECORRUPT, "%s: a row of %s refers to a missing %s",
					   idx->path, sqlite3_column_text(s, 0),
					   sqlite3_column_text(s, 2));
		else if (rc != SQLITE_DONE)
			err = db_error(c->db, rc, idx->path);
		sqlite3_finalize(s);
	}
	reader_put(idx, c);
	return err;
}

int vt_index_key_parse(vt_index_key *out, const char *hex, size_t len)
{
	char lower[2 * VT_HASH_SIZE];
	if (len != 64 && len != 40 && len != 32)
		return vt_error_set(VT_EINVAL,
				    "a hash has 64 (SHA-256), 40 (SHA-1) or 32 (MD5) "
				    "hex digits, not %zu characters",
				    len);
	for (size_t i = 0; i < len; i++)
		lower[i] = (hex[i] >= 'A' && hex[i] <= 'F') ? (char)(hex[i] - 'A' + 'a') : hex[i];
	memset(out, 0, sizeof(*out));
	if (vt_hex_decode(out->b, len / 2, lower, len) < 0)
		return vt_error_set(VT_EINVAL, "a hash is made of hex digits");
	out->len = (uint8_t)(len / 2);
	return 0;
}

/* ---- values in and out of rows ---- */

static void copy_text(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static void copy_blob(uint8_t *dst, size_t len, sqlite3_stmt *s, int col)
{
	const void *b = sqlite3_column_blob(s, col);
	if (b && (size_t)sqlite3_column_bytes(s, col) == len)
		memcpy(dst, b, len);
	else
		memset(dst, 0, len);
}

static void row_token(vt_token *t, sqlite3_stmt *s)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(s, 0);
	copy_blob(t->hash.b, VT_HASH_SIZE, s, 1);
	copy_text(t->role, sizeof(t->role), s, 2);
	copy_text(t->name, sizeof(t->name), s, 3);
	copy_text(t->tenant, sizeof(t->tenant), s, 4);
	copy_text(t->region, sizeof(t->region), s, 5);
	t->created = sqlite3_column_int64(s, 6);
	t->revoked = sqlite3_column_int64(s, 7);
}

static void row_sample(vt_index_sample *o, sqlite3_stmt *s)
{
	memset(o, 0, sizeof(*o));
	copy_blob(o->sha256.b, VT_HASH_SIZE, s, 0);
	copy_blob(o->sha1, VT_SHA1_SIZE, s, 1);
	copy_blob(o->md5, VT_MD5_SIZE, s, 2);
	o->size = (uint64_t)sqlite3_column_int64(s, 3);
	o->first_seen = sqlite3_column_int64(s, 4);
	copy_text(o->jurisdiction, sizeof(o->jurisdiction), s, 5);
}

static void row_sighting(vt_index_sighting *o, sqlite3_stmt *s)
{
	memset(o, 0, sizeof(*o));
	o->id = sqlite3_column_int64(s, 0);
	copy_blob(o->sample.b, VT_HASH_SIZE, s, 1);
	copy_text(o->tenant, sizeof(o->tenant), s, 2);
	copy_text(o->region, sizeof(o->region), s, 3);
	copy_text(o->name, sizeof(o->name), s, 4);
	copy_text(o->source, sizeof(o->source), s, 5);
	o->time = sqlite3_column_int64(s, 6);
	o->log_index = sqlite3_column_type(s, 7) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 7);
}

static int bind_text(sqlite3_stmt *s, int i, const char *t)
{
	return (t && *t) ? sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* Text of at most max bytes without control characters. */
static int check_text(const char *what, const char *t, size_t max, bool required)
{
	size_t n = strnlen(t, max + 1);
	if (n > max)
		return vt_error_set(VT_EINVAL, "%s longer than %zu bytes", what, max);
	if (required && n == 0)
		return vt_error_set(VT_EINVAL, "%s missing", what);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			return vt_error_set(VT_EINVAL, "%s holds a control character", what);
	return 0;
}

/* Step a write statement of c; a missing sample is VT_ENOTFOUND. */
static int step_done(conn *c, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return vt_error_set(VT_ENOTFOUND, "%s: no such sample", what);
	if (rc != SQLITE_DONE)
		return db_error(c->db, rc, what);
	return 0;
}

/* A caller's callback of a list function, and its payload. */
typedef struct {
	union {
		int (*sighting)(const vt_index_sighting *s, void *payload);
		int (*text)(const char *text, void *payload);
		int (*token)(const vt_token *t, void *payload);
		int (*child)(const vt_index_child *c, void *payload);
		int (*pending)(const vt_index_pending *p, void *payload);
	} fn;
	void *payload;
} row_cb;

/* Reads one row into a value and hands it to the caller's callback. */
typedef int (*row_fn)(sqlite3_stmt *s, const row_cb *cb);

/*
 * Step statement id of c with key (may be NULL) bound as ?1 and text (may
 * be NULL) as ?2, handing each row to row() until it returns nonzero, which
 * is then the result. what names the list in an error.
 */
static int each_row(conn *c, int id, const vt_hash *key, const char *text, row_fn row,
		    const row_cb *cb, const char *what)
{
	sqlite3_stmt *s = NULL;
	int err, rc;

	if ((err = stmt(&s, c, id)) < 0)
		goto done;
	if (key)
		sqlite3_bind_blob(s, 1, key->b, VT_HASH_SIZE, SQLITE_STATIC);
	if (text)
		sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((err = row(s, cb)) != 0)
			goto done;
	if (rc != SQLITE_DONE)
		err = db_error(c->db, rc, what);
done:
	release(s);
	return err;
}

/* each_row() on a reader of idx. */
static int list_rows(vt_index *idx, int id, const vt_hash *key, const char *text, row_fn row,
		     const row_cb *cb, const char *what)
{
	conn *c;
	int err;

	if ((err = reader_get(&c, idx)) < 0)
		return err;
	err = each_row(c, id, key, text, row, cb, what);
	reader_put(idx, c);
	return err;
}

/* each_row's answer when a row() that returns 1 read the one row wanted. */
static int one_row(int err, const char *notfound)
{
	if (err == 0)
		return vt_error_set(VT_ENOTFOUND, "%s", notfound);
	return err == 1 ? 0 : err;
}

/*
 * The row of statement id for key on a reader, read by row() into
 * cb->payload; row() returns 1 (or a negative code). VT_ENOTFOUND with the
 * message notfound when there is no row.
 */
static int get_row(vt_index *idx, int id, const vt_hash *key, row_fn row, void *out,
		   const char *notfound, const char *what)
{
	row_cb cb = {.payload = out};
	return one_row(list_rows(idx, id, key, NULL, row, &cb, what), notfound);
}

/* ---- samples ---- */

static int sample_select(vt_index_sample *out, conn *c, const uint8_t *key, size_t len)
{
	int id = len == VT_HASH_SIZE   ? ST_SAMPLE_BY_SHA256
		 : len == VT_SHA1_SIZE ? ST_SAMPLE_BY_SHA1
				       : ST_SAMPLE_BY_MD5;
	sqlite3_stmt *s = NULL;
	int err, rc;

	if ((err = stmt(&s, c, id)) < 0)
		return err;
	sqlite3_bind_blob(s, 1, key, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		row_sample(out, s);
	else if (rc == SQLITE_DONE)
		err = vt_error_set(VT_ENOTFOUND, "no such sample");
	else
		err = db_error(c->db, rc, "find a sample");
	release(s);
	return err;
}

int vt_index_sample_put(vt_index_sample *out, bool *is_new, vt_index *idx,
			const vt_index_sample *in)
{
	vt_index_sample v = *in, old;
	sqlite3_stmt *s = NULL;
	int err, rc;

	if ((err = vt_policy_check_jurisdiction(
		 v.jurisdiction, strnlen(v.jurisdiction, sizeof(v.jurisdiction)))) < 0)
		return err;
	if (v.size > (uint64_t)INT64_MAX)
		return vt_error_set(VT_EINVAL, "sample size out of range");
	if (v.first_seen == 0)
		v.first_seen = now();
	pthread_mutex_lock(&idx->wmu);
	if ((err = stmt(&s, idx->writer, ST_SAMPLE_INSERT)) < 0)
		goto done;
	sqlite3_bind_blob(s, 1, v.sha256.b, VT_HASH_SIZE, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, v.sha1, VT_SHA1_SIZE, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, v.md5, VT_MD5_SIZE, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (int64_t)v.size);
	sqlite3_bind_int64(s, 5, v.first_seen);
	sqlite3_bind_text(s, 6, v.jurisdiction, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) != SQLITE_DONE) {
		err = db_error(idx->writer->db, rc, "record a sample");
		goto done;
	}
	/* ON CONFLICT DO NOTHING makes the insert the arbiter: one caller
	 * changes a row, every other finds it. */
	if (sqlite3_changes(idx->writer->db) == 1) {
		*is_new = true;
		*out = v;
		goto done;
	}
	if ((err = sample_select(&old, idx->writer, v.sha256.b, VT_HASH_SIZE)) < 0)
		goto done;
	if (memcmp(old.sha1, v.sha1, VT_SHA1_SIZE) != 0 ||
	    memcmp(old.md5, v.md5, VT_MD5_SIZE) != 0 || old.size != v.size) {
		err =
		    vt_error_set(VT_EEXISTS, "a sample with this SHA-256 is recorded with another "
					     "SHA-1, MD5 or size");
		goto done;
	}
	*is_new = false;
	*out = old;
done:
	release(s);
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

static int check_key(const vt_index_key *k)
{
	if (k->len != VT_HASH_SIZE && k->len != VT_SHA1_SIZE && k->len != VT_MD5_SIZE)
		return vt_error_set(VT_EINVAL, "a key is 32, 20 or 16 bytes, not %u", k->len);
	return 0;
}

int vt_index_sample_get_by_hash(vt_index_sample *out, vt_index *idx, const vt_index_key *key)
{
	conn *c;
	int err;
	if ((err = check_key(key)) < 0 || (err = reader_get(&c, idx)) < 0)
		return err;
	err = sample_select(out, c, key->b, key->len);
	reader_put(idx, c);
	return err;
}

static int verdict_select(char *out, size_t cap, conn *c, const vt_hash *h)
{
	sqlite3_stmt *s = NULL;
	int err, rc;

	if ((err = stmt(&s, c, ST_VERDICT)) < 0)
		return err;
	sqlite3_bind_blob(s, 1, h->b, VT_HASH_SIZE, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		copy_text(out, cap, s, 0);
	else if (rc != SQLITE_DONE)
		err = db_error(c->db, rc, "find a verdict");
	release(s);
	return err;
}

int vt_index_lookup_many(vt_index_hit *out, vt_index *idx, const vt_index_key *keys, size_t n)
{
	sqlite3_stmt *b = NULL, *e = NULL;
	conn *c = NULL;
	int err = 0, rc;

	if (n > VT_INDEX_LOOKUP_MAX)
		return vt_error_set(VT_ETOOBIG, "at most %d hashes at once", VT_INDEX_LOOKUP_MAX);
	for (size_t i = 0; i < n; i++)
		if ((err = check_key(&keys[i])) < 0)
			return vt_error_wrap(err, "hash %zu", i);
	if ((err = reader_get(&c, idx)) < 0)
		return err;
	/* One snapshot for the batch, and one lock taken instead of n. */
	if ((err = stmt(&b, c, ST_BEGIN)) < 0 || (err = stmt(&e, c, ST_COMMIT)) < 0)
		goto done;
	if ((rc = sqlite3_step(b)) != SQLITE_DONE) {
		err = db_error(c->db, rc, "begin a lookup");
		goto done;
	}
	for (size_t i = 0; i < n && err == 0; i++) {
		err = sample_select(&out[i].sample, c, keys[i].b, keys[i].len);
		out[i].found = err == 0;
		out[i].verdict[0] = 0;
		if (err == VT_ENOTFOUND) {
			memset(&out[i].sample, 0, sizeof(out[i].sample));
			err = 0;
		} else if (err == 0) {
			err = verdict_select(out[i].verdict, sizeof(out[i].verdict), c,
					     &out[i].sample.sha256);
		}
	}
	if ((rc = sqlite3_step(e)) != SQLITE_DONE && err == 0)
		err = db_error(c->db, rc, "end a lookup");
done:
	release(b);
	release(e);
	if (c && !sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	reader_put(idx, c);
	return err;
}

/* ---- sightings, tags, access requests ---- */

/* Insert on the writer (its mutex held), checked by the caller. */
static int insert_sighting(int64_t *out_id, conn *c, const vt_index_sighting *v)
{
	sqlite3_stmt *s = NULL;
	int err, rc;

	if ((err = stmt(&s, c, ST_SIGHTING_INSERT)) < 0)
		return err;
	sqlite3_bind_blob(s, 1, v->sample.b, VT_HASH_SIZE, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, v->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, v->region, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, v->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, v->source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, v->time ? v->time : now());
	if (v->log_index >= 0)
		sqlite3_bind_int64(s, 7, v->log_index);
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		err = vt_error_set(VT_ENOTFOUND, "no such sample to record a sighting of");
	else if (rc != SQLITE_DONE)
		err = db_error(c->db, rc, "record a sighting");
	else if (out_id)
		*out_id = sqlite3_last_insert_rowid(c->db);
	release(s);
	return err;
}

/*
 * Drop the pending `sample` entry of sample on the writer (if any), only
 * if its entry hashes to *entry when entry is not NULL.
 */
static int drop_sample_pending(conn *c, const vt_hash *sample, const vt_hash *entry)
{
	sqlite3_stmt *s = NULL;
	int err;

	if ((err = stmt(&s, c, ST_SPENDING_DEL)) < 0)
		return err;
	sqlite3_bind_blob(s, 1, sample->b, VT_HASH_SIZE, SQLITE_STATIC);
	if (entry)
		sqlite3_bind_blob(s, 2, entry->b, VT_HASH_SIZE, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	err = step_done(c, s, "settle a pending sample entry");
	release(s);
	return err;
}

/* The checks a sighting and a pending submission share. */
static int check_submission(const char *tenant, const char *region, size_t region_cap,
			    const char *name, const char *source)
{
	int err;

	if ((err = vt_token_check_tenant(tenant)) < 0 ||
	    (err = vt_policy_check_region(region, strnlen(region, region_cap))) < 0 ||
	    (err = check_text("file name", name, VT_INDEX_NAME_MAX, false)) < 0)
		return err;
	return check_text("source", source, VT_INDEX_SOURCE_MAX, false);
}

int vt_index_sighting_add(int64_t *out_id, vt_index *idx, const vt_index_sighting *v)
{
	static const vt_hash zero;
	bool txn = v->log_index >= 0;
	/* Another upload's sighting leaves a pending entry that may still be
	 * published (intake.c keeps such a row) for its own settling. */
	const vt_hash *own = vt_hash_equal(&v->entry, &zero) ? NULL : &v->entry;
	int err;

	err = check_submission(v->tenant, v->region, sizeof(v->region), v->name, v->source);
	if (err < 0)
		return err;
	pthread_mutex_lock(&idx->wmu);
	/* A published submission and the end of the sample's pending entry
	 * are one change: a crash keeps both or neither. */
	if (txn && (err = exec(idx->writer, "BEGIN IMMEDIATE", "record a sighting")) < 0)
		goto done;
	if ((err = insert_sighting(out_id, idx->writer, v)) == 0 && txn &&
	    (err = drop_sample_pending(idx->writer, &v->sample, own)) == 0)
		err = exec(idx->writer, "COMMIT", "record a sighting");
	if (err < 0 && txn)
		sqlite3_exec(idx->writer->db, "ROLLBACK", NULL, NULL, NULL);
done:
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

static int sighting_row(sqlite3_stmt *s, const row_cb *cb)
{
	vt_index_sighting v;
	row_sighting(&v, s);
	return cb->fn.sighting(&v, cb->payload);
}

int vt_index_sightings_list(vt_index *idx, const vt_hash *sample, const char *tenant,
			    int (*fn)(const vt_index_sighting *s, void *payload), void *payload)
{
	row_cb cb = {.fn.sighting = fn, .payload = payload};
	return list_rows(idx, tenant ? ST_SIGHTING_LIST_TENANT : ST_SIGHTING_LIST, sample, tenant,
			 sighting_row, &cb, "list sightings");
}

int vt_index_tag_check(const char *tag)
{
	size_t n = strnlen(tag, VT_INDEX_TAG_MAX + 1);
	if (n == 0 || n > VT_INDEX_TAG_MAX)
		return vt_error_set(VT_EINVAL, "a tag has 1 to %d characters", VT_INDEX_TAG_MAX);
	for (size_t i = 0; i < n; i++) {
		char ch = tag[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("-_.:/", ch)))
			return vt_error_set(VT_EINVAL,
					    "a tag may hold letters, digits and \"-_.:/\"");
	}
	return 0;
}

/* Insert on the writer (its mutex held), checked by the caller. */
static int insert_tag(conn *c, const vt_hash *sample, const char *tag)
{
	sqlite3_stmt *s = NULL;
	int err, rc;

	if ((err = stmt(&s, c, ST_TAG_INSERT)) < 0)
		return err;
	sqlite3_bind_blob(s, 1, sample->b, VT_HASH_SIZE, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, tag, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		err = vt_error_set(VT_ENOTFOUND, "no such sample to tag");
	else if (rc != SQLITE_DONE)
		err = db_error(c->db, rc, "tag a sample");
	release(s);
	return err;
}

int vt_index_tag_add(vt_index *idx, const vt_hash *sample, const char *tag)
{
	int err;

	if ((err = vt_index_tag_check(tag)) < 0)
		return err;
	pthread_mutex_lock(&idx->wmu);
	err = insert_tag(idx->writer, sample, tag);
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

/*
 * Check each tag of a space-separated list and, with c (the writer, its
 * mutex held) non-NULL, tag sample with it. The first error stops.
 */
static int each_listed_tag(const char *tags, conn *c, const vt_hash *sample)
{
	char tag[VT_INDEX_TAG_MAX + 2];
	int err = 0;

	while (*tags && err == 0) {
		size_t n = strcspn(tags, " ");
		if (n > 0) {
			/* One byte past the limit is enough for the check to refuse it. */
			size_t k = n < sizeof(tag) - 1 ? n : sizeof(tag) - 1;
			memcpy(tag, tags, k);
			tag[k] = 0;
			if ((err = vt_index_tag_check(tag)) == 0 && c)
				err = insert_tag(c, sample, tag);
		}
		tags += n;
		tags += strspn(tags, " ");
	}
	return err;
}

static int tag_row(sqlite3_stmt *s, const row_cb *cb)
{
	return cb->fn.text((const char *)sqlite3_column_text(s, 0), cb->payload);
}

int vt_index_tags_list(vt_index *idx, const vt_hash *sample,
		       int (*fn)(const char *tag, void *payload), void *payload)
{
	row_cb cb = {.fn.text = fn, .payload = payload};
	return list_rows(idx, ST_TAG_LIST, sample, NULL, tag_row, &cb, "list tags");
}

int vt_index_access_add(int64_t *out_id, vt_index *idx, const vt_index_access *a)
{
	sqlite3_stmt *s = NULL;
	int err, rc;

	if ((err = check_text("resource", a->resource, VT_INDEX_RESOURCE_MAX, true)) < 0 ||
	    (err = check_text("result", a->result, VT_INDEX_WORD_MAX, true)) < 0 ||
	    (err = check_text("reason", a->reason, VT_INDEX_WORD_MAX, false)) < 0 ||
	    (err = check_text("ticket", a->ticket, VT_INDEX_TICKET_MAX, false)) < 0 ||
	    (err = check_text("role", a->role, VT_TOKEN_ROLE_MAX, false)) < 0)
		return err;
	pthread_mutex_lock(&idx->wmu);
	if ((err = stmt(&s, idx->writer, ST_ACCESS_INSERT)) < 0)
		goto done;
	if (a->token_id > 0)
		sqlite3_bind_int64(s, 1, a->token_id);
	sqlite3_bind_text(s, 2, a->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, a->resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, a->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, a->ticket, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, a->result, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, a->time ? a->time : now());
	if (a->log_index >= 0)
		sqlite3_bind_int64(s, 8, a->log_index);
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		err = vt_error_set(VT_ENOTFOUND, "no token %lld", (long long)a->token_id);
	else if (rc != SQLITE_DONE)
		err = db_error(idx->writer->db, rc, "record an access request");
	else if (out_id)
		*out_id = sqlite3_last_insert_rowid(idx->writer->db);
done:
	release(s);
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

/* ---- tokens ---- */

/* Insert on the writer (its mutex held). VT_EEXISTS for a taken hash or
 * valid name. */
static int insert_token(conn *c, const vt_hash *h, const char *role, const char *name,
			const char *tenant, const char *region, int64_t created, int64_t revoked,
			int64_t *id)
{
	sqlite3_stmt *s = NULL;
	int err, rc;

	if ((err = stmt(&s, c, ST_TOKEN_INSERT)) < 0)
		return err;
	sqlite3_bind_blob(s, 1, h->b, VT_HASH_SIZE, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
	bind_text(s, 4, tenant);
	bind_text(s, 5, region);
	sqlite3_bind_int64(s, 6, created);
	if (revoked)
		sqlite3_bind_int64(s, 7, revoked);
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		err = vt_error_set(VT_EEXISTS, "a valid token is already named \"%s\"", name);
	else if (rc != SQLITE_DONE)
		err = db_error(c->db, rc, "store a token");
	else
		*id = sqlite3_last_insert_rowid(c->db);
	release(s);
	return err;
}

int vt_index_token_create(vt_token *out, char *secret_out, vt_index *idx, const char *role,
			  const char *name, const char *tenant, const char *region)
{
	uint8_t rnd[32];
	char secret[VT_TOKEN_LEN + 1];
	vt_token t = {0};
	int err;

	if ((err = vt_token_check_name(name)) < 0 ||
	    (err = vt_token_check_binding(role, tenant, region)) < 0)
		return err;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return vt_error_set(VT_EIO, "no random bytes for a token");
	memcpy(secret, "vt_", 3);
	vt_hex_encode(secret + 3, rnd, sizeof(rnd));
	secret[VT_TOKEN_LEN] = '\0';
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if ((err = vt_sha256(&t.hash, secret, VT_TOKEN_LEN)) < 0)
		goto done;
	snprintf(t.role, sizeof(t.role), "%s", role);
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.tenant, sizeof(t.tenant), "%s", tenant ? tenant : "");
	snprintf(t.region, sizeof(t.region), "%s", region ? region : "");
	t.created = now();
	pthread_mutex_lock(&idx->wmu);
	/* A token must outlive a power loss once its secret is shown. */
	err = exec(idx->writer, "PRAGMA synchronous = FULL", "sync");
	if (err == 0)
		err = insert_token(idx->writer, &t.hash, t.role, t.name, t.tenant, t.region,
				   t.created, 0, &t.id);
	exec(idx->writer, "PRAGMA synchronous = NORMAL", "sync");
	pthread_mutex_unlock(&idx->wmu);
	if (err < 0)
		goto done;
	memcpy(secret_out, secret, VT_TOKEN_LEN + 1);
	if (out)
		*out = t;
done:
	OPENSSL_cleanse(secret, sizeof(secret));
	return err;
}

static int token_select(vt_token *out, conn *c, int id, const void *key, size_t len, int64_t num)
{
	sqlite3_stmt *s = NULL;
	int err, rc;

	if ((err = stmt(&s, c, id)) < 0)
		return err;
	if (id == ST_TOKEN_BY_HASH)
		sqlite3_bind_blob(s, 1, key, (int)len, SQLITE_STATIC);
	else if (id == ST_TOKEN_BY_NAME)
		sqlite3_bind_text(s, 1, key, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 1, num);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		row_token(out, s);
	else if (rc == SQLITE_DONE)
		err = vt_error_set(VT_ENOTFOUND, "no such token");
	else
		err = db_error(c->db, rc, "find a token");
	release(s);
	return err;
}

int vt_index_token_check(vt_token *out, vt_index *idx, const char *secret, size_t len)
{
	vt_hash h;
	conn *c;
	int err;

	if ((err = vt_token_hash_secret(&h, secret, len)) < 0 || (err = reader_get(&c, idx)) < 0)
		return err;
	err = token_select(out, c, ST_TOKEN_BY_HASH, h.b, VT_HASH_SIZE, 0);
	reader_put(idx, c);
	if (err == VT_ENOTFOUND)
		err = vt_error_set(VT_EDENIED, "unknown token");
	else if (err == 0 && out->revoked)
		err = vt_error_set(VT_EDENIED, "token %lld was revoked", (long long)out->id);
	return err;
}

/* Token id when s is all digits (and fits), else 0. */
static int64_t parse_id(const char *s)
{
	int64_t v = 0;
	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (*s - '0');
	}
	return v;
}

static int token_get(vt_token *out, conn *c, const char *id_or_name)
{
	int64_t id = parse_id(id_or_name);
	if (id > 0)
		return token_select(out, c, ST_TOKEN_BY_ID, NULL, 0, id);
	return token_select(out, c, ST_TOKEN_BY_NAME, id_or_name, strlen(id_or_name), 0);
}

int vt_index_token_get(vt_token *out, vt_index *idx, const char *id_or_name)
{
	conn *c;
	int err;
	if ((err = reader_get(&c, idx)) < 0)
		return err;
	err = token_get(out, c, id_or_name);
	reader_put(idx, c);
	if (err == VT_ENOTFOUND)
		err = vt_error_set(VT_ENOTFOUND, "no token with id or name \"%s\"", id_or_name);
	return err;
}

static int token_row(sqlite3_stmt *s, const row_cb *cb)
{
	vt_token t;
	row_token(&t, s);
	return cb->fn.token(&t, cb->payload);
}

int vt_index_token_list(vt_index *idx, int (*fn)(const vt_token *t, void *payload), void *payload)
{
	row_cb cb = {.fn.token = fn, .payload = payload};
	return list_rows(idx, ST_TOKEN_LIST, NULL, NULL, token_row, &cb, "list tokens");
}

int vt_index_token_revoke(vt_token *out, vt_index *idx, const char *id_or_name)
{
	sqlite3_stmt *s = NULL;
	vt_token t;
	int64_t when = now();
	int err, rc;

	pthread_mutex_lock(&idx->wmu);
	if ((err = token_get(&t, idx->writer, id_or_name)) < 0) {
		err = vt_error_set(VT_ENOTFOUND, "no token with id or name \"%s\"", id_or_name);
		goto done;
	}
	if (t.revoked) {
		err = vt_error_set(VT_EEXISTS, "token %lld (%s) was already revoked",
				   (long long)t.id, t.name);
		goto done;
	}
	if ((err = exec(idx->writer, "PRAGMA synchronous = FULL", "sync")) < 0 ||
	    (err = stmt(&s, idx->writer, ST_TOKEN_REVOKE)) < 0)
		goto done;
	sqlite3_bind_int64(s, 1, t.id);
	sqlite3_bind_int64(s, 2, when);
	if ((rc = sqlite3_step(s)) != SQLITE_DONE)
		err = db_error(idx->writer->db, rc, "revoke a token");
	else if (sqlite3_changes(idx->writer->db) != 1)
		/* Another process revoked it between our read and write. */
		err = vt_error_set(VT_EEXISTS, "token %lld was already revoked", (long long)t.id);
	t.revoked = when;
done:
	release(s);
	exec(idx->writer, "PRAGMA synchronous = NORMAL", "sync");
	pthread_mutex_unlock(&idx->wmu);
	if (err == 0 && out)
		*out = t;
	return err;
}

/* ---- analyses ---- */

static int bind_opt(sqlite3_stmt *s, int i, const char *t)
{
	return bind_text(s, i, t);
}

/* Split "namespace:identifier" at the last ':' (identifiers hold none). */
static int split_rule(const char **ns, size_t *nslen, const char **id, const char *rule)
{
	const char *colon = strrchr(rule, ':');
	size_t n = strlen(rule);
	if (n == 0 || n > VT_INDEX_RULE_MAX || !colon || colon == rule || colon[1] == '\0')
		return vt_error_set(VT_EINVAL, "a rule is \"namespace:identifier\", not \"%s\"",
				    rule);
	*ns = rule;
	*nslen = (size_t)(colon - rule);
	*id = colon + 1;
	return 0;
}

static int check_verdict(const char *v)
{
	static const char *const ok[] = {"clean", "unknown", "suspicious", "malicious"};
	for (size_t i = 0; v && i < 4; i++)
		if (strcmp(v, ok[i]) == 0)
			return 0;
	return vt_error_set(VT_EINVAL, "not a verdict: \"%s\"", v ? v : "(null)");
}

static int put_one(conn *c, const vt_index_analysis *a)
{
	sqlite3_stmt *s = NULL;
	const uint8_t *key = a->sample.b;
	int err;

	if ((err = check_verdict(a->verdict)) < 0)
		return err;
	if (strlen(a->ruleset) != 0 && strlen(a->ruleset) != 64)
		return vt_error_set(VT_EINVAL, "a ruleset digest has 64 hex digits");
	if ((err = stmt(&s, c, ST_ANALYSIS_PUT)) < 0)
		return err;
	sqlite3_bind_blob(s, 1, key, VT_HASH_SIZE, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, a->ruleset, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, a->verdict, -1, SQLITE_STATIC);
	bind_opt(s, 4, a->type);
	bind_opt(s, 5, a->mime);
	bind_opt(s, 6, a->ssdeep);
	bind_opt(s, 7, a->tlsh);
	sqlite3_bind_double(s, 8, a->entropy);
	sqlite3_bind_text(s, 9, a->report ? a->report : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 10, a->analysed ? a->analysed : now());
	if (a->log_index >= 0)
		sqlite3_bind_int64(s, 11, a->log_index);
	err = step_done(c, s, "store an analysis");
	release(s);
	if (err < 0)
		return err;
	if ((err = stmt(&s, c, ST_MATCHES_DEL)) < 0)
		return err;
	sqlite3_bind_blob(s, 1, key, VT_HASH_SIZE, SQLITE_STATIC);
	err = step_done(c, s, "store matches");
	release(s);
	for (size_t i = 0; i < a->nrules && err == 0; i++) {
		const char *ns = NULL, *id = NULL;
		size_t nslen = 0;
		if ((err = split_rule(&ns, &nslen, &id, a->rules[i])) < 0 ||
		    (err = stmt(&s, c, ST_MATCH_PUT)) < 0)
			break;
		sqlite3_bind_blob(s, 1, key, VT_HASH_SIZE, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, ns, (int)nslen, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, id, -1, SQLITE_STATIC);
		err = step_done(c, s, "store a match");
		release(s);
	}
	if (err == 0 && (err = stmt(&s, c, ST_CHILDREN_DEL)) == 0) {
		sqlite3_bind_blob(s, 1, key, VT_HASH_SIZE, SQLITE_STATIC);
		err = step_done(c, s, "store children");
		release(s);
	}
	for (size_t i = 0; i < a->nchildren && err == 0; i++) {
		if ((err = check_text("member path", a->children[i].path, VT_INDEX_PATH_MAX,
				      true)) < 0 ||
		    (err = stmt(&s, c, ST_CHILD_PUT)) < 0)
			break;
		sqlite3_bind_blob(s, 1, key, VT_HASH_SIZE, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, a->children[i].path, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, a->children[i].child.b, VT_HASH_SIZE, SQLITE_STATIC);
		err = step_done(c, s, "store a child");
		release(s);
	}
	if (err == 0 && (err = stmt(&s, c, ST_QUEUE_DEL)) == 0) {
		sqlite3_bind_blob(s, 1, key, VT_HASH_SIZE, SQLITE_STATIC);
		err = step_done(c, s, "dequeue");
		release(s);
	}
	/* The entry it was waiting for is now the stored analysis's. */
	if (err == 0 && (err = stmt(&s, c, ST_PENDING_DEL)) == 0) {
		sqlite3_bind_blob(s, 1, key, VT_HASH_SIZE, SQLITE_STATIC);
		err = step_done(c, s, "clear a pending entry");
		release(s);
	}
	return err;
}

int vt_index_analysis_put(vt_index *idx, const vt_index_analysis *a, size_t n)
{
	int err;

	pthread_mutex_lock(&idx->wmu);
	if ((err = exec(idx->writer, "BEGIN IMMEDIATE", "store analyses")) < 0)
		goto done;
	for (size_t i = 0; i < n && err == 0; i++)
		err = put_one(idx->writer, &a[i]);
	if (err == 0)
		err = exec(idx->writer, "COMMIT", "store analyses");
	if (err < 0)
		sqlite3_exec(idx->writer->db, "ROLLBACK", NULL, NULL, NULL);
done:
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

static char *dup_col(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	return strdup(t ? (const char *)t : "");
}

static int analysis_out(sqlite3_stmt *s, const row_cb *cb)
{
	vt_index_analysis_row *out = cb->payload;
	copy_text(out->ruleset, sizeof(out->ruleset), s, 0);
	copy_text(out->verdict, sizeof(out->verdict), s, 1);
	copy_text(out->type, sizeof(out->type), s, 2);
	copy_text(out->mime, sizeof(out->mime), s, 3);
	copy_text(out->ssdeep, sizeof(out->ssdeep), s, 4);
	copy_text(out->tlsh, sizeof(out->tlsh), s, 5);
	out->entropy = sqlite3_column_double(s, 6);
	out->analysed = sqlite3_column_int64(s, 8);
	out->log_index = sqlite3_column_type(s, 9) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 9);
	if ((out->report = dup_col(s, 7)) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	return 1;
}

int vt_index_analysis_get(vt_index_analysis_row *out, vt_index *idx, const vt_hash *sample)
{
	memset(out, 0, sizeof(*out));
	return get_row(idx, ST_ANALYSIS_GET, sample, analysis_out, out, "not analysed yet",
		       "read an analysis");
}

void vt_index_analysis_row_dispose(vt_index_analysis_row *r)
{
	if (r) {
		free(r->report);
		r->report = NULL;
	}
}

static int match_row(sqlite3_stmt *s, const row_cb *cb)
{
	char name[2 * VT_INDEX_RULE_MAX + 2];
	snprintf(name, sizeof(name), "%s:%s", sqlite3_column_text(s, 0), sqlite3_column_text(s, 1));
	return cb->fn.text(name, cb->payload);
}

static int child_row(sqlite3_stmt *s, const row_cb *cb)
{
	vt_index_child ch;
	copy_text(ch.path, sizeof(ch.path), s, 0);
	copy_blob(ch.child.b, VT_HASH_SIZE, s, 1);
	return cb->fn.child(&ch, cb->payload);
}

int vt_index_analysis_list(vt_index *idx, const vt_hash *sample,
			   int (*rule)(const char *rule, void *payload),
			   int (*child)(const vt_index_child *c, void *payload), void *payload)
{
	row_cb rcb = {.fn.text = rule, .payload = payload};
	row_cb ccb = {.fn.child = child, .payload = payload};
	conn *c;
	int err;

	if ((err = reader_get(&c, idx)) < 0)
		return err;
	if (rule)
		err = each_row(c, ST_MATCH_LIST, sample, NULL, match_row, &rcb, "list matches");
	if (err == 0 && child)
		err = each_row(c, ST_CHILD_LIST, sample, NULL, child_row, &ccb, "list children");
	reader_put(idx, c);
	return err;
}

/* Read up to max hashes from a statement already bound. */
static int read_hashes(vt_hash *out, size_t *n, conn *c, sqlite3_stmt *s, size_t max)
{
	int rc = SQLITE_DONE;
	*n = 0;
	while (*n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
		copy_blob(out[(*n)++].b, VT_HASH_SIZE, s, 0);
	if (*n < max && rc != SQLITE_DONE)
		return db_error(c->db, rc, "read the queue");
	return 0;
}

int vt_index_analysis_queue(vt_hash *out, size_t *n, vt_index *idx, size_t max)
{
	sqlite3_stmt *s = NULL;
	conn *c;
	int err;

	*n = 0;
	if ((err = reader_get(&c, idx)) < 0)
		return err;
	if ((err = stmt(&s, c, ST_QUEUE_LIST)) == 0) {
		sqlite3_bind_int64(s, 1, (int64_t)max);
		err = read_hashes(out, n, c, s, max);
	}
	release(s);
	reader_put(idx, c);
	return err;
}

int vt_index_analysis_stale(vt_hash *out, size_t *n, vt_index *idx, const char *ruleset,
			    const vt_hash *after, size_t max)
{
	static const uint8_t zero[1] = {0};
	sqlite3_stmt *s = NULL;
	conn *c;
	int err;

	*n = 0;
	if ((err = reader_get(&c, idx)) < 0)
		return err;
	if ((err = stmt(&s, c, ST_STALE_LIST)) == 0) {
		/* A one-byte zero blob sorts before every 32-byte key but the
		 * all-zero one, which is not a SHA-256 anyone will find. */
		if (after)
			sqlite3_bind_blob(s, 1, after->b, VT_HASH_SIZE, SQLITE_STATIC);
		else
			sqlite3_bind_blob(s, 1, zero, 0, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, ruleset, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (int64_t)max);
		err = read_hashes(out, n, c, s, max);
	}
	release(s);
	reader_put(idx, c);
	return err;
}

int vt_index_analysis_requeue(vt_index *idx, const vt_hash *sample)
{
	sqlite3_stmt *s = NULL;
	int err;

	pthread_mutex_lock(&idx->wmu);
	if ((err = stmt(&s, idx->writer, ST_REQUEUE)) == 0) {
		sqlite3_bind_blob(s, 1, sample->b, VT_HASH_SIZE, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now());
		err = step_done(idx->writer, s, "queue a sample");
	}
	release(s);
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

static int count1(uint64_t *out, conn *c, int id, const char *arg)
{
	sqlite3_stmt *s = NULL;
	int err, rc;
	if ((err = stmt(&s, c, id)) < 0)
		return err;
	if (arg)
		sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(s, 0);
	else
		err = db_error(c->db, rc, "count");
	release(s);
	return err;
}

int vt_index_analysis_count(vt_index_analysis_counts *out, vt_index *idx, const char *ruleset)
{
	uint64_t analyses = 0;
	conn *c;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = reader_get(&c, idx)) < 0)
		return err;
	if ((err = exec(c, "BEGIN", "count")) < 0)
		goto done;
	if ((err = count1(&out->samples, c, ST_COUNT_SAMPLES, NULL)) == 0 &&
	    (err = count1(&out->queued, c, ST_COUNT_QUEUE, NULL)) == 0 &&
	    (err = count1(&out->current, c, ST_COUNT_CURRENT, ruleset)) == 0 &&
	    (err = count1(&analyses, c, ST_COUNT_ANALYSES, NULL)) == 0)
		out->stale = analyses - out->current;
	sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
done:
	reader_put(idx, c);
	return err;
}

/* ---- entries on their way to the log, and the retro-scan's cursor ---- */

int vt_index_analysis_pending_put(vt_index *idx, const vt_index_pending *p, size_t n)
{
	sqlite3_stmt *s = NULL;
	int err;

	pthread_mutex_lock(&idx->wmu);
	if ((err = exec(idx->writer, "BEGIN IMMEDIATE", "record pending entries")) < 0)
		goto done;
	for (size_t i = 0; i < n && err == 0; i++) {
		if (p[i].log_from > (uint64_t)INT64_MAX) {
			err = vt_error_set(VT_EINVAL, "a log size past 2^63");
			break;
		}
		if ((err = stmt(&s, idx->writer, ST_PENDING_PUT)) < 0)
			break;
		sqlite3_bind_blob(s, 1, p[i].sample.b, VT_HASH_SIZE, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, p[i].entry.b, VT_HASH_SIZE, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (int64_t)p[i].log_from);
		err = step_done(idx->writer, s, "record a pending entry");
		release(s);
		s = NULL;
	}
	if (err == 0)
		err = exec(idx->writer, "COMMIT", "record pending entries");
	if (err < 0)
		sqlite3_exec(idx->writer->db, "ROLLBACK", NULL, NULL, NULL);
done:
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

static void row_pending(vt_index_pending *o, sqlite3_stmt *s)
{
	copy_blob(o->sample.b, VT_HASH_SIZE, s, 0);
	copy_blob(o->entry.b, VT_HASH_SIZE, s, 1);
	o->log_from = (uint64_t)sqlite3_column_int64(s, 2);
	o->log_index = sqlite3_column_type(s, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 3);
}

static int pending_out(sqlite3_stmt *s, const row_cb *cb)
{
	row_pending(cb->payload, s);
	return 1;
}

int vt_index_analysis_pending_get(vt_index_pending *out, vt_index *idx, const vt_hash *sample)
{
	memset(out, 0, sizeof(*out));
	return get_row(idx, ST_PENDING_GET, sample, pending_out, out,
		       "no entry pending for this sample", "read a pending entry");
}

static int pending_row(sqlite3_stmt *s, const row_cb *cb)
{
	vt_index_pending p;
	row_pending(&p, s);
	return cb->fn.pending(&p, cb->payload);
}

int vt_index_analysis_pending_list(vt_index *idx,
				   int (*fn)(const vt_index_pending *p, void *payload),
				   void *payload)
{
	row_cb cb = {.fn.pending = fn, .payload = payload};
	return list_rows(idx, ST_PENDING_LIST, NULL, NULL, pending_row, &cb,
			 "list pending entries");
}

int vt_index_analysis_pending_resolve(vt_index *idx, const vt_hash *sample, int64_t log_index)
{
	sqlite3_stmt *s = NULL;
	int err;

	pthread_mutex_lock(&idx->wmu);
	if ((err = stmt(&s, idx->writer, log_index >= 0 ? ST_PENDING_SET : ST_PENDING_DEL)) < 0)
		goto done;
	sqlite3_bind_blob(s, 1, sample->b, VT_HASH_SIZE, SQLITE_STATIC);
	if (log_index >= 0)
		sqlite3_bind_int64(s, 2, log_index);
	if ((err = step_done(idx->writer, s, "resolve a pending entry")) == 0 &&
	    sqlite3_changes(idx->writer->db) == 0)
		err = vt_error_set(VT_ENOTFOUND, "no entry pending for this sample");
done:
	release(s);
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

int vt_index_sample_pending_put(vt_index *idx, const vt_index_sample_pending *p)
{
	sqlite3_stmt *s = NULL;
	int err;

	if ((err = check_submission(p->tenant, p->region, sizeof(p->region), p->name,
				    p->source)) < 0 ||
	    (err = check_text("tags", p->tags, VT_INDEX_TAGS_MAX, false)) < 0 ||
	    (err = each_listed_tag(p->tags, NULL, NULL)) < 0)
		return err;
	if (p->log_from > (uint64_t)INT64_MAX)
		return vt_error_set(VT_EINVAL, "a log size past 2^63");
	pthread_mutex_lock(&idx->wmu);
	if ((err = stmt(&s, idx->writer, ST_SPENDING_PUT)) < 0)
		goto done;
	sqlite3_bind_blob(s, 1, p->sample.b, VT_HASH_SIZE, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, p->entry.b, VT_HASH_SIZE, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)p->log_from);
	sqlite3_bind_text(s, 4, p->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, p->region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, p->time ? p->time : now());
	sqlite3_bind_text(s, 7, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, p->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, p->tags, -1, SQLITE_STATIC);
	err = step_done(idx->writer, s, "record a pending sample entry");
done:
	release(s);
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

static int sample_pending_out(sqlite3_stmt *s, const row_cb *cb)
{
	vt_index_sample_pending *o = cb->payload;
	copy_blob(o->sample.b, VT_HASH_SIZE, s, 0);
	copy_blob(o->entry.b, VT_HASH_SIZE, s, 1);
	o->log_from = (uint64_t)sqlite3_column_int64(s, 2);
	copy_text(o->tenant, sizeof(o->tenant), s, 3);
	copy_text(o->region, sizeof(o->region), s, 4);
	o->time = sqlite3_column_int64(s, 5);
	copy_text(o->name, sizeof(o->name), s, 6);
	copy_text(o->source, sizeof(o->source), s, 7);
	copy_text(o->tags, sizeof(o->tags), s, 8);
	return 1;
}

/* Under the writer's mutex, so that resolve reads what it settles. */
static int sample_pending_select(vt_index_sample_pending *out, conn *c, const vt_hash *sample)
{
	row_cb cb = {.payload = out};

	memset(out, 0, sizeof(*out));
	return one_row(each_row(c, ST_SPENDING_GET, sample, NULL, sample_pending_out, &cb,
				"read a pending sample entry"),
		       "no sample entry pending for this sample");
}

int vt_index_sample_pending_get(vt_index_sample_pending *out, vt_index *idx, const vt_hash *sample)
{
	memset(out, 0, sizeof(*out));
	return get_row(idx, ST_SPENDING_GET, sample, sample_pending_out, out,
		       "no sample entry pending for this sample", "read a pending sample entry");
}

struct hashes {
	vt_hash *v;
	size_t n, cap;
};

static int sample_hash_row(sqlite3_stmt *s, const row_cb *cb)
{
	struct hashes *h = cb->payload;
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 16;
		vt_hash *v = realloc(h->v, cap * sizeof(*v));
		if (v == NULL)
			return vt_error_set(VT_ENOMEM, "out of memory");
		h->v = v;
		h->cap = cap;
	}
	copy_blob(h->v[h->n++].b, VT_HASH_SIZE, s, 0);
	return 0;
}

int vt_index_sample_pending_samples(vt_hash **out, size_t *n, vt_index *idx)
{
	struct hashes h = {0};
	row_cb cb = {.payload = &h};
	int err = list_rows(idx, ST_SPENDING_ALL, NULL, NULL, sample_hash_row, &cb,
			    "list pending sample entries");
	if (err < 0) {
		free(h.v);
		h.v = NULL;
		h.n = 0;
	}
	*out = h.v;
	*n = h.n;
	return err < 0 ? err : 0;
}

int vt_index_sample_pending_resolve(vt_index *idx, const vt_hash *sample, int64_t log_index)
{
	vt_index_sample_pending p;
	vt_index_sighting v;
	bool began = false;
	int err;

	pthread_mutex_lock(&idx->wmu);
	if ((err = exec(idx->writer, "BEGIN IMMEDIATE", "settle a pending sample entry")) < 0)
		goto done;
	began = true;
	if ((err = sample_pending_select(&p, idx->writer, sample)) < 0)
		goto done;
	if (log_index >= 0) {
		memset(&v, 0, sizeof(v));
		v.sample = p.sample;
		snprintf(v.tenant, sizeof(v.tenant), "%s", p.tenant);
		snprintf(v.region, sizeof(v.region), "%s", p.region);
		snprintf(v.name, sizeof(v.name), "%s", p.name);
		snprintf(v.source, sizeof(v.source), "%s", p.source);
		v.time = p.time;
		v.log_index = log_index;
		if ((err = insert_sighting(NULL, idx->writer, &v)) < 0 ||
		    (err = each_listed_tag(p.tags, idx->writer, sample)) < 0)
			goto done;
	}
	if ((err = drop_sample_pending(idx->writer, sample, NULL)) < 0 ||
	    (err = exec(idx->writer, "COMMIT", "settle a pending sample entry")) < 0)
		goto done;
	began = false;
done:
	if (began)
		sqlite3_exec(idx->writer->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

int vt_index_analysis_cursor_get(vt_hash *after, vt_index *idx, const char *ruleset)
{
	sqlite3_stmt *s = NULL;
	conn *c;
	int err, rc;

	if ((err = reader_get(&c, idx)) < 0)
		return err;
	if ((err = stmt(&s, c, ST_CURSOR_GET)) < 0)
		goto done;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == VT_HASH_SIZE &&
	    strcmp((const char *)sqlite3_column_text(s, 0), ruleset) == 0)
		copy_blob(after->b, VT_HASH_SIZE, s, 1);
	else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		err = vt_error_set(VT_ENOTFOUND, "no retro-scan cursor for this ruleset");
	else
		err = db_error(c->db, rc, "read the retro-scan cursor");
done:
	release(s);
	reader_put(idx, c);
	return err;
}

int vt_index_analysis_cursor_set(vt_index *idx, const char *ruleset, const vt_hash *after)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (after && strlen(ruleset) != 64)
		return vt_error_set(VT_EINVAL, "a ruleset digest has 64 hex digits");
	pthread_mutex_lock(&idx->wmu);
	if ((err = stmt(&s, idx->writer, after ? ST_CURSOR_PUT : ST_CURSOR_DEL)) < 0)
		goto done;
	if (after) {
		sqlite3_bind_text(s, 1, ruleset, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, after->b, VT_HASH_SIZE, SQLITE_STATIC);
	}
	err = step_done(idx->writer, s, "store the retro-scan cursor");
done:
	release(s);
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

/* ---- search ---- */

static const char *const ops[] = {"=", "<", "<=", ">", ">="};

/* The SQL of one term, with ?N placeholders bound by bind_term. */
static int term_sql(vt_buf *q, const vt_query_term *t, int *param)
{
	int p = (*param)++;
	switch (t->kind) {
	case VT_QUERY_RULE:
		if (strchr(t->text, ':'))
			return vt_buf_printf(q,
					     " AND EXISTS (SELECT 1 FROM matches m WHERE m.sample ="
					     " s.sha256 AND m.rule = ?%d AND m.ns = ?%d)",
					     p, (*param)++);
		return vt_buf_printf(q,
				     " AND EXISTS (SELECT 1 FROM matches m WHERE m.sample ="
				     " s.sha256 AND m.rule = ?%d)",
				     p);
	case VT_QUERY_TAG:
		return vt_buf_printf(q,
				     " AND EXISTS (SELECT 1 FROM tags g WHERE g.sample = s.sha256"
				     " AND g.tag = ?%d)",
				     p);
	case VT_QUERY_TYPE: return vt_buf_printf(q, " AND instr(lower(a.type), lower(?%d)) > 0", p);
	case VT_QUERY_VERDICT: return vt_buf_printf(q, " AND a.verdict = ?%d", p);
	case VT_QUERY_SIZE: return vt_buf_printf(q, " AND s.size %s ?%d", ops[t->op], p);
	case VT_QUERY_FIRST_SEEN:
		/* num is a day: "=" is that day, "<=" up to its end, ">" after it. */
		switch (t->op) {
		case VT_QUERY_EQ:
			return vt_buf_printf(
			    q, " AND s.first_seen >= ?%d AND s.first_seen < ?%d + 86400", p, p);
		case VT_QUERY_LT: return vt_buf_printf(q, " AND s.first_seen < ?%d", p);
		case VT_QUERY_LE: return vt_buf_printf(q, " AND s.first_seen < ?%d + 86400", p);
		case VT_QUERY_GT: return vt_buf_printf(q, " AND s.first_seen >= ?%d + 86400", p);
		case VT_QUERY_GE: return vt_buf_printf(q, " AND s.first_seen >= ?%d", p);
		}
		break;
	case VT_QUERY_REGION:
		return vt_buf_printf(q,
				     " AND EXISTS (SELECT 1 FROM sightings r WHERE r.sample ="
				     " s.sha256 AND r.region = ?%d)",
				     p);
	case VT_QUERY_PARENT:
		return vt_buf_printf(q,
				     " AND EXISTS (SELECT 1 FROM children c WHERE c.parent = ?%d"
				     " AND c.child = s.sha256)",
				     p);
	case VT_QUERY_HASH:
		if (t->nibbles == 32)
			return vt_buf_printf(q, " AND s.md5 = ?%d", p);
		if (t->nibbles == 40)
			return vt_buf_printf(q, " AND s.sha1 = ?%d", p);
		return vt_buf_printf(q, " AND s.sha256 >= ?%d AND s.sha256 <= ?%d", p, (*param)++);
	case VT_QUERY_SSDEEP: {
		/* Only the same or an adjacent block size can compare above 0. */
		return vt_buf_printf(
		    q,
		    " AND a.ssdeep IS NOT NULL AND CAST(substr(a.ssdeep, 1,"
		    " instr(a.ssdeep, ':') - 1) AS INTEGER) IN (?%d, ?%d * 2, ?%d / 2)",
		    p, p, p);
	}
	case VT_QUERY_TLSH: return vt_buf_adds(q, " AND a.tlsh IS NOT NULL");
	}
	return vt_error_set(VT_EINVAL, "unknown search term");
}

static void bind_term(sqlite3_stmt *s, const vt_query_term *t, int *param, uint8_t lohi[2][32])
{
	int p = (*param)++;
	switch (t->kind) {
	case VT_QUERY_RULE: {
		const char *colon = strrchr(t->text, ':');
		if (colon) {
			sqlite3_bind_text(s, p, colon + 1, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, (*param)++, t->text, (int)(colon - t->text),
					  SQLITE_STATIC);
		} else {
			sqlite3_bind_text(s, p, t->text, -1, SQLITE_STATIC);
		}
		break;
	}
	case VT_QUERY_TAG:
	case VT_QUERY_TYPE:
	case VT_QUERY_VERDICT:
	case VT_QUERY_REGION: sqlite3_bind_text(s, p, t->text, -1, SQLITE_STATIC); break;
	case VT_QUERY_SIZE:
	case VT_QUERY_FIRST_SEEN: sqlite3_bind_int64(s, p, t->num); break;
	case VT_QUERY_PARENT: sqlite3_bind_blob(s, p, t->hash, VT_HASH_SIZE, SQLITE_STATIC); break;
	case VT_QUERY_HASH:
		if (t->nibbles == 32 || t->nibbles == 40) {
			sqlite3_bind_blob(s, p, t->hash, (int)t->nibbles / 2, SQLITE_STATIC);
			break;
		}
		/* The range of keys that start with the prefix. */
		memset(lohi[0], 0, 32);
		memset(lohi[1], 0xff, 32);
		memcpy(lohi[0], t->hash, (t->nibbles + 1) / 2);
		memcpy(lohi[1], t->hash, (t->nibbles + 1) / 2);
		if (t->nibbles % 2) {
			lohi[0][t->nibbles / 2] &= 0xf0;
			lohi[1][t->nibbles / 2] |= 0x0f;
		}
		sqlite3_bind_blob(s, p, lohi[0], 32, SQLITE_STATIC);
		sqlite3_bind_blob(s, (*param)++, lohi[1], 32, SQLITE_STATIC);
		break;
	case VT_QUERY_SSDEEP: sqlite3_bind_int64(s, p, atoll(t->text)); break;
	case VT_QUERY_TLSH: break;
	}
}

/* SQLite's progress callback: interrupt a search past its deadline. */
static int past_deadline(void *payload)
{
	const struct timespec *until = payload;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec > until->tv_sec ||
	       (t.tv_sec == until->tv_sec && t.tv_nsec > until->tv_nsec);
}

int vt_index_search(vt_hash *last, bool *more, vt_index *idx, const vt_query *q, const char *tenant,
		    const vt_hash *after, size_t limit, size_t max_scan, unsigned max_ms,
		    int (*similar)(const vt_query_term *t, const char *ssdeep, const char *tlsh,
				   void *payload),
		    int (*fn)(const vt_index_found *f, void *payload), void *payload)
{
	static const uint8_t zero[1] = {0};
	uint8_t lohi[VT_INDEX_QUERY_TERMS][2][32];
	struct timespec until;
	sqlite3_stmt *s = NULL;
	vt_index_found f;
	size_t hits = 0, scanned = 0;
	conn *c = NULL;
	vt_buf sqlq;
	int err = 0, rc, param = 3;

	*more = false;
	memset(last, 0, sizeof(*last));
	if (after)
		*last = *after;
	if (q->n > VT_INDEX_QUERY_TERMS)
		return vt_error_set(VT_EINVAL, "at most %d search terms", VT_INDEX_QUERY_TERMS);
	vt_buf_init(&sqlq, 64 * 1024);
	err = vt_buf_adds(&sqlq, "SELECT s.sha256, s.sha1, s.md5, s.size, s.first_seen,"
				 " s.jurisdiction, a.verdict, a.type, a.ssdeep, a.tlsh"
				 " FROM samples s LEFT JOIN analyses a ON a.sample = s.sha256"
				 " WHERE s.sha256 > ?1");
	if (err == 0 && tenant)
		err = vt_buf_adds(&sqlq, " AND EXISTS (SELECT 1 FROM sightings t WHERE t.sample ="
					 " s.sha256 AND t.tenant = ?2)");
	for (size_t i = 0; i < q->n && err == 0; i++)
		err = term_sql(&sqlq, &q->t[i], &param);
	if (err == 0)
		err = vt_buf_adds(&sqlq, " ORDER BY s.sha256");
	if (err < 0 || (err = reader_get(&c, idx)) < 0)
		goto done;
	if ((rc = sqlite3_prepare_v2(c->db, vt_buf_cstr(&sqlq), -1, &s, NULL)) != SQLITE_OK) {
		err = db_error(c->db, rc, "search");
		goto done;
	}
	if (after)
		sqlite3_bind_blob(s, 1, after->b, VT_HASH_SIZE, SQLITE_STATIC);
	else
		sqlite3_bind_blob(s, 1, zero, 0, SQLITE_STATIC);
	if (tenant)
		sqlite3_bind_text(s, 2, tenant, -1, SQLITE_STATIC);
	param = 3;
	for (size_t i = 0; i < q->n; i++)
		bind_term(s, &q->t[i], &param, lohi[i]);
	if (max_ms) {
		/* Filters can make SQLite scan many rows for one it returns:
		 * bound the time, checked every 1000 VM steps. */
		until = vt_timespec_after(CLOCK_MONOTONIC, max_ms);
		sqlite3_progress_handler(c->db, 1000, past_deadline, &until);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		bool ok = true;
		if (hits == limit || scanned == max_scan) {
			*more = true;
			break;
		}
		scanned++;
		row_sample(&f.sample, s);
		*last = f.sample.sha256;
		f.verdict = (const char *)sqlite3_column_text(s, 6);
		f.type = (const char *)sqlite3_column_text(s, 7);
		for (size_t i = 0; i < q->n && ok; i++)
			if (q->t[i].kind == VT_QUERY_SSDEEP || q->t[i].kind == VT_QUERY_TLSH)
				ok = similar &&
				     similar(&q->t[i], (const char *)sqlite3_column_text(s, 8),
					     (const char *)sqlite3_column_text(s, 9), payload) == 1;
		if (!ok)
			continue;
		hits++;
		if ((err = fn(&f, payload)) != 0)
			goto done;
	}
	if (rc == SQLITE_INTERRUPT && scanned > 0)
		*more = true; /* a short page: the cursor goes on from the last row */
	else if (rc == SQLITE_INTERRUPT)
		err = vt_error_set(VT_EBUSY, "the search found no row within %u ms: narrow it",
				   max_ms);
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_error(c->db, rc, "search");
done:
	sqlite3_finalize(s);
	if (c) {
		sqlite3_progress_handler(c->db, 0, NULL, NULL);
		reader_put(idx, c);
	}
	vt_buf_dispose(&sqlq);
	return err;
}
