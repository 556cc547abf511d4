/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vitrine files: a file's report (show) and its content (get), whose every
 * download the site logs before it sends a byte. get writes to a temporary
 * file beside the target and renames it only once the whole content has
 * arrived and, for the plain format, hashes to the name asked for.
 */
#include "cli.h"
#include "vitrine/checkpoint.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/hash.h"
#include "vitrine/proof.h"
#include "vitrine/reader.h"
#include "vitrine/tile.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
    "usage: vitrine files <command> [options]\n"
    "\n"
    "  show HASH [--json]      the site's report on a file (SHA-256, SHA-1 or\n"
    "                          MD5): hashes, size, tags, sightings; --json prints\n"
    "                          the answer as it came\n"
    "  get SHA256 --reason CODE --ticket ID -o FILE [--zip] [--force]\n"
    "                          download a file's content (analyst token): the site\n"
    "                          logs the access first; FILE appears only when\n"
    "                          complete and, without --zip, only when its SHA-256\n"
    "                          is SHA256; the access receipt goes to FILE.receipt\n"
    "                          CODE is incident-response, detection-engineering,\n"
    "                          customer-request or legal-order; ID the ticket\n"
    "                          (1 to 64 of A-Z a-z 0-9 . _ : / # -)\n"
    "\n"
    "options:\n"
    "  --url URL      the site (default: $VITRINE_URL)\n"
    "  --token TOKEN  a token (default: $VITRINE_TOKEN)\n"
    "  --zip          get a ZIP encrypted with the password \"infected\"\n"
    "  --force        replace an existing FILE\n"
    "  --vkey FILE    the site's log verifier key: the access receipt must\n"
    "                 verify under it (without it, it is only parsed)\n";

typedef struct {
	const char *url, *token, *reason, *ticket, *out, *vkey;
	int json, zip, force;
	int argc;
	char **argv;
} opts;

/* Keep text on one line: control characters become '?'. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int cli_site_env(const char **url, const char **token, const char *cmd)
{
	if (!*url)
		*url = getenv("VITRINE_URL");
	if (!*token)
		*token = getenv("VITRINE_TOKEN");
	if (!*url || !**url)
		return cli_usage(cmd, "no site: give --url URL or set VITRINE_URL");
	if (!*token || !**token)
		return cli_usage(cmd, "no token: give --token TOKEN or set VITRINE_TOKEN");
	return 0;
}

void cli_server_error(char *out, size_t cap, const vt_client_response *r)
{
	const char *body = vt_buf_cstr(&r->error_body);
	json_t *root = json_loadb(body, r->error_body.len, 0, NULL);
	json_t *e = root ? json_object_get(root, "error") : NULL;
	const char *url = root ? json_string_value(json_object_get(root, "url")) : NULL;

	if (json_is_object(e))
		snprintf(out, cap, "HTTP %ld %s: %s%s%s", r->status,
			 json_string_value(json_object_get(e, "code"))
			     ? json_string_value(json_object_get(e, "code"))
			     : "error",
			 json_string_value(json_object_get(e, "message"))
			     ? json_string_value(json_object_get(e, "message"))
			     : "(no message)",
			 url ? "; send it to " : "", url ? url : "");
	else if (json_is_string(e))
		snprintf(out, cap, "HTTP %ld: %s%s%s%s%s", r->status, json_string_value(e),
			 json_string_value(json_object_get(root, "detail")) ? ": " : "",
			 json_string_value(json_object_get(root, "detail"))
			     ? json_string_value(json_object_get(root, "detail"))
			     : "",
			 url ? "; send it to " : "", url ? url : "");
	else
		snprintf(out, cap, "HTTP %ld: %.*s", r->status, (int)strcspn(body, "\r\n"), body);
	json_decref(root);
	one_line(out);
}

static int parse_opts(opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"url", required_argument, 0, 'u'},
	    {"token", required_argument, 0, 't'},
	    {"reason", required_argument, 0, 'r'},
	    {"ticket", required_argument, 0, 'T'},
	    {"output", required_argument, 0, 'o'},
	    {"vkey", required_argument, 0, 'k'},
	    {"json", no_argument, 0, 'J'},
	    {"zip", no_argument, 0, 'z'},
	    {"force", no_argument, 0, 'f'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (c) {
		case 'u': o->url = optarg; break;
		case 't': o->token = optarg; break;
		case 'r': o->reason = optarg; break;
		case 'T': o->ticket = optarg; break;
		case 'o': o->out = optarg; break;
		case 'k': o->vkey = optarg; break;
		case 'J': o->json = 1; break;
		case 'z': o->zip = 1; break;
		case 'f': o->force = 1; break;
		case 'h': fputs(help, stdout); return -1;
		default: return cli_usage("files", "bad option \"%s\"", argv[optind - 1]);
		}
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	return cli_site_env(&o->url, &o->token, "files");
}

static int to_buf(const void *data, size_t len, void *payload)
{
	return vt_buf_add(payload, data, len);
}

static int is_hex(const char *s, size_t want)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");
	return n == want && s[n] == '\0';
}

/* A string field for people: '-' when absent, control characters shown as '?'. */
static void put_str(const char *label, json_t *v)
{
	char *s = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
	if (s)
		one_line(s);
	printf("%-14s%s\n", label, s ? s : json_is_null(v) || !v ? "-" : "?");
	free(s);
}

