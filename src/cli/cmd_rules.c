/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine rules: install a YARA ruleset at a site, and show the analysis status. */
#include "cli.h"
#include "conveyer_cli.h"
#include "vitrine/analysis_service.h"
#include "vitrine/client.h"
#include "vitrine/encoding.h"
#include "vitrine/endpoint.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/index.h"
#include "vitrine/log.h"
#include "vitrine/report.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
    "usage: vitrine rules <command> [options]\n"
    "\n"
    "The YARA ruleset a site analyses its samples with (docs/analysis.md).\n"
    "\n"
    "  install DIR|FILE --dir SITE [--url URL --token-file F]\n"
    "              compile the .yar/.yara files (a fresh compiler, includes off;\n"
    "              errors and slow rules refuse the set), log a 'ruleset' entry,\n"
    "              then install them in SITE/rules/<digest> and SITE/rules/current;\n"
    "              with --url, through the running server, which re-scans every\n"
    "              stored sample\n"
    "  install --release NAME@VERSION (--bundle FILE --artifact FILE | --from URL)\n"
    "          --policy POLICY --dir SITE [--checkpoint FILE] [--url URL --token-file F]\n"
    "              install a rules release: verify its compiled rules file exactly as\n"
    "              'vitrine verify' does (state in SITE/rules/endpoint-state), refuse\n"
    "              with the check's name and exit code (11-20) if any check fails,\n"
    "              then log a 'ruleset' entry naming the release and install it;\n"
    "              --from fetches the bundle and the artifact from the build site\n"
    "              (--checkpoint: a cosigned checkpoint of its log to prove under)\n"
    "  status --url URL --token T | --dir SITE\n"
    "              the ruleset in force, the queue, retro-scan progress and ETA\n"
    "\n"
    "options:\n"
    "  --dir SITE         the site's data directory\n"
    "  --url URL          the server holding SITE\n"
    "  --token TOKEN      admin token for --url (or --token-file FILE)\n"
    "  --json             status: print the server's JSON\n";

typedef struct {
	const char *dir, *url, *token;
	const char *release, *bundle, *artifact, *from, *policy, *checkpoint;
	bool json;
	int argc;
	char **argv;
} opts;

static int parse_opts(opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"dir", required_argument, 0, 'd'},
	    {"url", required_argument, 0, 'u'},
	    {"token", required_argument, 0, 't'},
	    {"token-file", required_argument, 0, 'T'},
	    {"json", no_argument, 0, 'j'},
	    {"release", required_argument, 0, 'r'},
	    {"bundle", required_argument, 0, 'b'},
	    {"artifact", required_argument, 0, 'a'},
	    {"from", required_argument, 0, 'f'},
	    {"policy", required_argument, 0, 'p'},
	    {"checkpoint", required_argument, 0, 'c'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'u': o->url = optarg; break;
		case 't': o->token = optarg; break;
		case 'j': o->json = true; break;
		case 'r': o->release = optarg; break;
		case 'b': o->bundle = optarg; break;
		case 'a': o->artifact = optarg; break;
		case 'f': o->from = optarg; break;
		case 'p': o->policy = optarg; break;
		case 'c': o->checkpoint = optarg; break;
		case 'T':
			if (cli_token_file(&o->token, optarg) != 0)
				return EXIT_USAGE;
			break;
		case 'h': fputs(help, stdout); return EXIT_OK;
		default: return cli_usage("rules", "bad option");
		}
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	return -1;
}

/* ---- the source set ---- */

typedef struct {
	vt_ruleset_file f[VT_RULESET_FILES_MAX];
	vt_buf data[VT_RULESET_FILES_MAX];
	char *paths[VT_RULESET_FILES_MAX];
	size_t n;
	size_t root_len;
	int err;
} source_set;

static source_set *g_set; /* nftw has no payload */

