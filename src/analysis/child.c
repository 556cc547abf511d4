/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The confined analyser: a child process that runs the analysis engine on
 * hostile files so that a parser bug costs a child, not the server.
 *
 * Parent side (vt_analysis_sandbox): posix_spawn of the vitrine binary
 * (never fork() of the threaded server) as `vitrine analysis-child`, with
 * a socketpair end as fd 3 and the rules, saved into a sealed memfd, as
 * fd 4. The child loads everything it needs, confines itself and says
 * ready. Per sample the parent sends a request frame with the sample's
 * read-only memfd attached (SCM_RIGHTS) and reads one length-prefixed
 * answer, at most VT_ANALYSIS_RESULT_JSON_MAX bytes, within a deadline:
 * the JSON report, read back with vt_analysis_result_parse, or an error
 * (code and message). A child that dies, overruns the deadline or answers
 * anything else is killed with SIGKILL and reaped, and the call says why;
 * the handle is then dead and the caller starts a new one.
 *
 * Child side (vt_analysis_child_run): after libyara, libmagic, OpenSSL
 * and the rules are initialised (one warm-up analysis touches every
 * lazily loaded piece), and before the first sample is read: every fd but
 * the socket closed, RLIMIT_CORE 0, RLIMIT_FSIZE 0, RLIMIT_NOFILE small,
 * RLIMIT_AS capped, PR_SET_NO_NEW_PRIVS and a seccomp filter that kills
 * the process on any system call outside the list in docs/analysis.md.
 * The child dies with the thread that spawned it (PR_SET_PDEATHSIG) and
 * has its own process group.
 *
 * Frames: the request is "VTQ1" and 4 reserved zero bytes; an answer is
 * "VT", a kind ('R' ready, 'A' report, 'E' error), '1', then the payload
 * length as 32-bit big-endian, then the payload. An error payload is one
 * byte, the negated VT_E* code, then the message.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis_int.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"

#define CHILD_SOCK_FD	    3
#define CHILD_RULES_FD	    4
#define START_MS	    120000 /* loading a large ruleset, under a sanitizer */
#define ERROR_MSG_MAX	    1024
#define NOFILE_MAX	    8 /* the socket, one sample, what libc may need */
#define DEADLINE_MIN_MARGIN 10
#define EXIT_GRACE_MS	    1000 /* from end of file on the socket to the exit status */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define VT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define VT_SANITIZED 1
#endif
#endif

struct vt_analysis_sandbox {
	pid_t pid;
	int sock;
	bool alive;
	bool died_idle;	  /* the last scan found it dead before sending (not the sample's doing) */
	bool fs_confined; /* it said it chroot'ed into an empty view */
	unsigned flags;	  /* VT_ANALYSIS_* it was started with */
	int deadline_s;
	vt_analysis_rules *rules; /* what the child was started with (a reference) */
	char digest[65];	  /* its digest, "" without rules */
};

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- parent side ---- */

void vt_analysis_sandbox_options_default(vt_analysis_sandbox_options *out)
{
	memset(out, 0, sizeof(*out));
	vt_analysis_limits_default(&out->limits);
}

uint64_t vt_analysis_sandbox_memory_default(const vt_analysis_limits *l)
{
	/* Libraries, rules and the mapped sample (an upload is at most 256
	 * MiB by default), plus the unpacked total and one member buffer
	 * that may double while it grows. */
	return ((uint64_t)2 << 30) + l->max_total_size + 2 * l->max_member_size;
}

/* Say how a child ended, from its wait status. */
static void describe(char *how, size_t cap, int st)
{
	if (WIFSIGNALED(st)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(st));
		snprintf(how, cap, "signal %d%s%s%s", WTERMSIG(st), abbrev ? " (SIG" : "",
			 abbrev ? abbrev : "", abbrev ? ")" : "");
	} else if (WIFEXITED(st)) {
		snprintf(how, cap, "exit status %d", WEXITSTATUS(st));
	}
}

/*
 * Reap the child and say how it ended. It is always killed before the
 * blocking wait: a child that closed its socket may still be running,
 * and its pid cannot be reused before it is reaped, so the kill never
 * hits another process. A child that is on its way out by itself (end of
 * file on the socket) gets grace_ms to finish, so that its own status is
 * reported rather than our SIGKILL; *killed (may be NULL) says whether
 * the status is ours.
 */
static void reap(vt_analysis_sandbox *sb, int grace_ms, bool *killed, char *how, size_t cap)
{
	int st = 0, waited = 0;
	pid_t r;

	if (killed != NULL)
		*killed = false;
	if (sb->pid <= 0)
		goto closed;
	for (;;) {
		r = waitpid(sb->pid, &st, WNOHANG);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != 0 || waited >= grace_ms)
			break;
		usleep(1000);
		waited++;
	}
	if (r == 0) {
		kill(sb->pid, SIGKILL);
		if (killed != NULL)
			*killed = true;
		do
			r = waitpid(sb->pid, &st, 0);
		while (r < 0 && errno == EINTR);
	}
	if (how != NULL && r == sb->pid)
		describe(how, cap, st);
	else if (how != NULL)
		snprintf(how, cap, "lost (%s)", strerror(errno));
	sb->pid = 0;
closed:
	sb->alive = false;
	if (sb->sock >= 0)
		close(sb->sock);
	sb->sock = -1;
}