static void put_json(const char *label, json_t *v)
{
	char *s = v && !json_is_null(v) ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	printf("%-14s%s\n", label, s ? s : "-");
	free(s);
}

static const char *field(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "-";
}

/* The analysis object of a report (docs/api.md), for people. */
static void print_analysis(json_t *a)
{
	json_t *matches = json_object_get(a, "matches"), *children = json_object_get(a, "children");
	json_t *v;
	size_t i;

	if (!json_is_object(a))
		return;
	put_str("type", json_object_get(a, "type"));
	put_str("mime", json_object_get(a, "mime"));
	if (json_is_number(json_object_get(a, "entropy")))
		printf("%-14s%.4f bits a byte\n", "entropy",
		       json_number_value(json_object_get(a, "entropy")));
	put_str("ssdeep", json_object_get(a, "ssdeep"));
	put_str("tlsh", json_object_get(a, "tlsh"));
	put_str("ruleset", json_object_get(a, "ruleset"));
	put_str("analysed", json_object_get(a, "analysed"));
	put_json("analysis at", json_object_get(a, "log_index"));
	printf("%-14s%s\n", "matches", json_array_size(matches) ? "" : "-");
	json_array_foreach(matches, i, v)
	{
		/* "namespace:identifier"; an object {rule, namespace} reads too. */
		json_t *rule = json_is_object(v) ? json_object_get(v, "rule") : v;
		json_t *ns = json_is_object(v) ? json_object_get(v, "namespace") : NULL;
		char *r = json_is_string(rule) ? strdup(json_string_value(rule)) : NULL;
		char *n = json_is_string(ns) ? strdup(json_string_value(ns)) : NULL;
		if (r)
			one_line(r);
		if (n)
			one_line(n);
		printf("  %s%s%s\n", n ? n : "", n ? ":" : "", r ? r : "?");
		free(r);
		free(n);
	}
	if (json_array_size(children) > 0)
		printf("%-14s%zu\n", "children", json_array_size(children));
	json_array_foreach(children, i, v)
	{
		char *path = json_is_string(json_object_get(v, "path"))
				     ? strdup(json_string_value(json_object_get(v, "path")))
				     : NULL;
		if (path)
			one_line(path);
		printf("  %s  %s\n", field(v, "sha256"), path ? path : "-");
		free(path);
	}
}