static int add_file(source_set *s, const char *path, const char *rel)
{
	size_t n = strlen(rel);
	if (!(n >= 4 && strcmp(rel + n - 4, ".yar") == 0) &&
	    !(n >= 5 && strcmp(rel + n - 5, ".yara") == 0))
		return 0;
	if (s->n == VT_RULESET_FILES_MAX)
		return vt_error_set(VT_ETOOBIG, "more than %d rule files", VT_RULESET_FILES_MAX);
	vt_buf_init(&s->data[s->n], VT_RULESET_BYTES_MAX);
	if (vt_fs_read(&s->data[s->n], AT_FDCWD, path) < 0)
		return vt_error_wrap(VT_EIO, "%s", path);
	if (!(s->paths[s->n] = strdup(rel)))
		return vt_error_set(VT_ENOMEM, "out of memory");
	s->f[s->n] = (vt_ruleset_file){s->paths[s->n], s->data[s->n].ptr, s->data[s->n].len};
	s->n++;
	return 0;
}

static int walk_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	const char *base = path + ftw->base;
	(void)sb;
	if (ftw->level > 0 && base[0] == '.')
		return flag == FTW_D ? FTW_SKIP_SUBTREE : 0;
	if (flag != FTW_F)
		return 0;
	if ((g_set->err = add_file(g_set, path, path + g_set->root_len + 1)) < 0)
		return FTW_STOP;
	return 0;
}

static int read_set(source_set *s, const char *path)
{
	struct stat sb;
	size_t n = strlen(path);

	if (stat(path, &sb) < 0)
		return vt_error_sys(VT_ENOTFOUND, errno, "%s", path);
	if (!S_ISDIR(sb.st_mode)) {
		const char *slash = strrchr(path, '/');
		return add_file(s, path, slash ? slash + 1 : path);
	}
	while (n > 1 && path[n - 1] == '/')
		n--;
	s->root_len = n;
	g_set = s;
	if (nftw(path, walk_one, 16, FTW_PHYS | FTW_ACTIONRETVAL) < 0)
		return vt_error_sys(VT_EIO, errno, "cannot walk %s", path);
	if (s->err < 0)
		return s->err;
	if (s->n == 0)
		return vt_error_set(VT_EINVAL, "no .yar or .yara file under %s", path);
	return 0;
}

static void free_set(source_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		vt_buf_dispose(&s->data[i]);
		free(s->paths[i]);
	}
}

/* ---- install ---- */

/* POST a ruleset body to the server and print its answer. */
static int post_ruleset(const opts *o, const char *body, size_t len)
{
	vt_client_response resp;
	vt_client *cl = NULL;
	vt_buf out;
	char msg[512];
	json_t *ans = NULL;
	const char *rel;
	int err;

	vt_buf_init(&out, 1 << 20);
	vt_client_response_init(&resp);
	if ((err = vt_client_new(&cl, o->url, o->token)) < 0)
		goto done;
	err = vt_client_post_as(cl, &resp, &out, "api/v1/rulesets", "application/json", body, len);
	if (err < 0) {
		cli_server_error(msg, sizeof(msg), &resp);
		err = vt_error_set(err, "%s", msg);
		goto done;
	}
	if (!(ans = json_loadb((const char *)out.ptr, out.len, 0, NULL))) {
		err = vt_error_set(VT_EIO, "the server's answer is not JSON");
		goto done;
	}
	rel = json_string_value(json_object_get(ans, "release"));
	printf("ruleset sha256:%s installed: %lld rules from %lld files%s%s, logged at index "
	       "%lld\n",
	       json_string_value(json_object_get(ans, "ruleset")),
	       (long long)json_integer_value(json_object_get(ans, "rules")),
	       (long long)json_integer_value(json_object_get(ans, "files")),
	       rel ? " of release " : "", rel ? rel : "",
	       (long long)json_integer_value(json_object_get(ans, "log_index")));
	printf("the server re-scans every stored sample: see 'vitrine rules status'\n");
done:
	json_decref(ans);
	vt_client_free(cl);
	vt_client_response_dispose(&resp);
	vt_buf_dispose(&out);
	return err;
}

