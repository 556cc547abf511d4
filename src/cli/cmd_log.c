/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine log: append, checkpoint, get, prove, verify-proof, consistency, fsck. */
#include "cli.h"
#include "vitrine/checkpoint.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/log.h"
#include "vitrine/merkle.h"
#include "vitrine/proof.h"
#include "vitrine/reader.h"
#include "vitrine/tile.h"

#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char help[] =
    "usage: vitrine log <command> [options]\n"
    "\n"
    "  append [FILE...]        append each FILE as one entry, or each line of\n"
    "                          standard input; --dir DIR (no server running on it)\n"
    "                          or --url URL --token TOKEN\n"
    "  checkpoint              print the latest signed checkpoint\n"
    "  get --index I           print entry I, checked against the signed checkpoint\n"
    "  prove --index I         print a c2sp.org/tlog-proof of entry I\n"
    "  verify-proof FILE --vkey VKEY --entry ENTRY\n"
    "                          check a tlog-proof for the entry in file ENTRY\n"
    "  consistency --old CHECKPOINT\n"
    "                          prove and check that the current checkpoint extends\n"
    "                          an older one\n"
    "  fsck                    re-derive every tile from the entry bundles and\n"
    "                          check them and the root against the checkpoint\n"
    "  cosign FILE --key KEY   append a c2sp.org/tlog-cosignature by the witness\n"
    "                          key KEY (vitrine key generate --cosigner) to the\n"
    "                          checkpoint note in FILE (a test stand-in for witnesses)\n"
    "\n"
    "options:\n"
    "  --dir DIR      read (or append to) the log in data directory DIR\n"
    "  --url URL      read from (or append to) a server, such as http://127.0.0.1:8080\n"
    "  --token TOKEN  admin token for --url appends (or --token-file FILE)\n"
    "  --vkey FILE    the log's verifier key (default DIR/log.vkey with --dir);\n"
    "                 with append --url, every returned proof is verified with it\n";

typedef struct {
	const char *dir, *url, *token, *vkey, *old, *entry;
	uint64_t index;
	bool have_index;
	int argc;
	char **argv; /* positional arguments */
} opts;

static int parse_opts(opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"dir", required_argument, 0, 'd'},	  {"url", required_argument, 0, 'u'},
	    {"token", required_argument, 0, 't'}, {"token-file", required_argument, 0, 'T'},
	    {"vkey", required_argument, 0, 'k'},  {"old", required_argument, 0, 'o'},
	    {"entry", required_argument, 0, 'e'}, {"index", required_argument, 0, 'i'},
	    {"help", no_argument, 0, 'h'},	  {0, 0, 0, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'u': o->url = optarg; break;
		case 't': o->token = optarg; break;
		case 'T':
			if (cli_token_file(&o->token, optarg) != 0)
				return EXIT_USAGE;
			break;
		case 'k': o->vkey = optarg; break;
		case 'o': o->old = optarg; break;
		case 'e': o->entry = optarg; break;
		case 'i':
			if (vt_parse_u64(&o->index, optarg, strlen(optarg)) < 0)
				return cli_usage("log", "--index wants a number, not \"%s\"",
						 optarg);
			o->have_index = true;
			break;
		case 'h': fputs(help, stdout); return -1;
		default: return cli_usage("log", "bad option");
		}
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	return 0;
}

/* The log's verifier: --vkey, or DIR/log.vkey. */
static int load_verifier(vt_note_verifier **out, const opts *o)
{
	char path[4096];
	if (o->vkey)
		return cli_load_vkey(out, o->vkey);
	if (o->dir) {
		snprintf(path, sizeof(path), "%s/log.vkey", o->dir);
		return cli_load_vkey(out, path);
	}
	return vt_error_set(VT_EINVAL, "give the log's verifier key with --vkey FILE");
}

/* ---- append ----------------------------------------------------------- */

int cli_log_append_local(uint64_t *index, const char *dir, const void *entry, size_t len,
			 const char *verb)
{
	vt_note_signer *s = NULL;
	vt_storage *st = NULL;
	vt_log *log = NULL;
	vt_log_options lo;
	int err;

	vt_log_options_default(&lo);
	if ((err = cli_load_signer(&s, dir)) < 0)
		goto done;
	if ((err = vt_storage_posix_open(&st, dir, true)) < 0) {
		if (err == VT_EBUSY)
			err = vt_error_wrap(err,
					    "a server holds %s: %s through it with --url URL "
					    "--token-file FILE",
					    dir, verb);
		goto done;
	}
	if ((err = vt_log_open(&log, st, s, &lo)) < 0 ||
	    (err = vt_log_append(log, index, &entry, &len, 1)) < 0)
		goto done;
done:
	vt_log_close(log);
	vt_storage_close(st);
	vt_note_signer_free(s);
	return err;
}

