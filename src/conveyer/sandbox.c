/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sandboxed runs with bubblewrap.
 *
 * The host is visible only through read-only binds of /usr (and the
 * /bin, /lib links or directories that point into it), the two /etc
 * files the dynamic linker and Debian's alternatives need, the source
 * and the output directory. The steps run under a wrapper shell that
 * sets the umask and work directory of the variant and then execs
 * /bin/sh -e on the steps. bwrap is the only process we start, in its own
 * process group: killing that group kills bwrap, and with it (PID
 * namespace, --die-with-parent) everything inside.
 *
 * Two variations act below the shell: the CPU count and the clock. Run 2
 * is spawned from a thread pinned to one CPU (posix_spawn's child
 * inherits the calling thread's affinity, and so does everything bwrap
 * starts), so nproc and sched_getaffinity() report one CPU; the thread's
 * own mask is restored right after. Run 2 also runs with libfaketime
 * preloaded (when installed) so that the clock reads a day and seven
 * hours later. Both are best effort by nature: a build may widen its own
 * affinity again, and statically linked tools or direct system calls
 * read the real clock.
 */
#include "vitrine/sandbox.h"
#include "vitrine/clock.h"
#include "vitrine/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS    160
#define VT__STR2(x) #x
#define VT__STR(x)  VT__STR2(x)

typedef struct {
	const char *umask;
	const char *locale;
	const char *tz;
	const char *hostname;
	const char *work;
	const char *jobs;
	const char *order;
	const char *text;
} variant_t;

/*
 * Two settings that differ in everything a build can observe cheaply.
 * "<+14>-14" is a POSIX TZ string, so it needs no tzdata in the sandbox.
 */
static const variant_t variants[2] = {
    {"0022", "C.UTF-8", "UTC", "vitrine-build", "/tmp/build", "1", "forward",
     "umask=0022 LANG=LC_ALL=C.UTF-8 TZ=UTC hostname=vitrine-build work=/tmp/build "
     "VT_JOBS=1 VT_ORDER=forward"},
    {"0027", "C", "<+14>-14", "rebuild-b.vitrine.invalid", "/tmp/w/second-build-dir", "4",
     "reverse",
     "umask=0027 LANG=LC_ALL=C TZ=<+14>-14 hostname=rebuild-b.vitrine.invalid "
     "work=/tmp/w/second-build-dir VT_JOBS=4 VT_ORDER=reverse"},
};

/* Where Debian's libfaketime lives for this architecture. */
#if defined(__x86_64__)
#define VT__TRIPLET "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define VT__TRIPLET "aarch64-linux-gnu"
#elif defined(__i386__)
#define VT__TRIPLET "i386-linux-gnu"
#elif defined(__arm__)
#define VT__TRIPLET "arm-linux-gnueabihf"
#elif defined(__riscv) && __riscv_xlen == 64
#define VT__TRIPLET "riscv64-linux-gnu"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define VT__TRIPLET "powerpc64le-linux-gnu"
#elif defined(__s390x__)
#define VT__TRIPLET "s390x-linux-gnu"
#endif

static const char *faketime_lib(void)
{
	static const char *const paths[] = {
#ifdef VT__TRIPLET
	    "/usr/lib/" VT__TRIPLET "/faketime/libfaketime.so.1",
#endif
	    "/usr/lib/faketime/libfaketime.so.1",
	};
	const char *env = getenv("VITRINE_LIBFAKETIME");

	/* The override lets tests (and odd installs) name another file or none. */
	if (env)
		return env[0] && access(env, R_OK) == 0 ? env : NULL;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], R_OK) == 0)
			return paths[i];
	return NULL;
}

/*
 * The CPUs a variant's process tree gets: the calling thread's own for
 * run 1, its lowest CPU alone for run 2. Returns the count; 0 when the
 * mask cannot be read (the run then keeps whatever it inherits).
 */
static int plan_cpus(cpu_set_t *set, int variant)
{
	int n;

	CPU_ZERO(set);
	if (sched_getaffinity(0, sizeof(*set), set) < 0)
		return 0;
	n = CPU_COUNT(set);
	if (variant && n > 1) {
		for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if (CPU_ISSET(cpu, set)) {
				CPU_ZERO(set);
				CPU_SET(cpu, set);
				break;
			}
		n = 1;
	}
	return n;
}