/*
 * Read exactly len bytes before the deadline. 0, 1 on end of file or a
 * socket error, 2 when the deadline passed.
 */
static int read_full(int fd, uint8_t *p, size_t len, int64_t deadline)
{
	while (len > 0) {
		struct pollfd pfd = {fd, POLLIN, 0};
		int64_t left = deadline - now_ms();
		ssize_t n;
		int r;
		if (left <= 0)
			return 2;
		r = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return 1;
		if (r == 0)
			continue;
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return 1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A request frame and the room for the one fd it carries (SCM_RIGHTS).
 * The control buffer comes last: clang counts CMSG_SPACE as variable
 * sized, allowed only at the end.
 */
typedef struct {
	uint8_t req[8];
	struct iovec iov;
	struct msghdr msg;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
} request;

/* Point r's message at its own frame and control buffer, both zeroed. */
static void request_init(request *r)
{
	memset(r, 0, sizeof(*r));
	r->iov.iov_base = r->req;
	r->iov.iov_len = sizeof(r->req);
	r->msg.msg_iov = &r->iov;
	r->msg.msg_iovlen = 1;
	r->msg.msg_control = r->u.buf;
	r->msg.msg_controllen = sizeof(r->u.buf);
}

/*
 * Read one answer frame: its kind and payload (into a fresh buffer).
 * On failure the child is reaped and the message says what happened.
 */
static int read_frame(char *kind, vt_buf *payload, vt_analysis_sandbox *sb, int64_t deadline,
		      int deadline_s, const char *doing)
{
	uint8_t hdr[8];
	char how[96] = "";
	uint32_t len;
	bool killed = false;
	int r, err = 0;

	r = read_full(sb->sock, hdr, sizeof(hdr), deadline);
	if (r == 0 && (hdr[0] != 'V' || hdr[1] != 'T' || hdr[3] != '1' ||
		       (hdr[2] != 'R' && hdr[2] != 'A' && hdr[2] != 'E'))) {
		reap(sb, 0, NULL, NULL, 0);
		err = vt_error_set(VT_EIO, "analyser sent a malformed answer: not a frame");
		goto done;
	}
	if (r == 0) {
		len = vt_get_be32(hdr + 4);
		if (len > VT_ANALYSIS_RESULT_JSON_MAX) {
			reap(sb, 0, NULL, NULL, 0);
			err = vt_error_set(VT_EIO,
					   "analyser sent a malformed answer: %" PRIu32
					   " bytes, more than the limit",
					   len);
			goto done;
		}
		if ((err = vt_buf_reserve(payload, len)) < 0) {
			reap(sb, 0, NULL, NULL, 0);
			goto done;
		}
		r = read_full(sb->sock, payload->ptr, len, deadline);
		payload->len = len;
		payload->ptr[len] = 0;
	}
	if (r == 2) {
		reap(sb, 0, NULL, NULL, 0);
		err = vt_error_set(VT_EIO, "analyser timed out after %d s%s", deadline_s, doing);
		goto done;
	}
	if (r == 1) {
		/* End of file: it died, left, or closed the socket and runs on. */
		reap(sb, EXIT_GRACE_MS, &killed, how, sizeof(how));
		if (killed)
			err = vt_error_set(VT_EIO, "analyser closed its socket without exiting%s",
					   doing);
		else if (strncmp(how, "signal", 6) == 0)
			err = vt_error_set(VT_EIO, "analyser crashed: %s%s", how, doing);
		else
			err = vt_error_set(VT_EIO, "analyser exited (%s)%s", how, doing);
		goto done;
	}
	*kind = (char)hdr[2];
done:
	return err;
}

/*
 * The child's environment: not the server's (which may hold secrets), only
 * LANG=C, TZ when set, and the sanitizers' options when set. Under ASan
 * its SEGV/BUS handlers are turned off in the child: their report needs
 * system calls the filter refuses, and a fault must show as the signal it
 * is, as in a normal build. out[] gets at most CHILD_ENV_MAX strings and
 * a NULL, each malloc'd (free them with env_free).
 */
#define CHILD_ENV_MAX 6

static void env_free(char **env)
{
	for (size_t i = 0; i < CHILD_ENV_MAX && env[i] != NULL; i++)
		free(env[i]);
}

static int child_env(char **out)
{
	static const char *const keep[] = {"TZ", "UBSAN_OPTIONS", "LSAN_OPTIONS"};
	const char *asan = getenv("ASAN_OPTIONS");
#ifdef VT_SANITIZED
	static const char off[] = "handle_segv=0:handle_sigbus=0";
#else
	static const char off[] = "";
#endif
	size_t k = 0;
	int err = 0;

	memset(out, 0, (CHILD_ENV_MAX + 1) * sizeof(*out));
	if ((out[k++] = strdup("LANG=C")) == NULL)
		goto nomem;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		const char *v = getenv(keep[i]);
		if (v != NULL && asprintf(&out[k++], "%s=%s", keep[i], v) < 0) {
			out[--k] = NULL;
			goto nomem;
		}
	}
	if ((asan != NULL || off[0] != '\0') &&
	    asprintf(&out[k++], "ASAN_OPTIONS=%s%s%s", asan ? asan : "",
		     asan && *asan && off[0] ? ":" : "", off) < 0) {
		out[--k] = NULL;
		goto nomem;
	}
	goto done;
nomem:
	env_free(out);
	memset(out, 0, (CHILD_ENV_MAX + 1) * sizeof(*out));
	err = vt_error_set(VT_ENOMEM, "out of memory");
done:
	return err;
}

static int spawn(vt_analysis_sandbox *sb, const vt_analysis_sandbox_options *o,
		 const vt_analysis_limits *lim)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	/* borrowed: the rules' own descriptor; rules_fd: our dup of it. */
	int sv[2] = {-1, -1}, borrowed = -1, rules_fd = -1, child_sock = -1, err = 0, rc;
	char ppid[24], limits[128], flags[24], mem[24], deadline[24];
	const char *exe = o->exe ? o->exe : "/proc/self/exe";
	char *argv[20], *env[CHILD_ENV_MAX + 1] = {NULL};
	int argc = 0;
	bool fa_ok = false, at_ok = false;

	if (sb->rules != NULL && (err = vt_analysis__rules_fd(&borrowed, sb->rules)) < 0)
		goto done;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		err = vt_error_sys(VT_EIO, errno, "socketpair");
		goto done;
	}
	/* dup2 to 3 and 4 must not overwrite a source: move both above them. */
	if ((borrowed >= 0 && (rules_fd = fcntl(borrowed, F_DUPFD_CLOEXEC, 10)) < 0) ||
	    (child_sock = fcntl(sv[1], F_DUPFD_CLOEXEC, 10)) < 0) {
		err = vt_error_sys(VT_EIO, errno, "fcntl F_DUPFD");
		goto done;
	}
	snprintf(ppid, sizeof(ppid), "%ld", (long)getpid());
	snprintf(limits, sizeof(limits), "%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%d",
		 lim->max_depth, lim->max_members, lim->max_member_size, lim->max_total_size,
		 lim->timeout_s);
	snprintf(flags, sizeof(flags), "%u", o->flags);
	snprintf(mem, sizeof(mem), "%" PRIu64,
		 o->memory_max ? o->memory_max : vt_analysis_sandbox_memory_default(lim));
	snprintf(deadline, sizeof(deadline), "%d", sb->deadline_s);
	argv[argc++] = "vitrine";
	argv[argc++] = "analysis-child";
	argv[argc++] = "--ppid";
	argv[argc++] = ppid;
	argv[argc++] = "--rules";
	argv[argc++] = sb->rules ? sb->digest : "none";
	argv[argc++] = "--limits";
	argv[argc++] = limits;
	argv[argc++] = "--flags";
	argv[argc++] = flags;
	argv[argc++] = "--memory-max";
	argv[argc++] = mem;
	if (o->test != NULL) {
		argv[argc++] = "--test";
		argv[argc++] = (char *)o->test;
	}
	argv[argc] = NULL;

	if (posix_spawn_file_actions_init(&fa) != 0 || posix_spawnattr_init(&at) != 0) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	fa_ok = at_ok = true;
	/* fd 3 and 4 by dup2 (which clears close-on-exec), nothing else above. */
	posix_spawn_file_actions_adddup2(&fa, child_sock, CHILD_SOCK_FD);
	if (rules_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, rules_fd, CHILD_RULES_FD);
	posix_spawn_file_actions_addclosefrom_np(&fa, rules_fd >= 0 ? CHILD_RULES_FD + 1
								    : CHILD_SOCK_FD + 1);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					  POSIX_SPAWN_SETPGROUP);
	if ((err = child_env(env)) < 0)
		goto done;
	if ((rc = posix_spawn(&sb->pid, exe, &fa, &at, argv, env)) != 0) {
		sb->pid = 0;
		err = vt_error_sys(VT_EIO, rc, "analyser could not start: %s", exe);
		goto done;
	}
	sb->sock = sv[0];
	sv[0] = -1;