static int install_remote(const opts *o, source_set *set)
{
	json_t *root = json_object(), *files = json_object();
	char *body = NULL;
	int err = 0;

	json_object_set_new(root, "files", files);
	for (size_t i = 0; i < set->n; i++)
		if (json_object_set_new(files, set->f[i].path,
					json_stringn(set->f[i].data, set->f[i].len)) < 0) {
			err = vt_error_set(VT_EINVAL, "%s is not UTF-8 text", set->f[i].path);
			goto done;
		}
	if (!(body = json_dumps(root, JSON_COMPACT))) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	err = post_ruleset(o, body, strlen(body));
done:
	json_decref(root);
	free(body);
	return err;
}

/* Log a staged set's entry in SITE's log (no server holding it), then install it. */
static int log_and_commit(const opts *o, vt_ruleset_stage *stage)
{
	vt_analysis_rules *r = vt_ruleset_stage_rules(stage);
	const vt_buf *e = vt_ruleset_stage_entry(stage);
	uint64_t index = 0;
	int err;

	if ((err = cli_log_append_local(&index, o->dir, e->ptr, e->len, "install")) < 0)
		goto done;
	/* Logged: only now is the set put in force. */
	if ((err = vt_ruleset_stage_commit(stage)) < 0)
		goto done;
	printf("ruleset sha256:%s installed: %u rules from %zu files%s%s, logged at index %llu\n",
	       vt_analysis_rules_digest(r), vt_analysis_rules_count(r),
	       vt_ruleset_stage_files(stage),
	       vt_ruleset_stage_release(stage)[0] ? " of release " : "",
	       vt_ruleset_stage_release(stage), (unsigned long long)index);
done:
	return err;
}

static int install_local(const opts *o, source_set *set)
{
	vt_ruleset_stage *stage = NULL;
	int err;

	if ((err = vt_ruleset_stage_new(&stage, o->dir, set->f, set->n)) == 0)
		err = log_and_commit(o, stage);
	vt_ruleset_stage_free(stage);
	return err;
}

/* ---- install a rules release ---- */

/* The SHA-256 (hex) of the one subject of a release whose name ends in ".yarc". */
static int release_rules_subject(char *hex, vt_client *cl, const char *name, const char *version)
{
	char path[256];
	json_t *rel = NULL, *arts;
	size_t found = 0;
	int err;

	snprintf(path, sizeof(path), "/api/v1/releases/%s/%s", name, version);
	if ((err = cv_get_json(&rel, cl, path)) < 0)
		goto done;
	arts = json_object_get(rel, "artifacts");
	for (size_t i = 0; i < json_array_size(arts); i++) {
		const char *n = json_string_value(json_object_get(json_array_get(arts, i), "name"));
		const char *h =
		    json_string_value(json_object_get(json_array_get(arts, i), "sha256"));
		size_t l = n ? strlen(n) : 0;
		if (l >= 5 && strcmp(n + l - 5, ".yarc") == 0 && h && strlen(h) == 64) {
			memcpy(hex, h, 65);
			found++;
		}
	}
	if (found != 1)
		err = vt_error_set(VT_EINVAL,
				   "release %s %s has %zu artifacts named *.yarc: want exactly one "
				   "compiled rules file",
				   name, version, found);
done:
	json_decref(rel);
	return err;
}

/* A refusal: one line naming the check, its exit code (as vitrine verify's). */
static int refuse(vt_check k, const char *why)
{
	fprintf(stderr, "vitrine: rules release refused, nothing installed: %s\n", why);
	return vt_check_exit(k);
}