const char *vt_sandbox_variant(int variant)
{
	static __thread char text[2][400];
	const char *lib = faketime_lib();
	cpu_set_t set;
	int v = variant ? 1 : 0, n = plan_cpus(&set, v);
	char cpus[48], clock[120];

	if (n == 0)
		snprintf(cpus, sizeof(cpus), "cpus=unknown");
	else if (v && plan_cpus(&set, 0) == 1)
		snprintf(cpus, sizeof(cpus), "cpus=1 (one CPU here: not varied)");
	else
		snprintf(cpus, sizeof(cpus), "cpus=%d", n);
	if (!v)
		snprintf(clock, sizeof(clock), "clock=real");
	else if (lib)
		snprintf(clock, sizeof(clock), "clock=%s (libfaketime)", VT_SANDBOX_FAKETIME);
	else
		snprintf(clock, sizeof(clock),
			 "clock=real (libfaketime not installed: not applied)");
	snprintf(text[v], sizeof(text[v]), "%s %s %s", variants[v].text, cpus, clock);
	return text[v];
}

typedef struct {
	char *v[MAX_ARGS + 1];
	char *owned[32]; /* strings made here, freed after the run */
	size_t n, nowned;
	bool overflow;
} argv_t;

static void arg(argv_t *a, const char *s)
{
	if (a->n < MAX_ARGS)
		a->v[a->n++] = (char *)s;
	else
		a->overflow = true;
	a->v[a->n] = NULL;
}