done:
	env_free(env);
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (at_ok)
		posix_spawnattr_destroy(&at);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (child_sock >= 0)
		close(child_sock);
	if (rules_fd >= 0)
		close(rules_fd);
	return err;
}

int vt_analysis_sandbox_new(vt_analysis_sandbox **out, vt_analysis_rules *rules,
			    const vt_analysis_sandbox_options *opt)
{
	vt_analysis_sandbox_options o;
	vt_analysis_sandbox *sb = NULL;
	vt_analysis_limits lim;
	vt_buf payload;
	char kind = 0;
	int err;

	*out = NULL;
	vt_buf_init(&payload, VT_ANALYSIS_RESULT_JSON_MAX);
	if (opt != NULL)
		o = *opt;
	else
		vt_analysis_sandbox_options_default(&o);
	lim = o.limits;
	if (lim.max_depth == 0)
		vt_analysis_limits_default(&lim);
	if ((sb = calloc(1, sizeof(*sb))) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	sb->sock = -1;
	sb->flags = o.flags;
	sb->rules = vt_analysis_rules_ref(rules);
	if (rules != NULL)
		memcpy(sb->digest, vt_analysis_rules_digest(rules), sizeof(sb->digest));
	/* YARA's time is per file or member: give the whole tree a margin. */
	sb->deadline_s = o.deadline_s > 0 ? o.deadline_s
			 : lim.timeout_s > DEADLINE_MIN_MARGIN
			     ? 2 * lim.timeout_s
			     : lim.timeout_s + DEADLINE_MIN_MARGIN;
	if ((err = spawn(sb, &o, &lim)) < 0)
		goto done;
	err = read_frame(&kind, &payload, sb, now_ms() + START_MS, START_MS / 1000, " at start");
	if (err < 0) {
		err = vt_error_wrap(VT_EIO, "analyser could not start");
		goto done;
	}
	if (kind != 'R') {
		reap(sb, 0, NULL, NULL, 0);
		err = vt_error_set(VT_EIO, "analyser could not start: %s",
				   kind == 'E' && payload.len > 1 ? (char *)payload.ptr + 1
								  : "unexpected answer");
		goto done;
	}
	sb->fs_confined = payload.len == 1 && payload.ptr[0] == '1';
	sb->alive = true;
	*out = sb;
	sb = NULL;
done:
	vt_buf_dispose(&payload);
	vt_analysis_sandbox_free(sb);
	return err;
}

void vt_analysis_sandbox_free(vt_analysis_sandbox *sb)
{
	if (sb == NULL)
		return;
	reap(sb, 0, NULL, NULL, 0);
	vt_analysis_rules_unref(sb->rules);
	free(sb);
}

bool vt_analysis_sandbox_alive(const vt_analysis_sandbox *sb)
{
	return sb != NULL && sb->alive;
}

const vt_analysis_rules *vt_analysis_sandbox_rules(const vt_analysis_sandbox *sb)
{
	return sb->rules;
}

long vt_analysis_sandbox_pid(const vt_analysis_sandbox *sb)
{
	return sb->alive ? (long)sb->pid : 0;
}

/*
 * The error an E frame stands for, with its message as one printable
 * line. The child chooses the code, so only the codes an analysis fails
 * with are taken as they are; any other (VT_EBUSY, VT_EDENIED, ...)
 * becomes VT_EIO, so that it cannot pass for something the parent
 * decides. *malformed when the frame is not one.
 */
static int error_frame(bool *malformed, const vt_buf *p)
{
	char msg[ERROR_MSG_MAX + 1];
	size_t n = 0;
	int code;

	*malformed = p->len < 1 || p->ptr[0] < 1 || p->ptr[0] > 10;
	if (*malformed)
		return vt_error_set(VT_EIO, "analyser sent a malformed answer: bad error frame");
	code = -(int)p->ptr[0];
	if (code != VT_EINVAL && code != VT_ETOOBIG && code != VT_ENOMEM && code != VT_ECORRUPT)
		code = VT_EIO;
	for (size_t i = 1; i < p->len && n < ERROR_MSG_MAX; i++)
		msg[n++] = p->ptr[i] < 0x20 || p->ptr[i] == 0x7f ? '?' : (char)p->ptr[i];
	msg[n] = '\0';
	return vt_error_set(code, "analysis failed: %s", msg);
}

/*
 * Send the request before the deadline: a child that reads no requests
 * fills the socket's buffer, and a blocking send would wait for ever.
 * 0, 1 when the child is gone, 2 when the deadline passed.
 */
static int send_request(int sock, const struct msghdr *msg, size_t len, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {sock, POLLOUT, 0};
		int64_t left = deadline - now_ms();
		ssize_t n = sendmsg(sock, msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == (ssize_t)len)
			return 0;
		if (n >= 0 || (errno != EINTR && errno != EAGAIN))
			return 1; /* a part of 8 bytes: not a stream we can resume */
		if (errno == EINTR)
			continue;
		if (left <= 0)
			return 2;
		if (poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left) < 0 && errno != EINTR)
			return 1;
	}
}

