/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine vault: operator tools for the local vault (init, put, get, shred, fsck). */
#include "cli.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsck.h"
#include "vitrine/fsutil.h"
#include "vitrine/policy.h"
#include "vitrine/reader.h"
#include "vitrine/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: vitrine vault <command> --dir DIR [options]\n"
    "\n"
    "Local tools for the vault of customer files in DIR/vault, encrypted\n"
    "under the key in DIR/vault.kek (see docs/vault.md).\n"
    "\n"
    "  init  --dir DIR                       make DIR/vault.kek and DIR/vault\n"
    "  put FILE --dir DIR --jurisdiction J   store FILE ('-' for standard input)\n"
    "                                        and print its SHA-256\n"
    "  get SHA256 --dir DIR --jurisdiction J -o FILE\n"
    "                                        decrypt an object to FILE ('-' for\n"
    "                                        standard output); FILE appears only\n"
    "                                        once the whole content verified\n"
    "  shred SHA256 --dir DIR                destroy the object's key for good\n"
    "  fsck --dir DIR [--no-log]             check that every object decrypts and\n"
    "                                        hashes to its name and, unless\n"
    "                                        --no-log, that every object has its\n"
    "                                        `sample` entry in the site's log and\n"
    "                                        every `sample` entry its object; one\n"
    "                                        line per problem; exit 1 when any\n";

static int do_init(const char *dir)
{
	if (vt_vault_init(dir) < 0)
		return cli_fail("vault init");
	fprintf(stderr, "vault ready in %s/vault, key in %s/vault.kek\n", dir, dir);
	return EXIT_OK;
}

