/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine key generate: make a signed-note key pair. */
#include "cli.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
	"usage: vitrine key generate NAME [--cosigner] [--out FILE]\n"
	"\n"
	"Make a new Ed25519 signed-note key named NAME (c2sp.org/signed-note).\n"
	"The private key (PRIVATE+KEY+NAME+id+...) goes to FILE (mode 0600) or,\n"
	"without --out, to standard output; the verifier key is printed, and\n"
	"written to FILE.vkey with --out.\n"
	"\n"
	"  --cosigner   a witness key (c2sp.org/tlog-cosignature, type 0x04)\n"
	"  --out FILE   where to write the private key\n";

int cmd_key(int argc, char **argv)
{
	static const struct option opts[] = {
		{"cosigner", no_argument, 0, 'c'},
		{"out", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *out = NULL;
	vt_note_signer *s = NULL;
	vt_buf sk, vk;
	int type = VT_NOTE_ED25519, c, rc = EXIT_FAIL;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(help, stdout);
		return EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "generate") != 0)
		return cli_usage("key", "unknown key command (try 'vitrine key generate NAME')");
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': type = VT_NOTE_COSIG; break;
		case 'o': out = optarg; break;
		case 'h': fputs(help, stdout); return EXIT_OK;
		default: return cli_usage("key", "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage("key", "give exactly one key NAME");
	vt_buf_init(&sk, 4096);
	vt_buf_init(&vk, 4096);
	if (vt_note_signer_generate(&s, argv[optind], type) < 0 ||
	    vt_note_signer_skey(&sk, s) < 0 || vt_note_signer_vkey(&vk, s) < 0 ||
	    vt_buf_addc(&sk, '\n') < 0 || vt_buf_addc(&vk, '\n') < 0) {
		rc = cli_fail("cannot make the key");
		goto done;
	}
	if (out) {
		char vpath[4096];
		snprintf(vpath, sizeof(vpath), "%s.vkey", out);
		if (vt_fs_write_atomic(AT_FDCWD, out, sk.ptr, sk.len, 0600) < 0 ||
		    vt_fs_write_atomic(AT_FDCWD, vpath, vk.ptr, vk.len, 0644) < 0) {
			rc = cli_fail("cannot write the key");
			goto done;
		}
		fprintf(stderr, "private key written to %s, verifier key to %s\n", out, vpath);
	} else {
		fputs(vt_buf_cstr(&sk), stdout);
	}
	fputs(vt_buf_cstr(&vk), stdout);
	rc = EXIT_OK;
done:
	vt_note_signer_free(s);
	vt_buf_dispose(&sk);
	vt_buf_dispose(&vk);
	return rc;
}