/* Whether the report is of the file sent: its size and, when hashed, its SHA-256. */
static bool same_file(const vt_analysis_result *res, const vt_analysis_sandbox *sb, int fd,
		      const char *sha256)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && res->root.size != (uint64_t)st.st_size)
		return false;
	/* Without hashes (YARA only) the child was not asked for one. */
	if (sha256 != NULL && !(sb->flags & VT_ANALYSIS_YARA_ONLY) &&
	    (!res->root.hashed || strcmp(res->root.sha256, sha256) != 0))
		return false;
	return true;
}

int vt_analysis_sandbox_scan_fd(vt_analysis_result *out, vt_analysis_sandbox *sb, int fd,
				const char *sha256)
{
	request r;
	struct cmsghdr *cm;
	char how[96] = "", kind = 0;
	vt_buf payload;
	int64_t deadline;
	bool killed = false, malformed = false;
	int err = 0, sent;

	memset(out, 0, sizeof(*out));
	vt_buf_init(&payload, VT_ANALYSIS_RESULT_JSON_MAX);
	if (sb != NULL)
		sb->died_idle = false;
	if (!vt_analysis_sandbox_alive(sb)) {
		err = vt_error_set(VT_EIO, "analyser is not running");
		goto done;
	}
	/* Died while idle (killed from outside, out of memory): not this
	 * sample's doing. Nor is a child that speaks unasked, but it is
	 * killed. */
	{
		struct pollfd pfd = {sb->sock, POLLIN, 0};
		if (poll(&pfd, 1, 0) == 1) {
			reap(sb, EXIT_GRACE_MS, &killed, how, sizeof(how));
			sb->died_idle = true;
			if (killed)
				err = vt_error_set(VT_EIO, "analyser spoke while idle (killed)");
			else
				err = vt_error_set(VT_EIO, "analyser died while idle (%s)",
						   how[0] ? how : "gone");
			goto done;
		}
	}
	request_init(&r);
	memcpy(r.req, "VTQ1", 4);
	cm = CMSG_FIRSTHDR(&r.msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	deadline = now_ms() + (int64_t)sb->deadline_s * 1000;
	if ((sent = send_request(sb->sock, &r.msg, sizeof(r.req), deadline)) != 0) {
		reap(sb, sent == 1 ? EXIT_GRACE_MS : 0, &killed, how, sizeof(how));
		if (sent == 2)
			err = vt_error_set(VT_EIO,
					   "analyser timed out after %d s (reads no requests)",
					   sb->deadline_s);
		else if (killed)
			err = vt_error_set(VT_EIO, "analyser closed its socket without exiting");
		else
			err = vt_error_set(VT_EIO, "analyser crashed: %s before the sample",
					   how[0] ? how : "gone");
		goto done;
	}
	if ((err = read_frame(&kind, &payload, sb, deadline, sb->deadline_s, "")) < 0)
		goto done;
	if (kind == 'E') {
		err = error_frame(&malformed, &payload);
		if (malformed)
			reap(sb, 0, NULL, NULL, 0);
		goto done;
	}
	if (kind != 'A') {
		reap(sb, 0, NULL, NULL, 0);
		err = vt_error_set(VT_EIO, "analyser sent a malformed answer: unexpected frame");
		goto done;
	}
	if ((err = vt_analysis_result_parse(out, (const char *)payload.ptr, payload.len)) < 0) {
		reap(sb, 0, NULL, NULL, 0);
		err = vt_error_wrap(VT_EIO, "analyser sent a malformed answer");
		goto done;
	}
	if (strcmp(out->rules_digest, sb->digest) != 0) {
		vt_analysis_result_dispose(out);
		reap(sb, 0, NULL, NULL, 0);
		err = vt_error_set(VT_EIO, "analyser sent a malformed answer: another ruleset");
		goto done;
	}
	if (!same_file(out, sb, fd, sha256)) {
		vt_analysis_result_dispose(out);
		reap(sb, 0, NULL, NULL, 0);
		err = vt_error_set(
		    VT_EIO, "analyser sent a malformed answer: it answered for another file");
		goto done;
	}
done:
	vt_buf_dispose(&payload);
	return err;
}

bool vt_analysis_sandbox_fs_confined(const vt_analysis_sandbox *sb)
{
	return sb != NULL && sb->fs_confined;
}

bool vt_analysis_sandbox_died_idle(const vt_analysis_sandbox *sb)
{
	return sb != NULL && sb->died_idle;
}

/* ---- child side ---- */

/* The parent writes these: canonical decimal only (no sign, no 007). */
static int parse_u64(uint64_t *out, const char *s)
{
	if (vt_parse_u64(out, s, strlen(s)) < 0)
		return vt_error_set(VT_EINVAL, "not a number: \"%s\"", s);
	return 0;
}

int vt_analysis_child_args(vt_analysis_child_options *out, int argc, char **argv)
{
	uint64_t v = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->sock = CHILD_SOCK_FD;
	out->rules_fd = -1;
	vt_analysis_limits_default(&out->limits);
	for (int i = 1; i < argc && err == 0; i += 2) {
		const char *k = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (val == NULL) {
			err = vt_error_set(VT_EINVAL, "%s wants a value", k);
		} else if (strcmp(k, "--ppid") == 0) {
			if ((err = parse_u64(&v, val)) == 0)
				out->ppid = (long)v;
		} else if (strcmp(k, "--rules") == 0) {
			if (strcmp(val, "none") == 0)
				continue;
			if (strlen(val) != 64)
				err = vt_error_set(VT_EINVAL, "--rules wants a digest or none");
			memcpy(out->digest, val, strlen(val) == 64 ? 65 : 1);
			out->rules_fd = CHILD_RULES_FD;
		} else if (strcmp(k, "--limits") == 0) {
			unsigned d;
			uint64_t m, ms, ts;
			int t, used = 0;
			if (sscanf(val, "%u,%" SCNu64 ",%" SCNu64 ",%" SCNu64 ",%d%n", &d, &m, &ms,
				   &ts, &t, &used) != 5 ||
			    val[used] != '\0' || t < 1)
				err = vt_error_set(VT_EINVAL, "bad --limits \"%s\"", val);
			out->limits = (vt_analysis_limits){d, m, ms, ts, t};
		} else if (strcmp(k, "--flags") == 0) {
			if ((err = parse_u64(&v, val)) == 0)
				out->flags = (unsigned)v;
		} else if (strcmp(k, "--memory-max") == 0) {
			err = parse_u64(&out->memory_max, val);
		} else if (strcmp(k, "--test") == 0) {
			snprintf(out->test, sizeof(out->test), "%s", val);
		} else {
			err = vt_error_set(VT_EINVAL, "unknown option %s", k);
		}
	}
	if (err == 0 && out->ppid == 0)
		err = vt_error_set(VT_EINVAL, "--ppid is required");
	return err;
}

static int send_frame(int sock, char kind, const void *p, size_t len)
{
	uint8_t hdr[8] = {'V', 'T', (uint8_t)kind, '1', 0, 0, 0, 0};
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)p, len}};
	struct msghdr msg = {0};
	size_t left = sizeof(hdr) + len;

	vt_put_be32(hdr + 4, (uint32_t)len);
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	while (left > 0) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return vt_error_sys(VT_EIO, errno, "sending an answer");
		left -= (size_t)n;
		/* Move the iovecs past what went. */
		while (n > 0 && msg.msg_iovlen > 0) {
			size_t k =
			    (size_t)n < msg.msg_iov->iov_len ? (size_t)n : msg.msg_iov->iov_len;
			msg.msg_iov->iov_base = (uint8_t *)msg.msg_iov->iov_base + k;
			msg.msg_iov->iov_len -= k;
			n -= (ssize_t)k;
			if (msg.msg_iov->iov_len == 0) {
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
		}
	}
	return 0;
}

