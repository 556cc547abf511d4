/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine policy: check, sign, verify, adopt and show the residency policy. */
#include "cli.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/hash.h"
#include "vitrine/log.h"
#include "vitrine/policy.h"
#include "vitrine/tile.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static const char help[] =
    "usage: vitrine policy <command> [options]\n"
    "\n"
    "The federation's residency policy (docs/policy.md), a signed note.\n"
    "\n"
    "  check FILE              check that FILE is a valid policy text\n"
    "  sign FILE --key KEYFILE [-o OUT]\n"
    "                          sign the policy in FILE with the policy key (made by\n"
    "                          'vitrine key generate NAME --out KEYFILE')\n"
    "  verify SIGNED --vkey VKEY\n"
    "                          check a signed policy against the policy verifier key\n"
    "  adopt SIGNED --dir DIR [--vkey VKEY] [--url URL --token-file F]\n"
    "                          make SIGNED the policy in force at the site in DIR:\n"
    "                          it must verify under DIR/policy.vkey (set from --vkey\n"
    "                          the first time) and have a higher version than the\n"
    "                          policy in force; a 'policy' entry is logged first\n"
    "                          (through the server at URL when one holds DIR)\n"
    "  show --dir DIR          print the policy in force\n"
    "\n"
    "options:\n"
    "  --key FILE         the policy's private key\n"
    "  -o, --out FILE     where to write the signed policy (default standard output)\n"
    "  --vkey FILE        the policy's verifier key\n"
    "  --dir DIR          the site's data directory\n"
    "  --url URL          the server holding DIR, to append the log entry through\n"
    "  --token TOKEN      admin token for --url (or --token-file FILE)\n";

typedef struct {
	const char *key, *out, *vkey, *dir, *url, *token;
	int argc;
	char **argv;
} opts;

static int parse_opts(opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"key", required_argument, 0, 'K'},
	    {"out", required_argument, 0, 'o'},
	    {"vkey", required_argument, 0, 'k'},
	    {"dir", required_argument, 0, 'd'},
	    {"url", required_argument, 0, 'u'},
	    {"token", required_argument, 0, 't'},
	    {"token-file", required_argument, 0, 'T'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (c) {
		case 'K': o->key = optarg; break;
		case 'o': o->out = optarg; break;
		case 'k': o->vkey = optarg; break;
		case 'd': o->dir = optarg; break;
		case 'u': o->url = optarg; break;
		case 't': o->token = optarg; break;
		case 'T':
			if (cli_token_file(&o->token, optarg) != 0)
				return EXIT_USAGE;
			break;
		case 'h': fputs(help, stdout); return -1;
		default: return cli_usage("policy", "bad option");
		}
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	return 0;
}

/* A private key from a file of one PRIVATE+KEY line. */
static int load_key(vt_note_signer **out, const char *path)
{
	vt_buf b;
	int err;
	vt_buf_init(&b, 4096);
	if ((err = cli_read_file(&b, path)) == 0) {
		while (b.len > 0 && (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == '\r'))
			b.ptr[--b.len] = 0;
		err = vt_note_signer_parse(out, (const char *)b.ptr, b.len);
	}
	if (err < 0)
		err = vt_error_wrap(err, "%s", path);
	vt_buf_dispose(&b);
	return err;
}

static void print_digest(const void *data, size_t len)
{
	char hex[2 * VT_HASH_SIZE + 1];
	vt_hash h;
	vt_sha256(&h, data, len);
	vt_hex_encode(hex, h.b, sizeof(h.b));
	printf("sha256:%s", hex);
}

static int do_check(const opts *o)
{
	vt_policy p;
	vt_buf text;
	int rc = EXIT_FAIL;

	if (o->argc != 1)
		return cli_usage("policy", "check needs one FILE");
	vt_buf_init(&text, VT_POLICY_MAX_SIZE);
	if (cli_read_file(&text, o->argv[0]) < 0 ||
	    vt_policy_parse(&p, (const char *)text.ptr, text.len) < 0) {
		rc = cli_fail(o->argv[0]);
		goto done;
	}
	printf("ok: policy version %llu, %zu sites, %zu regions\n", (unsigned long long)p.version,
	       p.nsites, p.nregions);
	vt_policy_dispose(&p);
	rc = EXIT_OK;
done:
	vt_buf_dispose(&text);
	return rc;
}

