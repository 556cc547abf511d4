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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
    "usage: vitrine verify ARTIFACT... --policy POLICY (--bundle FILE... | --url URL)\n"
    "                      [--checkpoint FILE] [--state DIR]\n"
    "\n"
    "Accept ARTIFACT only if its provenance verifies under the policy's builder key\n"
    "and names it, the predicate matches the policy, its build entry is included in\n"
    "a checkpoint signed by the log and cosigned by enough witnesses, consistent\n"
    "with the last checkpoint this endpoint accepted (STATE/checkpoint, never rolled\n"
    "back), and enough rebuilders reproduced it (docs/conveyer.md).\n"
    "  --bundle FILE      offline: everything from this bundle (vitrine bundle); once\n"
    "                     for all artifacts (one release's) or once per artifact, in order\n"
    "  --url URL          online: fetch the release that lists ARTIFACT from the site\n"
    "  --checkpoint FILE  online: prove inclusion under this cosigned checkpoint\n"
    "  --state DIR        where the last accepted checkpoint is kept\n"
    "Exit status: 0 accepted; 1 error; 2 usage; 11 bundle, 12 envelope, 13 subject,\n"
    "14 predicate, 15 log-signature, 16 inclusion, 17 cosignatures, 18 consistency,\n"
    "19 rebuilds, 20 unreachable. With several artifacts, one line each on stdout\n"
    "(accepted, refused or error), checked in order as separate runs would be (the\n"
    "state advancing), and the exit status is the highest of theirs.\n";

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

/* What every artifact of one run shares. */
typedef struct {
	vt_endpoint_policy pol;
	vt_client *cl;	/* online */
	const char *cp; /* online: --checkpoint note, or NULL */
	size_t cp_len;
	const char *state; /* --state DIR, or NULL */
	char spath[4096];
	vt_buf sb; /* the state's checkpoint */
	bool have_state;
	bool many; /* more than one artifact: lines say which */
	vt_buf bb; /* the one bundle of all artifacts, when given once */
	vt_endpoint_bundle shared;
	bool have_shared;
	char shared_err[1024]; /* why the one bundle did not parse */
} verify_ctx;

/* A refusal: the check's line (stdout with several artifacts) and its exit code. */
static int refuse(const verify_ctx *x, const char *artifact, vt_check k, const char *msg)
{
	if (x->many)
		printf("refused %s %s (exit %d): %s\n", artifact, vt_check_name(k),
		       vt_check_exit(k), msg);
	else
		fprintf(stderr, "vitrine: verify: %s\n", msg);
	return vt_check_exit(k);
}

/* Another error than a check (unreadable file, state): exit 1. */
static int error_line(const verify_ctx *x, const char *artifact, const char *what)
{
	if (!x->many)
		return cli_fail(what);
	printf("error %s: %s: %s\n", artifact, what, vt_error_last());
	return EXIT_FAIL;
}

/*
 * Verify one artifact with its bundle (bundle NULL: the shared one, or
 * online), advance the state on acceptance, print its line; the exit code.
 */
