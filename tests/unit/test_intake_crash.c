/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exactly one `sample` entry per stored file when the process dies between
 * the steps of a first upload (vault object and index record, entry
 * published, sighting indexed): the intake is dropped without its
 * sighting or settle, as kill -9 drops it, and opened again on the same
 * index and log.
 */
#include "../test.h"
#include "flaky_storage.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/index.h"
#include "vitrine/intake.h"
#include "vitrine/log.h"
#include "vitrine/note.h"
#include "vitrine/reader.h"
#include "vitrine/storage.h"
#include "vitrine/tile.h"
#include "vitrine/vault.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

typedef struct {
	vt_index *idx;
	vt_intake *in;
	vt_storage *st;
	vt_log *log;
	vt_note_signer *signer;
	size_t samples[4]; /* `sample` entries logged, per file */
	size_t sightings[4];
} site;

static const char *const files[4] = {"first file\n", "second file\n", "third file\n",
				     "fourth file\n"};

static void rm_rf(const char *d)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", d);
}

/* With f non-NULL, the log writes through f to the site's storage. */
static int site_open_with(site *s, flaky_storage *f)
{
	char path[128];
	int err;

	memset(s, 0, sizeof(*s));
	snprintf(dir, sizeof(dir), "/tmp/vt-test-intake-crash.XXXXXX");
	if (!mkdtemp(dir))
		return vt_error_set(VT_EIO, "mkdtemp");
	snprintf(path, sizeof(path), "%s/jurisdiction", dir);
	if ((err = vt_fs_write_atomic(AT_FDCWD, path, "CH-ZRH\n", 7, 0644)) < 0 ||
	    (err = vt_vault_init(dir)) < 0 || (err = vt_index_open(&s->idx, dir)) < 0 ||
	    (err = vt_intake_open(&s->in, dir, s->idx)) < 0 ||
	    (err = vt_note_signer_generate(&s->signer, "test.example/intake-crash",
					   VT_NOTE_ED25519)) < 0 ||
	    (err = vt_storage_posix_open(&s->st, dir, true)) < 0)
		return err;
	if (f)
		flaky_wrap(f, s->st);
	return vt_log_open(&s->log, f ? &f->base : s->st, s->signer, NULL);
}

static int site_open(site *s)
{
	return site_open_with(s, NULL);
}

static void site_close(site *s)
{
	vt_intake_close(s->in);
	vt_log_close(s->log);
	if (s->st)
		vt_storage_close(s->st);
	vt_note_signer_free(s->signer);
	vt_index_close(s->idx);
	rm_rf(dir);
}

/* The process dies: what the intake held in memory is gone. */
static int crash(site *s)
{
	vt_intake_close(s->in);
	s->in = NULL;
	return vt_intake_open(&s->in, dir, s->idx);
}

/* Steps 1-2 of an upload: vault object, index record, the entry to log. */
static int upload(vt_intake_result *r, site *s, int file, const char *tenant)
{
	vt_intake_upload *u = NULL;
	int err;

	if ((err = vt_intake_upload_new(&u, s->in, 0)) < 0 ||
	    (err = vt_intake_upload_write(u, files[file], strlen(files[file]))) < 0) {
		vt_intake_upload_abort(u);
		return err;
	}
	{
		/* Each tenant says its own things of the file. */
		char name[64], source[64], tags[64];
		vt_intake_submission sub = {
		    .tenant = tenant, .region = "EU", .name = name, .source = source, .tags = tags};
		snprintf(name, sizeof(name), "%s.exe", tenant);
		snprintf(source, sizeof(source), "EDR.%s", tenant);
		snprintf(tags, sizeof(tags), "from-%s,shared", tenant);
		return vt_intake_upload_finish(r, u, &sub);
	}
}

/* Step 3: the entry is published; counted by kind. */
static int publish(uint64_t *index, site *s, int file, const vt_intake_result *r)
{
	const void *e = r->entry.ptr;
	size_t len = r->entry.len;
	int err = vt_log_append(s->log, index, &e, &len, 1);
	if (err == 0 && r->is_new)
		s->samples[file]++;
	else if (err == 0)
		s->sightings[file]++;
	return err;
}

