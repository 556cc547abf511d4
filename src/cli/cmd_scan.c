/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vitrine scan: the analysis engine without a server. Paths are listed
 * first (walking directories), then N worker threads take them one at a
 * time; findings are printed as they come, under one lock, and a summary
 * ends the run. Exit status as clamscan's: 0 nothing found, 1 something
 * found (malicious, suspicious or unknown), 2 an error.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vitrine/analysis.h"
#include "vitrine/clock.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"

static const char help[] =
    "usage: vitrine scan PATH... [options]\n"
    "\n"
    "Analyse files (and the members of archives in them) with the YARA rules\n"
    "given, and print one line per finding or, with --json, one JSON report\n"
    "per file. Exit status: 0 nothing found, 1 something found (malicious,\n"
    "suspicious or unknown), 2 an error.\n"
    "\n"
    "options:\n"
    "  --rules RULES         a YARA source file, a directory of .yar/.yara files\n"
    "                        or a file compiled by yarac\n"
    "  -j, --jobs N          worker threads (default: the number of CPUs)\n"
    "  -r, --recursive       descend into directories (else only their files)\n"
    "  --json                one JSON report per file on standard output\n"
    "  --yara-only           YARA matches only: no hashes, types or archive members\n"
    "  --timeout S           YARA time limit per file or member (default 60)\n"
    "  --max-depth N         archive nesting opened (default 5)\n"
    "  --max-members N       members opened per file (default 10000)\n"
    "  --max-member-size B   bytes of one unpacked member (default 64 MiB)\n"
    "  --max-total-size B    bytes unpacked per file (default 256 MiB)\n"
    "  -h, --help            this help\n";

typedef struct {
	char **v;
	size_t n, cap;
} path_list;

typedef struct {
	vt_analysis_engine *engine;
	path_list *paths;
	atomic_size_t next;
	atomic_size_t done;
	atomic_uint_fast64_t bytes;
	atomic_size_t found, errors, members;
	pthread_mutex_t out_lock;
	bool json;
	atomic_int fatal;
} scan_state;

static int paths_add(path_list *l, const char *path)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return vt_error_set(VT_ENOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n] = strdup(path)) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	l->n++;
	return 0;
}

/* List the regular files under dir; symbolic links to directories are not followed. */
static int walk(path_list *l, const char *dir, bool recursive, size_t *errors)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	char *path = NULL;
	int err = 0;

	if (d == NULL) {
		fprintf(stderr, "vitrine: %s: %s\n", dir, strerror(errno));
		(*errors)++;
		goto done;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		free(path);
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			path = NULL;
			err = vt_error_set(VT_ENOMEM, "out of memory");
			goto done;
		}
		if (lstat(path, &st) != 0) {
			fprintf(stderr, "vitrine: %s: %s\n", path, strerror(errno));
			(*errors)++;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (recursive && (err = walk(l, path, recursive, errors)) < 0)
				goto done;
			continue;
		}
		if (S_ISLNK(st.st_mode) && (stat(path, &st) != 0 || !S_ISREG(st.st_mode)))
			continue;
		if (S_ISREG(st.st_mode) && (err = paths_add(l, path)) < 0)
			goto done;
	}
done:
	free(path);
	if (d != NULL)
		closedir(d);
	return err;
}

/* Print a line for every node with matches or a reason of its own. */
static void print_findings(vt_buf *b, const vt_analysis_node *n, const char *prefix)
{
	char *name = NULL;

	if (n->name != NULL) {
		if (asprintf(&name, "%s!%s", prefix, n->name) < 0)
			return;
		prefix = name;
	}
	if (n->nmatches > 0 || n->reason != NULL) {
		vt_buf_printf(b, "%s: %s", prefix, vt_verdict_name(n->verdict));
		for (size_t i = 0; i < n->nmatches; i++)
			vt_buf_printf(b, " %s", n->matches[i].rule);
		if (n->reason != NULL)
			vt_buf_printf(b, " (%s)", n->reason);
		vt_buf_adds(b, "\n");
	}
	for (size_t i = 0; i < n->nchildren; i++)
		print_findings(b, &n->children[i], prefix);
	free(name);
}

static void report_error(scan_state *s, const char *path, const char *msg)
{
	pthread_mutex_lock(&s->out_lock);
	fprintf(stderr, "vitrine: %s: %s\n", path, msg);
	pthread_mutex_unlock(&s->out_lock);
	atomic_fetch_add(&s->errors, 1);
}