static int do_sign(const opts *o)
{
	vt_note_signer *s = NULL;
	vt_buf text, note;
	int rc = EXIT_FAIL;

	if (o->argc != 1 || !o->key)
		return cli_usage("policy", "sign needs FILE and --key KEYFILE");
	vt_buf_init(&text, VT_POLICY_MAX_SIZE);
	vt_buf_init(&note, VT_NOTE_MAX_SIZE);
	if (load_key(&s, o->key) < 0) {
		rc = cli_fail("policy key");
		goto done;
	}
	if (cli_read_file(&text, o->argv[0]) < 0 ||
	    vt_policy_sign(&note, (const char *)text.ptr, text.len, s) < 0) {
		rc = cli_fail(o->argv[0]);
		goto done;
	}
	if (o->out) {
		if (vt_fs_write_atomic(AT_FDCWD, o->out, note.ptr, note.len, 0644) < 0) {
			rc = cli_fail(o->out);
			goto done;
		}
		fprintf(stderr, "signed policy written to %s\n", o->out);
	} else {
		fwrite(note.ptr, 1, note.len, stdout);
	}
	rc = EXIT_OK;
done:
	vt_note_signer_free(s);
	vt_buf_dispose(&text);
	vt_buf_dispose(&note);
	return rc;
}

static int do_verify(const opts *o)
{
	vt_note_verifier *v = NULL;
	vt_policy p;
	vt_buf note;
	int rc = EXIT_FAIL;

	if (o->argc != 1 || !o->vkey)
		return cli_usage("policy", "verify needs SIGNED and --vkey VKEY");
	vt_buf_init(&note, VT_NOTE_MAX_SIZE);
	vt_policy_init(&p);
	if (cli_load_vkey(&v, o->vkey) < 0) {
		rc = cli_fail("policy verifier key");
		goto done;
	}
	if (cli_read_file(&note, o->argv[0]) < 0 ||
	    vt_policy_open(&p, (const char *)note.ptr, note.len, v) < 0) {
		rc = cli_fail(o->argv[0]);
		goto done;
	}
	printf("verified: policy version %llu (%zu sites, %zu regions) signed by %s+%08x\n",
	       (unsigned long long)p.version, p.nsites, p.nregions, vt_note_verifier_name(v),
	       (unsigned)vt_note_verifier_id(v));
	rc = EXIT_OK;
done:
	vt_policy_dispose(&p);
	vt_note_verifier_free(v);
	vt_buf_dispose(&note);
	return rc;
}

/* ---- adopt ------------------------------------------------------------ */

/*
 * The policy key of the site: DIR/policy.vkey, or --vkey the first time.
 * *first is set when DIR has none yet (the caller stores it).
 */
static int site_policy_key(vt_note_verifier **out, bool *first, const opts *o)
{
	vt_note_verifier *given = NULL;
	vt_buf a, b;
	char path[4096];
	int err;

	*first = false;
	vt_buf_init(&a, 4096);
	vt_buf_init(&b, 4096);
	snprintf(path, sizeof(path), "%s/policy.vkey", o->dir);
	if (o->vkey && (err = cli_load_vkey(&given, o->vkey)) < 0)
		goto done;
	if ((err = cli_load_vkey(out, path)) == VT_ENOTFOUND) {
		if (!given) {
			err = vt_error_set(VT_ENOTFOUND,
					   "%s has no policy key yet: give it with "
					   "--vkey VKEY",
					   o->dir);
			goto done;
		}
		*out = given;
		given = NULL;
		*first = true;
		err = 0;
		goto done;
	}
	if (err < 0)
		goto done;
	if (given) {
		if ((err = vt_note_verifier_vkey(&a, *out)) < 0 ||
		    (err = vt_note_verifier_vkey(&b, given)) < 0)
			goto done;
		if (a.len != b.len || memcmp(a.ptr, b.ptr, a.len) != 0) {
			err = vt_error_set(VT_EDENIED,
					   "--vkey %s is not the policy key of this "
					   "site (%s holds %s)",
					   o->vkey, path, vt_buf_cstr(&a));
			vt_note_verifier_free(*out);
			*out = NULL;
			goto done;
		}
	}
done:
	vt_note_verifier_free(given);
	vt_buf_dispose(&a);
	vt_buf_dispose(&b);
	return err;
}