/* Step 4: the sighting indexed, then the upload settled. */
static int index_sighting(site *s, vt_intake_result *r, const char *tenant, uint64_t index)
{
	vt_index_sighting v;
	int err;

	memset(&v, 0, sizeof(v));
	v.sample = r->d.sha256;
	snprintf(v.tenant, sizeof(v.tenant), "%s", tenant);
	snprintf(v.region, sizeof(v.region), "EU");
	snprintf(v.name, sizeof(v.name), "f.bin");
	v.log_index = (int64_t)index;
	err = vt_index_sighting_add(NULL, s->idx, &v);
	vt_intake_settle(s->in, r);
	return err;
}

static bool is_sample_entry(const vt_intake_result *r)
{
	return r->entry.len > 17 && memcmp(r->entry.ptr, "vitrine/1 sample\n", 17) == 0;
}

struct seen {
	size_t n;
	int64_t log_index;
	char tenant[VT_TENANT_MAX + 1];
	char name[VT_INDEX_NAME_MAX + 1];
	char source[VT_INDEX_SOURCE_MAX + 1];
};

static int collect(const vt_index_sighting *v, void *payload)
{
	struct seen *x = payload;
	if (x->n++ == 0) {
		x->log_index = v->log_index;
		snprintf(x->tenant, sizeof(x->tenant), "%s", v->tenant);
		snprintf(x->name, sizeof(x->name), "%s", v->name);
		snprintf(x->source, sizeof(x->source), "%s", v->source);
	}
	return 0;
}

static int cat_tag(const char *tag, void *payload)
{
	char *out = payload;
	snprintf(out + strlen(out), 128 - strlen(out), "%s ", tag);
	return 0;
}

struct last {
	int64_t log_index;
	char name[VT_INDEX_NAME_MAX + 1], source[VT_INDEX_SOURCE_MAX + 1];
};

static int keep_last(const vt_index_sighting *v, void *payload)
{
	struct last *l = payload;
	l->log_index = v->log_index;
	snprintf(l->name, sizeof(l->name), "%s", v->name);
	snprintf(l->source, sizeof(l->source), "%s", v->source);
	return 0;
}

/* The recovered sighting is the first upload's: tenant, name, source. */
static bool is_acme(const struct seen *x)
{
	return strcmp(x->tenant, "acme-eu") == 0 && strcmp(x->name, "acme-eu.exe") == 0 &&
	       strcmp(x->source, "EDR.acme-eu") == 0;
}

/* Killed after the `sample` entry was published, before its sighting. */
static void test_after_publish(void)
{
	vt_index_sample_pending p;
	vt_intake_result r;
	struct seen seen = {0};
	uint64_t at = 0, again = 0;
	site s;

	CHECK_OK(site_open(&s));
	if (!s.log)
		goto done;
	{
		/* Another entry first, so that log_from says something. */
		const void *e = "x\n";
		size_t len = 2;
		CHECK_OK(vt_log_append(s.log, &at, &e, &len, 1));
	}
	CHECK_OK(upload(&r, &s, 0, "acme-eu"));
	CHECK(r.is_new && r.pending && is_sample_entry(&r));
	/* Recorded before it is handed to the log, with the log's size. */
	CHECK_OK(vt_index_sample_pending_get(&p, s.idx, &r.d.sha256));
	CHECK(p.log_from == 1 && strcmp(p.tenant, "acme-eu") == 0 && strcmp(p.region, "EU") == 0);
	CHECK(strcmp(p.name, "acme-eu.exe") == 0 && strcmp(p.source, "EDR.acme-eu") == 0 &&
	      strcmp(p.tags, "from-acme-eu shared") == 0);
	CHECK_OK(publish(&at, &s, 0, &r));
	vt_intake_result_dispose(&r);
	CHECK_OK(crash(&s));

	/* The next upload finds the entry in the log: a sighting. */
	CHECK_OK(upload(&r, &s, 0, "other-eu"));
	CHECK(!r.is_new && !is_sample_entry(&r));
	CHECK_OK(publish(&again, &s, 0, &r));
	CHECK_OK(index_sighting(&s, &r, "other-eu", again));
	vt_intake_result_dispose(&r);
	/* The lost sighting of the first upload is indexed, at its entry. */
	CHECK_OK(vt_index_sightings_list(s.idx, &p.sample, NULL, collect, &seen));
	CHECK(seen.n == 2 && seen.log_index == (int64_t)at && is_acme(&seen));
	CHECK_CODE(vt_index_sample_pending_get(&p, s.idx, &p.sample), VT_ENOTFOUND);

	/* And so it stays, across another restart. */
	CHECK_OK(crash(&s));
	CHECK_OK(upload(&r, &s, 0, "acme-eu"));
	CHECK(!r.is_new);
	CHECK_OK(publish(&again, &s, 0, &r));
	CHECK_OK(index_sighting(&s, &r, "acme-eu", again));
	vt_intake_result_dispose(&r);
	CHECK(s.samples[0] == 1 && s.sightings[0] == 2);
done:
	site_close(&s);
}

