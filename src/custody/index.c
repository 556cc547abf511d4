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
		if (err == VT_ENOTFOUND) {
			memset(&out[i].sample, 0, sizeof(out[i].sample));
			err = 0;
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

int vt_index_sighting_add(int64_t *out_id, vt_index *idx, const vt_index_sighting *v)
{
	sqlite3_stmt *s = NULL;
	int err, rc;

	if ((err = vt_token_check_tenant(v->tenant)) < 0 ||
	    (err = vt_policy_check_region(v->region, strnlen(v->region, sizeof(v->region)))) < 0 ||
	    (err = check_text("file name", v->name, VT_INDEX_NAME_MAX, false)) < 0 ||
	    (err = check_text("source", v->source, VT_INDEX_SOURCE_MAX, false)) < 0)
		return err;
	pthread_mutex_lock(&idx->wmu);
	if ((err = stmt(&s, idx->writer, ST_SIGHTING_INSERT)) < 0)
		goto done;
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
		err = db_error(idx->writer->db, rc, "record a sighting");
	else if (out_id)
		*out_id = sqlite3_last_insert_rowid(idx->writer->db);
done:
	release(s);
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

int vt_index_sightings_list(vt_index *idx, const vt_hash *sample, const char *tenant,
			    int (*fn)(const vt_index_sighting *s, void *payload), void *payload)
{
	vt_index_sighting v;
	sqlite3_stmt *s = NULL;
	conn *c;
	int err, rc;

	if ((err = reader_get(&c, idx)) < 0)
		return err;
	if ((err = stmt(&s, c, tenant ? ST_SIGHTING_LIST_TENANT : ST_SIGHTING_LIST)) < 0)
		goto done;
	sqlite3_bind_blob(s, 1, sample->b, VT_HASH_SIZE, SQLITE_STATIC);
	if (tenant)
		sqlite3_bind_text(s, 2, tenant, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_sighting(&v, s);
		if ((err = fn(&v, payload)) != 0)
			goto done;
	}
	if (rc != SQLITE_DONE)
		err = db_error(c->db, rc, "list sightings");
done:
	release(s);
	reader_put(idx, c);
	return err;
}

static int check_tag(const char *tag)
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

int vt_index_tag_add(vt_index *idx, const vt_hash *sample, const char *tag)
{
	sqlite3_stmt *s = NULL;
	int err, rc;

	if ((err = check_tag(tag)) < 0)
		return err;
	pthread_mutex_lock(&idx->wmu);
	if ((err = stmt(&s, idx->writer, ST_TAG_INSERT)) < 0)
		goto done;
	sqlite3_bind_blob(s, 1, sample->b, VT_HASH_SIZE, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, tag, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		err = vt_error_set(VT_ENOTFOUND, "no such sample to tag");
	else if (rc != SQLITE_DONE)
		err = db_error(idx->writer->db, rc, "tag a sample");
done:
	release(s);
	pthread_mutex_unlock(&idx->wmu);
	return err;
}

int vt_index_tags_list(vt_index *idx, const vt_hash *sample,
		       int (*fn)(const char *tag, void *payload), void *payload)
{
	sqlite3_stmt *s = NULL;
	conn *c;
	int err, rc;

	if ((err = reader_get(&c, idx)) < 0)
		return err;
	if ((err = stmt(&s, c, ST_TAG_LIST)) < 0)
		goto done;
	sqlite3_bind_blob(s, 1, sample->b, VT_HASH_SIZE, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((err = fn((const char *)sqlite3_column_text(s, 0), payload)) != 0)
			goto done;
	if (rc != SQLITE_DONE)
		err = db_error(c->db, rc, "list tags");
done:
	release(s);
	reader_put(idx, c);
	return err;
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

int vt_index_token_list(vt_index *idx, int (*fn)(const vt_token *t, void *payload), void *payload)
{
	sqlite3_stmt *s = NULL;
	vt_token t;
	conn *c;
	int err, rc;

	if ((err = reader_get(&c, idx)) < 0)
		return err;
	if ((err = stmt(&s, c, ST_TOKEN_LIST)) < 0)
		goto done;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_token(&t, s);
		if ((err = fn(&t, payload)) != 0)
			goto done;
	}
	if (rc != SQLITE_DONE)
		err = db_error(c->db, rc, "list tokens");
done:
	release(s);
	reader_put(idx, c);
	return err;
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
