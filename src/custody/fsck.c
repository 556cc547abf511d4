/* SPDX-License-Identifier: Apache-2.0 */
/* Custody fsck: vault objects against the log's `sample` entries, both ways. */
#include "vitrine/fsck.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	const char *dir, *jurisdiction;
	vt_hash *ids; /* sample entries' files, sorted once read */
	size_t n, cap;
	bool *seen; /* ids[i] has a verified object */
	vt_vault_fsck_stats *vst;
	vt_fsck_log_stats *lst;
	vt_vault_problem_fn on_problem;
	void *payload;
} cross;

static int cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, VT_HASH_SIZE);
}

/* The value of line "key value" in an entry, or NULL. */
static const char *field(const uint8_t *e, size_t len, const char *key, size_t *vlen)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < len;) {
		const uint8_t *nl = memchr(e + i, '\n', len - i);
		size_t ll = nl ? (size_t)(nl - (e + i)) : len - i;
		if (ll > kl && memcmp(e + i, key, kl) == 0 && e[i + kl] == ' ') {
			*vlen = ll - kl - 1;
			return (const char *)e + i + kl + 1;
		}
		i += ll + 1;
	}
	return NULL;
}

static int on_entry(uint64_t index, const uint8_t *e, size_t len, void *payload)
{
	static const char head[] = "vitrine/1 sample\n";
	cross *x = payload;
	const char *hex, *jur;
	size_t hl, jl;

	x->lst->entries++;
	if (len < sizeof(head) - 1 || memcmp(e, head, sizeof(head) - 1) != 0)
		return 0;
	hex = field(e, len, "sha256", &hl);
	jur = field(e, len, "jurisdiction", &jl);
	if (!jur || jl != strlen(x->jurisdiction) || memcmp(jur, x->jurisdiction, jl) != 0)
		return 0; /* held elsewhere: not this vault's business */
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 1024;
		vt_hash *p = realloc(x->ids, cap * sizeof(*p));
		if (!p)
			return vt_error_set(VT_ENOMEM, "out of memory");
		x->ids = p;
		x->cap = cap;
	}
	if (!hex || hl != 2 * VT_HASH_SIZE ||
	    vt_hex_decode(x->ids[x->n].b, VT_HASH_SIZE, hex, hl) < 0)
		return vt_error_set(VT_ECORRUPT, "log entry %llu: a sample entry without a SHA-256",
				    (unsigned long long)index);
	x->n++;
	return 0;
}

static int report(cross *x, vt_vault_problem_kind kind, const vt_hash *id, const char *detail)
{
	vt_vault_problem p = {.kind = kind, .has_id = true, .id = *id, .detail = detail};
	char path[80];

	vt_vault_object_path(path, id);
	p.path = path;
	p.code = kind == VT_VAULT_PROBLEM_MISSING ? VT_ENOTFOUND : VT_EVERIFY;
	return x->on_problem ? x->on_problem(&p, x->payload) : 0;
}

static int on_object(const vt_hash *id, const char *jurisdiction, void *payload)
{
	cross *x = payload;
	vt_hash *hit = x->n ? bsearch(id, x->ids, x->n, sizeof(*id), cmp_hash) : NULL;

	(void)jurisdiction;
	if (hit) {
		x->seen[hit - x->ids] = true;
		return 0;
	}
	x->lst->unlogged++;
	return report(x, VT_VAULT_PROBLEM_UNLOGGED, id,
		      "stored but no `sample` entry in the log names it");
}

int vt_fsck_custody(vt_vault_fsck_stats *vst, vt_fsck_log_stats *lst, vt_vault *v, const char *dir,
		    const char *jurisdiction, vt_tlog_reader *r, vt_vault_problem_fn on_problem,
		    void *payload)
{
	cross x = {.dir = dir,
		   .jurisdiction = jurisdiction,
		   .vst = vst,
		   .lst = lst,
		   .on_problem = on_problem,
		   .payload = payload};
	size_t kept = 0;
	int err;

	memset(vst, 0, sizeof(*vst));
	memset(lst, 0, sizeof(*lst));
	if ((err = vt_tlog_reader_walk(r, 0, on_entry, &x)) != 0)
		goto done;
	/* A file stored, shredded and submitted again has two sample entries. */
	if (x.n > 1)
		qsort(x.ids, x.n, sizeof(*x.ids), cmp_hash);
	for (size_t i = 0; i < x.n; i++)
		if (kept == 0 || memcmp(&x.ids[kept - 1], &x.ids[i], VT_HASH_SIZE) != 0)
			x.ids[kept++] = x.ids[i];
	x.n = kept;
	lst->samples = x.n;
	if ((x.seen = calloc(x.n + 1, sizeof(*x.seen))) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if ((err = vt_vault_fsck(vst, v, on_problem, on_object, &x)) != 0)
		goto done;
	/* vt_vault_fsck counted its own problems (its stats are written at
	 * its end); add ours on top. */
	vst->problems += lst->unlogged;
	for (size_t i = 0; i < x.n && err == 0; i++) {
		char path[80], full[4200];
		if (x.seen[i])
			continue;
		/* Not verified: absent, or present but shredded or damaged
		 * (those fsck reported or counted already). */
		vt_vault_object_path(path, &x.ids[i]);
		snprintf(full, sizeof(full), "%s/%s", dir, path);
		if (access(full, F_OK) == 0)
			continue;
		lst->missing++;
		vst->problems++;
		err = report(&x, VT_VAULT_PROBLEM_MISSING, &x.ids[i],
			     "a `sample` entry names it but the vault has no such object");
	}
done:
	free(x.ids);
	free(x.seen);
	return err;
}