/* Killed after the index record, before the entry reached the log. */
static void test_before_publish(void)
{
	vt_index_sample_pending p;
	vt_intake_result r;
	uint64_t at = 0;
	site s;

	CHECK_OK(site_open(&s));
	if (!s.log)
		goto done;
	CHECK_OK(upload(&r, &s, 1, "acme-eu"));
	CHECK(r.is_new);
	vt_intake_result_dispose(&r);
	CHECK_OK(crash(&s));
	/* Nothing was logged: this upload logs the `sample` entry. */
	CHECK_OK(upload(&r, &s, 1, "other-eu"));
	CHECK(r.is_new && is_sample_entry(&r));
	CHECK_OK(vt_index_sample_pending_get(&p, s.idx, &r.d.sha256));
	CHECK(strcmp(p.tenant, "other-eu") == 0);
	CHECK_OK(publish(&at, &s, 1, &r));
	/* Its sighting settles the pending entry. */
	CHECK_OK(index_sighting(&s, &r, "other-eu", at));
	CHECK_CODE(vt_index_sample_pending_get(&p, s.idx, &r.d.sha256), VT_ENOTFOUND);
	vt_intake_result_dispose(&r);
	CHECK_OK(upload(&r, &s, 1, "acme-eu"));
	CHECK(!r.is_new);
	CHECK_OK(publish(&at, &s, 1, &r));
	CHECK_OK(index_sighting(&s, &r, "acme-eu", at));
	vt_intake_result_dispose(&r);
	CHECK(s.samples[1] == 1 && s.sightings[1] == 1);
done:
	site_close(&s);
}

/*
 * At start, vt_intake_recover settles what a crash left, before any
 * upload: the published entry's sighting is indexed, the unpublished row
 * dropped (its file logs `sample` on its next upload).
 */
static void test_recover_at_start(void)
{
	vt_index_sample_pending p;
	vt_intake_result r;
	struct seen seen = {0};
	uint64_t at = 0;
	size_t found = 9, dropped = 9;
	vt_hash published, lost;
	site s;

	CHECK_OK(site_open(&s));
	if (!s.log)
		goto done;
	CHECK_OK(vt_intake_recover(s.in, &found, &dropped));
	CHECK(found == 0 && dropped == 0);
	CHECK_OK(upload(&r, &s, 2, "acme-eu"));
	published = r.d.sha256;
	CHECK_OK(publish(&at, &s, 2, &r));
	vt_intake_result_dispose(&r);
	CHECK_OK(upload(&r, &s, 3, "acme-eu"));
	lost = r.d.sha256;
	vt_intake_result_dispose(&r);
	CHECK_OK(crash(&s));

	CHECK_OK(vt_intake_recover(s.in, &found, &dropped));
	CHECK(found == 1 && dropped == 1);
	CHECK_CODE(vt_index_sample_pending_get(&p, s.idx, &published), VT_ENOTFOUND);
	CHECK_CODE(vt_index_sample_pending_get(&p, s.idx, &lost), VT_ENOTFOUND);
	CHECK_OK(vt_index_sightings_list(s.idx, &published, NULL, collect, &seen));
	CHECK(seen.n == 1 && seen.log_index == (int64_t)at && is_acme(&seen));
	/* Idempotent: nothing left to settle. */
	CHECK_OK(vt_intake_recover(s.in, &found, &dropped));
	CHECK(found == 0 && dropped == 0);
	/* The published file is known; the other one is logged as a sample. */
	CHECK_OK(upload(&r, &s, 2, "other-eu"));
	CHECK(!r.is_new && !is_sample_entry(&r));
	vt_intake_settle(s.in, &r);
	vt_intake_result_dispose(&r);
	CHECK_OK(upload(&r, &s, 3, "other-eu"));
	CHECK(r.is_new && is_sample_entry(&r));
	vt_intake_settle(s.in, &r);
	vt_intake_result_dispose(&r);
done:
	site_close(&s);
}

/*
 * Published, then the sighting could not be indexed (no crash): the
 * next upload of this same process finds the entry too. And one the log
 * refused is logged again.
 */