static int send_error(int sock, int code, const char *message)
{
	char p[ERROR_MSG_MAX + 1];
	size_t n = strlen(message);

	if (n > ERROR_MSG_MAX)
		n = ERROR_MSG_MAX;
	p[0] = (char)(code < 0 && code >= -10 ? -code : -VT_EIO);
	memcpy(p + 1, message, n);
	return send_frame(sock, 'E', p, n + 1);
}

/* A tiny gzip'ed tar: the warm-up opens a container too. */
static const uint8_t warm_tgz[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xed, 0xd0, 0x31, 0x0e, 0xc2, 0x30,
    0x10, 0x04, 0x40, 0xd7, 0xbc, 0xc2, 0x1f, 0x08, 0x72, 0x90, 0xe1, 0x3f, 0x29, 0x28, 0x52, 0x40,
    0x90, 0xe3, 0x10, 0x9e, 0x4f, 0xa0, 0x42, 0x14, 0x50, 0x81, 0x14, 0x69, 0xa6, 0xd9, 0xd3, 0x6e,
    0x77, 0xf3, 0xb6, 0xde, 0x6a, 0xf8, 0xad, 0xb4, 0x38, 0xe4, 0xfc, 0xcc, 0xc5, 0x7b, 0xa6, 0xb4,
    0x7b, 0xb9, 0x1f, 0x7d, 0x9b, 0xf6, 0x6d, 0x0e, 0x31, 0x85, 0x3f, 0x98, 0xc6, 0xda, 0x95, 0x18,
    0x43, 0x19, 0x86, 0x8f, 0x7f, 0xf8, 0xb6, 0xaf, 0xd4, 0xb5, 0xaf, 0xa5, 0x3f, 0x1f, 0xe3, 0xdc,
    0x95, 0x53, 0x33, 0x5d, 0x36, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x55,
    0xb8, 0x03, 0xd2, 0x01, 0x37, 0x26, 0x00, 0x28, 0x00, 0x00,
};