/* The site's own jurisdiction, when DIR/jurisdiction exists ("" otherwise). */
static int site_jurisdiction(char *out, const char *dir)
{
	int err = vt_policy_site_jurisdiction(out, dir);
	if (err == VT_ENOTFOUND) {
		out[0] = 0;
		err = 0;
	}
	return err;
}

/* Append the entry through the server's POST /log/add; check its proof. */
static int append_remote(uint64_t *index, const opts *o, const vt_buf *entry)
{
	vt_note_verifier *v = NULL;
	vt_client *cl = NULL;
	char path[4096];
	vt_buf resp;
	int err;

	vt_buf_init(&resp, 1 << 20);
	snprintf(path, sizeof(path), "%s/log.vkey", o->dir);
	if ((err = cli_load_vkey(&v, path)) < 0 || (err = vt_client_new(&cl, o->url, o->token)) < 0)
		goto done;
	err = cli_log_post(index, cl, &resp, v, entry->ptr, entry->len, "of the policy entry");
done:
	vt_client_free(cl);
	vt_note_verifier_free(v);
	vt_buf_dispose(&resp);
	return err;
}

static int do_adopt(const opts *o)
{
	vt_note_verifier *v = NULL;
	vt_policy next, cur;
	vt_buf note, old, entry, vk;
	char path[4096], here[VT_JURISDICTION_MAX + 1];
	bool first = false, have_cur = false;
	uint64_t index = 0;
	int already = 0, lock = -1, err, rc = EXIT_FAIL;

	if (o->argc != 1 || !o->dir)
		return cli_usage("policy", "adopt needs SIGNED and --dir DIR");
	if (o->url && !o->token)
		return cli_usage("policy", "adopting through --url needs --token or --token-file");
	vt_policy_init(&next);
	vt_policy_init(&cur);
	vt_buf_init(&note, VT_NOTE_MAX_SIZE);
	vt_buf_init(&old, VT_NOTE_MAX_SIZE);
	vt_buf_init(&entry, VT_ENTRY_MAX);
	vt_buf_init(&vk, 4096);

	/* One adoption at a time: the check of the version in force and the
	 * switch to the new policy must not interleave with another's. */
	snprintf(path, sizeof(path), "%s/policy.lock", o->dir);
	if ((lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		vt_error_sys(VT_EIO, errno, "%s", path);
		rc = cli_fail("cannot lock the policy");
		goto done;
	}
	if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "vitrine: another policy adoption is running on %s\n", o->dir);
		goto done;
	}
	if (site_policy_key(&v, &first, o) < 0) {
		rc = cli_fail("policy key");
		goto done;
	}
	if (cli_read_file(&note, o->argv[0]) < 0 ||
	    vt_policy_open(&next, (const char *)note.ptr, note.len, v) < 0) {
		rc = cli_fail(o->argv[0]);
		goto done;
	}
	if (site_jurisdiction(here, o->dir) < 0) {
		rc = cli_fail("jurisdiction");
		goto done;
	}
	if (here[0] && vt_policy_check_jurisdiction(here, strlen(here)) == 0) {
		const vt_policy_site *s;
		if (vt_policy_find_site(&s, &next, here) < 0) {
			fprintf(stderr,
				"vitrine: policy version %llu lists no site %s, this site's "
				"jurisdiction: refused\n",
				(unsigned long long)next.version, here);
			goto done;
		}
	}
	snprintf(path, sizeof(path), "%s/policy", o->dir);
	if ((err = vt_fs_read(&old, AT_FDCWD, path)) < 0 && err != VT_ENOTFOUND) {
		rc = cli_fail(path);
		goto done;
	}
	if (err == 0) {
		if (vt_policy_open(&cur, (const char *)old.ptr, old.len, v) < 0) {
			vt_error_wrap(VT_ECORRUPT, "the policy in force (%s)", path);
			rc = cli_fail("policy");
			goto done;
		}
		have_cur = true;
	}
	if (vt_policy_adoption(&already, have_cur ? &cur : NULL, &next) < 0) {
		rc = cli_fail("refused");
		goto done;
	}
	if (already) {
		printf("policy version %llu is already in force\n",
		       (unsigned long long)next.version);
		rc = EXIT_OK;
		goto done;
	}
	/* The entry is durable in the log before the policy takes effect. */
	if (vt_policy_entry(&entry, &next, note.ptr, note.len) < 0 ||
	    (o->url ? append_remote(&index, o, &entry)
		    : cli_log_append_local(&index, o->dir, entry.ptr, entry.len, "adopt")) < 0) {
		rc = cli_fail("cannot log the policy entry; the policy was not adopted");
		goto done;
	}
	if (first) {
		snprintf(path, sizeof(path), "%s/policy.vkey", o->dir);
		if (vt_note_verifier_vkey(&vk, v) < 0 || vt_buf_addc(&vk, '\n') < 0 ||
		    vt_fs_write_atomic(AT_FDCWD, path, vk.ptr, vk.len, 0644) < 0) {
			rc = cli_fail(path);
			goto done;
		}
	}
	snprintf(path, sizeof(path), "%s/policy", o->dir);
	if (vt_fs_write_atomic(AT_FDCWD, path, note.ptr, note.len, 0644) < 0) {
		rc = cli_fail(path);
		goto done;
	}
	printf("adopted policy version %llu (", (unsigned long long)next.version);
	print_digest(note.ptr, note.len);
	printf("): log entry %llu\n", (unsigned long long)index);
	rc = EXIT_OK;