int cli_log_post(uint64_t *index, vt_client *cl, vt_buf *resp, vt_note_verifier *v,
		 const void *entry, size_t len, const char *what)
{
	vt_tlog_proof p;
	vt_checkpoint c;
	int err;

	if ((err = vt_client_post(cl, resp, "log/add", entry, len)) < 0 ||
	    (err = vt_tlog_proof_parse(&p, (const char *)resp->ptr, resp->len)) < 0)
		goto done;
	/* The server must be this site's log, and the entry in it. */
	if (v && (err = vt_tlog_proof_verify_origin(&c, NULL, &p, vt_note_verifier_name(v), entry,
						    len, &v, 1)) < 0) {
		err = vt_error_wrap(err, "the server's proof %s", what);
		goto done;
	}
	*index = p.index;
done:
	return err;
}

typedef struct {
	const uint8_t **p;
	size_t *len;
	size_t n, cap;
} entry_list;

static int list_add(entry_list *l, const uint8_t *p, size_t len)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		const uint8_t **np = realloc(l->p, cap * sizeof(*np));
		size_t *nl = np ? realloc(l->len, cap * sizeof(*nl)) : NULL;
		if (!np || !nl) {
			free(np ? (void *)np : NULL);
			return vt_error_set(VT_ENOMEM, "out of memory");
		}
		l->p = np;
		l->len = nl;
		l->cap = cap;
	}
	l->p[l->n] = p;
	l->len[l->n++] = len;
	return 0;
}

typedef struct {
	const opts *o;
	entry_list *l;
	vt_note_verifier *v; /* verify each proof when set */
	pthread_mutex_t mu;
	size_t next, done;
	int err;
	char why[512];
	uint64_t first, last;
} remote_job;

static void *remote_worker(void *arg)
{
	remote_job *j = arg;
	vt_client *cl = NULL;
	vt_buf resp;
	int err;

	vt_buf_init(&resp, 4 << 20);
	if ((err = vt_client_new(&cl, j->o->url, j->o->token)) < 0)
		goto fail;
	for (;;) {
		char what[64];
		uint64_t index = 0;
		size_t i;
		pthread_mutex_lock(&j->mu);
		i = j->err < 0 ? j->l->n : j->next++;
		pthread_mutex_unlock(&j->mu);
		if (i >= j->l->n)
			break;
		vt_buf_reset(&resp);
		snprintf(what, sizeof(what), "for entry %zu", i);
		if ((err = cli_log_post(&index, cl, &resp, j->v, j->l->p[i], j->l->len[i], what)) <
		    0)
			goto fail;
		pthread_mutex_lock(&j->mu);
		if (j->done++ == 0 || index < j->first)
			j->first = index;
		if (index > j->last)
			j->last = index;
		pthread_mutex_unlock(&j->mu);
	}
	vt_client_free(cl);
	vt_buf_dispose(&resp);
	return NULL;
fail:
	pthread_mutex_lock(&j->mu);
	if (j->err == 0) {
		j->err = err;
		snprintf(j->why, sizeof(j->why), "%s", vt_error_last());
	}
	pthread_mutex_unlock(&j->mu);
	vt_client_free(cl);
	vt_buf_dispose(&resp);
	return NULL;
}

static int append_remote(const opts *o, entry_list *l)
{
	remote_job j = {.o = o, .l = l};
	pthread_t t[32];
	size_t nt = l->n < 32 ? l->n : 32;

	if (!o->token)
		return cli_usage("log", "appending with --url needs --token or --token-file");
	if (o->vkey && cli_load_vkey(&j.v, o->vkey) < 0)
		return cli_fail("verifier key");
	pthread_mutex_init(&j.mu, NULL);
	for (size_t i = 0; i < nt; i++)
		pthread_create(&t[i], NULL, remote_worker, &j);
	for (size_t i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&j.mu);
	vt_note_verifier_free(j.v);
	if (j.err < 0) {
		fprintf(stderr, "vitrine: append failed after %zu of %zu entries: %s\n", j.done,
			l->n, j.why);
		return EXIT_FAIL;
	}
	printf("appended %zu entries (indices %llu to %llu)%s\n", l->n, (unsigned long long)j.first,
	       (unsigned long long)j.last,
	       j.v ? ", every inclusion proof verified" : "; pass --vkey to verify the proofs");
	return EXIT_OK;
}