static int do_install_release(const opts *o)
{
	char name[VT_RELEASE_NAME_MAX + 1], version[VT_RELEASE_NAME_MAX + 1];
	char hex[65], spath[4300], sdir[4200], msg[1400];
	vt_endpoint_policy pol = {0};
	vt_endpoint_bundle b;
	vt_endpoint_result r = {0};
	vt_ruleset_stage *stage = NULL;
	vt_client *cl = NULL;
	vt_buf pb, bb, art, state, cp, b64;
	json_t *body = NULL;
	char *text = NULL;
	vt_hash h;
	bool have_state;
	int err, rc = EXIT_FAIL;

	vt_buf_init(&pb, VT_ENDPOINT_POLICY_MAX + 1);
	vt_buf_init(&bb, VT_ENDPOINT_BUNDLE_MAX);
	vt_buf_init(&art, VT_RULESET_COMPILED_MAX);
	vt_buf_init(&state, 1 << 20);
	vt_buf_init(&cp, 1 << 20);
	vt_buf_init(&b64, VT_RULESET_COMPILED_MAX / 3 * 4 + 8);
	if (o->argc != 0 || !o->dir || !o->policy || !o->bundle == !o->from ||
	    (o->bundle && !o->artifact) || (o->checkpoint && !o->from)) {
		rc = cli_usage("rules", "install --release needs --dir, --policy and one of "
					"--bundle FILE --artifact FILE or --from URL");
		goto done;
	}
	if (o->url && !o->token) {
		rc = cli_usage("rules", "installing through --url needs --token or --token-file");
		goto done;
	}
	if (cv_split_nv(name, version, o->release) < 0) {
		rc = cli_fail("rules");
		goto done;
	}
	if (cli_read_file(&pb, o->policy) < 0 ||
	    vt_endpoint_policy_parse(&pol, (const char *)pb.ptr, pb.len) < 0) {
		rc = cli_fail(o->policy);
		goto done;
	}
	/* The endpoint state of this site, as vitrine verify --state keeps it. */
	snprintf(sdir, sizeof(sdir), "%s/rules/endpoint-state", o->dir);
	snprintf(spath, sizeof(spath), "%s/checkpoint", sdir);
	err = vt_fs_read(&state, AT_FDCWD, spath);
	if (err < 0 && err != VT_ENOTFOUND) {
		rc = cli_fail("state");
		goto done;
	}
	have_state = err == 0;
	if (o->from) {
		if ((o->checkpoint && cli_read_file(&cp, o->checkpoint) < 0) ||
		    vt_client_new(&cl, o->from, NULL) < 0) {
			rc = cli_fail("rules");
			goto done;
		}
		err = cv_make_bundle(&bb, cl, name, version,
				     o->checkpoint ? (const char *)cp.ptr : NULL, cp.len,
				     have_state ? (const char *)state.ptr : NULL, state.len);
		if (err == 0 && (err = release_rules_subject(hex, cl, name, version)) == 0)
			err = cv_get_blob(&art, cl, "artifacts", hex);
		if (err < 0) {
			vt_check k = cv_fetch_refusal(msg, sizeof(msg), err);
			rc = refuse(k, msg);
			goto done;
		}
	} else if (cli_read_file(&bb, o->bundle) < 0 || cli_read_file(&art, o->artifact) < 0) {
		rc = cli_fail("rules");
		goto done;
	}
	if (vt_endpoint_bundle_parse(&b, (const char *)bb.ptr, bb.len) < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", vt_check_name(VT_CHECK_BUNDLE),
			 vt_error_last());
		rc = refuse(VT_CHECK_BUNDLE, msg);
		goto done;
	}
	if ((err = vt_sha256(&h, art.ptr, art.len)) < 0) {
		rc = cli_fail("rules");
		goto done;
	}
	err = vt_endpoint_verify(&r, &pol, &b, &h, have_state ? (const char *)state.ptr : NULL,
				 state.len);
	if (err == VT_EVERIFY) {
		rc = refuse(r.failed, vt_error_last());
		goto done;
	}
	if (err < 0) {
		rc = cli_fail("verify");
		goto done;
	}
	if (strcmp(r.name, name) != 0 || strcmp(r.version, version) != 0) {
		snprintf(msg, sizeof(msg), "%s: the bundle proves %s %s, not %s %s",
			 vt_check_name(VT_CHECK_BUNDLE), r.name, r.version, name, version);
		rc = refuse(VT_CHECK_BUNDLE, msg);
		goto done;
	}
	/* Verified: log and install, here or through the server. */
	if (o->url) {
		if ((err = vt_base64_append(&b64, art.ptr, art.len)) < 0 ||
		    !(body = json_pack("{s:s, s:s%}", "release", o->release, "compiled",
				       (const char *)b64.ptr, b64.len)) ||
		    !(text = json_dumps(body, JSON_COMPACT))) {
			if (err == 0)
				vt_error_set(VT_ENOMEM, "out of memory");
			rc = cli_fail("rules");
			goto done;
		}
		err = post_ruleset(o, text, strlen(text));
	} else if ((err = vt_ruleset_stage_compiled(&stage, o->dir, art.ptr, art.len,
						    o->release)) == 0) {
		err = log_and_commit(o, stage);
	}
	if (err < 0) {
		rc = cli_fail("rules release refused, nothing installed");
		goto done;
	}
	/* Installed: the state advances (never rolled back; verify refused an older one). */
	if ((mkdir(sdir, 0755) < 0 && errno != EEXIST) ||
	    vt_fs_write_atomic(AT_FDCWD, spath, r.checkpoint, r.checkpoint_len, 0644) < 0) {
		if (!vt_error_last()[0])
			vt_error_sys(VT_EIO, errno, "%s", sdir);
		rc = cli_fail("state");
		goto done;
	}
	printf("release %s %s verified: entry %llu in checkpoint %llu, %zu witness cosignatures, "
	       "%zu reproducing rebuilders\n",
	       name, version, (unsigned long long)r.index, (unsigned long long)r.size, r.witnesses,
	       r.rebuilders);
	rc = EXIT_OK;
