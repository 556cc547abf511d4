/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The conveyer routes of /api/v1 (see include/vitrine/router.h); the logic
 * is in src/conveyer/site.c. Writes (builds, releases, rebuilds) check
 * everything first, then log their entry and answer only once it is in a
 * published checkpoint, with its receipt; the record that lists them is
 * written after that, so a listing never shows what the log lacks. Reads
 * are public: attestations, artifacts and sources are served by digest
 * and never change.
 */
#include "server_int.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/hash.h"
#include "vitrine/release.h"
#include "vitrine/site.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMMUTABLE "public, max-age=31536000, immutable"

enum { P_NONE, P_ENVELOPE, P_RECIPE, P_SOURCE, P_ARTIFACT, P_OTHER };

typedef struct {
	vt_conveyer_site *site;
	vt_multipart *mp;
	int part;
	vt_buf env, recipe;
	vt_site_part source;
	vt_site_part arts[VT_RELEASE_SUBJECT_MAX];
	size_t narts;
	int fd;		    /* the streaming part's file */
	vt_site_part *cur;  /* and its record */
	vt_sha256_ctx *ctx; /* and its hash */
	uint64_t max;
	int fail;
	unsigned fail_status;
	char fail_msg[512];
	/* what was logged, for the record written after publication */
	vt_site_record kind;
	char name[VT_RELEASE_NAME_MAX + 1], version[VT_RELEASE_NAME_MAX + 1];
	char key[VT_DSSE_KEYID_LEN + 1];
	bool reproduced;
	uint64_t build_index;
	vt_buf entry;
} cv_req;

static void cv_free(void *p)
{
	cv_req *c = p;
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	vt_sha256_free(c->ctx);
	vt_multipart_free(c->mp);
	vt_site_tmp_drop(&c->source);
	for (size_t i = 0; i < c->narts; i++)
		vt_site_tmp_drop(&c->arts[i]);
	vt_buf_dispose(&c->env);
	vt_buf_dispose(&c->recipe);
	vt_buf_dispose(&c->entry);
	free(c);
}

static cv_req *cv_new(request *rq)
{
	cv_req *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->site = rq->srv->conveyer;
	c->fd = -1;
	vt_buf_init(&c->env, VT_SITE_ENVELOPE_MAX);
	vt_buf_init(&c->recipe, VT_SITE_RECIPE_MAX);
	vt_buf_init(&c->entry, 65536);
	rq->mod = c;
	rq->mod_free = cv_free;
	return c;
}