static void print_report(json_t *root)
{
	static const char *const shown[] = {
	    "sha256",
	    "sha1",
	    "md5",
	    "size",
	    "first_seen",
	    "jurisdiction",
	    "tags",
	    "verdict",
	    "analysis",
	    "sightings",
	    "sightings_total",
	    "sightings_truncated",
	    NULL,
	};
	json_t *tags = json_object_get(root, "tags"), *sights = json_object_get(root, "sightings");
	const char *key;
	json_t *v;
	size_t i, wt = 6, wr = 6;

	put_str("sha256", json_object_get(root, "sha256"));
	put_str("sha1", json_object_get(root, "sha1"));
	put_str("md5", json_object_get(root, "md5"));
	put_json("size", json_object_get(root, "size"));
	put_str("first seen", json_object_get(root, "first_seen"));
	put_str("jurisdiction", json_object_get(root, "jurisdiction"));
	printf("%-14s", "tags");
	if (json_array_size(tags) == 0)
		printf("-");
	json_array_foreach(tags, i, v)
	{
		char *s = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
		if (s)
			one_line(s);
		printf("%s%s", i ? ", " : "", s ? s : "?");
		free(s);
	}
	printf("\n");
	put_str("verdict", json_object_get(root, "verdict"));
	print_analysis(json_object_get(root, "analysis"));
	/* Fields that later versions add still show, as JSON. */
	json_object_foreach(root, key, v)
	{
		int known = 0;
		for (size_t k = 0; shown[k]; k++)
			known |= strcmp(key, shown[k]) == 0;
		if (!known) {
			char label[64];
			snprintf(label, sizeof(label), "%s", key);
			one_line(label);
			put_json(label, v);
		}
	}
	printf("%-14s%lld%s\n", "sightings",
	       (long long)json_integer_value(json_object_get(root, "sightings_total")),
	       json_is_true(json_object_get(root, "sightings_truncated")) ? " (first 1,000 listed)"
									  : "");
	json_array_foreach(sights, i, v)
	{
		size_t a = strlen(field(v, "tenant")), b = strlen(field(v, "region"));
		wt = a > wt ? a : wt;
		wr = b > wr ? b : wr;
	}
	if (json_array_size(sights) > 0)
		printf("  %-20s  %-*s  %-*s  %9s  %s\n", "time", (int)wt, "tenant", (int)wr,
		       "region", "log index", "name (source)");
	json_array_foreach(sights, i, v)
	{
		char *name = strdup(field(v, "name")), *src = strdup(field(v, "source"));
		char *tenant = strdup(field(v, "tenant")), idx[32] = "-";
		json_t *li = json_object_get(v, "log_index");
		if (json_is_integer(li))
			snprintf(idx, sizeof(idx), "%lld", (long long)json_integer_value(li));
		if (name)
			one_line(name);
		if (src)
			one_line(src);
		if (tenant)
			one_line(tenant);
		printf("  %-20s  %-*s  %-*s  %9s  %s (%s)\n", field(v, "time"), (int)wt,
		       tenant ? tenant : "?", (int)wr, field(v, "region"), idx, name ? name : "?",
		       src ? src : "?");
		free(name);
		free(src);
		free(tenant);
	}
}

static int do_show(const opts *o, vt_client *cl)
{
	vt_client_response resp;
	json_t *root = NULL;
	json_error_t jerr;
	char path[256], why[1024];
	vt_buf body;
	int rc = EXIT_FAIL;

	vt_client_response_init(&resp);
	vt_buf_init(&body, 64 * 1024 * 1024);
	if (o->argc != 1) {
		rc = cli_usage("files", "show needs one HASH");
		goto done;
	}
	if (!is_hex(o->argv[0], 64) && !is_hex(o->argv[0], 40) && !is_hex(o->argv[0], 32)) {
		rc = cli_usage("files", "not a SHA-256, SHA-1 or MD5 hash: \"%.80s\"", o->argv[0]);
		goto done;
	}
	snprintf(path, sizeof(path), "api/v1/files/%s", o->argv[0]);
	if (vt_client_get_stream(cl, &resp, path, to_buf, &body) < 0) {
		if (resp.status == 0) {
			rc = cli_fail("files show");
			goto done;
		}
		cli_server_error(why, sizeof(why), &resp);
		fprintf(stderr, "vitrine: %s\n", why);
		goto done;
	}
	if ((root = json_loadb((const char *)body.ptr, body.len, 0, &jerr)) == NULL ||
	    !json_is_object(root)) {
		fprintf(stderr, "vitrine: the site's report is not a JSON object\n");
		goto done;
	}
	if (o->json) {
		fwrite(body.ptr, 1, body.len, stdout);
		if (body.len == 0 || body.ptr[body.len - 1] != '\n')
			putchar('\n');
	} else {
		print_report(root);
	}
	rc = EXIT_OK;
done:
	json_decref(root);
	vt_buf_dispose(&body);
	vt_client_response_dispose(&resp);
	return rc;
}