static void scan_one(scan_state *s, vt_analysis_worker *w, const char *path, vt_buf *out)
{
	vt_analysis_result res;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err;

	memset(&res, 0, sizeof(res));
	if (fd < 0) {
		report_error(s, path, strerror(errno));
		return;
	}
	err = vt_analysis_scan_fd(&res, w, fd);
	close(fd);
	if (err < 0) {
		report_error(s, path, vt_error_last());
		if (err == VT_ENOMEM)
			atomic_store(&s->fatal, 1);
		return;
	}
	atomic_fetch_add(&s->bytes, res.root.size);
	atomic_fetch_add(&s->members, res.members);
	if (res.root.verdict != VT_VERDICT_CLEAN)
		atomic_fetch_add(&s->found, 1);
	vt_buf_reset(out);
	if (s->json) {
		if (vt_analysis_result_json(out, &res, path) == 0)
			vt_buf_adds(out, "\n");
	} else {
		print_findings(out, &res.root, path);
	}
	if (out->len > 0) {
		pthread_mutex_lock(&s->out_lock);
		fwrite(out->ptr, 1, out->len, stdout);
		fflush(stdout);
		pthread_mutex_unlock(&s->out_lock);
	}
	vt_analysis_result_dispose(&res);
}

static void *worker_main(void *arg)
{
	scan_state *s = arg;
	vt_analysis_worker *w = NULL;
	vt_buf out;
	size_t i;

	vt_buf_init(&out, 256u << 20);
	if (vt_analysis_worker_new(&w, s->engine) < 0) {
		report_error(s, "worker", vt_error_last());
		atomic_store(&s->fatal, 1);
		goto done;
	}
	while (!atomic_load(&s->fatal) && (i = atomic_fetch_add(&s->next, 1)) < s->paths->n) {
		scan_one(s, w, s->paths->v[i], &out);
		atomic_fetch_add(&s->done, 1);
	}
done:
	vt_analysis_worker_free(w);
	vt_buf_dispose(&out);
	return NULL;
}

static int parse_size(uint64_t *out, const char *s, const char *opt)
{
	if (vt_parse_u64(out, s, strlen(s)) < 0 || *out == 0)
		return cli_usage("scan", "%s needs a positive number, not \"%s\"", opt, s);
	return 0;
}

static int load_rules(vt_analysis_rules **out, const char *path, bool facts)
{
	char head[4] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool compiled = false;
	int err;

	if (fd >= 0) {
		compiled = read(fd, head, 4) == 4 && memcmp(head, "YARA", 4) == 0;
		close(fd);
	}
	/*
	 * yarac files start with "YARA"; anything else is source. YARA-only
	 * scans leave out the pe and elf modules unless the rules import them,
	 * as the yara tool does.
	 */
	err = compiled ? vt_analysis_rules_load(out, path)
		       : vt_analysis_rules_compile(out, path, facts);
	return err;
}

/* One line for the message, whatever the compiler said. */
static void print_one_line(const char *what, const char *msg)
{
	fprintf(stderr, "vitrine: %s: ", what);
	for (const char *p = msg; *p; p++) {
		if (*p == '\n')
			fputs("; ", stderr);
		else
			fputc(*p, stderr);
	}
	fputc('\n', stderr);
}