static int add_rule(scmp_filter_ctx f, int nr, unsigned n, const struct scmp_arg_cmp *a)
{
	int rc = n ? seccomp_rule_add_array(f, SCMP_ACT_ALLOW, nr, n, a)
		   : seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
	return rc == 0 ? 0 : vt_error_set(VT_EIO, "seccomp: cannot allow %d (%d)", nr, rc);
}

/*
 * The filter: what scanning a memfd and answering on the socket needs
 * (docs/analysis.md lists each call and why); anything else kills.
 */
static int seccomp_on(int sock)
{
	static const int plain[] = {
	    SCMP_SYS(read),
	    SCMP_SYS(pread64),
	    SCMP_SYS(recvmsg),
	    SCMP_SYS(lseek),
	    SCMP_SYS(fstat),
	    SCMP_SYS(close),
	    SCMP_SYS(munmap),
	    SCMP_SYS(mremap),
	    SCMP_SYS(brk),
	    SCMP_SYS(madvise),
	    SCMP_SYS(futex),
	    SCMP_SYS(clock_gettime),
	    SCMP_SYS(gettimeofday),
	    SCMP_SYS(exit_group),
	    SCMP_SYS(exit),
	    SCMP_SYS(rt_sigreturn),
	    SCMP_SYS(getrandom),
	    SCMP_SYS(rt_sigprocmask),
	    SCMP_SYS(sched_yield),
	    SCMP_SYS(getpid),
	    SCMP_SYS(gettid),
	    SCMP_SYS(restart_syscall),
#ifdef VT_SANITIZED
	    /* ASan unsets its alternate signal stack when a thread ends (docs/analysis.md). */
	    SCMP_SYS(sigaltstack),
#endif
	};
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	struct scmp_arg_cmp fd_is_sock = {0, SCMP_CMP_EQ, (scmp_datum_t)sock, 0};
	struct scmp_arg_cmp no_exec = {2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0};
	/* Written out: clang warns about SCMP_A*()'s missing datum_b. */
	struct scmp_arg_cmp empty_path = {3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH};

	int err = 0, rc;

	if (f == NULL) {
		err = vt_error_set(VT_ENOMEM, "seccomp_init failed");
		goto done;
	}
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]) && err == 0; i++)
		err = add_rule(f, plain[i], 0, NULL);
	/* Writes only to the socket; no executable memory; fstat only by fd. */
	if (err == 0)
		err = add_rule(f, SCMP_SYS(write), 1, &fd_is_sock);
	if (err == 0)
		err = add_rule(f, SCMP_SYS(sendmsg), 1, &fd_is_sock);
	if (err == 0)
		err = add_rule(f, SCMP_SYS(mmap), 1, &no_exec);
	if (err == 0)
		err = add_rule(f, SCMP_SYS(mprotect), 1, &no_exec);
	if (err == 0)
		err = add_rule(f, SCMP_SYS(newfstatat), 1, &empty_path);

	if (err < 0)
		goto done;
	if ((rc = seccomp_load(f)) != 0)
		err = vt_error_set(VT_EIO, "seccomp_load failed (%d)", rc);
