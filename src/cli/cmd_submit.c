/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vitrine submit: send files to a site, asking by hash first.
 *
 * Four passes over the list of files found under the arguments: hash each
 * file (SHA-256, streamed, several at once), ask the site which of the
 * distinct hashes it knows (POST /api/v1/lookup, 1,000 a request), upload
 * the unknown ones with -j workers, each with its own keep-alive client,
 * streaming the file from disk, and keep each upload's receipt after
 * checking it. A file's outcome is one of known, uploaded new, uploaded
 * seen (the site had it by the time it arrived), duplicate (same content
 * as another file of this run, sent once) or failed with a reason.
 */
#include "cli.h"
#include "vitrine/clock.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/hash.h"
#include "vitrine/proof.h"
#include "vitrine/tile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
    "usage: vitrine submit FILE|DIR... [options]\n"
    "\n"
    "Send files to a site: hash each one, ask the site which hashes it knows\n"
    "(in batches of 1,000), upload only the unknown ones, several at once,\n"
    "and keep each upload's receipt (a c2sp.org/tlog-proof of its log entry).\n"
    "Directories are walked recursively; symbolic links and special files\n"
    "inside them are skipped (a link named on the command line is followed).\n"
    "Files with the same content are sent once. See docs/cli.md.\n"
    "\n"
    "options:\n"
    "  --url URL        the site (default: $VITRINE_URL)\n"
    "  --token TOKEN    a submitter token (default: $VITRINE_TOKEN)\n"
    "  --tags T         tags for every file, separated by commas\n"
    "  --source S       the detection that flagged the files\n"
    "  --name N         the file's name on the endpoint (one file only)\n"
    "  -j, --jobs N     uploads at once (default 4, at most 64)\n"
    "  --receipts DIR   where receipts and summary.json go\n"
    "                   (default ./vitrine-receipts)\n"
    "  --vkey FILE      the site's log verifier key: every receipt must verify\n"
    "                   under it (without it, receipts are only parsed)\n"
    "  -r, --recursive  accepted for habit: directories are always walked\n"
    "\n"
    "Prints a summary on standard output, and a progress line on standard\n"
    "error when it is a terminal. Exit status: 0 when every file was\n"
    "accepted or already known, 1 when any failed, 2 for a usage error.\n";

enum { S_PENDING, S_KNOWN, S_DUP, S_NEW, S_SEEN, S_FAILED };

#define LOOKUP_BATCH 1000
#define ANSWER_MAX   (1024 * 1024)

typedef struct {
	char *path;
	char hex[2 * VT_HASH_SIZE + 1];
	uint64_t size;
	int state;
	char *reason;	     /* S_FAILED */
	long long log_index; /* S_NEW, S_SEEN */
} item;

typedef struct {
	const char *url, *token, *tags, *source, *name, *receipts, *vkey_path;
	int jobs;
	int argc;
	char **argv;
} opts;

typedef struct {
	opts o;
	item *items;
	size_t n, cap;
	size_t skipped; /* links and special files inside directories */
	vt_note_verifier *vkey;
	int rdir; /* the receipts directory */

	/* Shared by the workers of a pass, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t next, done, total, running;
	uint64_t bytes;
	const char *phase;
	char *stop; /* a refusal that holds for every file (401, 403, 421, 451) */
	double t0;  /* vt_monotonic_seconds() at the start */
} run;