static int verify_one(verify_ctx *x, const char *artifact, const char *bundle)
{
	char name[VT_RELEASE_NAME_MAX + 1], version[VT_RELEASE_NAME_MAX + 1];
	char hex[2 * VT_HASH_SIZE + 1], msg[1200];
	vt_endpoint_bundle own, *b = &x->shared;
	vt_endpoint_result r = {0};
	vt_buf art, bb;
	vt_hash h;
	int err, rc = EXIT_FAIL;

	vt_buf_init(&art, (size_t)4 << 30);
	vt_buf_init(&bb, VT_ENDPOINT_BUNDLE_MAX);
	if (cli_read_file(&art, artifact) < 0 || vt_sha256(&h, art.ptr, art.len) < 0) {
		rc = error_line(x, artifact, artifact);
		goto done;
	}
	vt_hex_encode(hex, h.b, VT_HASH_SIZE);
	if (bundle) {
		if (cli_read_file(&bb, bundle) < 0) {
			rc = error_line(x, artifact, bundle);
			goto done;
		}
	} else if (x->cl) {
		err = find_release(name, version, x->cl, x->pol.source, hex);
		if (err == 0)
			err = cv_make_bundle(&bb, x->cl, name, version, x->cp, x->cp_len,
					     x->have_state ? (const char *)x->sb.ptr : NULL,
					     x->sb.len);
		if (err < 0) {
			vt_check k = cv_fetch_refusal(msg, sizeof(msg), err);
			rc = refuse(x, artifact, k, msg);
			goto done;
		}
	}
	if (bundle || x->cl) {
		if (vt_endpoint_bundle_parse(&own, (const char *)bb.ptr, bb.len) < 0) {
			snprintf(msg, sizeof(msg), "%s: %s", vt_check_name(VT_CHECK_BUNDLE),
				 vt_error_last());
			rc = refuse(x, artifact, VT_CHECK_BUNDLE, msg);
			goto done;
		}
		b = &own;
	} else if (!x->have_shared) {
		/* the one bundle did not parse: every artifact is refused the same way */
		rc = refuse(x, artifact, VT_CHECK_BUNDLE, x->shared_err);
		goto done;
	}
	err = vt_endpoint_verify(&r, &x->pol, b, &h, x->have_state ? (const char *)x->sb.ptr : NULL,
				 x->sb.len);
	if (err == VT_EVERIFY) {
		rc = refuse(x, artifact, r.failed, vt_error_last());
		goto done;
	}
	if (err < 0) {
		rc = error_line(x, artifact, "verify");
		goto done;
	}
	/* Never roll back: keep the newer of the two (verify refused an older one). */
	if (x->state) {
		if ((mkdir(x->state, 0755) < 0 && errno != EEXIST) ||
		    vt_fs_write_atomic(AT_FDCWD, x->spath, r.checkpoint, r.checkpoint_len, 0644) <
			0) {
			if (!vt_error_last()[0])
				vt_error_sys(VT_EIO, errno, "%s", x->state);
			rc = error_line(x, artifact, "state");
			goto done;
		}
		/* the next artifact is checked against this one, as a new process would */
		vt_buf_reset(&x->sb);
		if (vt_buf_add(&x->sb, r.checkpoint, r.checkpoint_len) < 0) {
			rc = error_line(x, artifact, "state");
			goto done;
		}
		x->have_state = true;
	}
	printf("accepted %s %s %s sha256:%s: entry %llu in checkpoint %llu, %zu witness "
	       "cosignatures, %zu reproducing rebuilders\n",
	       artifact, r.name, r.version, hex, (unsigned long long)r.index,
	       (unsigned long long)r.size, r.witnesses, r.rebuilders);
	rc = EXIT_OK;
done:
	vt_buf_dispose(&art);
	vt_buf_dispose(&bb);
	return rc;
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
	const char *policy = NULL, *url = NULL, *cpf = NULL;
	const char **bundles = NULL;
	size_t nbundles = 0, nart, refused = 0;
	verify_ctx x = {0};
	vt_buf pb, cp;
	int c, err, rc = EXIT_FAIL, worst = EXIT_OK;
	vt_check worst_check = VT_CHECK_OK;

	vt_buf_init(&pb, VT_ENDPOINT_POLICY_MAX + 1);
	vt_buf_init(&cp, 1 << 20);
	vt_buf_init(&x.sb, 1 << 20);
	vt_buf_init(&x.bb, VT_ENDPOINT_BUNDLE_MAX);
	if (!(bundles = calloc((size_t)argc + 1, sizeof(*bundles)))) {
		vt_error_set(VT_ENOMEM, "out of memory");
		rc = cli_fail("verify");
		goto done;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'p': policy = optarg; break;
		case 'b': bundles[nbundles++] = optarg; break;
		case 'u': url = optarg; break;
		case 's': x.state = optarg; break;
		case 'c': cpf = optarg; break;
		case 'h':
			fputs(help, stdout);
			rc = EXIT_OK;
			goto done;
		default: rc = cli_usage("verify", "bad option"); goto done;
		}
	}
	nart = optind < argc ? (size_t)(argc - optind) : 0;
	if (nart == 0 || !policy || !nbundles == !url || (nbundles > 1 && nbundles != nart)) {
		rc = cli_usage("verify", "verify needs ARTIFACT..., --policy and one of --bundle "
					 "(once, or once per artifact) or --url");
		goto done;
	}
	x.many = nart > 1;
	if (cli_read_file(&pb, policy) < 0 ||
	    vt_endpoint_policy_parse(&x.pol, (const char *)pb.ptr, pb.len) < 0) {
		rc = cli_fail(policy);
		goto done;
	}
	if (x.state) {
		snprintf(x.spath, sizeof(x.spath), "%s/checkpoint", x.state);
		err = vt_fs_read(&x.sb, AT_FDCWD, x.spath);
		if (err < 0 && err != VT_ENOTFOUND) {
			rc = cli_fail("state");
			goto done;
		}
		x.have_state = err == 0;
	}
	if (url) {
		if ((cpf && cli_read_file(&cp, cpf) < 0) || vt_client_new(&x.cl, url, NULL) < 0) {
			rc = cli_fail("verify");
			goto done;
		}
		x.cp = cpf ? (const char *)cp.ptr : NULL;
		x.cp_len = cp.len;
	} else if (nbundles == 1) {
		/* One bundle for every artifact (the subjects of one release): read and parse once.
		 */
		if (cli_read_file(&x.bb, bundles[0]) < 0) {
			rc = cli_fail(bundles[0]);
			goto done;
		}
		x.have_shared =
		    vt_endpoint_bundle_parse(&x.shared, (const char *)x.bb.ptr, x.bb.len) == 0;
		if (!x.have_shared)
			snprintf(x.shared_err, sizeof(x.shared_err), "%s: %s",
				 vt_check_name(VT_CHECK_BUNDLE), vt_error_last());
	}
	for (size_t i = 0; i < nart; i++) {
		const char *bf = nbundles > 1 ? bundles[i] : NULL;
		int one = verify_one(&x, argv[optind + (int)i], bf);
		if (one != EXIT_OK)
			refused++;
		if (one > worst) {
			worst = one;
			worst_check = one > 10 ? (vt_check)(one - 10) : VT_CHECK_OK;
		}
	}
	if (x.many && refused)
		fprintf(stderr,
			"vitrine: verify: %zu of %zu artifacts refused (worst: %s, exit %d)\n",
			refused, nart, worst_check ? vt_check_name(worst_check) : "error", worst);
	rc = worst;
done:
	free(bundles);
	vt_client_free(x.cl);
	vt_endpoint_policy_dispose(&x.pol);
	vt_buf_dispose(&pb);
	vt_buf_dispose(&cp);
	vt_buf_dispose(&x.sb);
	vt_buf_dispose(&x.bb);
	return rc;
}
