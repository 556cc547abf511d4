/* SPDX-License-Identifier: Apache-2.0 */
/* The build sandbox: bubblewrap with no network, read-only inputs and a fixed, varied environment.
 */
#ifndef VITRINE_SANDBOX_H
#define VITRINE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"

#define VT_SANDBOX_UID 1000
#define VT_SANDBOX_SRC "/src" /* where the source appears inside */
#define VT_SANDBOX_OUT "/out" /* the only writable host directory inside */
/* Where libfaketime appears inside run 2, and the offset it applies (1 day 7 hours). */
#define VT_SANDBOX_FAKETIME_LIB "/run/vitrine/libfaketime.so.1"
#define VT_SANDBOX_FAKETIME	"+111600"

/* What one sandboxed run does. */
typedef struct {
	const char *src_dir; /* host directory bound read-only at /src (NULL: none) */
	const char *out_dir; /* host directory bound read-write at /out (must exist) */
	const char *script;  /* shell steps, run by /bin/sh -e in the work directory */
	char *const *env;    /* extra NAME=VALUE strings (the recipe's Environment) */
	size_t nenv;
	uint64_t source_date_epoch; /* exported as SOURCE_DATE_EPOCH */
	uint64_t timeout;	    /* wall-clock seconds before the whole sandbox is killed */
	uint64_t tmp_size;	    /* size cap of the sandbox's tmpfs /tmp, bytes */
	const char *log_path;	    /* file that gets the steps' stdout and stderr */
	int variant;		    /* 0 or 1: which set of variations (see vt_sandbox_variant) */
	bool order_any;		    /* the recipe allows a varied input order (VT_ORDER) */
} vt_sandbox_opts;

/* How a run ended. */
typedef struct {
	int exit_status; /* the steps' exit status when they exited */
	int signal;	 /* the signal that ended the sandbox, else 0 */
	bool timed_out;	 /* killed at the timeout */
	double seconds;	 /* wall-clock duration */
	int cpus;	 /* CPUs in the affinity the run started with (0: unknown) */
	bool faketime;	 /* ran under libfaketime (run 2 when it is installed) */
} vt_sandbox_result;

/*
 * Run opts->script in a fresh bubblewrap sandbox: all namespaces unshared
 * (no network but its own loopback), /usr and the /bin, /lib links of the
 * host read-only, /etc only ld.so.cache and alternatives, the source
 * read-only at /src, opts->out_dir writable at /out, a fresh tmpfs /tmp
 * of tmp_size bytes, uid and gid 1000, no capabilities, a new session,
 * killed with its parent, the environment cleared and set to PATH, HOME,
 * LANG, LC_ALL, TZ, SOURCE_DATE_EPOCH, VT_SRC, VT_OUT, VT_WORK, VT_JOBS,
 * VT_ORDER and the recipe's variables, the umask, hostname, locale, time
 * zone and work directory chosen by variant. Variant 1 also runs on one
 * CPU (the calling thread's lowest; affinity is inherited by the whole
 * tree, so nproc says 1) when the thread may use more than one, and
 * under libfaketime with FAKETIME=VT_SANDBOX_FAKETIME when
 * libfaketime.so.1 is installed (the file named by VITRINE_LIBFAKETIME
 * instead when that is set; empty: none); without it the clock is the
 * real one and out->faketime is false. bwrap is spawned with
 * posix_spawnp in its own process group, killed with SIGKILL at the
 * timeout. A non-zero exit of the steps is not an error of this
 * function: read *out. VT_EIO when bwrap cannot be started or waited for,
 * VT_EINVAL for bad options. Thread-safe (uses no globals) but the caller
 * must not reap unknown children meanwhile.
 */
int vt_sandbox_run(vt_sandbox_result *out, const vt_sandbox_opts *opts);

/*
 * Check that sandboxed builds work on this machine: bwrap is installed,
 * namespaces can be created, the uid is mapped, the network inside has
 * no interface but loopback and /usr is read-only. On success appends
 * bwrap's version line to version (may be NULL). VT_ENOTFOUND when bwrap
 * is missing, VT_EDENIED when it cannot sandbox (the message says what
 * to install or enable), VT_EIO.
 */
int vt_sandbox_check(vt_buf *version);

/*
 * A one-line description of a variant's settings, such as
 * "umask=0022 LC_ALL=C.UTF-8 TZ=UTC hostname=... work=... VT_JOBS=1
 * cpus=2 clock=real", including the CPU count the calling thread would
 * give the run and whether run 2's clock is shifted ("clock=real
 * (libfaketime not installed: not applied)" when it cannot be). Never
 * NULL; a thread-local string, valid until the next call for the same
 * variant in the same thread.
 */
const char *vt_sandbox_variant(int variant);

#endif
