/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One build of a recipe: inputs checked, two sandboxed runs under
 * different variants, outputs compared byte for byte.
 *
 * Runs write into a private work directory inside the output directory
 * (same file system, so the accepted outputs are renamed, not copied).
 * Nothing of a build that does not reproduce reaches the output
 * directory except that work directory, which is kept for inspection.
 */
#include "vitrine/conveyer.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/sandbox.h"
#include "conveyer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void progress(const vt_build_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress(const vt_build_opts *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	if (!o->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->progress(line, o->payload);
}

/* out = a/b; VT_ETOOBIG when it does not fit. */
static int join(char *out, size_t size, const char *a, const char *b)
{
	int n = snprintf(out, size, "%s/%s", a, b);
	if (n < 0 || (size_t)n >= size)
		return vt_error_set(VT_ETOOBIG, "path too long: %s/%s", a, b);
	return 0;
}

static int hash_file(vt_hash *out, uint64_t *size, const char *path)
{
	int fd, err;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno, "%s", path);
	err = vt_tree__hash_fd(out, size, fd, path);
	close(fd);
	return err;
}

static int hash_tools(vt_build *b)
{
	const vt_recipe *r = &b->recipe;
	int err = 0;

	if (r->ntoolchain == 0)
		return 0;
	if (!(b->tools = calloc(r->ntoolchain, sizeof(*b->tools))))
		return vt_error_set(VT_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->ntoolchain; i++) {
		vt_build_tool *t = &b->tools[i];
		b->ntools = i + 1;
		if (!(t->path = strdup(r->toolchain[i])))
			return vt_error_set(VT_ENOMEM, "out of memory");
		if (!(t->resolved = realpath(t->path, NULL)))
			return vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno,
					    "toolchain: %s", t->path);
		if ((err = hash_file(&t->digest, NULL, t->resolved)) < 0)
			return vt_error_wrap(err, "toolchain");
	}
	return 0;
}

/* Hash the outputs a run left in dir; they must be regular files. */
static int hash_outputs(vt_build_output *outs, const vt_recipe *r, const char *dir)
{
	char path[PATH_MAX];
	int err = 0;

	for (size_t i = 0; i < r->noutputs; i++) {
		struct stat st;
		if ((err = join(path, sizeof(path), dir, r->outputs[i])) < 0)
			return err;
		if (lstat(path, &st) < 0)
			return vt_error_set(VT_ENOTFOUND, "the build made no output %s",
					    r->outputs[i]);
		if (!S_ISREG(st.st_mode))
			return vt_error_set(VT_EINVAL, "output %s is not a regular file",
					    r->outputs[i]);
		if ((err = hash_file(&outs[i].digest, &outs[i].size, path)) < 0)
			return err;
	}
	return 0;
}

/* The last lines of a log, for an error message. */
static void log_tail(char *out, size_t size, const char *path)
{
	char buf[4096];
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	out[0] = 0;
	if (fd >= 0) {
		off_t end = lseek(fd, 0, SEEK_END);
		off_t from = end > 300 ? end - 300 : 0;
		n = pread(fd, buf, sizeof(buf) - 1, from);
		close(fd);
	}
	if (n <= 0)
		return;
	buf[n] = 0;
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = 0;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\n' || (unsigned char)buf[i] < 0x20)
			buf[i] = i == n ? 0 : '|';
	{
		size_t k = (size_t)n < size - 1 ? (size_t)n : size - 1;
		memcpy(out, buf + (size_t)n - k, k);
		out[k] = 0;
	}
}