done:
	if (f != NULL)
		seccomp_release(f);
	return err;
}

static int set_limit(int which, rlim_t v, const char *name)
{
	struct rlimit rl = {v, v};

	if (setrlimit(which, &rl) != 0)
		return vt_error_sys(VT_EIO, errno, "setrlimit %s", name);
	return 0;
}

/*
 * An empty view of the file system. seccomp cannot read a path, and
 * newfstatat with AT_EMPTY_PATH (how glibc's fstat reaches the kernel)
 * still looks a non-empty path up. In a user namespace of our own (or as
 * root) chroot into /proc/self/fdinfo: it holds no file, only an entry
 * per open fd, and nothing can be created in it. The capabilities the new
 * namespace gives are dropped again. *fs_confined false when neither
 * works (user namespaces off and not root): paths can then still be
 * stat'ed, never opened (docs/analysis.md).
 */
static int confine_fs(bool *fs_confined)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
	int err = 0;

	*fs_confined = false;
	memset(none, 0, sizeof(none));
	if (unshare(CLONE_NEWUSER) != 0 && geteuid() != 0)
		goto done;
	if (chroot("/proc/self/fdinfo") != 0 || chdir("/") != 0)
		goto done; /* no /proc: as without namespaces */
	*fs_confined = true;
	if (syscall(SYS_capset, &hdr, none) != 0)
		err = vt_error_sys(VT_EIO, errno, "capset");
done:
	return err;
}

/* Everything after which a sample may be read. */
static int confine(bool *fs_confined, const vt_analysis_child_options *o)
{
	int err;

	/* Only the socket stays (the rules are loaded; stdio goes too). */
	for (int fd = 0; fd < CHILD_SOCK_FD; fd++)
		close(fd);
	if (close_range(CHILD_SOCK_FD + 1, ~0U, 0) != 0) {
		err = vt_error_sys(VT_EIO, errno, "close_range");
		goto done;
	}
	if ((err = set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE")) < 0 ||
	    (err = set_limit(RLIMIT_FSIZE, 0, "RLIMIT_FSIZE")) < 0 ||
	    (err = set_limit(RLIMIT_NOFILE, NOFILE_MAX, "RLIMIT_NOFILE")) < 0)
		goto done;
#ifndef VT_SANITIZED
	/* ASan reserves terabytes of address space: no cap under sanitizers. */
	if ((err = set_limit(RLIMIT_AS, (rlim_t)o->memory_max, "RLIMIT_AS")) < 0)
		goto done;
#endif
	if ((err = confine_fs(fs_confined)) < 0)
		goto done;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		err = vt_error_sys(VT_EIO, errno, "PR_SET_NO_NEW_PRIVS");
		goto done;
	}
	err = seccomp_on(o->sock);
done:
	return err;
}

/*
 * Tests only: what a compromised analyser might try, after confinement,
 * when it gets a sample. True when it answered (the sample is not scanned).
 */
static bool test_action(const char *test, int sock, int fd, vt_analysis_worker *w)
{
	static const char garbage[] = "{\"depth\": \"zero\"}";
	static const char other[] = "not the sample";
	volatile unsigned long spin = 0;
	vt_analysis_result res;
	struct stat st;
	vt_buf out;
	uint8_t b;

	if (strcmp(test, "open") == 0) {
		(void)open("/etc/passwd", O_RDONLY);
	} else if (strcmp(test, "socket") == 0) {
		(void)socket(AF_INET, SOCK_STREAM, 0);
	} else if (strcmp(test, "execve") == 0) {
		(void)execve("/bin/true", (char *[]){"true", NULL}, (char *[]){NULL});
	} else if (strcmp(test, "hang") == 0) {
		(void)read(sock, &b, 1); /* the parent sends nothing more */
	} else if (strcmp(test, "garbage") == 0) {
		(void)send_frame(sock, 'A', garbage, sizeof(garbage) - 1);
		return true;
	} else if (strcmp(test, "exit") == 0) {
		_exit(3);
	} else if (strcmp(test, "close-spin") == 0) {
		close(sock);
		for (;;)
			spin++;
	} else if (strcmp(test, "ebusy") == 0) {
		(void)send_error(sock, VT_EBUSY, "pretend to be idle");
		return true;
	} else if (strcmp(test, "stat") == 0) {
		/* A path through the call the filter allows for fstat. */
		int r = fstatat(AT_FDCWD, "/etc/passwd", &st, AT_EMPTY_PATH);
		(void)send_error(sock, VT_EINVAL,
				 r == 0		   ? "stat /etc/passwd: found"
				 : errno == ENOENT ? "stat /etc/passwd: ENOENT"
						   : "stat /etc/passwd: another error");
		return true;
	} else if (strcmp(test, "noread") == 0) {
		/* Answers to requests it never reads, one every 10 ms (after
		 * the parent's check for unasked data), until the parent's
		 * requests fill the socket. */
		vt_buf_init(&out, VT_ANALYSIS_RESULT_JSON_MAX);
		if (vt_analysis_scan_fd(&res, w, fd) == 0 &&
		    vt_analysis_result_json(&out, &res, NULL) == 0) {
			while (send_frame(sock, 'A', out.ptr, out.len) == 0) {
				int64_t until = now_ms() + 10;
				while (now_ms() < until)
					spin++;
			}
		}
		_exit(4);
	} else if (strcmp(test, "other") == 0) {
		/* A valid report, of another file. */
		vt_buf_init(&out, VT_ANALYSIS_RESULT_JSON_MAX);
		if (vt_analysis_scan_mem(&res, w, other, sizeof(other) - 1) == 0) {
			if (vt_analysis_result_json(&out, &res, NULL) == 0)
				(void)send_frame(sock, 'A', out.ptr, out.len);
			vt_analysis_result_dispose(&res);
		}
		vt_buf_dispose(&out);
		return true;
	}
	return false;
}

