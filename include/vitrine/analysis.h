/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The analysis engine: hashes, fuzzy hashes, file type, entropy, YARA
 * matches, PE/ELF facts, container members as children, and a verdict.
 *
 * Three objects, for three lifetimes:
 * - vt_analysis_rules: a compiled YARA ruleset and the digest of its
 *   source set. Immutable once built and reference-counted, so a server
 *   can swap rulesets while scans in flight finish on the old one.
 * - vt_analysis_engine: shared by every thread; holds the current rules
 *   and the limits. vt_analysis_engine_set_rules swaps atomically.
 * - vt_analysis_worker: one per thread; owns a YARA scanner, a libmagic
 *   cookie and scratch buffers. Never share a worker between threads.
 *
 * A result is a tree of vt_analysis_node: the file analysed, then the
 * members of a container as children (and theirs, down to the depth
 * limit). vt_analysis_result_json turns it into the JSON report described
 * in docs/analysis.md.
 */
#ifndef VITRINE_ANALYSIS_H
#define VITRINE_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"

/* Verdicts, ordered so that a larger value is worse (see docs/analysis.md). */
typedef enum {
	VT_VERDICT_CLEAN = 0,
	VT_VERDICT_UNKNOWN = 1,
	VT_VERDICT_SUSPICIOUS = 2,
	VT_VERDICT_MALICIOUS = 3,
} vt_verdict;

/* "clean", "unknown", "suspicious" or "malicious". */
const char *vt_verdict_name(vt_verdict v);

/* Parse a verdict name; VT_EINVAL for anything else. */
int vt_verdict_parse(vt_verdict *out, const char *name);

/* Limits on one analysis (one top-level file and everything inside it). */
typedef struct {
	unsigned max_depth;	  /* container nesting; the file itself is depth 0 */
	uint64_t max_members;	  /* members opened, over the whole tree */
	uint64_t max_member_size; /* bytes of one unpacked member */
	uint64_t max_total_size;  /* bytes unpacked, over the whole tree */
	int timeout_s;		  /* YARA time per file or member, in seconds */
} vt_analysis_limits;

/* Defaults: depth 5, 10,000 members, 64 MiB a member, 256 MiB in all, 60 s. */
void vt_analysis_limits_default(vt_analysis_limits *out);

/* What an analysis computes. */
enum {
	VT_ANALYSIS_YARA_ONLY = 1 << 0,	  /* YARA matches only: no hashes, type or children */
	VT_ANALYSIS_NO_CHILDREN = 1 << 1, /* do not open containers */
	/* A memory fault during a YARA scan kills the process instead of being
	 * caught by libyara's SIGSEGV/SIGBUS handlers (the confined child sets
	 * it: after a fault it must not go on, and it may not install handlers). */
	VT_ANALYSIS_NO_TRYCATCH = 1 << 2,
};

/* ---- rules ---- */

typedef struct vt_analysis_rules vt_analysis_rules;

/*
 * Compile the YARA sources at path: one file, or every *.yar and *.yara
 * file under a directory (recursively, in byte order of relative path),
 * each in its own namespace (its relative path). A fresh compiler with
 * includes disabled; a compile error, or a warning that a rule slows
 * scanning, refuses the set with VT_EINVAL and a message naming
 * file:line (all problems, one a line). A path that does not exist is
 * VT_ENOTFOUND; no source file in a directory is VT_EINVAL.
 * When facts is true, the pe and elf modules are imported in a hidden
 * namespace so that PE and ELF facts are reported for every file.
 * On success *out holds one reference. Thread-safe.
 */
int vt_analysis_rules_compile(vt_analysis_rules **out, const char *path, bool facts);

/*
 * Compile rules from memory, as if from one file named name. Same rules
 * as vt_analysis_rules_compile. Used by tests and the fuzz target.
 */
int vt_analysis_rules_compile_string(vt_analysis_rules **out, const char *name, const char *source,
				     bool facts);

/*
 * Load rules compiled by `yarac` (yr_rules_load). The digest is the
 * SHA-256 of the file (see docs/analysis.md). VT_ENOTFOUND, VT_EINVAL.
 */