static bool on_path(char *out, size_t size, const char *prog)
{
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(out, size, "%.*s/%s", (int)n, path, prog);
		if (n > 0 && access(out, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

/* Append diffoscope's text report (its first 100 lines) of a vs b. */
static int diffoscope(vt_buf *report, const char *a, const char *b, const char *work)
{
	char prog[PATH_MAX], out[PATH_MAX], line[1024];
	char *argv[] = {"diffoscope", "--text", "-", "--no-progress", (char *)a, (char *)b, NULL};
	posix_spawn_file_actions_t fa;
	int status, lines = 0, err = VT_ENOTFOUND;
	pid_t pid;
	FILE *f;

	if (!on_path(prog, sizeof(prog), "diffoscope"))
		return VT_ENOTFOUND;
	snprintf(out, sizeof(out), "%s/diffoscope.txt", work);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawn(&pid, prog, &fa, NULL, argv, environ) == 0 &&
	    waitpid(pid, &status, 0) == pid && (f = fopen(out, "r"))) {
		err = 0;
		while (err == 0 && lines++ < 100 && fgets(line, sizeof(line), f))
			err = vt_buf_printf(report, "  %s", line);
		fclose(f);
	}
	posix_spawn_file_actions_destroy(&fa);
	return err;
}

/* Sizes, first differing offset and number of differing bytes. */
static int byte_summary(vt_buf *report, const char *a, const char *b)
{
	uint8_t ba[65536], bb[65536];
	uint64_t off = 0, first = UINT64_MAX, ndiff = 0, sa = 0, sb = 0;
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int err;

	if (!fa || !fb) {
		err = vt_error_sys(VT_EIO, errno, "cannot compare %s and %s", a, b);
		goto done;
	}
	for (;;) {
		size_t na = fread(ba, 1, sizeof(ba), fa), nb = fread(bb, 1, sizeof(bb), fb);
		size_t common = na < nb ? na : nb;
		sa += na;
		sb += nb;
		for (size_t i = 0; i < common; i++)
			if (ba[i] != bb[i]) {
				if (first == UINT64_MAX)
					first = off + i;
				ndiff++;
			}
		if (na != nb) {
			if (first == UINT64_MAX)
				first = off + common;
		}
		off += common;
		if (na == 0 && nb == 0)
			break;
		if (na != nb) {
			/* Past the shorter file every byte of the longer one differs. */
			FILE *rest = na > nb ? fa : fb;
			uint64_t extra = (na > nb ? na : nb) - common;
			size_t n;
			while ((n = fread(ba, 1, sizeof(ba), rest)) > 0) {
				extra += n;
				if (rest == fa)
					sa += n;
				else
					sb += n;
			}
			ndiff += extra;
			break;
		}
	}
	err =
	    vt_buf_printf(report,
			  "  sizes %llu and %llu bytes; first difference at byte %llu; %llu bytes "
			  "differ\n",
			  (unsigned long long)sa, (unsigned long long)sb, (unsigned long long)first,
			  (unsigned long long)ndiff);
done:
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return err;
}

static int compare_runs(vt_build *b, const vt_build_output *second, const char *dir_a,
			const char *dir_b)
{
	char pa[PATH_MAX], pb[PATH_MAX];
	int err = 0;

	b->reproduced = true;
	for (size_t i = 0; i < b->noutputs; i++) {
		char ha[65], hb[65];
		if (vt_hash_equal(&b->outputs[i].digest, &second[i].digest))
			continue;
		b->reproduced = false;
		vt_hex_encode(ha, b->outputs[i].digest.b, VT_HASH_SIZE);
		vt_hex_encode(hb, second[i].digest.b, VT_HASH_SIZE);
		if ((err = vt_buf_printf(&b->report,
					 "output %s differs: run 1 sha256:%s, run 2 sha256:%s\n",
					 b->outputs[i].name, ha, hb)) < 0)
			return err;
		if ((err = join(pa, sizeof(pa), dir_a, b->outputs[i].name)) < 0)
			return err;
		if ((err = join(pb, sizeof(pb), dir_b, b->outputs[i].name)) < 0)
			return err;
		if (diffoscope(&b->report, pa, pb, b->work_dir) == 0)
			continue;
		if ((err = byte_summary(&b->report, pa, pb)) < 0)
			return err;
	}
	return 0;
}

static int run_once(const vt_build *b, const vt_build_opts *o, const char *src, const char *work,
		    int variant)
{
	char out[PATH_MAX], log[PATH_MAX], tail[400];
	vt_sandbox_opts so = {0};
	vt_sandbox_result res;
	int err;

	snprintf(out, sizeof(out), "%s/out-%d", work, variant + 1);
	snprintf(log, sizeof(log), "%s/log-%d", work, variant + 1);
	if (mkdir(out, 0755) < 0)
		return vt_error_sys(VT_EIO, errno, "%s", out);
	so.src_dir = src;
	so.out_dir = out;
	so.script = b->recipe.build;
	so.env = b->recipe.env;
	so.nenv = b->recipe.nenv;
	so.source_date_epoch = b->recipe.source_date_epoch;
	so.timeout = b->recipe.timeout;
	so.tmp_size = b->recipe.tmp_size;
	so.log_path = log;
	so.variant = variant;
	so.order_any = b->recipe.build_order == VT_ORDER_ANY;
	progress(o, "run %d of %d: %s", variant + 1, o->once ? 1 : 2, vt_sandbox_variant(variant));
	if ((err = vt_sandbox_run(&res, &so)) < 0)
		return err;
	log_tail(tail, sizeof(tail), log);
	if (res.timed_out)
		return vt_error_set(VT_EIO, "run %d timed out after %llu s (log %s)", variant + 1,
				    (unsigned long long)b->recipe.timeout, log);
	if (res.signal || res.exit_status != 0)
		return vt_error_set(VT_EIO, "run %d failed (%s %d; log %s): %s", variant + 1,
				    res.signal ? "signal" : "exit",
				    res.signal ? res.signal : res.exit_status, log, tail);
	progress(o, "run %d done in %.2f s on %d CPU%s%s", variant + 1, res.seconds, res.cpus,
		 res.cpus == 1 ? "" : "s",
		 res.faketime ? ", clock shifted by " VT_SANDBOX_FAKETIME " s (libfaketime)" : "");
	if (variant == 1 && !res.faketime)
		progress(o, "run 2: libfaketime is not installed, the clock was not varied "
			    "(install the faketime package)");
	return 0;
}

/* Wait until the wall clock is in a later second than t. */
static void next_second(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec == t->tv_sec) {
		struct timespec d = {0, 1000000000L - now.tv_nsec + 1000000L};
		if (d.tv_nsec >= 1000000000L) {
			d.tv_sec = 1;
			d.tv_nsec -= 1000000000L;
		}
		nanosleep(&d, NULL);
	}
}

/* Move the first run's outputs into the output directory. */
static int publish(const vt_build *b, const char *out_dir, const char *dir_a)
{
	char from[PATH_MAX], to[PATH_MAX];
	int err;
	for (size_t i = 0; i < b->noutputs; i++) {
		if ((err = join(from, sizeof(from), dir_a, b->outputs[i].name)) < 0)
			return err;
		if ((err = join(to, sizeof(to), out_dir, b->outputs[i].name)) < 0)
			return err;
		if ((err = vt_fs_mkparents(AT_FDCWD, to, 0755)) < 0)
			return err;
		if (rename(from, to) < 0)
			return vt_error_sys(VT_EIO, errno, "cannot move %s to %s", from, to);
	}
	snprintf(from, sizeof(from), "%s/log-1", b->work_dir);
	snprintf(to, sizeof(to), "%s/%s-%s.log", out_dir, b->recipe.name, b->recipe.version);
	if (rename(from, to) < 0)
		return vt_error_sys(VT_EIO, errno, "cannot move %s to %s", from, to);
	return 0;
}

static int prepare_source(vt_build *b, const vt_build_opts *o, char **src_dir, const char *path)
{
	char hex[65], want[65];
	struct stat st;
	vt_hash again;
	int err;

	if (stat(path, &st) < 0)
		return vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno, "source %s",
				    path);
	progress(o, "source %s: digesting", path);
	if ((err = vt_tree_digest(&b->source_digest, NULL, path)) < 0)
		return vt_error_wrap(err, "source");
	vt_hex_encode(hex, b->source_digest.b, VT_HASH_SIZE);
	vt_hex_encode(want, b->recipe.source_digest.b, VT_HASH_SIZE);
	if (!vt_hash_equal(&b->source_digest, &b->recipe.source_digest))
		return vt_error_set(
		    VT_EVERIFY, "source %s has tree digest sha256:%s, the recipe says sha256:%s",
		    path, hex, want);
	if (S_ISDIR(st.st_mode))
		return (*src_dir = strdup(path)) ? 0 : vt_error_set(VT_ENOMEM, "out of memory");
	b->source_is_tar = true;
	if ((err = hash_file(&b->source_file, NULL, path)) < 0)
		return err;
	if (asprintf(src_dir, "%s/src", b->work_dir) < 0) {
		*src_dir = NULL;
		return vt_error_set(VT_ENOMEM, "out of memory");
	}
	if (mkdir(*src_dir, 0755) < 0)
		return vt_error_sys(VT_EIO, errno, "%s", *src_dir);
	if ((err = vt_tree__extract(path, *src_dir)) < 0)
		return err;
	/* What the sandbox sees must be what was digested. */
	if ((err = vt_tree_digest_dir(&again, NULL, *src_dir)) < 0)
		return err;
	if (!vt_hash_equal(&again, &b->source_digest))
		return vt_error_set(VT_ECORRUPT, "the extracted source differs from the tarball");
	return 0;
}

