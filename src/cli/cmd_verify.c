/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine verify: accept an artifact on an endpoint only if every check of its policy passes. */
#include "cli.h"
#include "conveyer_cli.h"
#include "vitrine/encoding.h"
#include "vitrine/endpoint.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
    "usage: vitrine verify ARTIFACT --policy POLICY (--bundle FILE | --url URL)\n"
    "                      [--checkpoint FILE] [--state DIR]\n"
    "\n"
    "Accept ARTIFACT only if its provenance verifies under the policy's builder key\n"
    "and names it, the predicate matches the policy, its build entry is included in\n"
    "a checkpoint signed by the log and cosigned by enough witnesses, consistent\n"
    "with the last checkpoint this endpoint accepted (STATE/checkpoint, never rolled\n"
    "back), and enough rebuilders reproduced it (docs/conveyer.md).\n"
    "  --bundle FILE      offline: everything from this bundle (vitrine bundle)\n"
    "  --url URL          online: fetch the release that lists ARTIFACT from the site\n"
    "  --checkpoint FILE  online: prove inclusion under this cosigned checkpoint\n"
    "  --state DIR        where the last accepted checkpoint is kept\n"
    "Exit status: 0 accepted; 1 error; 2 usage; 11 bundle, 12 envelope, 13 subject,\n"
    "14 predicate, 15 log-signature, 16 inclusion, 17 cosignatures, 18 consistency,\n"
    "19 rebuilds, 20 unreachable.\n";