int vt_analysis_rules_load(vt_analysis_rules **out, const char *path);

/* Take one more reference. Thread-safe. */
vt_analysis_rules *vt_analysis_rules_ref(vt_analysis_rules *r);

/* Drop a reference; the last one frees the rules. NULL is fine. */
void vt_analysis_rules_unref(vt_analysis_rules *r);

/* Lower-case hex SHA-256 of the canonical source set (64 chars). Borrowed. */
const char *vt_analysis_rules_digest(const vt_analysis_rules *r);

/* Number of rules (without hidden ones). */
unsigned vt_analysis_rules_count(const vt_analysis_rules *r);

/* Warnings the compiler gave that did not refuse the set ("" if none). Borrowed. */
const char *vt_analysis_rules_warnings(const vt_analysis_rules *r);

/* ---- engine and workers ---- */

typedef struct vt_analysis_engine vt_analysis_engine;
typedef struct vt_analysis_worker vt_analysis_worker;

/*
 * A new engine. rules may be NULL (no YARA matches; every verdict is
 * clean or unknown); the engine takes its own reference. limits NULL means
 * the defaults. Initialises libyara once per process. VT_ENOMEM, VT_EIO.
 */
int vt_analysis_engine_new(vt_analysis_engine **out, vt_analysis_rules *rules,
			   const vt_analysis_limits *limits, unsigned flags);

/* Free the engine; every worker must have been freed. NULL is fine. */
void vt_analysis_engine_free(vt_analysis_engine *e);

/*
 * Replace the rules (may be NULL). Analyses already running finish on the
 * old rules; the next analysis of each worker uses the new ones. Thread-safe.
 */
void vt_analysis_engine_set_rules(vt_analysis_engine *e, vt_analysis_rules *rules);

/* The current rules with one reference for the caller (NULL when none). */
vt_analysis_rules *vt_analysis_engine_rules(vt_analysis_engine *e);

/*
 * A worker for the calling thread: a libmagic cookie (loaded here), a
 * YARA scanner (made on first use of each ruleset). VT_ENOMEM, VT_EIO.
 */
int vt_analysis_worker_new(vt_analysis_worker **out, vt_analysis_engine *e);

/* Free a worker. NULL is fine. */
void vt_analysis_worker_free(vt_analysis_worker *w);

/* The libmagic version (such as "5.44") the workers use. */
const char *vt_analysis_magic_version(void);

/* ---- results ---- */

/* One YARA match. Strings are owned by the result. */
typedef struct {
	char *rule;
	char *ns;
	char **tags;
	size_t ntags;
	char *meta_json;    /* JSON object of the rule's metadata */
	vt_verdict verdict; /* what the rule says (see docs/analysis.md) */
} vt_analysis_match;

typedef struct vt_analysis_node vt_analysis_node;

/* One file or member analysed. Everything is owned by the result. */
struct vt_analysis_node {
	char *name;	/* member path inside its parent; NULL for the top */
	unsigned depth; /* 0 for the file analysed */
	uint64_t size;
	bool hashed; /* false in YARA-only mode: the next fields are empty */
	char md5[33];
	char sha1[41];
	char sha256[65];
	char ssdeep[160]; /* "" when not computed */
	char tlsh[80];	  /* "T1..." or "" when the input is too small or uniform */
	char *type;	  /* libmagic description; NULL when not computed */
	char *mime;
	double entropy; /* bits per byte, 0..8 */
	vt_analysis_match *matches;
	size_t nmatches;
	char *facts_json;   /* {"pe": {...}} or {"elf": {...}} or NULL */
	char *container;    /* libarchive format and filters when opened, else NULL */
	vt_verdict verdict; /* of this node and everything inside it */
	char *reason;	    /* why the verdict is unknown, or a note; NULL */
	bool timed_out;
	vt_analysis_node *children;
	size_t nchildren;
};