static void test_in_process(void)
{
	vt_intake_result r;
	struct seen seen = {0};
	uint64_t at = 0, first = 0;
	site s;

	CHECK_OK(site_open(&s));
	if (!s.log)
		goto done;
	CHECK_OK(upload(&r, &s, 2, "acme-eu"));
	CHECK(r.is_new);
	CHECK_OK(publish(&first, &s, 2, &r));
	vt_intake_settle(s.in, &r);
	vt_intake_result_dispose(&r);
	CHECK_OK(upload(&r, &s, 2, "acme-eu"));
	CHECK(!r.is_new);
	CHECK_OK(publish(&at, &s, 2, &r));
	CHECK_OK(index_sighting(&s, &r, "acme-eu", at));
	vt_intake_result_dispose(&r);
	CHECK_OK(vt_index_sightings_list(s.idx, &r.d.sha256, NULL, collect, &seen));
	CHECK(seen.n == 2 && seen.log_index == (int64_t)first);
	CHECK(s.samples[2] == 1);

	/* Refused by the log: settled without publishing, logged anew. */
	CHECK_OK(upload(&r, &s, 3, "acme-eu"));
	CHECK(r.is_new);
	vt_intake_settle(s.in, &r);
	vt_intake_result_dispose(&r);
	CHECK_OK(upload(&r, &s, 3, "acme-eu"));
	CHECK(r.is_new && is_sample_entry(&r));
	vt_intake_settle(s.in, &r);
	vt_intake_result_dispose(&r);
done:
	site_close(&s);
}

/* The index's pending `sample` rows refuse what they must. */
static void test_index_rows(void)
{
	vt_index_sample_pending p = {0}, q;
	vt_index_sample smp = {0}, out;
	bool is_new;
	site s;

	CHECK_OK(site_open(&s));
	if (!s.idx)
		goto done;
	memset(smp.sha256.b, 7, VT_HASH_SIZE);
	smp.size = 1;
	snprintf(smp.jurisdiction, sizeof(smp.jurisdiction), "CH-ZRH");
	p.sample = smp.sha256;
	snprintf(p.tenant, sizeof(p.tenant), "acme-eu");
	snprintf(p.region, sizeof(p.region), "EU");
	CHECK_CODE(vt_index_sample_pending_put(s.idx, &p), VT_ENOTFOUND);
	CHECK_OK(vt_index_sample_put(&out, &is_new, s.idx, &smp));
	p.tenant[0] = 0;
	CHECK_CODE(vt_index_sample_pending_put(s.idx, &p), VT_EINVAL);
	snprintf(p.tenant, sizeof(p.tenant), "acme-eu");
	snprintf(p.region, sizeof(p.region), "E U");
	CHECK_CODE(vt_index_sample_pending_put(s.idx, &p), VT_EINVAL);
	snprintf(p.region, sizeof(p.region), "EU");
	p.log_from = (uint64_t)1 << 63;
	CHECK_CODE(vt_index_sample_pending_put(s.idx, &p), VT_EINVAL);
	p.log_from = 5;
	CHECK_CODE(vt_index_sample_pending_resolve(s.idx, &p.sample, -1), VT_ENOTFOUND);
	CHECK_OK(vt_index_sample_pending_put(s.idx, &p));
	p.log_from = 6;
	CHECK_OK(vt_index_sample_pending_put(s.idx, &p)); /* replaces */
	CHECK_OK(vt_index_sample_pending_get(&q, s.idx, &p.sample));
	CHECK(q.log_from == 6 && q.time > 0);
	/* Forgotten: no sighting is made up. */
	CHECK_OK(vt_index_sample_pending_resolve(s.idx, &p.sample, -1));
	CHECK_CODE(vt_index_sample_pending_get(&q, s.idx, &p.sample), VT_ENOTFOUND);
	{
		struct seen seen = {0};
		CHECK_OK(vt_index_sightings_list(s.idx, &p.sample, NULL, collect, &seen));
		CHECK(seen.n == 0);
	}
	/* A sighting without a published entry leaves the row alone. */
	CHECK_OK(vt_index_sample_pending_put(s.idx, &p));
	{
		vt_index_sighting v = {.sample = p.sample, .log_index = -1};
		snprintf(v.tenant, sizeof(v.tenant), "acme-eu");
		snprintf(v.region, sizeof(v.region), "EU");
		CHECK_OK(vt_index_sighting_add(NULL, s.idx, &v));
		CHECK_OK(vt_index_sample_pending_get(&q, s.idx, &p.sample));
	}
	/* The rest of the submission: checked, kept, and the sighting's. */
	snprintf(p.name, sizeof(p.name), "bad\nname");
	CHECK_CODE(vt_index_sample_pending_put(s.idx, &p), VT_EINVAL);
	snprintf(p.name, sizeof(p.name), "x.bin");
	snprintf(p.source, sizeof(p.source), "AV\x7f");
	CHECK_CODE(vt_index_sample_pending_put(s.idx, &p), VT_EINVAL);
	snprintf(p.source, sizeof(p.source), "AV.Test");
	snprintf(p.tags, sizeof(p.tags), "t2 bad!");
	CHECK_CODE(vt_index_sample_pending_put(s.idx, &p), VT_EINVAL);
	snprintf(p.tags, sizeof(p.tags), "t2  t1");
	CHECK_OK(vt_index_sample_pending_put(s.idx, &p));
	CHECK_OK(vt_index_sample_pending_get(&q, s.idx, &p.sample));
	CHECK(strcmp(q.name, "x.bin") == 0 && strcmp(q.source, "AV.Test") == 0 &&
	      strcmp(q.tags, "t2  t1") == 0);
	CHECK_OK(vt_index_sample_pending_resolve(s.idx, &p.sample, 7));
	{
		struct seen seen = {0};
		char tags[128] = "";
		CHECK_OK(vt_index_sightings_list(s.idx, &p.sample, NULL, collect, &seen));
		CHECK(seen.n == 2);
		CHECK_OK(vt_index_tags_list(s.idx, &p.sample, cat_tag, tags));
		CHECK(strcmp(tags, "t1 t2 ") == 0);
	}
	{
		/* The recovered one is the last: its name and source. */
		struct last l = {0};
		CHECK_OK(vt_index_sightings_list(s.idx, &p.sample, NULL, keep_last, &l));
		CHECK(l.log_index == 7 && strcmp(l.name, "x.bin") == 0 &&
		      strcmp(l.source, "AV.Test") == 0);
	}
done:
	site_close(&s);
}