static int append_local(const opts *o, entry_list *l)
{
	vt_note_signer *s = NULL;
	vt_storage *st = NULL;
	vt_log *log = NULL;
	vt_log_options lo;
	uint64_t first = 0, size = 0;
	vt_buf cp;
	int rc = EXIT_FAIL;
	const size_t chunk = 1 << 16;

	vt_log_options_default(&lo);
	lo.batch_max = chunk;
	lo.queue_max = chunk;
	lo.queue_max_bytes = (size_t)chunk * (2 + VT_ENTRY_MAX);
	vt_buf_init(&cp, 1 << 20);
	if (cli_load_signer(&s, o->dir) < 0 || vt_storage_posix_open(&st, o->dir, true) < 0 ||
	    vt_log_open(&log, st, s, &lo) < 0) {
		rc = cli_fail("cannot open the log (a server holding it takes --url instead)");
		goto done;
	}
	for (size_t at = 0; at < l->n; at += chunk) {
		size_t m = l->n - at < chunk ? l->n - at : chunk;
		uint64_t f;
		if (vt_log_append(log, &f, (const void *const *)(l->p + at), l->len + at, m) < 0) {
			fprintf(stderr, "vitrine: append failed after %zu of %zu entries: %s\n", at,
				l->n, vt_error_last());
			goto done;
		}
		if (at == 0)
			first = f;
		if (cli_tty())
			fprintf(stderr, "\r%zu/%zu entries appended", at + m, l->n);
	}
	if (cli_tty())
		fputc('\n', stderr);
	vt_log_checkpoint(log, &cp, &size);
	printf("appended %zu entries (indices %llu to %llu); checkpoint size %llu\n", l->n,
	       (unsigned long long)first, (unsigned long long)(first + l->n - 1),
	       (unsigned long long)size);
	rc = EXIT_OK;
done:
	vt_log_close(log);
	vt_storage_close(st);
	vt_note_signer_free(s);
	vt_buf_dispose(&cp);
	return rc;
}

static int do_append(const opts *o)
{
	vt_buf *files = NULL, in;
	entry_list l = {0};
	int rc = EXIT_FAIL;

	if ((o->dir && o->url) || (!o->dir && !o->url))
		return cli_usage("log", "append needs --dir DIR or --url URL");
	vt_buf_init(&in, (size_t)1 << 34);
	if (o->argc > 0) {
		if ((files = calloc((size_t)o->argc, sizeof(*files))) == NULL)
			return cli_fail("out of memory");
		for (int i = 0; i < o->argc; i++) {
			vt_buf_init(&files[i], VT_ENTRY_MAX);
			if (cli_read_file(&files[i], o->argv[i]) < 0) {
				if (vt_error_last()[0] && strstr(vt_error_last(), "limit"))
					fprintf(stderr,
						"vitrine: %s: entry exceeds the limit of "
						"65535 bytes\n",
						o->argv[i]);
				else
					cli_fail(o->argv[i]);
				goto done;
			}
			if (files[i].len == 0) {
				fprintf(stderr, "vitrine: %s: an entry cannot be empty\n",
					o->argv[i]);
				goto done;
			}
			if (list_add(&l, files[i].ptr, files[i].len) < 0)
				goto done;
		}
	} else {
		size_t lineno = 0;
		if (cli_read_file(&in, "-") < 0) {
			cli_fail("standard input");
			goto done;
		}
		for (size_t off = 0; off < in.len;) {
			uint8_t *nl = memchr(in.ptr + off, '\n', in.len - off);
			size_t end = nl ? (size_t)(nl - in.ptr) : in.len;
			lineno++;
			if (end - off > VT_ENTRY_MAX) {
				fprintf(stderr,
					"vitrine: line %zu: entry of %zu bytes exceeds the "
					"limit of 65535 bytes\n",
					lineno, end - off);
				goto done;
			}
			if (end > off && list_add(&l, in.ptr + off, end - off) < 0) {
				cli_fail("reading entries");
				goto done;
			}
			off = end + 1;
		}
	}
	if (l.n == 0) {
		fprintf(stderr, "vitrine: no entries to append\n");
		goto done;
	}
	rc = o->dir ? append_local(o, &l) : append_remote(o, &l);
done:
	for (int i = 0; files && i < o->argc; i++)
		vt_buf_dispose(&files[i]);
	free(files);
	free(l.p);
	free(l.len);
	vt_buf_dispose(&in);
	return rc;
}