/* Percent-encode s for a query string (RFC 3986 unreserved characters stay). */
static int query_escape(vt_buf *b, const char *s)
{
	int err = 0;
	for (; *s && err == 0; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			err = vt_buf_addc(b, c);
		else
			err = vt_buf_printf(b, "%%%02X", c);
	}
	return err;
}

#define RECEIPT_HEADER_MAX 65536

typedef struct {
	int fd;
	vt_sha256_ctx *sha;
	uint64_t bytes;
	uint8_t head[4];
} download;

static int to_file(const void *data, size_t len, void *payload)
{
	download *d = payload;
	int err;
	for (size_t i = 0; i < len && d->bytes + i < sizeof(d->head); i++)
		d->head[d->bytes + i] = ((const uint8_t *)data)[i];
	d->bytes += len;
	if ((err = vt_fs_write_all(d->fd, data, len)) < 0)
		return err;
	return vt_sha256_update(d->sha, data, len);
}

/*
 * Check the access receipt: it must parse; with a key, its checkpoint must
 * be signed by the log and prove the entry at its index, read from the
 * site's log, which must record this request (file, format, reason,
 * ticket) as granted.
 */
static int check_access_receipt(const opts *o, vt_client *cl, const char *sha, const char *text,
				size_t len, uint64_t index)
{
	vt_note_verifier *v = NULL;
	vt_tlog_reader *rd = NULL;
	vt_checkpoint cp;
	vt_tlog_proof p;
	vt_note note;
	vt_buf entry;
	char resource[128];
	const char *const want[][2] = {
	    {"resource", resource}, {"format", o->zip ? "zip" : "raw"},
	    {"reason", o->reason},  {"ticket", o->ticket},
	    {"result", "granted"},
	};
	int err;

	snprintf(resource, sizeof(resource), "files/%s", sha);

	vt_buf_init(&entry, VT_ENTRY_MAX + 1);
	if ((err = vt_tlog_proof_parse(&p, text, len)) < 0)
		goto done;
	if (p.index != index) {
		err = vt_error_set(VT_EVERIFY, "it proves entry %llu, not %llu",
				   (unsigned long long)p.index, (unsigned long long)index);
		goto done;
	}
	if (!o->vkey)
		goto done;
	if ((err = cli_load_vkey(&v, o->vkey)) < 0)
		goto done;
	if ((err = vt_note_open(&note, p.checkpoint, p.checkpoint_len, &v, 1)) < 0 ||
	    (err = vt_checkpoint_parse(&cp, note.text, note.text_len)) < 0)
		goto done;
	if ((err = vt_tlog_reader_new(&rd, cp.size, vt_client_fetch_tile, cl)) < 0 ||
	    (err = vt_tlog_reader_entry(&entry, rd, index)) < 0)
		goto done;
	if ((err = vt_tlog_proof_verify_origin(&cp, NULL, &p, vt_note_verifier_name(v), entry.ptr,
					       entry.len, &v, 1)) < 0)
		goto done;
	/* The entry must record this request as asked for, and granted. */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char line[256];
		snprintf(line, sizeof(line), "\n%s %s%s\n", want[i][0], want[i][1],
			 i == 0 ? "/content" : "");
		if (!strstr(vt_buf_cstr(&entry), line)) {
			err = vt_error_set(
			    VT_EVERIFY, "the access entry at %llu has no line \"%.*s\"",
			    (unsigned long long)index, (int)strlen(line) - 2, line + 1);
			goto done;
		}
	}