static int fail_item(item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail_item(item *it, const char *fmt, ...)
{
	va_list ap;
	free(it->reason);
	va_start(ap, fmt);
	if (vasprintf(&it->reason, fmt, ap) < 0)
		it->reason = NULL;
	va_end(ap);
	it->state = S_FAILED;
	return 0;
}

static int add_item(run *r, const char *path, uint64_t size, item **out)
{
	item *it;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 256;
		item *p = realloc(r->items, cap * sizeof(*p));
		if (!p)
			return vt_error_set(VT_ENOMEM, "out of memory");
		r->items = p;
		r->cap = cap;
	}
	it = &r->items[r->n];
	memset(it, 0, sizeof(*it));
	it->log_index = -1;
	it->size = size;
	if ((it->path = strdup(path)) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	r->n++;
	if (out)
		*out = it;
	return 0;
}

static int dot_or_dotdot(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

/*
 * Add the regular files at path: a file, or every file below a directory
 * (in name order). Only a path named by the user follows symbolic links,
 * so that a link cannot lead the walk in circles.
 */
static int walk(run *r, const char *path, int top)
{
	struct dirent **names = NULL;
	struct stat st;
	item *it;
	int n = 0, err = 0;

	if ((top ? stat(path, &st) : lstat(path, &st)) != 0) {
		if ((err = add_item(r, path, 0, &it)) == 0)
			fail_item(it, "%s", strerror(errno));
		goto done;
	}
	if (S_ISREG(st.st_mode)) {
		err = add_item(r, path, (uint64_t)st.st_size, NULL);
		goto done;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (!top)
			r->skipped++;
		else if ((err = add_item(r, path, 0, &it)) == 0)
			fail_item(it, "not a regular file or directory");
		goto done;
	}
	if ((n = scandir(path, &names, dot_or_dotdot, alphasort)) < 0) {
		n = 0;
		if ((err = add_item(r, path, 0, &it)) == 0)
			fail_item(it, "%s", strerror(errno));
		goto done;
	}
	for (int i = 0; i < n && err == 0; i++) {
		char *child;
		size_t len = strlen(path);
		const char *sep = len > 0 && path[len - 1] == '/' ? "" : "/";
		if (asprintf(&child, "%s%s%s", path, sep, names[i]->d_name) < 0) {
			err = vt_error_set(VT_ENOMEM, "out of memory");
			break;
		}
		err = walk(r, child, 0);
		free(child);
	}
done:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return err;
}

static double elapsed(const run *r)
{
	return vt_monotonic_seconds() - r->t0;
}

/* One progress line on stderr, over the previous one. Called under mu. */
static void progress(run *r)
{
	double s = elapsed(r);
	double mib = (double)r->bytes / (1024.0 * 1024.0);
	fprintf(stderr, "\r\033[K%s %zu/%zu files, %.1f MiB, %.1f MiB/s", r->phase, r->done,
		r->total, mib, s > 0 ? mib / s : 0.0);
	fflush(stderr);
}

/* Run worker over the items in pending state with r->o.jobs threads. */
static int run_pass(run *r, const char *phase, size_t total, void *(*worker)(void *))
{
	pthread_t th[64];
	int started = 0, err = 0;
	int tty = cli_tty();

	r->phase = phase;
	r->next = 0;
	r->done = 0;
	r->bytes = 0;
	r->total = total;
	r->t0 = vt_monotonic_seconds();
	if (total == 0)
		goto done;
	pthread_mutex_lock(&r->mu);
	for (int i = 0; i < r->o.jobs; i++) {
		if (pthread_create(&th[i], NULL, worker, r) != 0)
			break;
		started++;
		r->running++;
	}
	if (started == 0) {
		pthread_mutex_unlock(&r->mu);
		err = vt_error_set(VT_ENOMEM, "cannot start a thread");
		goto done;
	}
	while (r->running > 0) {
		struct timespec until = vt_timespec_after(CLOCK_REALTIME, 200);
		pthread_cond_timedwait(&r->cv, &r->mu, &until);
		if (tty)
			progress(r);
	}
	pthread_mutex_unlock(&r->mu);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (tty)
		fprintf(stderr, "\r\033[K");
done:
	return err;
}

/* The next item in state want for a worker, or NULL when none is left. */
static item *take(run *r, int want)
{
	item *it = NULL;
	pthread_mutex_lock(&r->mu);
	while (r->next < r->n && !it) {
		if (r->items[r->next].state == want)
			it = &r->items[r->next];
		r->next++;
	}
	pthread_mutex_unlock(&r->mu);
	return it;
}

static void finished(run *r, uint64_t bytes)
{
	pthread_mutex_lock(&r->mu);
	r->done++;
	r->bytes += bytes;
	pthread_mutex_unlock(&r->mu);
}

static void *worker_exit(run *r)
{
	pthread_mutex_lock(&r->mu);
	r->running--;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static int hash_file(item *it, vt_sha256_ctx *ctx, uint8_t *chunk, size_t cap)
{
	vt_hash h;
	uint64_t size = 0;
	int fd, err = 0;

	if ((fd = open(it->path, O_RDONLY | O_CLOEXEC)) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot open");
		goto done;
	}
	for (;;) {
		ssize_t got = read(fd, chunk, cap);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = vt_error_sys(VT_EIO, errno, "cannot read");
			goto done;
		}
		if (got == 0)
			break;
		size += (uint64_t)got;
		if ((err = vt_sha256_update(ctx, chunk, (size_t)got)) < 0)
			goto done;
	}
	if ((err = vt_sha256_final(&h, ctx)) < 0)
		goto done;
	vt_hex_encode(it->hex, h.b, sizeof(h.b));
	it->size = size;
done:
	if (fd >= 0)
		close(fd);
	return err;
}

static void *hash_worker(void *payload)
{
	enum { CHUNK = 1 << 20 };
	run *r = payload;
	vt_sha256_ctx *ctx = NULL;
	uint8_t *chunk = malloc(CHUNK);
	item *it;

	if (vt_sha256_new(&ctx) < 0)
		ctx = NULL;
	while ((it = take(r, S_PENDING)) != NULL) {
		if (!ctx || !chunk)
			fail_item(it, "out of memory");
		else if (hash_file(it, ctx, chunk, CHUNK) < 0)
			fail_item(it, "%s", vt_error_last());
		finished(r, it->size);
	}
	vt_sha256_free(ctx);
	free(chunk);
	return worker_exit(r);
}

static int by_hash(const void *a, const void *b)
{
	const item *const *x = a, *const *y = b;
	int c = strcmp((*x)->hex, (*y)->hex);
	/* Equal content: the earlier file in walk order is the one sent. */
	return c ? c : (*x < *y ? -1 : *x > *y);
}

/* The pending items of r, in walk order, into *v (NULL when r has none). */
static int pending_items(item ***v, size_t *m, run *r)
{
	*v = NULL;
	*m = 0;
	if (r->n == 0)
		return 0;
	if ((*v = malloc(r->n * sizeof(**v))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].state == S_PENDING)
			(*v)[(*m)++] = &r->items[i];
	return 0;
}

/* Mark every file whose content an earlier pending file has as a duplicate. */
static int mark_duplicates(run *r)
{
	item **v = NULL;
	size_t m = 0;
	int err;

	if ((err = pending_items(&v, &m, r)) < 0 || m == 0)
		goto done;
	qsort(v, m, sizeof(*v), by_hash);
	for (size_t i = 1; i < m; i++)
		if (strcmp(v[i]->hex, v[i - 1]->hex) == 0)
			v[i]->state = S_DUP;
done:
	free(v);
	return err;
}

/* The site's error for a failed request, or the transport's. */
static void request_error(char *out, size_t cap, const vt_client_response *resp)
{
	if (resp->status == 0)
		snprintf(out, cap, "%s", vt_error_last());
	else
		cli_server_error(out, cap, resp);
}

/* Ask about the pending items in [from, from + count) of v. */
static int lookup_batch(run *r, vt_client *cl, item **v, size_t count)
{
	vt_client_response resp;
	json_t *root = NULL, *results;
	json_error_t jerr;
	vt_buf body, out;
	char why[1024];
	int err = 0;

	vt_client_response_init(&resp);
	vt_buf_init(&body, (size_t)LOOKUP_BATCH * 70);
	vt_buf_init(&out, 16 * 1024 * 1024);
	for (size_t i = 0; i < count && err == 0; i++)
		err = vt_buf_printf(&body, "%s\n", v[i]->hex);
	if (err < 0)
		goto done;
	if (vt_client_post_as(cl, &resp, &out, "api/v1/lookup", "text/plain", body.ptr, body.len) <
	    0) {
		request_error(why, sizeof(why), &resp);
		err = vt_error_set(VT_EIO, "lookup: %s", why);
		goto done;
	}
	root = json_loadb((const char *)out.ptr, out.len, 0, &jerr);
	results = root ? json_object_get(root, "results") : NULL;
	if (!json_is_array(results) || json_array_size(results) != count) {
		err =
		    vt_error_set(VT_EINVAL, "lookup: the site's answer is not %zu results", count);
		goto done;
	}
	for (size_t i = 0; i < count; i++) {
		json_t *res = json_array_get(results, i);
		const char *h = json_string_value(json_object_get(res, "hash"));
		if (!h || strcmp(h, v[i]->hex) != 0) {
			err = vt_error_set(VT_EINVAL, "lookup: result %zu is not for %s", i,
					   v[i]->hex);
			goto done;
		}
		if (json_is_true(json_object_get(res, "known")))
			v[i]->state = S_KNOWN;
	}
done:
	json_decref(root);
	vt_buf_dispose(&body);
	vt_buf_dispose(&out);
	vt_client_response_dispose(&resp);
	return err;
}

static int lookup_all(run *r, vt_client *cl)
{
	item **v = NULL;
	size_t m = 0;
	int err;

	if ((err = pending_items(&v, &m, r)) < 0)
		goto done;
	for (size_t i = 0; i < m && err == 0; i += LOOKUP_BATCH)
		err = lookup_batch(r, cl, v + i, m - i < LOOKUP_BATCH ? m - i : LOOKUP_BATCH);
done:
	free(v);
	return err;
}

/*
 * Check an upload's answer: it names our file, its receipt parses and, with
 * a key, proves the entry it came with, and that entry is about our file.
 */
static int check_answer(run *r, item *it, json_t *ans, const char **receipt)
{
	const char *sha = json_string_value(json_object_get(ans, "sha256"));
	const char *entry = json_string_value(json_object_get(ans, "entry"));
	json_t *idx = json_object_get(ans, "log_index");
	char want[2 * VT_HASH_SIZE + 16];
	vt_tlog_proof p;
	vt_checkpoint cp;
	int err = 0;

	*receipt = json_string_value(json_object_get(ans, "receipt"));
	if (!sha || strcmp(sha, it->hex) != 0) {
		err = vt_error_set(VT_EVERIFY, "the site answered for another file (%s)",
				   sha ? sha : "no sha256");
		goto done;
	}
	if (!*receipt || !entry || !json_is_integer(idx) || json_integer_value(idx) < 0) {
		err = vt_error_set(VT_EINVAL, "the answer has no receipt, entry or log_index");
		goto done;
	}
	it->log_index = (long long)json_integer_value(idx);
	snprintf(want, sizeof(want), "\nsha256 %s\n", it->hex);
	if (!strstr(entry, want)) {
		err = vt_error_set(VT_EVERIFY, "the logged entry is not about this file");
		goto done;
	}
	if ((err = vt_tlog_proof_parse(&p, *receipt, strlen(*receipt))) < 0) {
		err = vt_error_wrap(err, "receipt");
		goto done;
	}
	if (p.index != (uint64_t)it->log_index) {
		err = vt_error_set(VT_EVERIFY, "the receipt proves entry %llu, not %lld",
				   (unsigned long long)p.index, it->log_index);
		goto done;
	}
	if (r->vkey &&
	    (err = vt_tlog_proof_verify_origin(&cp, NULL, &p, vt_note_verifier_name(r->vkey), entry,
					       strlen(entry), &r->vkey, 1)) < 0)
		err = vt_error_wrap(err, "receipt does not verify");
done:
	return err;
}

/* Keep <sha256>.json (the answer) and <sha256>.proof (its receipt). */
static int save_receipt(run *r, const item *it, const vt_buf *answer, const char *receipt)
{
	char name[2 * VT_HASH_SIZE + 8];
	int err;

	snprintf(name, sizeof(name), "%s.json", it->hex);
	if ((err = vt_fs_write_atomic(r->rdir, name, answer->ptr, answer->len, 0644)) < 0)
		goto done;
	if (receipt) {
		snprintf(name, sizeof(name), "%s.proof", it->hex);
		err = vt_fs_write_atomic(r->rdir, name, receipt, strlen(receipt), 0644);
	}
done:
	return err;
}

static void upload_one(run *r, vt_client *cl, item *it)
{
	const char *fields[8];
	size_t nf = 0;
	vt_client_response resp;
	json_t *ans = NULL;
	json_error_t jerr;
	const char *receipt = NULL;
	char why[1024];
	vt_buf out;
	int err = 0, tries = 0;

	vt_client_response_init(&resp);
	vt_buf_init(&out, ANSWER_MAX);
	if (r->o.name) {
		fields[nf++] = "name";
		fields[nf++] = r->o.name;
	}
	if (r->o.tags) {
		fields[nf++] = "tags";
		fields[nf++] = r->o.tags;
	}
	if (r->o.source) {
		fields[nf++] = "source";
		fields[nf++] = r->o.source;
	}
	fields[nf] = NULL;
	for (;;) {
		pthread_mutex_lock(&r->mu);
		if (r->stop)
			fail_item(it, "not sent: %s", r->stop);
		pthread_mutex_unlock(&r->mu);
		if (it->state == S_FAILED)
			goto done;
		vt_buf_reset(&out);
		err = vt_client_upload(cl, &resp, &out, "api/v1/files", it->path, NULL, fields);
		/* A busy log asks to come back (503 with Retry-After). */
		if (err != VT_EBUSY || ++tries > 5)
			break;
		sleep(1);
	}
	if (err < 0) {
		request_error(why, sizeof(why), &resp);
		fail_item(it, "%s", why);
		/* These hold for every file of the run: stop sending. */
		if (resp.status == 401 || resp.status == 403 || resp.status == 421 ||
		    resp.status == 451) {
			pthread_mutex_lock(&r->mu);
			if (!r->stop)
				r->stop = strdup(why);
			pthread_mutex_unlock(&r->mu);
		}
		goto done;
	}
	if ((ans = json_loadb((const char *)out.ptr, out.len, 0, &jerr)) == NULL) {
		fail_item(it, "the site's answer is not JSON: %s", jerr.text);
		goto done;
	}
	err = check_answer(r, it, ans, &receipt);
	/* Keep what came back even when it does not check: it is evidence. */
	if (save_receipt(r, it, &out, receipt) < 0) {
		fail_item(it, "cannot keep the receipt: %s", vt_error_last());
		goto done;
	}
	if (err < 0) {
		fail_item(it, "%s", vt_error_last());
		goto done;
	}
	it->state = json_is_true(json_object_get(ans, "new")) ? S_NEW : S_SEEN;
done:
	json_decref(ans);
	vt_buf_dispose(&out);
	vt_client_response_dispose(&resp);
}

static void *upload_worker(void *payload)
{
	run *r = payload;
	vt_client *cl = NULL;
	item *it;
	int err = vt_client_new(&cl, r->o.url, r->o.token);

	while ((it = take(r, S_PENDING)) != NULL) {
		if (err < 0)
			fail_item(it, "%s", vt_error_last());
		else
			upload_one(r, cl, it);
		finished(r, it->state == S_FAILED ? 0 : it->size);
	}
	vt_client_free(cl);
	return worker_exit(r);
}

static int parse_opts(opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"url", required_argument, 0, 'u'},
	    {"token", required_argument, 0, 't'},
	    {"tags", required_argument, 0, 'g'},
	    {"source", required_argument, 0, 's'},
	    {"name", required_argument, 0, 'n'},
	    {"jobs", required_argument, 0, 'j'},
	    {"receipts", required_argument, 0, 'R'},
	    {"vkey", required_argument, 0, 'k'},
	    {"recursive", no_argument, 0, 'r'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	uint64_t jobs;
	int c;

	memset(o, 0, sizeof(*o));
	o->jobs = 4;
	o->receipts = "vitrine-receipts";
	optind = 1;
	while ((c = getopt_long(argc, argv, "hj:r", lo, NULL)) != -1) {
		switch (c) {
		case 'u': o->url = optarg; break;
		case 't': o->token = optarg; break;
		case 'g': o->tags = optarg; break;
		case 's': o->source = optarg; break;
		case 'n': o->name = optarg; break;
		case 'R': o->receipts = optarg; break;
		case 'k': o->vkey_path = optarg; break;
		case 'r': break;
		case 'j':
			if (vt_parse_u64(&jobs, optarg, strlen(optarg)) < 0 || jobs < 1 ||
			    jobs > 64)
				return cli_usage(
				    "submit", "-j wants a number from 1 to 64, not \"%s\"", optarg);
			o->jobs = (int)jobs;
			break;
		case 'h': fputs(help, stdout); return -1;
		default: return cli_usage("submit", "bad option \"%s\"", argv[optind - 1]);
		}
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	if (o->argc == 0)
		return cli_usage("submit", "name at least one FILE or DIR");
	return cli_site_env(&o->url, &o->token, "submit");
}

static const char *state_name(int s)
{
	switch (s) {
	case S_KNOWN: return "known";
	case S_DUP: return "duplicate";
	case S_NEW: return "uploaded_new";
	case S_SEEN: return "uploaded_seen";
	case S_FAILED: return "failed";
	default: return "pending";
	}
}

/* summary.json: the counts and every file's outcome. */
static int write_summary(run *r, const size_t *count, uint64_t sent, double secs)
{
	json_t *root = json_object(), *files = json_array(), *counts = json_object();
	char *text = NULL;
	int err = 0;

	if (!root || !files || !counts)
		goto nomem;
	for (int s = S_KNOWN; s <= S_FAILED; s++)
		if (json_object_set_new(counts, state_name(s), json_integer((json_int_t)count[s])))
			goto nomem;
	for (size_t i = 0; i < r->n; i++) {
		const item *it = &r->items[i];
		json_t *f = json_pack("{s:s, s:s, s:I}", "path", it->path, "result",
				      state_name(it->state), "size", (json_int_t)it->size);
		if (!f || json_array_append_new(files, f) < 0)
			goto nomem;
		if (it->hex[0] && json_object_set_new(f, "sha256", json_string(it->hex)) < 0)
			goto nomem;
		if (it->log_index >= 0 &&
		    json_object_set_new(f, "log_index", json_integer(it->log_index)) < 0)
			goto nomem;
		if (it->reason && json_object_set_new(f, "reason", json_string(it->reason)) < 0)
			goto nomem;
	}
	if (json_object_set_new(root, "url", json_string(r->o.url)) < 0 ||
	    json_object_set_new(root, "files_total", json_integer((json_int_t)r->n)) < 0 ||
	    json_object_set(root, "counts", counts) < 0 ||
	    json_object_set_new(root, "skipped", json_integer((json_int_t)r->skipped)) < 0 ||
	    json_object_set_new(root, "bytes_uploaded", json_integer((json_int_t)sent)) < 0 ||
	    json_object_set_new(root, "seconds", json_real(secs)) < 0 ||
	    json_object_set_new(root, "receipts_verified", json_boolean(r->vkey != NULL)) < 0 ||
	    json_object_set(root, "files", files) < 0)
		goto nomem;
	if ((text = json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII)) == NULL)
		goto nomem;
	err = vt_fs_write_atomic(r->rdir, "summary.json", text, strlen(text), 0644);
	goto done;
nomem:
	err = vt_error_set(VT_ENOMEM, "out of memory");
done:
	free(text);
	json_decref(counts);
	json_decref(files);
	json_decref(root);
	return err;
}

static int open_receipts(run *r)
{
	char probe[4096];
	int err = 0;

	snprintf(probe, sizeof(probe), "%s/summary.json", r->o.receipts);
	if ((err = vt_fs_mkparents(AT_FDCWD, probe, 0755)) < 0)
		goto done;
	if ((r->rdir = open(r->o.receipts, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		err = vt_error_sys(VT_EIO, errno, "%s", r->o.receipts);
done:
	return err;
}

int cmd_submit(int argc, char **argv)
{
	vt_client *cl = NULL;
	size_t count[S_FAILED + 1] = {0}, pending = 0;
	uint64_t sent = 0;
	double secs;
	run r;
	int rc = EXIT_FAIL, err;

	memset(&r, 0, sizeof(r));
	r.rdir = -1;
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	if ((err = parse_opts(&r.o, argc, argv)) != 0) {
		rc = err < 0 ? EXIT_OK : err;
		goto done;
	}
	if (r.o.vkey_path && cli_load_vkey(&r.vkey, r.o.vkey_path) < 0) {
		rc = cli_fail("verifier key");
		goto done;
	}
	if (vt_client_new(&cl, r.o.url, r.o.token) < 0) {
		rc = cli_fail("submit");
		goto done;
	}
	for (int i = 0; i < r.o.argc; i++)
		if (walk(&r, r.o.argv[i], 1) < 0) {
			rc = cli_fail("submit");
			goto done;
		}
	if (r.o.name && r.n != 1) {
		rc = cli_usage("submit", "--name names one file, and %zu were found", r.n);
		goto done;
	}
	if (open_receipts(&r) < 0) {
		rc = cli_fail("receipts");
		goto done;
	}
	for (size_t i = 0; i < r.n; i++)
		pending += r.items[i].state == S_PENDING;
	if (run_pass(&r, "hashing", pending, hash_worker) < 0 || mark_duplicates(&r) < 0 ||
	    lookup_all(&r, cl) < 0) {
		rc = cli_fail("submit");
		goto done;
	}
	pending = 0;
	for (size_t i = 0; i < r.n; i++)
		pending += r.items[i].state == S_PENDING;
	if (run_pass(&r, "uploading", pending, upload_worker) < 0) {
		rc = cli_fail("submit");
		goto done;
	}
	secs = elapsed(&r);
	/* A duplicate shares the outcome of the file sent for it. */
	for (size_t i = 0; i < r.n; i++) {
		count[r.items[i].state]++;
		if (r.items[i].state == S_NEW || r.items[i].state == S_SEEN)
			sent += r.items[i].size;
	}
	for (size_t i = 0; i < r.n; i++)
		if (r.items[i].state == S_FAILED)
			fprintf(stderr, "vitrine: %s: %s\n", r.items[i].path,
				r.items[i].reason ? r.items[i].reason : "failed");
	printf("files          %zu\n", r.n);
	printf("known          %zu\n", count[S_KNOWN]);
	printf("uploaded new   %zu\n", count[S_NEW]);
	printf("uploaded seen  %zu\n", count[S_SEEN]);
	printf("duplicates     %zu\n", count[S_DUP]);
	printf("failed         %zu\n", count[S_FAILED]);
	if (r.skipped)
		printf("skipped        %zu (links and special files)\n", r.skipped);
	printf("uploaded       %.1f MiB in %.2f s (%.1f MiB/s)\n", (double)sent / (1024.0 * 1024.0),
	       secs, secs > 0 ? (double)sent / (1024.0 * 1024.0) / secs : 0.0);
	printf("receipts       %s (%s)\n", r.o.receipts,
	       r.vkey ? "verified with the log key" : "parsed, not verified: no --vkey");
	if (write_summary(&r, count, sent, secs) < 0) {
		rc = cli_fail("summary.json");
		goto done;
	}
	rc = count[S_FAILED] ? EXIT_FAIL : EXIT_OK;
done:
	for (size_t i = 0; i < r.n; i++) {
		free(r.items[i].path);
		free(r.items[i].reason);
	}
	free(r.items);
	free(r.stop);
	if (r.rdir >= 0)
		close(r.rdir);
	vt_note_verifier_free(r.vkey);
	vt_client_free(cl);
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.cv);
	return rc;
}