/* ---- reads ------------------------------------------------------------ */

static int do_checkpoint(const opts *o)
{
	cli_source src;
	vt_buf b;
	int rc = EXIT_OK;

	vt_buf_init(&b, 1 << 20);
	if (cli_source_open(&src, o->dir, o->url, NULL) < 0 || cli_source_checkpoint(&src, &b) < 0)
		rc = cli_fail("cannot read the checkpoint");
	else
		fwrite(b.ptr, 1, b.len, stdout);
	cli_source_close(&src);
	vt_buf_dispose(&b);
	return rc;
}

/* For get and prove: the verified checkpoint and a reader of its tree. */
typedef struct {
	vt_note_verifier *v;
	vt_tlog_reader *r;
	vt_checkpoint c;
	cli_source src;
	vt_buf note;
} at_index;

static int at_index_open(at_index *a, const opts *o, const char *what)
{
	memset(a, 0, sizeof(*a));
	vt_buf_init(&a->note, 1 << 20);
	if (!o->have_index)
		return cli_usage("log", "%s needs --index I", what);
	if (load_verifier(&a->v, o) < 0 || cli_source_open(&a->src, o->dir, o->url, NULL) < 0 ||
	    cli_source_verified_checkpoint(&a->note, &a->c, &a->src, a->v) < 0 ||
	    vt_tlog_reader_new(&a->r, a->c.size, cli_source_fetch, &a->src) < 0)
		return cli_fail(what);
	if (o->index >= a->c.size) {
		fprintf(stderr, "vitrine: index %llu is not in the log (size %llu)\n",
			(unsigned long long)o->index, (unsigned long long)a->c.size);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static void at_index_close(at_index *a)
{
	vt_tlog_reader_free(a->r);
	cli_source_close(&a->src);
	vt_note_verifier_free(a->v);
	vt_buf_dispose(&a->note);
}

static int do_get(const opts *o)
{
	vt_hash proof[VT_MERKLE_MAX_PROOF], leaf;
	vt_buf entry;
	at_index a;
	size_t n;
	int rc;

	vt_buf_init(&entry, VT_ENTRY_MAX + 1);
	if ((rc = at_index_open(&a, o, "get")) != EXIT_OK)
		goto done;
	/* The bundle is served by the same party as the tiles: print the
	 * entry only when it is the leaf the signed tree holds. */
	if (vt_tlog_reader_entry(&entry, a.r, o->index) < 0 ||
	    vt_merkle_leaf_hash(&leaf, entry.ptr, entry.len) < 0 ||
	    vt_tlog_reader_prove_inclusion(proof, &n, a.r, o->index) < 0 ||
	    vt_merkle_verify_inclusion(&leaf, o->index, a.c.size, proof, n, &a.c.root) < 0) {
		rc = cli_fail("get");
		goto done;
	}
	fwrite(entry.ptr, 1, entry.len, stdout);
done:
	at_index_close(&a);
	vt_buf_dispose(&entry);
	return rc;
}

static int do_prove(const opts *o)
{
	vt_hash proof[VT_MERKLE_MAX_PROOF];
	vt_buf out;
	at_index a;
	size_t n;
	int rc;

	vt_buf_init(&out, 2 << 20);
	if ((rc = at_index_open(&a, o, "prove")) != EXIT_OK)
		goto done;
	if (vt_tlog_reader_prove_inclusion(proof, &n, a.r, o->index) < 0 ||
	    vt_tlog_proof_format(&out, o->index, proof, n, (const char *)a.note.ptr, a.note.len) <
		0) {
		rc = cli_fail("prove");
		goto done;
	}
	fwrite(out.ptr, 1, out.len, stdout);
done:
	at_index_close(&a);
	vt_buf_dispose(&out);
	return rc;
}

static int do_verify_proof(const opts *o)
{
	vt_note_verifier *v = NULL;
	vt_tlog_proof p;
	vt_checkpoint c;
	vt_buf text, entry;
	int rc = EXIT_FAIL;

	if (o->argc != 1 || !o->vkey || !o->entry)
		return cli_usage("log", "verify-proof needs FILE, --vkey VKEY and --entry FILE");
	vt_buf_init(&text, VT_TLOG_PROOF_MAX_SIZE);
	vt_buf_init(&entry, VT_ENTRY_MAX);
	if (cli_load_vkey(&v, o->vkey) < 0) {
		rc = cli_fail("verifier key");
		goto done;
	}
	if (cli_read_file(&text, o->argv[0]) < 0 ||
	    vt_tlog_proof_parse(&p, (const char *)text.ptr, text.len) < 0) {
		rc = cli_fail(o->argv[0]);
		goto done;
	}
	if (cli_read_file(&entry, o->entry) < 0) {
		rc = cli_fail(o->entry);
		goto done;
	}
	if (vt_tlog_proof_verify_origin(&c, NULL, &p, vt_note_verifier_name(v), entry.ptr,
					entry.len, &v, 1) < 0) {
		rc = cli_fail("proof does not verify");
		goto done;
	}
	printf("verified: entry %llu is in %s at tree size %llu\n", (unsigned long long)p.index,
	       c.origin, (unsigned long long)c.size);
	rc = EXIT_OK;
done:
	vt_note_verifier_free(v);
	vt_buf_dispose(&text);
	vt_buf_dispose(&entry);
	return rc;
}

static int do_consistency(const opts *o)
{
	vt_hash proof[VT_MERKLE_MAX_PROOF];
	vt_note_verifier *v = NULL;
	vt_tlog_reader *r = NULL;
	vt_checkpoint oldc, newc;
	cli_source src = {0};
	vt_buf oldnote, newnote;
	vt_note n;
	size_t np = 0;
	int rc = EXIT_FAIL;

	if (!o->old)
		return cli_usage("log", "consistency needs --old CHECKPOINT");
	vt_buf_init(&oldnote, 1 << 20);
	vt_buf_init(&newnote, 1 << 20);
	if (load_verifier(&v, o) < 0 || cli_read_file(&oldnote, o->old) < 0) {
		rc = cli_fail("consistency");
		goto done;
	}
	if (vt_note_open(&n, (const char *)oldnote.ptr, oldnote.len, &v, 1) < 0 ||
	    vt_checkpoint_parse(&oldc, n.text, n.text_len) < 0) {
		rc = cli_fail(o->old);
		goto done;
	}
	if (cli_source_open(&src, o->dir, o->url, NULL) < 0 ||
	    cli_source_verified_checkpoint(&newnote, &newc, &src, v) < 0) {
		rc = cli_fail("consistency");
		goto done;
	}
	if (strcmp(oldc.origin, newc.origin) != 0 || newc.size < oldc.size) {
		fprintf(stderr,
			"vitrine: inconsistent: old checkpoint (%s, size %llu) cannot "
			"precede the current one (%s, size %llu)\n",
			oldc.origin, (unsigned long long)oldc.size, newc.origin,
			(unsigned long long)newc.size);
		goto done;
	}
	if (oldc.size == 0) {
		vt_hash empty;
		vt_merkle_empty_root(&empty);
		if (!vt_hash_equal(&empty, &oldc.root)) {
			fprintf(stderr, "vitrine: INCONSISTENT: the old checkpoint claims a "
					"non-empty root for size 0\n");
			goto done;
		}
		printf("consistent: size 0 -> %llu (every tree extends the empty tree)\n",
		       (unsigned long long)newc.size);
		rc = EXIT_OK;
		goto done;
	}
	if (vt_tlog_reader_new(&r, newc.size, cli_source_fetch, &src) < 0 ||
	    vt_tlog_reader_prove_consistency(proof, &np, r, oldc.size) < 0) {
		rc = cli_fail("cannot build the consistency proof");
		goto done;
	}
	if (vt_merkle_verify_consistency(oldc.size, newc.size, &oldc.root, &newc.root, proof, np) <
	    0) {
		rc = cli_fail("INCONSISTENT: the log's history changed");
		goto done;
	}
	for (size_t i = 0; i < np; i++) {
		char b64[VT_BASE64_LEN(32) + 1];
		vt_base64_encode(b64, proof[i].b, 32);
		printf("%s\n", b64);
	}
	printf("consistent: size %llu -> %llu\n", (unsigned long long)oldc.size,
	       (unsigned long long)newc.size);
	rc = EXIT_OK;
done:
	vt_tlog_reader_free(r);
	cli_source_close(&src);
	vt_note_verifier_free(v);
	vt_buf_dispose(&oldnote);
	vt_buf_dispose(&newnote);
	return rc;
}

/* ---- fsck ------------------------------------------------------------- */

typedef struct {
	cli_source *src;
	vt_hash h[8][VT_TILE_WIDTH];
	unsigned n[8];
	uint64_t index[8];
	uint64_t checked;
	int err;
	vt_buf tile;
} fsck_state;

/* Compare a re-derived tile with the stored one. */
static int fsck_tile(fsck_state *f, unsigned level, unsigned width)
{
	char path[VT_TILE_PATH_MAX];
	vt_tile t = {.level = level, .index = f->index[level], .width = width};
	int err;
	vt_tile_path(path, sizeof(path), &t);
	vt_buf_reset(&f->tile);
	if ((err = cli_source_fetch(&f->tile, path, f->src)) < 0)
		return vt_error_wrap(err, "tile %s", path);
	if (f->tile.len != width * 32u || memcmp(f->tile.ptr, f->h[level], width * 32u) != 0)
		return vt_error_set(VT_ECORRUPT,
				    "tile %s differs from the one derived from entries", path);
	f->checked++;
	return 0;
}

static void fsck_visit(unsigned level, uint64_t index, const vt_hash *h, void *payload)
{
	fsck_state *f = payload;
	unsigned L = level / VT_TILE_HEIGHT;
	int err;
	if (level % VT_TILE_HEIGHT != 0 || f->err < 0)
		return;
	f->h[L][f->n[L]++] = *h;
	(void)index;
	if (f->n[L] == VT_TILE_WIDTH) {
		if ((err = fsck_tile(f, L, VT_TILE_WIDTH)) < 0)
			f->err = err;
		f->n[L] = 0;
		f->index[L]++;
	}
}

typedef struct {
	vt_merkle_edge *edge;
	fsck_state *f;
} fsck_walk;

static int fsck_entry(const uint8_t *entry, size_t len, void *payload)
{
	fsck_walk *w = payload;
	vt_hash leaf;
	int err;
	if ((err = vt_merkle_leaf_hash(&leaf, entry, len)) < 0 ||
	    (err = vt_merkle_edge_append(w->edge, &leaf, fsck_visit, w->f)) < 0)
		return err;
	return w->f->err;
}

static int do_fsck(const opts *o)
{
	vt_note_verifier *v = NULL;
	vt_checkpoint c;
	cli_source src = {0};
	vt_merkle_edge edge;
	fsck_state *f = calloc(1, sizeof(*f));
	fsck_walk w = {.edge = &edge, .f = f};
	vt_buf note, bundle;
	vt_hash root;
	time_t last = 0;
	int rc = EXIT_FAIL, err;

	vt_buf_init(&note, 1 << 20);
	vt_buf_init(&bundle, VT_TILE_WIDTH * (2 + VT_ENTRY_MAX));
	if (!f)
		return cli_fail("out of memory");
	vt_buf_init(&f->tile, VT_TILE_WIDTH * 32);
	f->src = &src;
	vt_merkle_edge_init(&edge);
	if (load_verifier(&v, o) < 0 || cli_source_open(&src, o->dir, o->url, NULL) < 0 ||
	    cli_source_verified_checkpoint(&note, &c, &src, v) < 0) {
		rc = cli_fail("fsck");
		goto done;
	}
	for (uint64_t b = 0; b * VT_TILE_WIDTH < c.size; b++) {
		vt_tile t;
		char path[VT_TILE_PATH_MAX];
		vt_tile_in_tree(&t, true, 0, b, c.size);
		vt_tile_path(path, sizeof(path), &t);
		vt_buf_reset(&bundle);
		if ((err = cli_source_fetch(&bundle, path, &src)) < 0 ||
		    (err = vt_bundle_parse(bundle.ptr, bundle.len, t.width, fsck_entry, &w)) < 0) {
			fprintf(stderr, "vitrine: fsck: %s: %s\n", path, vt_error_last());
			goto done;
		}
		if (cli_tty() && time(NULL) != last) {
			last = time(NULL);
			fprintf(stderr, "\rfsck: %llu/%llu entries", (unsigned long long)edge.size,
				(unsigned long long)c.size);
		}
	}
	for (unsigned L = 0; L < 8; L++)
		if (f->n[L] > 0 && (err = fsck_tile(f, L, f->n[L])) < 0) {
			rc = cli_fail("fsck");
			goto done;
		}
	if (cli_tty())
		fputc('\n', stderr);
	vt_merkle_edge_root(&root, &edge);
	if (!vt_hash_equal(&root, &c.root)) {
		fprintf(stderr,
			"vitrine: fsck: the entries do not hash to the checkpoint's root\n");
		goto done;
	}
	printf("ok: %llu entries and %llu tiles match the checkpoint of %s\n",
	       (unsigned long long)c.size, (unsigned long long)f->checked, c.origin);
	rc = EXIT_OK;
done:
	cli_source_close(&src);
	vt_note_verifier_free(v);
	vt_buf_dispose(&note);
	vt_buf_dispose(&bundle);
	vt_buf_dispose(&f->tile);
	free(f);
	return rc;
}

/*
 * A stand-in for a witness until witnesses run as a service: cosign the
 * checkpoint note in a file with the current time, in place.
 */
static int do_cosign(int argc, char **argv)
{
	const char *key = NULL, *file = NULL;
	vt_note_signer *w = NULL;
	vt_buf note, k, line;
	size_t text_len;
	int rc = EXIT_FAIL;

	vt_buf_init(&note, VT_NOTE_MAX_SIZE);
	vt_buf_init(&k, 4096);
	vt_buf_init(&line, 4096);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key = argv[++i];
		else if (argv[i][0] != '-' && !file)
			file = argv[i];
		else {
			rc = cli_usage("log", "cosign: unexpected \"%s\"", argv[i]);
			goto done;
		}
	}
	if (!file || !key) {
		rc = cli_usage("log", "cosign needs CHECKPOINT_FILE and --key WITNESS_KEY");
		goto done;
	}
	if (cli_read_file(&k, key) < 0) {
		rc = cli_fail(key);
		goto done;
	}
	while (k.len > 0 && (k.ptr[k.len - 1] == '\n' || k.ptr[k.len - 1] == '\r'))
		k.len--;
	if (vt_note_signer_parse(&w, (const char *)k.ptr, k.len) < 0) {
		rc = cli_fail(key);
		goto done;
	}
	if (cli_read_file(&note, file) < 0 ||
	    vt_note_check(&text_len, (const char *)note.ptr, note.len) < 0 ||
	    vt_cosig_sign(&line, w, (const char *)note.ptr, text_len, (uint64_t)time(NULL)) < 0 ||
	    vt_buf_add(&note, line.ptr, line.len) < 0 ||
	    vt_fs_write_atomic(AT_FDCWD, file, note.ptr, note.len, 0644) < 0) {
		rc = cli_fail("cosign");
		goto done;
	}
	fwrite(line.ptr, 1, line.len, stdout);
	rc = EXIT_OK;
done:
	if (k.ptr)
		memset(k.ptr, 0, k.len);
	vt_note_signer_free(w);
	vt_buf_dispose(&note);
	vt_buf_dispose(&k);
	vt_buf_dispose(&line);
	return rc;
}

int cmd_log(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const opts *);
	} sub[] = {
	    {"append", do_append},
	    {"checkpoint", do_checkpoint},
	    {"get", do_get},
	    {"prove", do_prove},
	    {"verify-proof", do_verify_proof},
	    {"consistency", do_consistency},
	    {"fsck", do_fsck},
	};
	opts o;
	int rc;

	if ((rc = cli_sub_help(argc, argv, help)) >= 0)
		return rc;
	if (strcmp(argv[1], "cosign") == 0)
		return do_cosign(argc, argv);
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if (strcmp(argv[1], sub[i].name) != 0)
			continue;
		if ((rc = parse_opts(&o, argc - 1, argv + 1)) != 0)
			return rc < 0 ? EXIT_OK : rc;
		if (o.argc > 0 && sub[i].fn != do_append && sub[i].fn != do_verify_proof)
			return cli_usage("log", "unexpected argument \"%s\"", o.argv[0]);
		return sub[i].fn(&o);
	}
	return cli_usage("log", "unknown log command \"%s\"", argv[1]);
}
