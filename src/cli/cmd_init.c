/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine init: create a data directory with a log key and an admin token. */
#include "cli.h"
#include "vitrine/checkpoint.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/log.h"
#include "vitrine/policy.h"
#include "vitrine/token.h"
#include "vitrine/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
	"usage: vitrine init --dir DIR --origin ORIGIN [--jurisdiction ID]\n"
	"\n"
	"Create the data directory DIR holding a new, empty log whose checkpoints\n"
	"name ORIGIN (such as \"transparency.example.com/ch-zrh\"), signed by a new\n"
	"Ed25519 key. Writes DIR/log.key (private, 0600), DIR/log.vkey (the\n"
	"verifier key to give to clients) and an admin token, printed once and\n"
	"kept in DIR/admin.token (0600) for local use; only its hash is stored.\n"
	"\n"
	"  --jurisdiction ID  the site's jurisdiction, such as CH-ZRH (kept in\n"
	"                     DIR/jurisdiction; residency policies must list it);\n"
	"                     also creates the site's encrypted vault and its key\n"
	"                     (DIR/vault.kek, 0600)\n";

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, 0, 'd'},
		{"origin", required_argument, 0, 'o'},
		{"jurisdiction", required_argument, 0, 'j'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *dir = NULL, *origin = NULL, *jurisdiction = NULL;
	char path[4096], token[VT_TOKEN_LEN + 2];
	vt_note_signer *s = NULL;
	vt_storage *st = NULL;
	vt_log *log = NULL;
	vt_buf sk, vk;
	int c, rc = EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'o': origin = optarg; break;
		case 'j': jurisdiction = optarg; break;
		case 'h': fputs(help, stdout); return EXIT_OK;
		default: return cli_usage("init", "bad option");
		}
	}
	if (!dir || !origin || optind != argc)
		return cli_usage("init", "init needs --dir DIR and --origin ORIGIN");
	if (vt_checkpoint_check_origin(origin, strlen(origin)) < 0 || strchr(origin, '+') ||
	    strchr(origin, ' '))
		return cli_usage("init", "invalid origin \"%s\": use a name like example.com/log, "
				 "without spaces or '+'", origin);
	if (jurisdiction && vt_policy_check_jurisdiction(jurisdiction, strlen(jurisdiction)) < 0)
		return cli_usage("init", "invalid jurisdiction \"%s\": %s", jurisdiction,
				 vt_error_last());
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "vitrine: cannot create %s: %s\n", dir, strerror(errno));
		return EXIT_FAIL;
	}
	snprintf(path, sizeof(path), "%s/log.key", dir);
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "vitrine: %s already holds a log (%s exists); "
				"choose another --dir\n", dir, path);
		return EXIT_FAIL;
	}
	vt_buf_init(&sk, 4096);
	vt_buf_init(&vk, 4096);
	if (vt_note_signer_generate(&s, origin, VT_NOTE_ED25519) < 0 ||
	    vt_note_signer_skey(&sk, s) < 0 || vt_note_signer_vkey(&vk, s) < 0 ||
	    vt_buf_addc(&sk, '\n') < 0 || vt_buf_addc(&vk, '\n') < 0) {
		rc = cli_fail("cannot make the log key");
		goto done;
	}
	if (vt_fs_write_atomic(AT_FDCWD, path, sk.ptr, sk.len, 0600) < 0) {
		rc = cli_fail("cannot write the log key");
		goto done;
	}
	snprintf(path, sizeof(path), "%s/log.vkey", dir);
	if (vt_fs_write_atomic(AT_FDCWD, path, vk.ptr, vk.len, 0644) < 0) {
		rc = cli_fail("cannot write the verifier key");
		goto done;
	}
	if (vt_storage_posix_open(&st, dir, true) < 0 || vt_log_open(&log, st, s, NULL) < 0) {
		rc = cli_fail("cannot create the log");
		goto done;
	}
	if (vt_tokens_create(token, dir, "admin", "admin") < 0) {
		rc = cli_fail("cannot create the admin token");
		goto done;
	}
	if (jurisdiction) {
		char line[64];
		int n = snprintf(line, sizeof(line), "%s\n", jurisdiction);
		snprintf(path, sizeof(path), "%s/jurisdiction", dir);
		if (vt_fs_write_atomic(AT_FDCWD, path, line, (size_t)n, 0644) < 0 ||
		    vt_vault_init(dir) < 0) {
			rc = cli_fail("cannot set up the site");
			goto done;
		}
	}
	snprintf(path, sizeof(path), "%s/admin.token", dir);
	token[VT_TOKEN_LEN] = '\n';
	if (vt_fs_write_atomic(AT_FDCWD, path, token, VT_TOKEN_LEN + 1, 0600) < 0) {
		rc = cli_fail("cannot write the admin token");
		goto done;
	}
	token[VT_TOKEN_LEN] = '\0';
	printf("created log \"%s\" in %s\n", origin, dir);
	if (jurisdiction)
		printf("jurisdiction: %s (encrypted vault in %s/vault)\n", jurisdiction, dir);
	printf("verifier key: %s", vt_buf_cstr(&vk));
	printf("admin token:  %s (shown once; a copy is in %s)\n", token, path);
	rc = EXIT_OK;
done:
	vt_log_close(log);
	vt_storage_close(st);
	vt_note_signer_free(s);
	vt_buf_dispose(&sk);
	vt_buf_dispose(&vk);
	return rc;
}