/* A route's "{sha256}": 64 lower-case hex digits. */
static bool parse_sha(vt_hash *h, const char *s, size_t n)
{
	if (n != 2 * VT_HASH_SIZE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return vt_hex_decode(h->b, VT_HASH_SIZE, s, n) == 0;
}

static enum MHD_Result fail_err(request *rq, int err, const char *what)
{
	unsigned st = err == VT_EEXISTS ? 409 : err == VT_EVERIFY ? 400 : vt_http_status_of(err);
	const char *code = err == VT_EEXISTS   ? "conflict"
			   : err == VT_EVERIFY ? "verification_failed"
					       : vt_http_api_code(st);
	char msg[768];
	snprintf(msg, sizeof(msg), "%s: %s", what, vt_error_last());
	return vt_http_api_error(rq->conn, st, code, msg, NULL, NULL);
}

/* ---- public reads ----------------------------------------------------- */

static enum MHD_Result serve_blob(request *rq, vt_site_kind kind)
{
	char path[4096];
	struct MHD_Response *r;
	struct stat sb;
	enum MHD_Result ret;
	vt_hash h;
	int fd;

	if (!parse_sha(&h, rq->route.arg, rq->route.arg_len))
		return vt_http_api_error(rq->conn, 400, "bad_hash",
					 "want the SHA-256 as 64 lower-case hex digits", NULL,
					 NULL);
	if (vt_site_blob_path(path, sizeof(path), rq->srv->conveyer, kind, &h) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return vt_http_api_error(rq->conn, 404, "not_found", "no such object", NULL, NULL);
	if (fstat(fd, &sb) < 0 || !(r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd))) {
		close(fd);
		return vt_http_api_error(rq->conn, 500, "internal", "cannot read the object", NULL,
					 NULL);
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				kind == VT_SITE_ATTESTATIONS ? "application/json"
							     : "application/octet-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, IMMUTABLE);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(rq->conn, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static void json_hex(vt_buf *b, const vt_hash *h)
{
	char hex[2 * VT_HASH_SIZE + 1];
	vt_hex_encode(hex, h->b, VT_HASH_SIZE);
	vt_buf_printf(b, "\"%s\"", hex);
}

/* "log_index": N, "entry": "...", "receipt": "..." of a record. */
static int json_logged(vt_buf *b, vt_server *srv, uint64_t index, const vt_buf *entry)
{
	vt_buf proof;
	int err;
	vt_buf_init(&proof, 2 << 20);
	if ((err = vt_http_build_proof(&proof, srv, index)) == 0) {
		vt_buf_printf(b, "\"log_index\": %llu, \"entry\": ", (unsigned long long)index);
		vt_http_json_string(b, vt_buf_cstr(entry));
		vt_buf_adds(b, ", \"receipt\": ");
		vt_http_json_string(b, vt_buf_cstr(&proof));
	}
	vt_buf_dispose(&proof);
	return err;
}

struct rebuilds_ctx {
	vt_server *srv;
	vt_buf *out;
	const char *name, *version;
	bool first;
	int err;
};

static int each_rebuild(const char *key, const char *unused, void *payload)
{
	struct rebuilds_ctx *x = payload;
	vt_rebuild_entry re;
	uint64_t index;
	vt_buf e;
	int err;

	vt_buf_init(&e, 65536);
	if ((err = vt_site_record_get(&e, &index, x->srv->conveyer, VT_SITE_REBUILDS, x->name,
				      x->version, key)) < 0 ||
	    (err = vt_rebuild_entry_parse(&re, (const char *)e.ptr, e.len)) < 0)
		goto done;
	vt_buf_printf(x->out, "%s{\"key\": \"%s\", \"result\": \"%s\", \"envelope\": ",
		      x->first ? "" : ", ", re.key, re.reproduced ? "reproduced" : "differs");
	json_hex(x->out, &re.envelope);
	vt_buf_adds(x->out, ", ");
	err = json_logged(x->out, x->srv, index, &e);
	vt_buf_adds(x->out, "}");
	x->first = false;
done:
	vt_buf_dispose(&e);
	return err;
}

/* The JSON of one release; VT_ENOTFOUND when not released. */
static int release_json(vt_buf *b, vt_server *srv, const char *name, const char *version, bool full)
{
	vt_conveyer_site *s = srv->conveyer;
	vt_build_entry be = {0};
	vt_buf bent, rent;
	uint64_t bidx, ridx;
	struct rebuilds_ctx x = {srv, b, name, version, true, 0};
	int err;

	vt_buf_init(&bent, 65536);
	vt_buf_init(&rent, 65536);
	if ((err = vt_site_record_get(&rent, &ridx, s, VT_SITE_RELEASES, name, version, NULL)) <
		0 ||
	    (err = vt_site_record_get(&bent, &bidx, s, VT_SITE_BUILDS, name, version, NULL)) < 0 ||
	    (err = vt_build_entry_parse(&be, (const char *)bent.ptr, bent.len)) < 0)
		goto done;
	vt_buf_adds(b, "{\"name\": ");
	vt_http_json_string(b, name);
	vt_buf_adds(b, ", \"version\": ");
	vt_http_json_string(b, version);
	vt_buf_adds(b, ", \"attestation\": ");
	json_hex(b, &be.envelope);
	vt_buf_adds(b, ", \"recipe\": ");
	json_hex(b, &be.recipe);
	vt_buf_adds(b, ", \"source\": ");
	json_hex(b, &be.source);
	vt_buf_adds(b, ", \"artifacts\": [");
	for (size_t i = 0; i < be.nsubjects; i++) {
		vt_buf_printf(b, "%s{\"name\": ", i ? ", " : "");
		vt_http_json_string(b, be.subjects[i].name);
		vt_buf_adds(b, ", \"sha256\": ");
		json_hex(b, &be.subjects[i].digest);
		vt_buf_adds(b, "}");
	}
	vt_buf_printf(b, "], \"build_index\": %llu, \"release_index\": %llu",
		      (unsigned long long)bidx, (unsigned long long)ridx);
	if (full) {
		vt_buf_adds(b, ", \"build\": {");
		if ((err = json_logged(b, srv, bidx, &bent)) < 0)
			goto done;
		vt_buf_adds(b, "}, \"release\": {");
		if ((err = json_logged(b, srv, ridx, &rent)) < 0)
			goto done;
		vt_buf_adds(b, "}");
	}
	vt_buf_adds(b, ", \"rebuilds\": [");
	if ((err = vt_site_list(s, VT_SITE_REBUILDS, name, version, each_rebuild, &x)) < 0)
		goto done;
	vt_buf_adds(b, "]}");
done:
	vt_build_entry_dispose(&be);
	vt_buf_dispose(&bent);
	vt_buf_dispose(&rent);
	return err;
}

struct list_ctx {
	vt_server *srv;
	vt_buf *out;
	size_t n;
};

static int each_release(const char *name, const char *version, void *payload)
{
	struct list_ctx *x = payload;
	size_t mark = x->out->len;
	int err;
	if (x->n)
		vt_buf_adds(x->out, ", ");
	err = release_json(x->out, x->srv, name, version, false);
	if (err == VT_ENOTFOUND) {
		x->out->len = mark; /* a release whose build record is gone: skip it */
		return 0;
	}
	if (err == 0)
		x->n++;
	return err;
}

static enum MHD_Result serve_releases(request *rq)
{
	struct list_ctx x = {rq->srv, NULL, 0};
	enum MHD_Result ret;
	vt_buf b;

	vt_buf_init(&b, (size_t)64 << 20);
	x.out = &b;
	vt_buf_adds(&b, "{\"releases\": [");
	if (vt_site_list(rq->srv->conveyer, VT_SITE_RELEASES, NULL, NULL, each_release, &x) < 0 ||
	    vt_buf_adds(&b, "]}\n") < 0)
		ret = vt_http_api_error(rq->conn, 500, "internal", vt_error_last(), NULL, NULL);
	else
		ret = vt_http_send_json(rq->conn, 200, &b);
	vt_buf_dispose(&b);
	return ret;
}

/* The route's name and version segments, checked. */
static bool release_args(request *rq, char *name, char *version)
{
	if (rq->route.nargs != 2 ||
	    vt_release_check_name(rq->route.args[0], rq->route.args_len[0]) < 0 ||
	    vt_release_check_version(rq->route.args[1], rq->route.args_len[1]) < 0)
		return false;
	memcpy(name, rq->route.args[0], rq->route.args_len[0]);
	name[rq->route.args_len[0]] = 0;
	memcpy(version, rq->route.args[1], rq->route.args_len[1]);
	version[rq->route.args_len[1]] = 0;
	return true;
}

static enum MHD_Result serve_release(request *rq)
{
	char name[VT_RELEASE_NAME_MAX + 1], version[VT_RELEASE_NAME_MAX + 1];
	enum MHD_Result ret;
	vt_buf b;
	int err;

	if (!release_args(rq, name, version))
		return vt_http_api_error(rq->conn, 400, "bad_request", vt_error_last(), NULL, NULL);
	vt_buf_init(&b, (size_t)64 << 20);
	err = release_json(&b, rq->srv, name, version, true);
	if (err == VT_ENOTFOUND)
		ret = vt_http_api_error(rq->conn, 404, "not_found", "no such release", NULL, NULL);
	else if (err < 0 || vt_buf_adds(&b, "\n") < 0)
		ret = vt_http_api_error(rq->conn, 500, "internal", vt_error_last(), NULL, NULL);
	else
		ret = vt_http_send_json(rq->conn, 200, &b);
	vt_buf_dispose(&b);
	return ret;
}

/* ---- writes ----------------------------------------------------------- */

/* The entry is published (or failed): write the record, then answer. */
static enum MHD_Result answer_logged(request *rq)
{
	cv_req *c = rq->mod;
	enum MHD_Result ret;
	vt_buf b;
	int err;

	if (rq->err < 0)
		return vt_http_api_error(rq->conn, 503, "unavailable", rq->why, "Retry-After", "1");
	/*
	 * Test hook (docs/conveyer.md): die as kill -9 would between the
	 * entry's publication and its record, which vt_site_recover() then
	 * restores at the next start. Only ever set by tests.
	 */
	if (getenv("VT_FAULT_SITE_AFTER_PUBLISH"))
		_exit(9);
	err = vt_site_record_put(c->site, c->kind, c->name, c->version,
				 c->kind == VT_SITE_REBUILDS ? c->key : NULL, rq->index,
				 c->entry.ptr, c->entry.len);
	if (err < 0)
		/* Logged but not listed: the log is the truth; say so. */
		return vt_http_api_error(rq->conn, 500, "internal", vt_error_last(), NULL, NULL);
	vt_buf_init(&b, 4 << 20);
	vt_buf_adds(&b, "{\"name\": ");
	vt_http_json_string(&b, c->name);
	vt_buf_adds(&b, ", \"version\": ");
	vt_http_json_string(&b, c->version);
	if (c->kind == VT_SITE_REBUILDS)
		vt_buf_printf(&b, ", \"key\": \"%s\", \"result\": \"%s\"", c->key,
			      c->reproduced ? "reproduced" : "differs");
	if (c->kind == VT_SITE_RELEASES)
		vt_buf_printf(&b, ", \"build_index\": %llu", (unsigned long long)c->build_index);
	vt_buf_adds(&b, ", ");
	if (json_logged(&b, rq->srv, rq->index, &c->entry) < 0 || vt_buf_adds(&b, "}\n") < 0)
		ret = vt_http_api_error(rq->conn, 500, "internal", vt_error_last(), NULL, NULL);
	else
		ret = vt_http_send_json(rq->conn, 201, &b);
	vt_buf_dispose(&b);
	return ret;
}

static enum MHD_Result submit(request *rq)
{
	cv_req *c = rq->mod;
	bool suspended = false;
	int err = vt_http_submit_entry(rq, c->entry.ptr, c->entry.len, &suspended);
	if (err == VT_EBUSY)
		return vt_http_api_error(rq->conn, 503, "unavailable", vt_error_last(),
					 "Retry-After", "1");
	if (err < 0)
		return vt_http_api_error(rq->conn, 500, "internal", vt_error_last(), NULL, NULL);
	return suspended ? MHD_YES : answer_logged(rq);
}

static bool has_role(request *rq, enum MHD_Result *ret, const char *role)
{
	char msg[96];
	if (!vt_http_api_token(rq, ret))
		return false;
	if (strcmp(rq->tok.role, role) == 0 || strcmp(rq->tok.role, "admin") == 0)
		return true;
	snprintf(msg, sizeof(msg), "this needs a %s token", role);
	*ret = vt_http_api_error(rq->conn, 403, "forbidden", msg, NULL, NULL);
	return false;
}

static enum MHD_Result post_release(request *rq)
{
	cv_req *c = rq->mod;
	vt_buf entry, proof;
	uint64_t index = 0;
	int err;

	if (!release_args(rq, c->name, c->version))
		return vt_http_api_error(rq->conn, 400, "bad_request", vt_error_last(), NULL, NULL);
	vt_buf_init(&entry, 65536);
	vt_buf_init(&proof, 2 << 20);
	err =
	    vt_site_record_get(&entry, &index, c->site, VT_SITE_BUILDS, c->name, c->version, NULL);
	if (err == 0)
		err = vt_http_build_proof(&proof, rq->srv, index);
	if (err == VT_EINVAL)
		err = vt_error_set(VT_EVERIFY, "build entry %llu is in no published checkpoint yet",
				   (unsigned long long)index);
	if (err == 0)
		err = vt_site_release_check(&c->entry, c->site, c->name, c->version,
					    (const char *)proof.ptr, proof.len);
	c->build_index = index;
	vt_buf_dispose(&entry);
	vt_buf_dispose(&proof);
	if (err < 0)
		return fail_err(rq, err, "release refused");
	c->kind = VT_SITE_RELEASES;
	return submit(rq);
}

static enum MHD_Result post_rebuild(request *rq)
{
	cv_req *c = rq->mod;
	vt_rebuild_entry re;
	int err;

	if ((err = vt_site_rebuild_check(&re, c->site, (const char *)c->env.ptr, c->env.len)) < 0)
		return fail_err(rq, err, "rebuild refused");
	if ((err = vt_rebuild_entry_format(&c->entry, &re)) < 0)
		return fail_err(rq, err, "rebuild refused");
	{
		vt_hash h;
		if ((err = vt_site_blob_put(c->site, VT_SITE_ATTESTATIONS, c->env.ptr, c->env.len,
					    &h)) < 0)
			return fail_err(rq, err, "cannot store the statement");
	}
	c->kind = VT_SITE_REBUILDS;
	snprintf(c->name, sizeof(c->name), "%s", re.name);
	snprintf(c->version, sizeof(c->version), "%s", re.version);
	snprintf(c->key, sizeof(c->key), "%s", re.key);
	c->reproduced = re.reproduced;
	return submit(rq);
}

/* -- POST /api/v1/builds: multipart envelope, recipe, source, artifact... -- */

static int part_fail(cv_req *c, unsigned status, int err)
{
	if (!c->fail) {
		c->fail = err < 0 ? err : VT_EINVAL;
		c->fail_status = status;
		snprintf(c->fail_msg, sizeof(c->fail_msg), "%s", vt_error_last());
	}
	return c->fail;
}

static int on_begin(const char *name, const char *filename, const char *type, void *payload)
{
	cv_req *c = payload;
	int err;

	(void)type;
	c->part = P_OTHER;
	c->cur = NULL;
	if (strcmp(name, "envelope") == 0) {
		if (c->env.len)
			return vt_error_set(VT_EINVAL, "more than one envelope part");
		c->part = P_ENVELOPE;
	} else if (strcmp(name, "recipe") == 0) {
		if (c->recipe.len)
			return vt_error_set(VT_EINVAL, "more than one recipe part");
		c->part = P_RECIPE;
	} else if (strcmp(name, "source") == 0) {
		if (c->source.tmp[0])
			return vt_error_set(VT_EINVAL, "more than one source part");
		c->part = P_SOURCE;
		c->cur = &c->source;
	} else if (strcmp(name, "artifact") == 0) {
		if (c->narts == VT_RELEASE_SUBJECT_MAX)
			return vt_error_set(VT_EINVAL, "too many artifacts");
		if (!filename || vt_release_check_path(filename, strlen(filename)) < 0)
			return vt_error_set(VT_EINVAL,
					    "an artifact part's filename is its subject "
					    "name: [A-Za-z0-9._+-/], no . or .. component");
		for (size_t i = 0; i < c->narts; i++)
			if (strcmp(c->arts[i].name, filename) == 0)
				return vt_error_set(VT_EINVAL, "artifact %s twice", filename);
		c->part = P_ARTIFACT;
		c->cur = &c->arts[c->narts++];
		snprintf(c->cur->name, sizeof(c->cur->name), "%s", filename);
	}
	if (c->cur) {
		if ((err = vt_site_tmp_open(&c->fd, c->site, c->cur)) < 0 ||
		    (err = vt_sha256_new(&c->ctx)) < 0)
			return err;
	}
	return 0;
}

static int on_data(const uint8_t *data, size_t len, void *payload)
{
	cv_req *c = payload;
	int err;

	switch (c->part) {
	case P_ENVELOPE:
		if (vt_buf_add(&c->env, data, len) < 0)
			return vt_error_set(VT_ETOOBIG, "the envelope is larger than %zu bytes",
					    VT_SITE_ENVELOPE_MAX);
		return 0;
	case P_RECIPE:
		if (vt_buf_add(&c->recipe, data, len) < 0)
			return vt_error_set(VT_ETOOBIG, "the recipe is larger than %zu bytes",
					    (size_t)VT_SITE_RECIPE_MAX);
		return 0;
	case P_SOURCE:
	case P_ARTIFACT:
		c->cur->size += len;
		if (c->cur->size > c->max)
			return vt_error_set(VT_ETOOBIG, "a part is at most %llu bytes",
					    (unsigned long long)c->max);
		if ((err = vt_fs_write_all(c->fd, data, len)) < 0 ||
		    (err = vt_sha256_update(c->ctx, data, len)) < 0)
			return err;
		return 0;
	default: return 0;
	}
}

static int on_end(void *payload)
{
	cv_req *c = payload;
	int err = 0;
	if (c->cur) {
		err = vt_sha256_final(&c->cur->digest, c->ctx);
		vt_sha256_free(c->ctx);
		c->ctx = NULL;
		close(c->fd);
		c->fd = -1;
		c->cur = NULL;
	}
	c->part = P_NONE;
	return err;
}

static enum MHD_Result builds_begin(request *rq)
{
	static const vt_multipart_callbacks cb = {on_begin, on_data, on_end};
	vt_multipart_limits lim = {0};
	cv_req *c = rq->mod;
	const char *type;
	enum MHD_Result ret;

	if (!has_role(rq, &ret, "builder"))
		return ret;
	type = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!type || strncasecmp(type, "multipart/form-data", 19) != 0)
		return vt_http_api_error(rq->conn, 415, "unsupported_media_type",
					 "send multipart/form-data: envelope, recipe, source, "
					 "artifact...",
					 NULL, NULL);
	c->max = rq->srv->max_upload;
	lim.max_body = (VT_RELEASE_SUBJECT_MAX + 2) * c->max;
	lim.max_parts = VT_RELEASE_SUBJECT_MAX + 8;
	if (vt_multipart_new(&c->mp, type, &cb, c, &lim) < 0)
		return vt_http_api_error(rq->conn, 400, "bad_request", vt_error_last(), NULL, NULL);
	return MHD_YES;
}

static enum MHD_Result builds_end(request *rq)
{
	cv_req *c = rq->mod;
	vt_build_entry be;
	int err;

	if (!c->fail && (err = vt_multipart_finish(c->mp)) < 0)
		part_fail(c, err == VT_ETOOBIG ? 413 : 400, err);
	if (c->fail)
		return vt_http_api_error(rq->conn, c->fail_status,
					 c->fail_status == 413 ? "too_large" : "bad_request",
					 c->fail_msg, NULL, NULL);
	if (!c->env.len || !c->recipe.len || !c->source.tmp[0] || !c->narts)
		return vt_http_api_error(rq->conn, 400, "bad_request",
					 "need the parts envelope, recipe, source and one artifact "
					 "per subject",
					 NULL, NULL);
	if ((err = vt_site_build_check(&be, c->site, (const char *)c->env.ptr, c->env.len,
				       (const char *)c->recipe.ptr, c->recipe.len, &c->source,
				       c->arts, c->narts)) < 0)
		return fail_err(rq, err, "build refused");
	err = vt_build_entry_format(&c->entry, &be);
	snprintf(c->name, sizeof(c->name), "%s", be.name);
	snprintf(c->version, sizeof(c->version), "%s", be.version);
	vt_build_entry_dispose(&be);
	if (err < 0 || (err = vt_site_build_store(c->site, (const char *)c->env.ptr, c->env.len,
						  (const char *)c->recipe.ptr, c->recipe.len,
						  &c->source, c->arts, c->narts)) < 0)
		return fail_err(rq, err, "cannot store the build");
	c->kind = VT_SITE_BUILDS;
	return submit(rq);
}

enum MHD_Result vt_api_conveyer_handle(request *rq, bool first, const char *data, size_t *size)
{
	cv_req *c = rq->mod;
	enum MHD_Result ret;
	vt_route_id id = rq->route.id;

	if (first) {
		if (!rq->srv->conveyer)
			return vt_http_api_error(rq->conn, 503, "unavailable",
						 "this site does not run the conveyer service",
						 NULL, NULL);
		if (!(c = cv_new(rq)))
			return MHD_NO;
		if (id == VT_ROUTE_BUILDS)
			return builds_begin(rq);
		if (id == VT_ROUTE_REBUILDS && !has_role(rq, &ret, "rebuilder"))
			return ret;
		if (id == VT_ROUTE_RELEASE_PUBLISH && !has_role(rq, &ret, "builder"))
			return ret;
		return MHD_YES; /* MHD calls again once the body (if any) is in */
	}
	if (*size > 0) {
		if (id == VT_ROUTE_BUILDS && !c->fail) {
			int err = vt_multipart_feed(c->mp, data, *size);
			if (err < 0)
				part_fail(c, err == VT_ETOOBIG ? 413 : 400, err);
		} else if (id == VT_ROUTE_REBUILDS && vt_buf_add(&c->env, data, *size) < 0) {
			c->fail = VT_ETOOBIG;
		}
		*size = 0;
		return MHD_YES;
	}
	if (rq->done)
		return answer_logged(rq);
	switch (id) {
	case VT_ROUTE_ATTESTATION: return serve_blob(rq, VT_SITE_ATTESTATIONS);
	case VT_ROUTE_ARTIFACT: return serve_blob(rq, VT_SITE_ARTIFACTS);
	case VT_ROUTE_SOURCE: return serve_blob(rq, VT_SITE_SOURCES);
	case VT_ROUTE_RELEASES: return serve_releases(rq);
	case VT_ROUTE_RELEASE: return serve_release(rq);
	case VT_ROUTE_RELEASE_PUBLISH: return post_release(rq);
	case VT_ROUTE_BUILDS: return builds_end(rq);
	case VT_ROUTE_REBUILDS:
		if (c->fail)
			return vt_http_api_error(rq->conn, 413, "too_large",
						 "a rebuild envelope is at most 1 MiB", NULL, NULL);
		return post_rebuild(rq);
	default: return MHD_NO;
	}
}