/* The log's entries as a string of kinds: 'S' sample, 's' sighting, '.' other. */
struct kinds {
	char k[512];
	size_t n;
};

static int add_kind(uint64_t index, const uint8_t *e, size_t len, void *payload)
{
	struct kinds *x = payload;
	(void)index;
	if (x->n + 1 >= sizeof(x->k))
		return vt_error_set(VT_ETOOBIG, "too many entries");
	x->k[x->n++] = len >= 17 && memcmp(e, "vitrine/1 sample\n", 17) == 0	 ? 'S'
		       : len >= 19 && memcmp(e, "vitrine/1 sighting\n", 19) == 0 ? 's'
										 : '.';
	x->k[x->n] = 0;
	return 0;
}

static int fetch_site(vt_buf *out, const char *path, void *payload)
{
	return vt_storage_get(payload, out, path);
}

/* Read the published log through its checkpoint's size. */
static int log_kinds(struct kinds *out, site *s)
{
	vt_tlog_reader *r = NULL;
	vt_buf cp;
	uint64_t size = 0;
	int err;

	memset(out, 0, sizeof(*out));
	vt_buf_init(&cp, 65536);
	if ((err = vt_log_checkpoint(s->log, &cp, &size)) == 0 &&
	    (err = vt_tlog_reader_new(&r, size, fetch_site, s->st)) == 0)
		err = vt_tlog_reader_walk(r, 0, add_kind, out);
	vt_tlog_reader_free(r);
	vt_buf_dispose(&cp);
	return err;
}

static uint64_t log_size_now(site *s)
{
	vt_buf cp;
	uint64_t size = 0;

	vt_buf_init(&cp, 65536);
	if (vt_log_checkpoint(s->log, &cp, &size) < 0)
		size = (uint64_t)-1;
	vt_buf_dispose(&cp);
	return size;
}

/* n filler entries ("f0\n", ...) and then, with r non-NULL, r's entry, as one group. */
static int append_group(uint64_t *first, site *s, size_t n, const vt_intake_result *r)
{
	const void *e[300];
	size_t len[300];
	char text[300][8];

	for (size_t i = 0; i < n; i++) {
		len[i] = (size_t)snprintf(text[i], sizeof(text[i]), "f%zu\n", i);
		e[i] = text[i];
	}
	if (r) {
		e[n] = r->entry.ptr;
		len[n++] = r->entry.len;
	}
	return vt_log_append(s->log, first, e, len, n);
}