int vt_build_run(vt_build *b, const vt_build_opts *o)
{
	char dir_a[PATH_MAX], dir_b[PATH_MAX], *recipe_real = NULL, *src_dir = NULL;
	char *src_path = NULL, *rdir = NULL;
	vt_build_output *second = NULL;
	uint8_t rnd[16];
	vt_buf text, version;
	int err;

	memset(b, 0, sizeof(*b));
	vt_buf_init(&b->report, 1 << 20);
	vt_buf_init(&text, VT_RECIPE_MAX_SIZE + 1);
	vt_buf_init(&version, 128);
	if (!o->recipe_path || !o->out_dir) {
		err = vt_error_set(VT_EINVAL, "a recipe and an output directory are needed");
		goto done;
	}
	if ((err = vt_fs_read(&text, AT_FDCWD, o->recipe_path)) < 0)
		goto done;
	if ((err = vt_recipe_parse(&b->recipe, (const char *)text.ptr, text.len)) < 0) {
		err = vt_error_wrap(err, "%s", o->recipe_path);
		goto done;
	}
	if (!(recipe_real = realpath(o->recipe_path, NULL)) || !(rdir = strdup(recipe_real)) ||
	    !(b->recipe_name = strdup(basename(recipe_real)))) {
		err = vt_error_sys(VT_EIO, errno, "%s", o->recipe_path);
		goto done;
	}
	if (b->recipe.source[0] == '/')
		err = asprintf(&src_path, "%s", b->recipe.source);
	else
		err = asprintf(&src_path, "%s/%s", dirname(rdir), b->recipe.source);
	if (err < 0) {
		src_path = NULL;
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if ((err = hash_tools(b)) < 0)
		goto done;
	if ((err = vt_sandbox_check(&version)) < 0)
		goto done;
	snprintf(b->sandbox, sizeof(b->sandbox), "%s", vt_buf_cstr(&version));
	progress(o, "sandbox: %s works here (no network, read-only inputs)", b->sandbox);
	if (mkdir(o->out_dir, 0755) < 0 && errno != EEXIST) {
		err = vt_error_sys(VT_EIO, errno, "%s", o->out_dir);
		goto done;
	}
	if (asprintf(&b->work_dir, "%s/.vitrine-build.XXXXXX", o->out_dir) < 0) {
		b->work_dir = NULL;
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if (!mkdtemp(b->work_dir)) {
		err = vt_error_sys(VT_EIO, errno, "cannot make a work directory in %s", o->out_dir);
		goto done;
	}
	if ((err = prepare_source(b, o, &src_dir, src_path)) < 0)
		goto done;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		err = vt_error_sys(VT_EIO, errno, "no random bytes");
		goto done;
	}
	vt_hex_encode(b->invocation_id, rnd, sizeof(rnd));
	b->noutputs = b->recipe.noutputs;
	if (!(b->outputs = calloc(b->noutputs, sizeof(*b->outputs))) ||
	    !(second = calloc(b->noutputs, sizeof(*second)))) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < b->noutputs; i++)
		if (!(b->outputs[i].name = strdup(b->recipe.outputs[i]))) {
			err = vt_error_set(VT_ENOMEM, "out of memory");
			goto done;
		}
	snprintf(dir_a, sizeof(dir_a), "%s/out-1", b->work_dir);
	snprintf(dir_b, sizeof(dir_b), "%s/out-2", b->work_dir);
	clock_gettime(CLOCK_REALTIME, &b->started);
	if ((err = run_once(b, o, src_dir, b->work_dir, 0)) < 0 ||
	    (err = hash_outputs(b->outputs, &b->recipe, dir_a)) < 0)
		goto done;
	b->runs = 1;
	if (!o->once) {
		next_second(&b->started);
		if ((err = run_once(b, o, src_dir, b->work_dir, 1)) < 0 ||
		    (err = hash_outputs(second, &b->recipe, dir_b)) < 0)
			goto done;
		b->runs = 2;
		if ((err = compare_runs(b, second, dir_a, dir_b)) < 0)
			goto done;
	}
	clock_gettime(CLOCK_REALTIME, &b->finished);
	{
		char log[PATH_MAX];
		snprintf(log, sizeof(log), "%s/log-1", b->work_dir);
		if ((err = hash_file(&b->log_digest, NULL, log)) < 0)
			goto done;
	}
	if (o->once || b->reproduced) {
		if ((err = publish(b, o->out_dir, dir_a)) < 0 ||
		    (err = vt_tree__remove(b->work_dir)) < 0)
			goto done;
		free(b->work_dir);
		b->work_dir = NULL;
	}
done:
	/* On failure the work directory stays: the message names its log. */
	if (second)
		for (size_t i = 0; i < b->noutputs; i++)
			free(second[i].name);
	free(second);
	free(recipe_real);
	free(rdir);
	free(src_path);
	free(src_dir);
	vt_buf_dispose(&text);
	vt_buf_dispose(&version);
	return err;
}

void vt_build_dispose(vt_build *b)
{
	vt_recipe_dispose(&b->recipe);
	free(b->recipe_name);
	for (size_t i = 0; i < b->ntools; i++) {
		free(b->tools[i].path);
		free(b->tools[i].resolved);
	}
	free(b->tools);
	for (size_t i = 0; i < b->noutputs; i++)
		free(b->outputs[i].name);
	free(b->outputs);
	vt_buf_dispose(&b->report);
	free(b->work_dir);
	memset(b, 0, sizeof(*b));
}