int cmd_scan(int argc, char **argv)
{
	enum {
		O_RULES = 256,
		O_JSON,
		O_YARA_ONLY,
		O_TIMEOUT,
		O_DEPTH,
		O_MEMBERS,
		O_MSIZE,
		O_TSIZE
	};
	static const struct option opts[] = {
	    {"rules", required_argument, 0, O_RULES},
	    {"jobs", required_argument, 0, 'j'},
	    {"recursive", no_argument, 0, 'r'},
	    {"json", no_argument, 0, O_JSON},
	    {"yara-only", no_argument, 0, O_YARA_ONLY},
	    {"timeout", required_argument, 0, O_TIMEOUT},
	    {"max-depth", required_argument, 0, O_DEPTH},
	    {"max-members", required_argument, 0, O_MEMBERS},
	    {"max-member-size", required_argument, 0, O_MSIZE},
	    {"max-total-size", required_argument, 0, O_TSIZE},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	const char *rules_path = NULL;
	vt_analysis_rules *rules = NULL;
	vt_analysis_limits lim;
	path_list paths = {0};
	scan_state s;
	pthread_t *threads = NULL;
	size_t nthreads = 0, walk_errors = 0;
	uint64_t jobs = 0, v;
	unsigned flags = 0;
	bool recursive = false, json = false, tty = cli_tty();
	double t0;
	int c, rc = 2;

	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.out_lock, NULL);
	vt_analysis_limits_default(&lim);
	optind = 1;
	while ((c = getopt_long(argc, argv, "j:rh", opts, NULL)) != -1) {
		switch (c) {
		case O_RULES: rules_path = optarg; break;
		case 'j':
			if (parse_size(&jobs, optarg, "--jobs") != 0 || jobs > 256)
				goto usage;
			break;
		case 'r': recursive = true; break;
		case O_JSON: json = true; break;
		case O_YARA_ONLY: flags |= VT_ANALYSIS_YARA_ONLY; break;
		case O_TIMEOUT:
			if (parse_size(&v, optarg, "--timeout") != 0 || v > 86400)
				goto usage;
			lim.timeout_s = (int)v;
			break;
		case O_DEPTH:
			if (vt_parse_u64(&v, optarg, strlen(optarg)) < 0 || v > 64) {
				cli_usage("scan", "--max-depth needs a number up to 64");
				goto usage;
			}
			lim.max_depth = (unsigned)v;
			break;
		case O_MEMBERS:
			if (parse_size(&lim.max_members, optarg, "--max-members") != 0)
				goto usage;
			break;
		case O_MSIZE:
			if (parse_size(&lim.max_member_size, optarg, "--max-member-size") != 0)
				goto usage;
			break;
		case O_TSIZE:
			if (parse_size(&lim.max_total_size, optarg, "--max-total-size") != 0)
				goto usage;
			break;
		case 'h':
			fputs(help, stdout);
			rc = 0;
			goto done;
		default: cli_usage("scan", "bad option"); goto usage;
		}
	}
	if (optind >= argc) {
		cli_usage("scan", "give at least one PATH");
		goto usage;
	}
	if (jobs == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = n > 0 ? (uint64_t)n : 1;
	}
	if (rules_path != NULL &&
	    load_rules(&rules, rules_path, !(flags & VT_ANALYSIS_YARA_ONLY)) < 0) {
		print_one_line(rules_path, vt_error_last());
		goto done;
	}
	for (int i = optind; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "vitrine: %s: %s\n", argv[i], strerror(errno));
			walk_errors++;
		} else if (S_ISDIR(st.st_mode)) {
			if (walk(&paths, argv[i], recursive, &walk_errors) < 0) {
				cli_fail("scan");
				goto done;
			}
		} else if (paths_add(&paths, argv[i]) < 0) {
			cli_fail("scan");
			goto done;
		}
	}
	if (vt_analysis_engine_new(&s.engine, rules, &lim, flags) < 0) {
		cli_fail("scan");
		goto done;
	}
	s.paths = &paths;
	s.json = json;
	t0 = vt_monotonic_seconds();
	if ((threads = calloc(jobs, sizeof(*threads))) == NULL) {
		fprintf(stderr, "vitrine: out of memory\n");
		goto done;
	}
	for (; nthreads < jobs; nthreads++) {
		if (pthread_create(&threads[nthreads], NULL, worker_main, &s) != 0)
			break;
	}
	if (nthreads == 0) {
		fprintf(stderr, "vitrine: cannot start a worker thread\n");
		goto done;
	}
	while (tty && atomic_load(&s.done) < paths.n && !atomic_load(&s.fatal)) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		pthread_mutex_lock(&s.out_lock);
		fprintf(stderr, "\r%zu/%zu files, %.1f MB, %zu found\033[K", atomic_load(&s.done),
			paths.n, (double)atomic_load(&s.bytes) / 1e6, atomic_load(&s.found));
		pthread_mutex_unlock(&s.out_lock);
		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	if (tty)
		fprintf(stderr, "\r\033[K");
	{
		double secs = vt_monotonic_seconds() - t0, mb = (double)atomic_load(&s.bytes) / 1e6;
		FILE *sum = json ? stderr : stdout;
		fprintf(sum, "\n----------- SCAN SUMMARY -----------\n");
		if (rules != NULL)
			fprintf(sum, "Rules: %u (ruleset %.16s)\n", vt_analysis_rules_count(rules),
				vt_analysis_rules_digest(rules));
		else
			fprintf(sum, "Rules: none\n");
		fprintf(sum, "Scanned files: %zu\n", atomic_load(&s.done) - atomic_load(&s.errors));
		fprintf(sum, "Archive members: %zu\n", atomic_load(&s.members));
		fprintf(sum, "Found: %zu\n", atomic_load(&s.found));
		fprintf(sum, "Errors: %zu\n", atomic_load(&s.errors) + walk_errors);
		fprintf(sum, "Data scanned: %.2f MB\n", mb);
		fprintf(sum, "Time: %.3f sec (%.1f MB/s, %.0f files/s)\n", secs,
			secs > 0 ? mb / secs : 0,
			secs > 0 ? (double)atomic_load(&s.done) / secs : 0);
	}
	if (atomic_load(&s.errors) + walk_errors > 0 || atomic_load(&s.fatal))
		rc = 2;
	else
		rc = atomic_load(&s.found) > 0 ? 1 : 0;
	goto done;
usage:
	rc = 2;
done:
	free(threads);
	vt_analysis_engine_free(s.engine);
	vt_analysis_rules_unref(rules);
	for (size_t i = 0; i < paths.n; i++)
		free(paths.v[i]);
	free(paths.v);
	pthread_mutex_destroy(&s.out_lock);
	return rc;
}