/*
 * The commit of the first upload's `sample` entry fails after its bundle
 * is durable and in place: the log refuses it, and its next recovery
 * publishes it. The next upload must be a `sighting` (before: `sample`,
 * and the log held two `sample` entries for one file).
 */
static void test_refused_but_durable(void)
{
	vt_index_sample_pending p;
	vt_intake_result r;
	struct kinds k;
	uint64_t at = 0;
	flaky_storage f = {0};
	site s;

	CHECK_OK(site_open_with(&s, &f));
	if (!s.log)
		goto done;
	/* A partial bundle is published first: the durable one extends it. */
	CHECK_OK(append_group(&at, &s, 1, NULL));
	CHECK_OK(upload(&r, &s, 0, "acme-eu"));
	CHECK(r.is_new && is_sample_entry(&r));
	f.mode = FLAKY_AFTER_OBJECTS;
	CHECK(publish(&at, &s, 0, &r) < 0);
	vt_intake_settle(s.in, &r); /* as the server does for a refused entry */
	vt_intake_result_dispose(&r);
	CHECK(log_size_now(&s) == 1);

	/* Still failing, so that no recovery publishes it meanwhile. */
	CHECK_OK(upload(&r, &s, 0, "other-eu"));
	CHECK(!r.is_new && !r.pending && !is_sample_entry(&r));
	/* Not published yet: the row stays pending. */
	CHECK_OK(vt_index_sample_pending_get(&p, s.idx, &r.d.sha256));
	CHECK(strcmp(p.tenant, "acme-eu") == 0);
	f.mode = FLAKY_PASS;
	/* The log recovers first: the `sample` entry at 1, the sighting at 2. */
	CHECK_OK(publish(&at, &s, 0, &r));
	CHECK(at == 2);
	CHECK_OK(index_sighting(&s, &r, "other-eu", at));
	vt_intake_result_dispose(&r);
	CHECK_OK(log_kinds(&k, &s));
	CHECK(strcmp(k.k, ".Ss") == 0);
	if (strcmp(k.k, ".Ss") != 0)
		fprintf(stderr, "log holds %s\n", k.k);
	CHECK_OK(upload(&r, &s, 0, "acme-eu"));
	CHECK(!r.is_new);
	vt_intake_settle(s.in, &r);
	vt_intake_result_dispose(&r);
done:
	site_close(&s);
}

/*
 * As above, with the durable entries spanning a full bundle and a partial
 * one after it, and the sighting refused too: the row stays pending until
 * the log has published the entry, then vt_intake_recover indexes the
 * first upload's sighting at it.
 */
static void test_refused_kept_until_published(void)
{
	vt_index_sample_pending p;
	vt_intake_result r;
	struct seen seen = {0};
	struct kinds k;
	uint64_t at = 0;
	size_t found = 9, dropped = 9;
	vt_hash sample;
	flaky_storage f = {0};
	site s;

	CHECK_OK(site_open_with(&s, &f));
	if (!s.log)
		goto done;
	CHECK_OK(append_group(&at, &s, 250, NULL));
	CHECK_OK(upload(&r, &s, 1, "acme-eu"));
	CHECK(r.is_new);
	sample = r.d.sha256;
	/* Entries 250..258 and the `sample` entry at 259, in bundle 1. */
	f.mode = FLAKY_AFTER_OBJECTS;
	CHECK(append_group(&at, &s, 9, &r) < 0);
	vt_intake_settle(s.in, &r);
	vt_intake_result_dispose(&r);
	CHECK(log_size_now(&s) == 250);

	CHECK_OK(upload(&r, &s, 1, "other-eu"));
	CHECK(!r.is_new && !is_sample_entry(&r));
	vt_intake_settle(s.in, &r); /* refused too */
	vt_intake_result_dispose(&r);
	CHECK_OK(vt_intake_recover(s.in, &found, &dropped));
	CHECK(found == 0 && dropped == 0);
	CHECK_OK(vt_index_sample_pending_get(&p, s.idx, &sample));

	f.mode = FLAKY_PASS;
	CHECK_OK(append_group(&at, &s, 1, NULL));
	CHECK(at == 260);
	CHECK_OK(vt_intake_recover(s.in, &found, &dropped));
	CHECK(found == 1 && dropped == 0);
	CHECK_CODE(vt_index_sample_pending_get(&p, s.idx, &sample), VT_ENOTFOUND);
	CHECK_OK(vt_index_sightings_list(s.idx, &sample, NULL, collect, &seen));
	CHECK(seen.n == 1 && seen.log_index == 259 && is_acme(&seen));
	CHECK_OK(log_kinds(&k, &s));
	CHECK(k.n == 261 && k.k[259] == 'S' && strchr(k.k, 'S') == k.k + 259 &&
	      strchr(k.k, 's') == NULL);
	CHECK_OK(upload(&r, &s, 1, "other-eu"));
	CHECK(!r.is_new && !r.pending);
	vt_intake_result_dispose(&r);
done:
	site_close(&s);
}