done:
	free(text);
	json_decref(body);
	vt_ruleset_stage_free(stage);
	vt_client_free(cl);
	vt_endpoint_policy_dispose(&pol);
	vt_buf_dispose(&pb);
	vt_buf_dispose(&bb);
	vt_buf_dispose(&art);
	vt_buf_dispose(&state);
	vt_buf_dispose(&cp);
	vt_buf_dispose(&b64);
	return rc;
}

static int do_install(const opts *o)
{
	source_set *set;
	int err, rc = EXIT_OK;

	if (o->release)
		return do_install_release(o);
	if (o->argc != 1 || !o->dir)
		return cli_usage("rules", "install needs DIR|FILE and --dir SITE");
	if (o->url && !o->token)
		return cli_usage("rules", "installing through --url needs --token or --token-file");
	if (!(set = calloc(1, sizeof(*set))))
		return cli_fail("out of memory");
	if ((err = read_set(set, o->argv[0])) < 0)
		rc = cli_fail(o->argv[0]);
	else if ((err = o->url ? install_remote(o, set) : install_local(o, set)) < 0)
		rc = cli_fail("ruleset refused, nothing installed");
	free_set(set);
	free(set);
	return rc;
}

/* ---- status ---- */

static void print_status(json_t *j)
{
	json_t *r = json_object_get(j, "retro_scan");
	json_t *eta = json_object_get(r, "eta_s");
	const char *rs = json_string_value(json_object_get(j, "ruleset"));
	printf("ruleset   %s%s (%lld rules)\n", rs ? "sha256:" : "", rs ? rs : "none",
	       (long long)json_integer_value(json_object_get(j, "rules")));
	printf("workers   %lld\n", (long long)json_integer_value(json_object_get(j, "workers")));
	printf("samples   %lld\n", (long long)json_integer_value(json_object_get(j, "samples")));
	printf("analysed  %lld (with this ruleset)\n",
	       (long long)json_integer_value(json_object_get(j, "analysed")));
	printf("pending   %lld (%lld new)\n",
	       (long long)json_integer_value(json_object_get(j, "pending")),
	       (long long)json_integer_value(json_object_get(j, "queued")));
	printf("retro-scan %lld/%lld done, %.1f samples/s, ETA %s%s\n",
	       (long long)json_integer_value(json_object_get(r, "done")),
	       (long long)json_integer_value(json_object_get(r, "total")),
	       json_number_value(json_object_get(r, "rate")), json_is_number(eta) ? "" : "unknown",
	       "");
	if (json_is_number(eta))
		printf("eta_s     %.0f\n", json_number_value(eta));
}

