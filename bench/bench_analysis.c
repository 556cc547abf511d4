/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the full analysis spends its time: each part of it alone, on one
 * core, over the same files held in memory, next to YARA alone.
 *
 * The goal compares the full analysis with the yara tool. The
 * full analysis must do at least YARA plus every other part, so if one
 * part alone takes longer than yara/0.7 - yara, no scheduling can reach
 * the goal with that library; this bench prints that bound.
 */
#include "vitrine/analysis.h"
#include "vitrine/error.h"
#include "tlsh_c.h"

#include <dirent.h>
#include <fuzzy.h>
#include <getopt.h>
#include <magic.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct {
	unsigned char *data;
	size_t len;
} file;

static file *files;
static size_t nfiles, total;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load_dir(const char *dir, size_t limit)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (d == NULL) {
		fprintf(stderr, "bench_analysis: cannot open %s\n", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL && total < limit) {
		char path[4096];
		struct stat st;
		unsigned char *data;
		size_t len, got;
		FILE *f;
		file *nf;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
		    stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
		    total + (size_t)st.st_size > limit)
			continue;
		if ((nf = realloc(files, (nfiles + 1) * sizeof(*files))) == NULL)
			break;
		files = nf;
		len = (size_t)st.st_size;
		if ((data = malloc(len)) == NULL)
			break;
		if ((f = fopen(path, "rb")) == NULL) {
			free(data);
			continue;
		}
		got = fread(data, 1, len, f);
		fclose(f);
		if (got != len) { /* changed since stat: skip it */
			free(data);
			continue;
		}
		files[nfiles].data = data;
		files[nfiles].len = len;
		total += len;
		nfiles++;
	}
	closedir(d);
	return 0;
}

/* ---- the parts, each over every file ---- */

static void part_digest(const EVP_MD *md)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char out[EVP_MAX_MD_SIZE];
	for (size_t i = 0; i < nfiles; i++) {
		EVP_DigestInit_ex(c, md, NULL);
		EVP_DigestUpdate(c, files[i].data, files[i].len);
		EVP_DigestFinal_ex(c, out, NULL);
	}
	EVP_MD_CTX_free(c);
}

static void part_md5(void) { part_digest(EVP_md5()); }
static void part_sha1(void) { part_digest(EVP_sha1()); }
static void part_sha256(void) { part_digest(EVP_sha256()); }

static volatile double sink;

static void part_entropy(void)
{
	for (size_t i = 0; i < nfiles; i++)
		sink += vt_analysis_entropy(files[i].data, files[i].len);
}

static void part_ssdeep(void)
{
	char out[FUZZY_MAX_RESULT];
	for (size_t i = 0; i < nfiles; i++) {
		struct fuzzy_state *s = fuzzy_new();
		fuzzy_update(s, files[i].data, files[i].len);
		fuzzy_digest(s, out, 0);
		fuzzy_free(s);
	}
}

static void part_tlsh(void)
{
	vt_tlsh *t = vt_analysis__tlsh_new();
	char out[80];
	for (size_t i = 0; i < nfiles; i++) {
		vt_analysis__tlsh_update(t, files[i].data, (unsigned)files[i].len);
		vt_analysis__tlsh_final(t, out, sizeof(out));
	}
	vt_analysis__tlsh_free(t);
}

static void part_magic(void)
{
	magic_t m = magic_open(MAGIC_NO_CHECK_COMPRESS);
	magic_load(m, NULL);
	for (size_t i = 0; i < nfiles; i++) {
		magic_setflags(m, MAGIC_NO_CHECK_COMPRESS);
		magic_buffer(m, files[i].data, files[i].len);
		magic_setflags(m, MAGIC_NO_CHECK_COMPRESS | MAGIC_MIME_TYPE);
		magic_buffer(m, files[i].data, files[i].len);
	}
	magic_close(m);
}

static vt_analysis_rules *rules;