/* Put an entry bundle in place by hand, as a failed commit leaves it. */
static int plant_bundle(const char *path, const char *const *entries, size_t n)
{
	char full[256], d[256];
	vt_buf b;
	int err = 0;

	vt_buf_init(&b, 65536);
	snprintf(full, sizeof(full), "%s/log/%s", dir, path);
	snprintf(d, sizeof(d), "%s", full);
	*strrchr(d, '/') = 0;
	mkdir(d, 0755);
	for (size_t i = 0; i < n && err == 0; i++)
		err = vt_bundle_append(&b, entries[i], strlen(entries[i]));
	if (err == 0)
		err = vt_fs_write_atomic(AT_FDCWD, full, b.ptr, b.len, 0644);
	vt_buf_dispose(&b);
	return err;
}

/*
 * What lies beyond the checkpoint counts only when it is the entry
 * itself, and only in a bundle that extends the published one (else the
 * log's recovery refuses it too, and so does the upload).
 */
static void test_beyond_checkpoint_rules(void)
{
	vt_index_sample_pending p;
	vt_intake_result r;
	uint64_t at = 0;
	vt_hash sample;
	site s;

	CHECK_OK(site_open(&s));
	if (!s.log)
		goto done;
	CHECK_OK(append_group(&at, &s, 1, NULL)); /* "f0\n" */
	CHECK_OK(upload(&r, &s, 2, "acme-eu"));
	CHECK(r.is_new);
	sample = r.d.sha256;
	vt_intake_settle(s.in, &r); /* refused, and nowhere in the log */
	vt_intake_result_dispose(&r);
	{
		const char *other[] = {"f0\n", "another entry\n"};
		CHECK_OK(plant_bundle("tile/entries/000.p/2", other, 2));
	}
	/* Something else beyond the checkpoint: the row goes, `sample` again. */
	CHECK_OK(upload(&r, &s, 2, "other-eu"));
	CHECK(r.is_new && is_sample_entry(&r));
	CHECK_OK(vt_index_sample_pending_get(&p, s.idx, &sample));
	CHECK(strcmp(p.tenant, "other-eu") == 0);
	vt_intake_settle(s.in, &r);
	{
		/* A wider bundle that does not extend the published one. */
		const char *bad[] = {"not f0\n", "x\n", vt_buf_cstr(&r.entry)};
		CHECK_OK(plant_bundle("tile/entries/000.p/3", bad, 3));
	}
	vt_intake_result_dispose(&r);
	CHECK_CODE(upload(&r, &s, 2, "third-eu"), VT_ECORRUPT);
	vt_intake_result_dispose(&r);
	CHECK_OK(vt_index_sample_pending_get(&p, s.idx, &sample));
	CHECK(strcmp(p.tenant, "other-eu") == 0);
done:
	site_close(&s);
}

#define RACERS 12
#define ROUNDS 4

/*
 * Many uploads of one new file at once, against the real log. The log
 * "refuses" the first `sample` entry and a random part of the others
 * (settled without publishing, as the server does for a failure or a
 * 503), and some `sample` entries are published without their sighting
 * (the index failed): the next upload must find those in the log.
 */
struct race {
	site *s;
	pthread_mutex_t mu;
	bool refused_first;
	size_t refused, busy, published_samples, sightings, failures;
	uint64_t sample_at;
	uint64_t sighting_at[RACERS * ROUNDS];
	char why[256];
};

struct racer {
	struct race *race;
	unsigned seed;
};

static void race_fail(struct race *x, const char *what)
{
	pthread_mutex_lock(&x->mu);
	if (x->failures++ == 0)
		snprintf(x->why, sizeof(x->why), "%s: %s", what, vt_error_last());
	pthread_mutex_unlock(&x->mu);
}