static int do_status(const opts *o)
{
	vt_client_response resp;
	vt_client *cl = NULL;
	vt_index *idx = NULL;
	json_t *j = NULL;
	vt_buf out;
	char link[128] = "";
	int err = 0, rc = EXIT_OK;

	vt_buf_init(&out, 1 << 20);
	vt_client_response_init(&resp);
	if (o->url) {
		if ((err = vt_client_new(&cl, o->url, o->token)) < 0 ||
		    (err = vt_client_get(cl, &out, "api/v1/analysis")) < 0) {
			rc = cli_fail(o->url);
			goto done;
		}
	} else if (o->dir) {
		char path[4096];
		vt_index_analysis_counts c;
		ssize_t n;
		snprintf(path, sizeof(path), "%s/rules/current", o->dir);
		if ((n = readlink(path, link, sizeof(link) - 1)) > 0)
			link[n] = 0;
		if ((err = vt_index_open(&idx, o->dir)) < 0 ||
		    (err = vt_index_analysis_count(&c, idx, link)) < 0) {
			rc = cli_fail(o->dir);
			goto done;
		}
		vt_buf_printf(
		    &out,
		    "{\"ruleset\": %s%s%s, \"rules\": 0, \"workers\": 0, \"samples\": %llu, "
		    "\"analysed\": %llu, \"pending\": %llu, \"queued\": %llu, "
		    "\"retro_scan\": {\"done\": 0, \"total\": %llu, \"rate\": 0, "
		    "\"eta_s\": null}}\n",
		    link[0] ? "\"" : "", link[0] ? link : "null", link[0] ? "\"" : "",
		    (unsigned long long)c.samples, (unsigned long long)c.current,
		    (unsigned long long)(c.queued + c.stale), (unsigned long long)c.queued,
		    (unsigned long long)c.stale);
	} else {
		rc = cli_usage("rules", "status needs --url URL --token T, or --dir SITE");
		goto done;
	}
	if (o->json) {
		fwrite(out.ptr, 1, out.len, stdout);
		goto done;
	}
	if (!(j = json_loadb((const char *)out.ptr, out.len, 0, NULL))) {
		fprintf(stderr, "vitrine: the status is not JSON\n");
		rc = EXIT_FAIL;
		goto done;
	}
	print_status(j);
done:
	json_decref(j);
	vt_index_close(idx);
	vt_client_free(cl);
	vt_client_response_dispose(&resp);
	vt_buf_dispose(&out);
	return rc;
}

int cmd_rules(int argc, char **argv)
{
	opts o;
	int rc;

	if ((rc = cli_sub_help(argc, argv, help)) >= 0)
		return rc;
	if ((rc = parse_opts(&o, argc - 1, argv + 1)) >= 0)
		return rc;
	if (strcmp(argv[1], "install") == 0)
		return do_install(&o);
	if (strcmp(argv[1], "status") == 0)
		return do_status(&o);
	return cli_usage("rules", "unknown rules command \"%s\"", argv[1]);
}