/* The result of analysing one file. */
typedef struct {
	vt_analysis_node root;
	char rules_digest[65]; /* "" when the engine had no rules */
	uint64_t members;      /* members opened */
	uint64_t unpacked;     /* bytes unpacked */
} vt_analysis_result;

/* Free what a result holds; it can be reused. */
void vt_analysis_result_dispose(vt_analysis_result *r);

/*
 * Analyse len bytes. The data is not kept. On success *out is filled
 * (dispose it); limits reached, a timeout or an unreadable container are
 * not errors but an `unknown` verdict with a reason. VT_ENOMEM, or
 * VT_EIO when a library fails outright. Not thread-safe per worker.
 */
int vt_analysis_scan_mem(vt_analysis_result *out, vt_analysis_worker *w, const void *data,
			 size_t len);

/*
 * Analyse an open file (a regular file or a memfd), read from offset 0
 * through a private mapping; fd stays open and is not moved. VT_EIO when
 * it cannot be read, else as vt_analysis_scan_mem.
 */
int vt_analysis_scan_fd(vt_analysis_result *out, vt_analysis_worker *w, int fd);

/*
 * Append the JSON report of r to b (one line, no newline), with path as
 * "path" when not NULL. VT_ETOOBIG, VT_ENOMEM.
 */
int vt_analysis_result_json(vt_buf *b, const vt_analysis_result *r, const char *path);

/* Bounds of a report that vt_analysis_result_parse accepts. */
#define VT_ANALYSIS_RESULT_JSON_MAX    ((size_t)32 << 20) /* bytes of the text */
#define VT_ANALYSIS_RESULT_NODES_MAX   100000		  /* nodes in the tree */
#define VT_ANALYSIS_RESULT_DEPTH_MAX   64		  /* nesting of members */
#define VT_ANALYSIS_RESULT_MATCHES_MAX 1000000		  /* matches in the tree */

/*
 * Read a JSON report written by vt_analysis_result_json back into *out
 * (dispose it), strictly: every field's type and range is checked and
 * unknown keys are refused, within the bounds above ("path" and
 * "magic_version" are checked and dropped). What it accepts it writes
 * back byte for byte the same. Meant for untrusted input (the answer of
 * a confined analysis child). VT_EINVAL (with what is wrong), VT_ETOOBIG,
 * VT_ENOMEM; *out is empty on failure. Thread-safe.
 */
int vt_analysis_result_parse(vt_analysis_result *out, const char *json, size_t len);

/* Shannon entropy of len bytes in bits per byte (0 for len 0). Pure. */
double vt_analysis_entropy(const void *data, size_t len);

/* ---- the confined analyser (a child process) ---- */

typedef struct vt_analysis_sandbox vt_analysis_sandbox;

typedef struct {
	const char *exe;	   /* the vitrine binary; NULL: /proc/self/exe */
	vt_analysis_limits limits; /* max_depth 0: the defaults */
	unsigned flags;		   /* VT_ANALYSIS_* */
	uint64_t memory_max;	   /* RLIMIT_AS of the child; 0: vt_analysis_sandbox_memory_default */
	int deadline_s;		   /* wall time for one sample; 0: see docs/analysis.md */
	/* Tests only: NULL, or what the child does with its next sample:
	 * "open", "socket", "execve", "hang", "garbage", "exit", "close-spin",
	 * "ebusy", "stat", "other", "noread" (child.c, test_action). */
	const char *test;
} vt_analysis_sandbox_options;

/* Options with the default limits and nothing else set. */
void vt_analysis_sandbox_options_default(vt_analysis_sandbox_options *out);

/* The default RLIMIT_AS of a child: 2 GiB + total + twice the member limit. */
uint64_t vt_analysis_sandbox_memory_default(const vt_analysis_limits *l);

/*
 * Start a confined analysis child (`vitrine analysis-child`, spawned, not
 * forked) with rules (may be NULL; the handle keeps a reference, the rules
 * are saved once and passed as a sealed memfd) and wait until it is
 * loaded and confined. opt NULL: the defaults. VT_EIO with "analyser
 * could not start: ..." (exited, crashed, timed out or refused), VT_ENOMEM.
 * A handle is used by one thread at a time; the child dies with the
 * thread that started it.
 */