static void arg_fmt(argv_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg_fmt(argv_t *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (a->nowned == sizeof(a->owned) / sizeof(a->owned[0]) || vasprintf(&s, fmt, ap) < 0) {
		a->overflow = true;
		s = NULL;
	}
	va_end(ap);
	if (s) {
		a->owned[a->nowned++] = s;
		arg(a, s);
	}
}

static void args_free(argv_t *a)
{
	for (size_t i = 0; i < a->nowned; i++)
		free(a->owned[i]);
}

static void setenv_arg(argv_t *a, const char *name, const char *value)
{
	arg(a, "--setenv");
	arg(a, name);
	arg(a, value);
}

/* The host's view of /usr and the top-level links or directories into it. */
static void bind_system(argv_t *a)
{
	static const char *const tops[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
	static __thread char targets[6][256];

	arg(a, "--ro-bind");
	arg(a, "/usr");
	arg(a, "/usr");
	for (size_t i = 0; i < 6; i++) {
		struct stat st;
		ssize_t n;
		if (lstat(tops[i], &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode) &&
		    (n = readlink(tops[i], targets[i], sizeof(targets[i]) - 1)) > 0) {
			targets[i][n] = 0;
			arg(a, "--symlink");
			arg(a, targets[i]);
			arg(a, tops[i]);
		} else if (S_ISDIR(st.st_mode)) {
			arg(a, "--ro-bind");
			arg(a, tops[i]);
			arg(a, tops[i]);
		}
	}
	arg(a, "--ro-bind-try");
	arg(a, "/etc/ld.so.cache");
	arg(a, "/etc/ld.so.cache");
	arg(a, "--ro-bind-try");
	arg(a, "/etc/alternatives");
	arg(a, "/etc/alternatives");
}

/* The wrapper: umask and work directory of the variant, then the steps. */
static const char wrapper[] =
    "umask \"$VT_UMASK\" && unset VT_UMASK && mkdir -p \"$VT_WORK\" && cd \"$VT_WORK\" && "
    "exec /bin/sh -e -c \"$1\" vitrine-build";

static void build_args(argv_t *a, const vt_sandbox_opts *o, const variant_t *v,
		       const char *faketime)
{
	arg(a, "bwrap");
	arg(a, "--unshare-all");
	arg(a, "--die-with-parent");
	arg(a, "--new-session");
	arg(a, "--cap-drop");
	arg(a, "ALL");
	arg(a, "--uid");
	arg(a, VT__STR(VT_SANDBOX_UID));
	arg(a, "--gid");
	arg(a, VT__STR(VT_SANDBOX_UID));
	arg(a, "--hostname");
	arg(a, v->hostname);
	bind_system(a);
	arg(a, "--proc");
	arg(a, "/proc");
	arg(a, "--dev");
	arg(a, "/dev");
	arg(a, "--size");
	arg_fmt(a, "%llu", (unsigned long long)o->tmp_size);
	arg(a, "--tmpfs");
	arg(a, "/tmp");
	if (o->src_dir) {
		arg(a, "--ro-bind");
		arg(a, o->src_dir);
		arg(a, VT_SANDBOX_SRC);
	}
	arg(a, "--bind");
	arg(a, o->out_dir);
	arg(a, VT_SANDBOX_OUT);
	if (faketime) {
		/* Bound at a fixed path: the library may live outside /usr. */
		arg(a, "--ro-bind");
		arg(a, faketime);
		arg(a, VT_SANDBOX_FAKETIME_LIB);
	}
	arg(a, "--remount-ro");
	arg(a, "/");
	arg(a, "--chdir");
	arg(a, "/");
	arg(a, "--clearenv");
	setenv_arg(a, "PATH", "/usr/bin:/bin:/usr/sbin:/sbin");
	setenv_arg(a, "HOME", "/nonexistent");
	setenv_arg(a, "LANG", v->locale);
	setenv_arg(a, "LC_ALL", v->locale);
	setenv_arg(a, "TZ", v->tz);
	arg(a, "--setenv");
	arg(a, "SOURCE_DATE_EPOCH");
	arg_fmt(a, "%llu", (unsigned long long)o->source_date_epoch);
	setenv_arg(a, "VT_SRC", VT_SANDBOX_SRC);
	setenv_arg(a, "VT_OUT", VT_SANDBOX_OUT);
	setenv_arg(a, "VT_WORK", v->work);
	setenv_arg(a, "VT_JOBS", v->jobs);
	setenv_arg(a, "VT_ORDER", o->order_any ? v->order : "forward");
	setenv_arg(a, "VT_UMASK", v->umask);
	if (faketime) {
		setenv_arg(a, "LD_PRELOAD", VT_SANDBOX_FAKETIME_LIB);
		setenv_arg(a, "FAKETIME", VT_SANDBOX_FAKETIME);
		/* Timeouts and sleeps inside keep real durations. */
		setenv_arg(a, "FAKETIME_DONT_FAKE_MONOTONIC", "1");
	}
	for (size_t i = 0; i < o->nenv; i++) {
		const char *eq = strchr(o->env[i], '=');
		if (!eq) {
			a->overflow = true;
			continue;
		}
		arg(a, "--setenv");
		arg_fmt(a, "%.*s", (int)(eq - o->env[i]), o->env[i]);
		arg(a, eq + 1);
	}
	arg(a, "/bin/sh");
	arg(a, "-c");
	arg(a, wrapper);
	arg(a, "vitrine-sandbox");
	arg(a, o->script);
}

/* Wait for pid until deadline (monotonic seconds); 1 when it timed out. */
static int wait_until(int *status, pid_t pid, double deadline)
{
	long pfd = syscall(SYS_pidfd_open, pid, 0);
	int timed_out = 0;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		double left;
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			timed_out = -1;
			break;
		}
		left = deadline - vt_monotonic_seconds();
		if (left <= 0) {
			kill(-pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			timed_out = 1;
			break;
		}
		if (pfd >= 0) {
			struct pollfd p = {.fd = (int)pfd, .events = POLLIN};
			poll(&p, 1, left > 1 ? 1000 : (int)(left * 1000) + 1);
		} else {
			struct timespec ts = {0, 5 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	if (pfd >= 0)
		close((int)pfd);
	return timed_out;
}

int vt_sandbox_run(vt_sandbox_result *out, const vt_sandbox_opts *o)
{
	static char *const bwrap_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	cpu_set_t own, run;
	argv_t a = {0};
	const char *faketime = o->variant ? faketime_lib() : NULL;
	bool pinned = false;
	double start;
	pid_t pid;
	int status = 0, r, err = 0;

	memset(out, 0, sizeof(*out));
	if (!o->out_dir || !o->script || !o->log_path || o->tmp_size == 0 || o->timeout == 0)
		return vt_error_set(
		    VT_EINVAL, "sandbox: out_dir, script, log, timeout and tmp size are needed");
	build_args(&a, o, &variants[o->variant ? 1 : 0], faketime);
	if (a.overflow) {
		args_free(&a);
		return vt_error_set(VT_EINVAL, "sandbox: too many arguments or a bad variable");
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, o->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	out->cpus = plan_cpus(&run, o->variant);
	out->faketime = faketime != NULL;
	/* Only this thread is pinned, and only while it spawns bwrap. */
	if (o->variant && out->cpus > 0 && sched_getaffinity(0, sizeof(own), &own) == 0 &&
	    CPU_COUNT(&own) > out->cpus) {
		if (sched_setaffinity(0, sizeof(run), &run) < 0) {
			err = vt_error_sys(VT_EIO, errno, "cannot restrict the CPUs of run 2");
			goto done;
		}
		pinned = true;
	}
	start = vt_monotonic_seconds();
	r = posix_spawnp(&pid, "bwrap", &fa, &attr, a.v, bwrap_env);
	if (pinned && sched_setaffinity(0, sizeof(own), &own) < 0 && r == 0) {
		/* The child runs on: reap it before reporting. */
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		err = vt_error_sys(VT_EIO, errno, "cannot restore this thread's CPUs");
		goto done;
	}
	if (r != 0) {
		err = vt_error_sys(r == ENOENT ? VT_ENOTFOUND : VT_EIO, r, "cannot start bwrap");
		goto done;
	}
	r = wait_until(&status, pid, start + (double)o->timeout);
	out->seconds = vt_monotonic_seconds() - start;
	if (r < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot wait for bwrap");
		goto done;
	}
	out->timed_out = r == 1;
	if (WIFEXITED(status))
		out->exit_status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		out->signal = WTERMSIG(status);
done:
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	args_free(&a);
	return err;
}

/* The first line of a file, for error messages. */
static void first_line(char *buf, size_t size, const char *path)
{
	FILE *f = fopen(path, "r");
	buf[0] = 0;
	if (f) {
		if (fgets(buf, (int)size, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

/*
 * Run inside: the only interface is lo, the uid is mapped, /usr cannot be
 * written, /out can. Distinct exit codes say which part failed.
 */
static const char check_script[] =
    "if grep -v -e 'Inter-' -e 'face' -e '^ *lo:' /proc/net/dev | grep -q .; then exit 3; fi\n"
    "[ \"$(id -u)\" = 1000 ] || exit 4\n"
    "if touch /usr/.vitrine-check 2>/dev/null; then exit 5; fi\n"
    "touch /out/check || exit 6\n";

int vt_sandbox_check(vt_buf *version)
{
	char dir[] = "/tmp/vitrine-check.XXXXXX", out[64], log[64], line[512];
	vt_sandbox_opts o = {0};
	vt_sandbox_result res;
	bool made = false;
	int err;

	if (!mkdtemp(dir)) {
		err = vt_error_sys(VT_EIO, errno, "cannot make a temporary directory");
		goto done;
	}
	made = true;
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	if (mkdir(out, 0755) < 0) {
		err = vt_error_sys(VT_EIO, errno, "%s", out);
		goto done;
	}
	o.out_dir = out;
	o.script = check_script;
	o.timeout = 30;
	o.tmp_size = 1 << 20;
	o.log_path = log;
	if ((err = vt_sandbox_run(&res, &o)) < 0) {
		if (err == VT_ENOTFOUND)
			err = vt_error_set(VT_ENOTFOUND,
					   "bubblewrap (bwrap) is not installed: install "
					   "the bubblewrap package (apt-get install bubblewrap)");
		goto done;
	}
	first_line(line, sizeof(line), log);
	switch (res.exit_status) {
	case 0: err = 0; break;
	case 3:
		err = vt_error_set(VT_EDENIED,
				   "the sandbox sees a network interface other than loopback");
		break;
	case 4:
		err = vt_error_set(VT_EDENIED, "the sandbox cannot map the build user (uid 1000)");
		break;
	case 5: err = vt_error_set(VT_EDENIED, "the sandbox can write to /usr"); break;
	case 6:
		err = vt_error_set(VT_EDENIED, "the sandbox cannot write its output directory");
		break;
	default:
		err = vt_error_set(
		    VT_EDENIED,
		    "bwrap cannot make a sandbox here (%s): enable unprivileged user "
		    "namespaces (sysctl kernel.unprivileged_userns_clone=1 and "
		    "user.max_user_namespaces > 0) or run where namespaces are allowed",
		    line[0] ? line : "no message");
	}
	if (err == 0 && version) {
		/* The version is provenance, not a check: keep going without it. */
		static char *const argv[] = {"bwrap", "--version", NULL};
		static char *const env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
		posix_spawn_file_actions_t fa;
		pid_t pid;
		int status;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (posix_spawnp(&pid, "bwrap", &fa, NULL, argv, env) == 0 &&
		    waitpid(pid, &status, 0) == pid) {
			first_line(line, sizeof(line), log);
			err = vt_buf_adds(version, line);
		}
		posix_spawn_file_actions_destroy(&fa);
	}
done:
	if (made) {
		unlink(log);
		snprintf(line, sizeof(line), "%s/check", out);
		unlink(line);
		rmdir(out);
		rmdir(dir);
	}
	return err;
}