static int do_put(vt_vault *v, const char *file, const char *jur)
{
	vt_vault_writer *w = NULL;
	uint8_t *buf = NULL;
	char hex[2 * VT_HASH_SIZE + 1];
	bool created = false;
	vt_hash id;
	int fd = 0, rc = EXIT_FAIL;

	if (strcmp(file, "-") != 0 && (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		vt_error_sys(VT_EIO, errno, "cannot open %s", file);
		rc = cli_fail(file);
		goto done;
	}
	if (!(buf = malloc(VT_VAULT_CHUNK))) {
		vt_error_set(VT_ENOMEM, "out of memory");
		rc = cli_fail("vault put");
		goto done;
	}
	if (vt_vault_writer_new(&w, v, jur) < 0) {
		rc = cli_fail("vault put");
		goto done;
	}
	for (;;) {
		ssize_t n = read(fd, buf, VT_VAULT_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			vt_error_sys(VT_EIO, errno, "cannot read %s", file);
			rc = cli_fail(file);
			goto done;
		}
		if (n == 0)
			break;
		if (vt_vault_writer_write(w, buf, (size_t)n) < 0) {
			rc = cli_fail("vault put");
			goto done;
		}
	}
	/* finish frees the writer whatever happens. */
	if (vt_vault_writer_finish(&id, &created, w) < 0) {
		w = NULL;
		rc = cli_fail("vault put");
		goto done;
	}
	w = NULL;
	vt_hex_encode(hex, id.b, VT_HASH_SIZE);
	printf("%s\n", hex);
	fprintf(stderr, "%s\n", created ? "stored" : "already stored");
	rc = EXIT_OK;
done:
	vt_vault_writer_abort(w);
	free(buf);
	if (fd > 0)
		close(fd);
	return rc;
}

static int parse_id(vt_hash *id, const char *s)
{
	if (strlen(s) != 2 * VT_HASH_SIZE || vt_hex_decode(id->b, VT_HASH_SIZE, s, strlen(s)) < 0)
		return vt_error_set(VT_EINVAL, "not a SHA-256 (64 hex digits): %s", s);
	return 0;
}

static int do_get(vt_vault *v, const char *arg, const char *jur, const char *out)
{
	vt_vault_reader *r = NULL;
	uint8_t *buf = NULL;
	char tmp[4200];
	bool to_stdout = strcmp(out, "-") == 0;
	vt_hash id;
	int fd = 1, rc = EXIT_FAIL;

	tmp[0] = 0;
	if (parse_id(&id, arg) < 0)
		return cli_usage("vault", "%s", vt_error_last());
	if (!(buf = malloc(VT_VAULT_CHUNK))) {
		vt_error_set(VT_ENOMEM, "out of memory");
		rc = cli_fail("vault get");
		goto done;
	}
	if (vt_vault_reader_open(&r, v, &id, jur) < 0) {
		rc = cli_fail("vault get");
		goto done;
	}
	if (!to_stdout) {
		/* Beside FILE, renamed into place only once the hash verified. */
		snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", out, (long)getpid());
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
			vt_error_sys(VT_EIO, errno, "cannot create %s", tmp);
			tmp[0] = 0;
			rc = cli_fail(out);
			goto done;
		}
	}
	for (;;) {
		size_t n;
		if (vt_vault_reader_read(&n, r, buf, VT_VAULT_CHUNK) < 0) {
			rc = cli_fail("vault get");
			goto done;
		}
		if (n == 0)
			break;
		if (vt_fs_write_all(fd, buf, n) < 0) {
			rc = cli_fail(out);
			goto done;
		}
	}
	if (!to_stdout) {
		if (fsync(fd) < 0 || rename(tmp, out) < 0) {
			vt_error_sys(VT_EIO, errno, "cannot write %s", out);
			rc = cli_fail(out);
			goto done;
		}
		tmp[0] = 0;
	}
	rc = EXIT_OK;
done:
	if (!to_stdout && fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	vt_vault_reader_close(r);
	free(buf);
	return rc;
}

static int do_shred(vt_vault *v, const char *arg)
{
	vt_hash id;
	if (parse_id(&id, arg) < 0)
		return cli_usage("vault", "%s", vt_error_last());
	if (vt_vault_shred(v, &id) < 0)
		return cli_fail("vault shred");
	fprintf(stderr, "shredded %s\n", arg);
	return EXIT_OK;
}

static int print_problem(const vt_vault_problem *p, void *payload)
{
	static const char *const kinds[] = {
	    [VT_VAULT_PROBLEM_CORRUPT] = "corrupt", [VT_VAULT_PROBLEM_STRAY] = "stray",
	    [VT_VAULT_PROBLEM_IO] = "unreadable",   [VT_VAULT_PROBLEM_UNLOGGED] = "unlogged",
	    [VT_VAULT_PROBLEM_MISSING] = "missing",
	};
	const char *kind =
	    p->kind >= 1 && p->kind <= VT_VAULT_PROBLEM_MISSING ? kinds[p->kind] : "problem";
	printf("%s: %s: %s\n", p->path, kind, p->detail);
	return 0;
}

/* The vault against the site's log: read the verified tree, then cross-check. */
static int fsck_with_log(vt_vault_fsck_stats *st, vt_vault *v, const char *dir)
{
	vt_note_verifier *vk = NULL;
	vt_tlog_reader *r = NULL;
	vt_fsck_log_stats ls;
	char path[4096], jur[64];
	cli_source src = {0};
	vt_checkpoint c;
	vt_buf note;
	int rc = EXIT_FAIL;

	vt_buf_init(&note, 1 << 20);
	snprintf(path, sizeof(path), "%s/log.vkey", dir);
	if (vt_policy_site_jurisdiction(jur, dir) < 0) {
		rc = cli_fail("vault fsck: the site's jurisdiction");
		goto done;
	}
	if (cli_load_vkey(&vk, path) < 0 || cli_source_open(&src, dir, NULL, NULL) < 0 ||
	    cli_source_verified_checkpoint(&note, &c, &src, vk) < 0 ||
	    vt_tlog_reader_new(&r, c.size, cli_source_fetch, &src) < 0) {
		rc = cli_fail("vault fsck: the site's log (--no-log checks the vault alone)");
		goto done;
	}
	if (vt_fsck_custody(st, &ls, v, dir, jur, r, print_problem, NULL) < 0) {
		rc = cli_fail("vault fsck");
		goto done;
	}
	printf("log: %" PRIu64 " entries read, %" PRIu64
	       " files named by sample entries for %s, %" PRIu64 " objects unlogged, %" PRIu64
	       " missing\n",
	       ls.entries, ls.samples, jur, ls.unlogged, ls.missing);
	rc = EXIT_OK;
done:
	vt_tlog_reader_free(r);
	cli_source_close(&src);
	vt_note_verifier_free(vk);
	vt_buf_dispose(&note);
	return rc;
}

static int do_fsck(vt_vault *v, const char *dir, bool no_log)
{
	vt_vault_fsck_stats st;

	if (no_log) {
		if (vt_vault_fsck(&st, v, print_problem, NULL, NULL) < 0)
			return cli_fail("vault fsck");
	} else if (fsck_with_log(&st, v, dir) != EXIT_OK) {
		return EXIT_FAIL;
	}
	printf("%" PRIu64 " objects, %" PRIu64 " verified (%" PRIu64 " bytes), %" PRIu64
	       " shredded, %" PRIu64 " problems, %" PRIu64 " temporary files ignored\n",
	       st.objects, st.verified, st.bytes, st.shredded, st.problems, st.tmp);
	return st.problems ? EXIT_FAIL : EXIT_OK;
}

int cmd_vault(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, 0, 'd'}, {"jurisdiction", required_argument, 0, 'j'},
	    {"out", required_argument, 0, 'o'}, {"no-log", no_argument, 0, 'n'},
	    {"help", no_argument, 0, 'h'},	{0, 0, 0, 0},
	};
	const char *dir = NULL, *jur = NULL, *out = NULL, *sub;
	vt_vault *v = NULL;
	bool no_log = false;
	int c, rc = EXIT_FAIL;
	size_t want_args;

	if ((rc = cli_sub_help(argc, argv, help)) >= 0)
		return rc;
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'j': jur = optarg; break;
		case 'o': out = optarg; break;
		case 'n': no_log = true; break;
		case 'h': fputs(help, stdout); return EXIT_OK;
		default: return cli_usage("vault", "bad option");
		}
	}
	if (strcmp(sub, "init") == 0 || strcmp(sub, "fsck") == 0)
		want_args = 0;
	else if (strcmp(sub, "put") == 0 || strcmp(sub, "get") == 0 || strcmp(sub, "shred") == 0)
		want_args = 1;
	else
		return cli_usage("vault", "unknown vault command \"%s\"", sub);
	if ((size_t)(argc - optind) != want_args)
		return cli_usage(
		    "vault",
		    want_args ? "vault %s takes one argument" : "vault %s takes no argument", sub);
	if (!dir)
		return cli_usage("vault", "--dir DIR is required");
	if ((strcmp(sub, "put") == 0 || strcmp(sub, "get") == 0) && !jur)
		return cli_usage("vault", "--jurisdiction J is required");
	if (strcmp(sub, "get") == 0 && !out)
		return cli_usage("vault", "-o FILE is required ('-' for standard output)");
	if (strcmp(sub, "init") == 0)
		return do_init(dir);
	if (vt_vault_open(&v, dir) < 0)
		return cli_fail("vault");
	if (strcmp(sub, "put") == 0)
		rc = do_put(v, argv[optind], jur);
	else if (strcmp(sub, "get") == 0)
		rc = do_get(v, argv[optind], jur, out);
	else if (strcmp(sub, "shred") == 0)
		rc = do_shred(v, argv[optind]);
	else
		rc = do_fsck(v, dir, no_log);
	vt_vault_close(v);
	return rc;
}