/* Receive one request and its fd: 1 with *fd, 0 at end of file, < 0. */
static int recv_request(int *fd, int sock)
{
	request r;
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	request_init(&r);
	do
		n = recvmsg(sock, &r.msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	for (cm = CMSG_FIRSTHDR(&r.msg); cm != NULL; cm = CMSG_NXTHDR(&r.msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) && *fd < 0)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	}
	if (n != (ssize_t)sizeof(r.req) || memcmp(r.req, "VTQ1", 4) != 0 || *fd < 0 ||
	    (r.msg.msg_flags & MSG_CTRUNC)) {
		if (*fd >= 0)
			close(*fd);
		return vt_error_set(VT_EINVAL, "not a request");
	}
	return 1;
}

int vt_analysis_child_run(bool *confined, const vt_analysis_child_options *o)
{
	vt_analysis_rules *rules = NULL;
	vt_analysis_engine *eng = NULL;
	vt_analysis_worker *w = NULL;
	vt_analysis_result res;
	struct stat st;
	vt_buf out;
	bool fs_confined = false;
	int err, fd = -1;

	*confined = false;
	vt_buf_init(&out, VT_ANALYSIS_RESULT_JSON_MAX);
	/* Die with the thread that spawned us, also if it is gone already. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || (long)getppid() != o->ppid) {
		err = vt_error_set(VT_EIO, "the parent is gone");
		goto done;
	}
	if (fstat(o->sock, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		err = vt_error_set(VT_EINVAL, "fd %d is not a socket: run by vitrine serve only",
				   o->sock);
		goto done;
	}
	if (o->rules_fd >= 0) {
		err = vt_analysis__rules_load_fd(&rules, o->rules_fd, o->digest);
		close(o->rules_fd);
		if (err < 0)
			goto done;
	}
	/* A fault is a crash here: libyara must not catch it and go on. */
	if ((err = vt_analysis_engine_new(&eng, rules, &o->limits,
					  o->flags | VT_ANALYSIS_NO_TRYCATCH)) < 0 ||
	    (err = vt_analysis_worker_new(&w, eng)) < 0)
		goto done;
	/* Load lazily initialised pieces (OpenSSL's digests, libmagic's and
	 * libarchive's readers, the time zone) while files may be opened. */
	/* Without TZ glibc stats /etc/localtime on every mktime(); with TZ
	 * set it reads the zone once, here. The same zone either way. */
	if (getenv("TZ") == NULL)
		setenv("TZ", ":/etc/localtime", 1);
	tzset();
	json_object_seed(0); /* jansson reads /dev/urandom for its first object */
	if ((err = vt_analysis_scan_mem(&res, w, warm_tgz, sizeof(warm_tgz))) < 0)
		goto done;
	vt_analysis_result_dispose(&res);
	/* From here on stderr is closed and a write to it kills (SIGSYS). */
	*confined = true;
	if ((err = confine(&fs_confined, o)) < 0)
		goto done;
	if ((err = send_frame(o->sock, 'R', fs_confined ? "1" : "0", 1)) < 0)
		goto done;
	for (;;) {
		int r = recv_request(&fd, o->sock);
		if (r == 0)
			break;
		if (r < 0) {
			err = r;
			goto done;
		}
		if (o->test[0] != '\0' && test_action(o->test, o->sock, fd, w)) {
			close(fd);
			fd = -1;
			continue;
		}
		vt_buf_reset(&out);
		err = vt_analysis_scan_fd(&res, w, fd);
		close(fd);
		fd = -1;
		if (err == 0) {
			err = vt_analysis_result_json(&out, &res, NULL);
			vt_analysis_result_dispose(&res);
			if (err == VT_ETOOBIG)
				err =
				    vt_error_set(VT_ETOOBIG, "the report is larger than %zu bytes",
						 (size_t)VT_ANALYSIS_RESULT_JSON_MAX);
			else if (err == 0) /* what the parent would refuse, refused here */
				err = vt_analysis__result_budget((const char *)out.ptr, out.len);
		}
		if (err == 0)
			err = send_frame(o->sock, 'A', out.ptr, out.len);
		else
			err = send_error(o->sock, err, vt_error_last());
		if (err < 0)
			goto done;
	}
	err = 0;
done:
	if (fd >= 0)
		close(fd);
	vt_buf_dispose(&out);
	vt_analysis_worker_free(w);
	vt_analysis_engine_free(eng);
	vt_analysis_rules_unref(rules);
	return err;
}