done:
	if (lock >= 0)
		close(lock);
	vt_policy_dispose(&next);
	vt_policy_dispose(&cur);
	vt_note_verifier_free(v);
	vt_buf_dispose(&note);
	vt_buf_dispose(&old);
	vt_buf_dispose(&entry);
	vt_buf_dispose(&vk);
	return rc;
}

static int do_show(const opts *o)
{
	vt_note_verifier *v = NULL;
	vt_policy p;
	vt_buf note;
	char path[4096], vpath[4096], here[VT_JURISDICTION_MAX + 1];
	int err, rc = EXIT_FAIL;

	if (o->argc != 0 || !o->dir)
		return cli_usage("policy", "show needs --dir DIR");
	vt_policy_init(&p);
	vt_buf_init(&note, VT_NOTE_MAX_SIZE);
	snprintf(path, sizeof(path), "%s/policy", o->dir);
	snprintf(vpath, sizeof(vpath), "%s/policy.vkey", o->dir);
	if ((err = vt_fs_read(&note, AT_FDCWD, path)) == VT_ENOTFOUND) {
		fprintf(stderr,
			"vitrine: no policy in force at %s (adopt one with 'vitrine "
			"policy adopt')\n",
			o->dir);
		goto done;
	}
	if (err < 0 || cli_load_vkey(&v, vpath) < 0 ||
	    vt_policy_open(&p, (const char *)note.ptr, note.len, v) < 0) {
		rc = cli_fail(path);
		goto done;
	}
	if (site_jurisdiction(here, o->dir) < 0)
		here[0] = 0;
	printf("policy version %llu, signed by %s+%08x, ", (unsigned long long)p.version,
	       vt_note_verifier_name(v), (unsigned)vt_note_verifier_id(v));
	print_digest(note.ptr, note.len);
	printf("\nsites:\n");
	for (size_t i = 0; i < p.nsites; i++)
		printf("  %-11s %s %s%s\n", p.sites[i].jurisdiction, p.sites[i].url,
		       p.sites[i].vkey,
		       strcmp(here, p.sites[i].jurisdiction) == 0 ? " (this site)" : "");
	printf("regions:\n");
	for (size_t i = 0; i < p.nregions; i++)
		printf("  %-16s -> %s\n", p.regions[i].region,
		       p.sites[p.regions[i].site].jurisdiction);
	rc = EXIT_OK;
done:
	vt_policy_dispose(&p);
	vt_note_verifier_free(v);
	vt_buf_dispose(&note);
	return rc;
}

int cmd_policy(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const opts *);
	} sub[] = {
	    {"check", do_check}, {"sign", do_sign}, {"verify", do_verify},
	    {"adopt", do_adopt}, {"show", do_show},
	};
	opts o;
	int rc;

	if ((rc = cli_sub_help(argc, argv, help)) >= 0)
		return rc;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if (strcmp(argv[1], sub[i].name) != 0)
			continue;
		if ((rc = parse_opts(&o, argc - 1, argv + 1)) != 0)
			return rc < 0 ? EXIT_OK : rc;
		return sub[i].fn(&o);
	}
	return cli_usage("policy", "unknown policy command \"%s\"", argv[1]);
}