/* The release of the site whose artifacts hold sha256 hex, named source. */
static int find_release(char *name, char *version, vt_client *cl, const char *source,
			const char *hex)
{
	json_t *all = NULL, *rels;
	int err;
	if ((err = cv_get_json(&all, cl, "/api/v1/releases")) < 0)
		return err;
	err = vt_error_set(VT_ENOTFOUND, "the site lists no release of %s with this artifact",
			   source);
	rels = json_object_get(all, "releases");
	for (size_t i = 0; i < json_array_size(rels); i++) {
		json_t *r = json_array_get(rels, i), *arts = json_object_get(r, "artifacts");
		const char *n = json_string_value(json_object_get(r, "name"));
		const char *v = json_string_value(json_object_get(r, "version"));
		if (!n || !v || strcmp(n, source) != 0 || strlen(v) > VT_RELEASE_NAME_MAX)
			continue;
		for (size_t j = 0; j < json_array_size(arts); j++) {
			const char *h =
			    json_string_value(json_object_get(json_array_get(arts, j), "sha256"));
			if (h && strcmp(h, hex) == 0) {
				strcpy(name, n);
				strcpy(version, v);
				err = 0;
			}
		}
	}
	json_decref(all);
	return err;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"policy", required_argument, 0, 'p'},
	    {"bundle", required_argument, 0, 'b'},
	    {"url", required_argument, 0, 'u'},
	    {"state", required_argument, 0, 's'},
	    {"checkpoint", required_argument, 0, 'c'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	const char *policy = NULL, *bundle = NULL, *url = NULL, *state = NULL, *cpf = NULL;
	char name[VT_RELEASE_NAME_MAX + 1], version[VT_RELEASE_NAME_MAX + 1];
	char hex[2 * VT_HASH_SIZE + 1], spath[4096];
	vt_endpoint_policy pol = {0};
	vt_endpoint_bundle b;
	vt_endpoint_result r = {0};
	vt_client *cl = NULL;
	vt_buf pb, bb, art, sb, cp;
	bool have_state = false;
	vt_hash h;
	int c, err, rc = EXIT_FAIL;

	vt_buf_init(&pb, VT_ENDPOINT_POLICY_MAX + 1);
	vt_buf_init(&bb, VT_ENDPOINT_BUNDLE_MAX);
	vt_buf_init(&art, (size_t)4 << 30);
	vt_buf_init(&sb, 1 << 20);
	vt_buf_init(&cp, 1 << 20);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'p': policy = optarg; break;
		case 'b': bundle = optarg; break;
		case 'u': url = optarg; break;
		case 's': state = optarg; break;
		case 'c': cpf = optarg; break;
		case 'h':
			fputs(help, stdout);
			rc = EXIT_OK;
			goto done;
		default: rc = cli_usage("verify", "bad option"); goto done;
		}
	}
	if (optind != argc - 1 || !policy || !bundle == !url) {
		rc = cli_usage("verify",
			       "verify needs ARTIFACT, --policy and one of --bundle or --url");
		goto done;
	}
	if (cli_read_file(&pb, policy) < 0 ||
	    vt_endpoint_policy_parse(&pol, (const char *)pb.ptr, pb.len) < 0) {
		rc = cli_fail(policy);
		goto done;
	}
	if (cli_read_file(&art, argv[optind]) < 0 || vt_sha256(&h, art.ptr, art.len) < 0) {
		rc = cli_fail(argv[optind]);
		goto done;
	}
	vt_hex_encode(hex, h.b, VT_HASH_SIZE);
	if (state) {
		snprintf(spath, sizeof(spath), "%s/checkpoint", state);
		err = vt_fs_read(&sb, AT_FDCWD, spath);
		if (err < 0 && err != VT_ENOTFOUND) {
			rc = cli_fail("state");
			goto done;
		}
		have_state = err == 0;
	}
	if (bundle) {
		if (cli_read_file(&bb, bundle) < 0) {
			rc = cli_fail(bundle);
			goto done;
		}
	} else {
		if ((cpf && cli_read_file(&cp, cpf) < 0) || vt_client_new(&cl, url, NULL) < 0) {
			rc = cli_fail("verify");
			goto done;
		}
		err = find_release(name, version, cl, pol.source, hex);
		if (err == 0)
			err = cv_make_bundle(&bb, cl, name, version,
					     cpf ? (const char *)cp.ptr : NULL, cp.len,
					     have_state ? (const char *)sb.ptr : NULL, sb.len);
		if (err < 0) {
			vt_check k = err == VT_EIO || err == VT_EBUSY ? VT_CHECK_UNREACHABLE
								      : VT_CHECK_BUNDLE;
			fprintf(stderr, "vitrine: verify: %s: %s: %s\n", vt_check_name(k),
				k == VT_CHECK_UNREACHABLE ? "the site or its log cannot be reached"
							  : "no evidence from the site",
				vt_error_last());
			rc = vt_check_exit(k);
			goto done;
		}
	}
	if (vt_endpoint_bundle_parse(&b, (const char *)bb.ptr, bb.len) < 0) {
		fprintf(stderr, "vitrine: verify: %s: %s\n", vt_check_name(VT_CHECK_BUNDLE),
			vt_error_last());
		rc = vt_check_exit(VT_CHECK_BUNDLE);
		goto done;
	}
	err =
	    vt_endpoint_verify(&r, &pol, &b, &h, have_state ? (const char *)sb.ptr : NULL, sb.len);
	if (err == VT_EVERIFY) {
		fprintf(stderr, "vitrine: verify: %s\n", vt_error_last());
		rc = vt_check_exit(r.failed);
		goto done;
	}
	if (err < 0) {
		rc = cli_fail("verify");
		goto done;
	}
	/* Never roll back: keep the newer of the two (verify refused an older one). */
	if (state) {
		if ((mkdir(state, 0755) < 0 && errno != EEXIST) ||
		    vt_fs_write_atomic(AT_FDCWD, spath, r.checkpoint, r.checkpoint_len, 0644) < 0) {
			if (!vt_error_last()[0])
				vt_error_sys(VT_EIO, errno, "%s", state);
			rc = cli_fail("state");
			goto done;
		}
	}
	printf("accepted %s %s %s sha256:%s: entry %llu in checkpoint %llu, %zu witness "
	       "cosignatures, %zu reproducing rebuilders\n",
	       argv[optind], r.name, r.version, hex, (unsigned long long)r.index,
	       (unsigned long long)r.size, r.witnesses, r.rebuilders);
	rc = EXIT_OK;
done:
	vt_client_free(cl);
	vt_endpoint_policy_dispose(&pol);
	vt_buf_dispose(&pb);
	vt_buf_dispose(&bb);
	vt_buf_dispose(&art);
	vt_buf_dispose(&sb);
	vt_buf_dispose(&cp);
	return rc;
}