done:
	vt_tlog_reader_free(rd);
	vt_note_verifier_free(v);
	vt_buf_dispose(&entry);
	return err;
}

/* Move tmp to out, over an existing file only with --force. */
static int publish(const char *tmp, const char *out, int force)
{
	if (force) {
		if (rename(tmp, out) != 0)
			return vt_error_sys(VT_EIO, errno, "%s", out);
		return 0;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		return vt_error_set(VT_EEXISTS, "%s exists (use --force to replace it)", out);
	/* File systems without RENAME_NOREPLACE: a hard link refuses to replace too. */
	if (errno == EINVAL && link(tmp, out) == 0) {
		unlink(tmp);
		return 0;
	}
	return vt_error_sys(errno == EEXIST ? VT_EEXISTS : VT_EIO, errno, "%s", out);
}

static int do_get(const opts *o, vt_client *cl)
{
	vt_client_response resp;
	download d = {.fd = -1};
	char *tmp = NULL, *rpath = NULL;
	char why[1024], idxs[32], *rcpt_b64 = NULL;
	const char *sha;
	uint64_t index = 0;
	int have_index = 0;
	vt_buf path, rcpt;
	vt_hash got;
	char hex[2 * VT_HASH_SIZE + 1];
	struct stat st;
	int rc = EXIT_FAIL, err;

	vt_client_response_init(&resp);
	vt_buf_init(&path, 4096);
	vt_buf_init(&rcpt, VT_TLOG_PROOF_MAX_SIZE);
	if (o->argc != 1 || !o->reason || !o->ticket || !o->out) {
		rc = cli_usage("files", "get needs SHA256, --reason CODE, --ticket ID and -o FILE");
		goto done;
	}
	sha = o->argv[0];
	if (!is_hex(sha, 64)) {
		rc = cli_usage("files", "not a SHA-256 (64 hex digits): \"%.80s\"", sha);
		goto done;
	}
	if (!o->force && lstat(o->out, &st) == 0) {
		fprintf(stderr, "vitrine: %s exists (use --force to replace it)\n", o->out);
		goto done;
	}
	/* A receipt fits in the response headers, which the client keeps to 64 KiB. */
	if ((rcpt_b64 = malloc(RECEIPT_HEADER_MAX)) == NULL || vt_sha256_new(&d.sha) < 0 ||
	    asprintf(&tmp, "%s.partial-XXXXXX", o->out) < 0 ||
	    asprintf(&rpath, "%s.receipt", o->out) < 0) {
		tmp = NULL;
		fprintf(stderr, "vitrine: out of memory\n");
		goto done;
	}
	if ((d.fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "vitrine: %s: %s\n", o->out, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto done;
	}
	/* The site spells hashes in lower case, and so does the log. */
	for (size_t i = 0; i < 64; i++)
		hex[i] = (char)(sha[i] >= 'A' && sha[i] <= 'F' ? sha[i] - 'A' + 'a' : sha[i]);
	hex[64] = '\0';
	if (vt_buf_printf(&path, "api/v1/files/%s/content?reason=", hex) < 0 ||
	    query_escape(&path, o->reason) < 0 || vt_buf_adds(&path, "&ticket=") < 0 ||
	    query_escape(&path, o->ticket) < 0 ||
	    (o->zip && vt_buf_adds(&path, "&format=zip") < 0)) {
		rc = cli_usage("files", "--reason or --ticket is too long");
		goto done;
	}
	err = vt_client_get_stream(cl, &resp, vt_buf_cstr(&path), to_file, &d);
	if (vt_client_response_header(idxs, sizeof(idxs), &resp, "X-Vitrine-Access-Index") == 0 &&
	    vt_parse_u64(&index, idxs, strlen(idxs)) == 0)
		have_index = 1;
	if (err < 0) {
		if (resp.status == 0 || resp.status / 100 == 2)
			snprintf(why, sizeof(why), "%s", vt_error_last());
		else
			cli_server_error(why, sizeof(why), &resp);
		if (have_index)
			fprintf(stderr, "vitrine: %s (the refusal is logged at index %llu)\n", why,
				(unsigned long long)index);
		else
			fprintf(stderr, "vitrine: %s\n", why);
		goto done;
	}
	if (!have_index ||
	    vt_client_response_header(rcpt_b64, RECEIPT_HEADER_MAX, &resp, "X-Vitrine-Receipt") <
		0 ||
	    vt_base64_decode(&rcpt, rcpt_b64, strlen(rcpt_b64)) < 0) {
		fprintf(stderr, "vitrine: the site sent no valid access index and receipt\n");
		goto done;
	}
	if (fsync(d.fd) != 0) {
		fprintf(stderr, "vitrine: %s: %s\n", o->out, strerror(errno));
		goto done;
	}
	if (o->zip) {
		if (d.bytes < 4 || memcmp(d.head, "PK\x03\x04", 4) != 0) {
			fprintf(stderr, "vitrine: the site's answer is not a ZIP archive\n");
			goto done;
		}
	} else {
		char ghex[2 * VT_HASH_SIZE + 1];
		vt_sha256_final(&got, d.sha);
		vt_hex_encode(ghex, got.b, sizeof(got.b));
		if (strcmp(ghex, hex) != 0) {
			fprintf(stderr,
				"vitrine: what arrived (%llu bytes) has SHA-256 %s, not %s\n",
				(unsigned long long)d.bytes, ghex, hex);
			goto done;
		}
	}
	if (check_access_receipt(o, cl, hex, (const char *)rcpt.ptr, rcpt.len, index) < 0) {
		fprintf(stderr, "vitrine: the access receipt does not check: %s\n",
			vt_error_last());
		goto done;
	}
	if (vt_fs_write_atomic(AT_FDCWD, rpath, rcpt.ptr, rcpt.len, 0644) < 0) {
		rc = cli_fail(rpath);
		goto done;
	}
	if (publish(tmp, o->out, o->force) < 0) {
		rc = cli_fail(o->out);
		goto done;
	}
	free(tmp);
	tmp = NULL;
	printf("saved %s: %llu bytes%s\n", o->out, (unsigned long long)d.bytes,
	       o->zip ? ", ZIP (password \"infected\")" : ", SHA-256 checked");
	printf("access logged at index %llu; receipt in %s (%s)\n", (unsigned long long)index,
	       rpath, o->vkey ? "verified with the log key" : "parsed, not verified: no --vkey");
	rc = EXIT_OK;
done:
	if (d.fd >= 0)
		close(d.fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(rpath);
	free(rcpt_b64);
	vt_sha256_free(d.sha);
	vt_buf_dispose(&path);
	vt_buf_dispose(&rcpt);
	vt_client_response_dispose(&resp);
	return rc;
}

int cmd_files(int argc, char **argv)
{
	vt_client *cl = NULL;
	opts o;
	int rc;

	if ((rc = cli_sub_help(argc, argv, help)) >= 0)
		return rc;
	if (strcmp(argv[1], "show") != 0 && strcmp(argv[1], "get") != 0)
		return cli_usage("files", "unknown command \"%s\"", argv[1]);
	if ((rc = parse_opts(&o, argc - 1, argv + 1)) != 0)
		return rc < 0 ? EXIT_OK : rc;
	if (vt_client_new(&cl, o.url, o.token) < 0)
		return cli_fail("files");
	if (strcmp(argv[1], "show") == 0)
		rc = do_show(&o, cl);
	else
		rc = do_get(&o, cl);
	vt_client_free(cl);
	return rc;
}