static void engine_run(unsigned flags)
{
	vt_analysis_engine *e = NULL;
	vt_analysis_worker *w = NULL;
	if (vt_analysis_engine_new(&e, rules, NULL, flags) < 0 ||
	    vt_analysis_worker_new(&w, e) < 0) {
		fprintf(stderr, "bench_analysis: %s\n", vt_error_last());
		exit(2);
	}
	for (size_t i = 0; i < nfiles; i++) {
		vt_analysis_result r;
		memset(&r, 0, sizeof(r));
		if (vt_analysis_scan_mem(&r, w, files[i].data, files[i].len) == 0)
			vt_analysis_result_dispose(&r);
	}
	vt_analysis_worker_free(w);
	vt_analysis_engine_free(e);
}

static void part_yara(void) { engine_run(VT_ANALYSIS_YARA_ONLY); }
static void part_full(void) { engine_run(0); }

static const struct {
	const char *name;
	void (*fn)(void);
} parts[] = {
	{"YARA only (engine)", part_yara},
	{"MD5", part_md5},
	{"SHA-1", part_sha1},
	{"SHA-256", part_sha256},
	{"entropy", part_entropy},
	{"libmagic (type+mime)", part_magic},
	{"ssdeep (libfuzzy)", part_ssdeep},
	{"TLSH (libtlsh)", part_tlsh},
	{"full analysis", part_full},
};

#define NPARTS (sizeof(parts) / sizeof(parts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_analysis --rules RULES [--mb N] [--runs N] DIR\n"
		   "Times each part of the full analysis alone on one core over the\n"
		   "regular files of DIR (at most N MB, default 150, held in memory;\n"
		   "best of --runs, default 2) and prints the bound the slowest\n"
		   "library puts on the full analysis against YARA alone.\n");
}

int main(int argc, char **argv)
{
	const char *rules_path = NULL;
	size_t mb = 150;
	int runs = 2, c;
	double best[NPARTS];
	static const struct option opts[] = {{"rules", required_argument, 0, 'r'},
					     {"mb", required_argument, 0, 'm'},
					     {"runs", required_argument, 0, 'n'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': rules_path = optarg; break;
		case 'm': mb = strtoul(optarg, NULL, 10); break;
		case 'n': runs = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (rules_path == NULL || optind + 1 != argc || runs < 1 || mb == 0) {
		usage(stderr);
		return 2;
	}
	if (load_dir(argv[optind], mb * 1000000) < 0 || nfiles == 0) {
		fprintf(stderr, "bench_analysis: no files in %s\n", argv[optind]);
		return 2;
	}
	if (vt_analysis_rules_compile(&rules, rules_path, true) < 0) {
		fprintf(stderr, "bench_analysis: %s\n", vt_error_last());
		return 2;
	}
	printf("bench_analysis: %zu files, %.1f MB in memory, one core, best of %d\n", nfiles,
	       (double)total / 1e6, runs);
	for (size_t p = 0; p < NPARTS; p++) {
		best[p] = 1e300;
		for (int r = 0; r < runs; r++) {
			double t0 = now();
			parts[p].fn();
			double t = now() - t0;
			if (t < best[p])
				best[p] = t;
		}
		printf("  %-22s %8.3f s %9.1f MB/s  %6.2fx YARA's time\n", parts[p].name, best[p],
		       (double)total / 1e6 / best[p], best[p] / best[0]);
		fflush(stdout);
	}
	/* Full analysis >= YARA + each other part, so its best share of
	 * YARA's throughput is yara / (yara + that part). */
	double tl = best[7], fz = best[6], y = best[0];
	printf("bound from TLSH alone: full analysis <= %.0f%% of YARA-only throughput\n",
	       100 * y / (y + tl));
	printf("bound from TLSH + ssdeep: <= %.0f%%\n", 100 * y / (y + tl + fz));
	printf("measured full analysis: %.0f%% of YARA-only (goal >= 70%% of the yara tool)\n",
	       100 * y / best[NPARTS - 1]);
	vt_analysis_rules_unref(rules);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i].data);
	free(files);
	return 0;
}