static void *racer_main(void *arg)
{
	struct racer *me = arg;
	struct race *x = me->race;

	for (int round = 0; round < ROUNDS; round++) {
		vt_intake_result r;
		uint64_t at = 0;
		int err, fate;
		const void *e;
		size_t len;

		if ((err = upload(&r, x->s, 0, "acme-eu")) == VT_EBUSY) {
			pthread_mutex_lock(&x->mu);
			x->busy++;
			pthread_mutex_unlock(&x->mu);
			vt_intake_result_dispose(&r);
			continue;
		}
		if (err < 0) {
			race_fail(x, "upload");
			vt_intake_result_dispose(&r);
			continue;
		}
		/* 0: refused, 1: published and indexed, 2: published, not indexed. */
		pthread_mutex_lock(&x->mu);
		fate = 1 + (int)(rand_r(&me->seed) % 4 == 0);
		if (r.is_new && (!x->refused_first || rand_r(&me->seed) % 3 == 0)) {
			x->refused_first = true;
			fate = 0;
		} else if (!r.is_new) {
			fate = rand_r(&me->seed) % 4 == 0 ? 0 : 1;
		}
		pthread_mutex_unlock(&x->mu);
		/* The log takes its time: others come in meanwhile. */
		usleep(r.is_new ? 20000 : 1000);
		e = r.entry.ptr;
		len = r.entry.len;
		if (fate == 0) {
			pthread_mutex_lock(&x->mu);
			x->refused++;
			pthread_mutex_unlock(&x->mu);
			vt_intake_settle(x->s->in, &r);
		} else if (vt_log_append(x->s->log, &at, &e, &len, 1) < 0) {
			race_fail(x, "append");
			vt_intake_settle(x->s->in, &r);
		} else {
			pthread_mutex_lock(&x->mu);
			if (r.is_new) {
				x->published_samples++;
				x->sample_at = at;
			} else {
				x->sighting_at[x->sightings++] = at;
			}
			pthread_mutex_unlock(&x->mu);
			if (fate == 2)
				vt_intake_settle(x->s->in, &r);
			else if (index_sighting(x->s, &r, "acme-eu", at) < 0)
				race_fail(x, "sighting");
		}
		vt_intake_result_dispose(&r);
	}
	return NULL;
}

static int count_row(const vt_index_sighting *v, void *payload)
{
	(void)v;
	++*(size_t *)payload;
	return 0;
}

static void test_concurrent_uploads(void)
{
	struct race x;
	struct racer me[RACERS];
	pthread_t t[RACERS];
	vt_intake_result r;
	size_t found = 0, dropped = 0, indexed = 0;
	vt_hash sample;
	site s;

	memset(&x, 0, sizeof(x));
	CHECK_OK(site_open(&s));
	if (!s.log)
		goto done;
	x.s = &s;
	pthread_mutex_init(&x.mu, NULL);
	for (int i = 0; i < RACERS; i++) {
		me[i].race = &x;
		me[i].seed = 7919u * (unsigned)(i + 1);
		CHECK(pthread_create(&t[i], NULL, racer_main, &me[i]) == 0);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&x.mu);
	CHECK(x.failures == 0);
	if (x.failures)
		fprintf(stderr, "first failure: %s\n", x.why);
	printf("# %d uploads of one file: %zu refused, %zu busy, %zu sightings published\n",
	       RACERS * ROUNDS, x.refused, x.busy, x.sightings);
	/* Exactly one `sample` entry, although the first was refused, and
	 * every sighting after it. */
	CHECK(x.refused_first && x.published_samples == 1);
	for (size_t i = 0; i < x.sightings; i++)
		CHECK(x.sighting_at[i] > x.sample_at);
	CHECK(x.sightings > 0);
	/* A `sample` entry published without its sighting is found at the
	 * latest at start; then every published entry has its sighting. */
	CHECK_OK(vt_intake_recover(s.in, &found, &dropped));
	CHECK(dropped == 0);
	CHECK_OK(upload(&r, &s, 0, "acme-eu"));
	CHECK(!r.is_new && !r.pending);
	sample = r.d.sha256;
	vt_intake_result_dispose(&r);
	CHECK_OK(vt_index_sightings_list(s.idx, &sample, NULL, count_row, &indexed));
	CHECK(indexed == x.published_samples + x.sightings);
done:
	site_close(&s);
}

int main(void)
{
	RUN(test_after_publish);
	RUN(test_before_publish);
	RUN(test_in_process);
	RUN(test_recover_at_start);
	RUN(test_index_rows);
	RUN(test_refused_but_durable);
	RUN(test_refused_kept_until_published);
	RUN(test_beyond_checkpoint_rules);
	RUN(test_concurrent_uploads);
	return TEST_DONE();
}
