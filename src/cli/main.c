/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine: the command-line entry point and shared command helpers. */
#include "cli.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: vitrine <command> [options]\n"
	"\n"
	"A transparency center: every act is an entry in a verifiable log.\n"
	"\n"
	"commands:\n"
	"  init       create a data directory with a new log and admin token\n"
	"  serve      serve the log over HTTP\n"
	"  log        append, read, prove and check log entries\n"
	"  key        make signing keys\n"
	"  vault      store, read, shred and check customer files (local)\n"
	"  policy     check, sign, verify, adopt and show the residency policy\n"
	"  token      create, list and revoke bearer tokens\n"
	"  submit     send files to a site (asks by hash first)\n"
	"  files      show a file's report or download it (access-logged)\n"
	"  scan       scan files and directories locally (YARA, types, hashes)\n"
	"  rules      install a YARA ruleset at a site (logged, then retro-scan)\n"
	"  build      build a recipe reproducibly in a sandbox, with provenance\n"
	"  release    publish a logged build as a release\n"
	"  rebuild    rebuild a site's release independently and attest\n"
	"  verify     check an artifact before installing it (fails closed)\n"
	"  bundle     write everything an offline endpoint needs to verify a release\n"
	"\n"
	"Run 'vitrine <command> --help' for a command's options.\n";

int cli_fail(const char *what)
{
	const char *msg = vt_error_last();
	/* Messages about a file often start with its name already. */
	if (strncmp(msg, what, strlen(what)) == 0)
		fprintf(stderr, "vitrine: %s\n", msg);
	else
		fprintf(stderr, "vitrine: %s: %s\n", what, msg);
	return EXIT_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "vitrine: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'vitrine %s --help')\n", cmd);
	return EXIT_USAGE;
}

int cli_sub_help(int argc, char **argv, const char *help)
{
	if (argc < 2) {
		fputs(help, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(help, stdout);
		return EXIT_OK;
	}
	return -1;
}

int cli_read_file(vt_buf *out, const char *path)
{
	if (strcmp(path, "-") == 0) {
		for (;;) {
			ssize_t n;
			int err;
			if ((err = vt_buf_reserve(out, 65536)) < 0)
				return err;
			n = read(0, out->ptr + out->len, out->cap - out->len - 1);
			if (n < 0)
				return vt_error_set(VT_EIO, "cannot read standard input");
			if (n == 0)
				break;
			out->len += (size_t)n;
			out->ptr[out->len] = 0;
		}
		return 0;
	}
	return vt_fs_read(out, AT_FDCWD, path);
}

static int load_line(vt_buf *b, const char *path)
{
	int err;
	if ((err = vt_fs_read(b, AT_FDCWD, path)) < 0)
		return err;
	while (b->len > 0 && (b->ptr[b->len - 1] == '\n' || b->ptr[b->len - 1] == '\r'))
		b->ptr[--b->len] = 0;
	return 0;
}

int cli_load_signer(vt_note_signer **out, const char *dir)
{
	char path[4096];
	vt_buf b;
	int err;
	snprintf(path, sizeof(path), "%s/log.key", dir);
	vt_buf_init(&b, 4096);
	if ((err = load_line(&b, path)) == 0)
		err = vt_note_signer_parse(out, (const char *)b.ptr, b.len);
	if (err < 0)
		err = vt_error_wrap(err, "%s", path);
	vt_buf_dispose(&b);
	return err;
}

int cli_load_vkey(vt_note_verifier **out, const char *path)
{
	vt_buf b;
	int err;
	vt_buf_init(&b, 4096);
	if ((err = load_line(&b, path)) == 0)
		err = vt_note_verifier_parse(out, (const char *)b.ptr, b.len);
	if (err < 0)
		err = vt_error_wrap(err, "%s", path);
	vt_buf_dispose(&b);
	return err;
}

int cli_source_open(cli_source *s, const char *dir, const char *url, const char *token)
{
	s->st = NULL;
	s->cl = NULL;
	if ((dir && url) || (!dir && !url))
		return vt_error_set(VT_EINVAL, "give one of --dir DIR or --url URL");
	if (dir)
		return vt_storage_posix_open(&s->st, dir, false);
	return vt_client_new(&s->cl, url, token);
}

void cli_source_close(cli_source *s)
{
	vt_storage_close(s->st);
	vt_client_free(s->cl);
	s->st = NULL;
	s->cl = NULL;
}

int cli_source_fetch(vt_buf *out, const char *path, void *source)
{
	cli_source *s = source;
	if (s->st)
		return vt_storage_get(s->st, out, path);
	return vt_client_fetch_tile(out, path, s->cl);
}

int cli_source_checkpoint(cli_source *s, vt_buf *out)
{
	if (s->st)
		return vt_storage_get_checkpoint(s->st, out);
	return vt_client_get(s->cl, out, "log/checkpoint");
}

/* Fetch and verify the source's checkpoint: note text in *cp, fields in *c. */
int cli_source_verified_checkpoint(vt_buf *note, vt_checkpoint *c, cli_source *src,
				   vt_note_verifier *v)
{
	vt_note n;
	int err;
	if ((err = cli_source_checkpoint(src, note)) < 0)
		return vt_error_wrap(err, "cannot read the checkpoint");
	if ((err = vt_note_open(&n, (const char *)note->ptr, note->len, &v, 1)) < 0)
		return vt_error_wrap(err, "checkpoint does not verify with the log key");
	if ((err = vt_checkpoint_parse(c, n.text, n.text_len)) < 0)
		return err;
	if (strcmp(c->origin, vt_note_verifier_name(v)) != 0)
		return vt_error_set(VT_EVERIFY, "checkpoint origin \"%s\" is not the key's name \"%s\"",
				    c->origin, vt_note_verifier_name(v));
	return 0;
}

bool cli_tty(void)
{
	return isatty(2);
}

/* Hidden: the confined analyser spawned by the server (src/analysis/child.c). */
int cmd_analysis_child(int argc, char **argv);

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"init", cmd_init},
		{"serve", cmd_serve},
		{"log", cmd_log},
		{"key", cmd_key},
		{"vault", cmd_vault},
		{"policy", cmd_policy},
		{"token", cmd_token},
		{"submit", cmd_submit},
		{"files", cmd_files},
		{"scan", cmd_scan},
		{"rules", cmd_rules},
		{"build", cmd_build},
		{"release", cmd_release},
		{"rebuild", cmd_rebuild},
		{"verify", cmd_verify},
		{"bundle", cmd_bundle},
		{"analysis-child", cmd_analysis_child}, /* internal: not in usage */
	};

	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	/* getopt's own message would make a second line; the commands say
	 * "bad option" themselves. */
	opterr = 0;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vitrine: unknown command \"%s\" (see 'vitrine --help')\n", argv[1]);
	return EXIT_USAGE;
}