int vt_analysis_sandbox_new(vt_analysis_sandbox **out, vt_analysis_rules *rules,
			    const vt_analysis_sandbox_options *opt);

/* Kill (SIGKILL) and reap the child, free the handle. NULL is fine. */
void vt_analysis_sandbox_free(vt_analysis_sandbox *sb);

/*
 * Analyse the file open at fd (a memfd or regular file; passed to the
 * child, which may only read it) in the child: *out as from
 * vt_analysis_scan_fd (dispose it). sha256 is the file's SHA-256 in
 * lower-case hex, or NULL: the report must be of a file of fd's size
 * and, unless the child was started with VT_ANALYSIS_YARA_ONLY, of that
 * SHA-256. When the child crashes, exits, closes its socket, times out or
 * answers anything but a valid report of this file, it is killed and
 * reaped, the handle is dead (vt_analysis_sandbox_alive false) and the
 * call fails with VT_EIO and "analyser crashed: signal 11 (SIGSEGV)",
 * "analyser timed out after N s", "analyser exited (exit status N)",
 * "analyser closed its socket without exiting" or "analyser sent a
 * malformed answer: ..." (such as "it answered for another file"). An
 * error of the analysis itself is returned with "analysis failed: ..."
 * and its code (VT_EINVAL, VT_ETOOBIG, VT_ENOMEM, VT_ECORRUPT; any other
 * code the child sends is VT_EIO), and the child goes on. A child found
 * dead (or talking) before the sample was sent is VT_EIO, "analyser died
 * while idle (...)", with vt_analysis_sandbox_died_idle true: not the
 * sample's doing, start another and retry.
 */
int vt_analysis_sandbox_scan_fd(vt_analysis_result *out, vt_analysis_sandbox *sb, int fd,
				const char *sha256);

/* Whether the last vt_analysis_sandbox_scan_fd found the child dead before it sent the sample. */
bool vt_analysis_sandbox_died_idle(const vt_analysis_sandbox *sb);

/*
 * Whether the child's view of the file system is empty (a chroot in a
 * user namespace of its own, or as root): false where neither is
 * possible, and then the child can stat, never open, paths.
 */
bool vt_analysis_sandbox_fs_confined(const vt_analysis_sandbox *sb);

/* Whether the child is running and answered well so far. */
bool vt_analysis_sandbox_alive(const vt_analysis_sandbox *sb);

/* The rules the child was started with (borrowed; NULL for none). */
const vt_analysis_rules *vt_analysis_sandbox_rules(const vt_analysis_sandbox *sb);

/* The child's process id, 0 when it is not running. */
long vt_analysis_sandbox_pid(const vt_analysis_sandbox *sb);

/* What `vitrine analysis-child` was told on its command line. */
typedef struct {
	int sock;		   /* the socket to the parent (fd 3) */
	int rules_fd;		   /* saved rules (fd 4), -1 for none */
	char digest[65];	   /* their digest */
	long ppid;		   /* the parent's process id */
	vt_analysis_limits limits;
	unsigned flags;
	uint64_t memory_max; /* RLIMIT_AS */
	char test[16];	     /* tests only */
} vt_analysis_child_options;

/*
 * Read the arguments that vt_analysis_sandbox_new gives the child (argv[0]
 * is the subcommand). VT_EINVAL.
 */
int vt_analysis_child_args(vt_analysis_child_options *out, int argc, char **argv);

/*
 * The child's life: load rules and engine, confine the process (closes
 * every other fd, stdio too; rlimits; an empty file system view where
 * possible; no new privileges; seccomp), say ready, then answer requests
 * until the parent closes the socket (0). *confined is set true before
 * the confinement starts: from then on nothing may be written to stderr
 * (it is closed, and the filter kills a write to any fd but the socket).
 * Call it only in a process of its own; exit with _exit() after it.
 */
int vt_analysis_child_run(bool *confined, const vt_analysis_child_options *o);

#endif
