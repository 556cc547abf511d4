/* SPDX-License-Identifier: Apache-2.0 */
/* Shared pieces of the vitrine commands. */
#ifndef VITRINE_CLI_H
#define VITRINE_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/checkpoint.h"
#include "vitrine/client.h"
#include "vitrine/note.h"
#include "vitrine/storage.h"

/* Exit statuses. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_vault(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_files(int argc, char **argv);
/* src/analysis (cli files listed in src/analysis/meson.build) */
int cmd_scan(int argc, char **argv);
int cmd_rules(int argc, char **argv);
/* src/conveyer (cli files listed in src/conveyer/meson.build) */
int cmd_build(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_rebuild(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_bundle(int argc, char **argv);

/* Print "vitrine: <what>: <last error>" and return EXIT_FAIL. */
int cli_fail(const char *what);

/* Print "vitrine: <msg>" plus a hint to use --help; return EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Load the signer from DIR/log.key. */
int cli_load_signer(vt_note_signer **out, const char *dir);

/* Load a verifier key from a file holding one vkey line. */
int cli_load_vkey(vt_note_verifier **out, const char *path);

/* Where a log is read from: a data directory or a server. */
typedef struct {
	vt_storage *st; /* --dir */
	vt_client *cl;	/* --url */
} cli_source;

int cli_source_open(cli_source *s, const char *dir, const char *url, const char *token);
void cli_source_close(cli_source *s);
/* A vt_fetch_fn over the source (payload = the cli_source). */
int cli_source_fetch(vt_buf *out, const char *path, void *source);
int cli_source_checkpoint(cli_source *s, vt_buf *out);
/*
 * Fetch the source's checkpoint and verify it under v, whose name must be
 * its origin: the note's text in *note, its fields in *c.
 */
int cli_source_verified_checkpoint(vt_buf *note, vt_checkpoint *c, cli_source *src,
				   vt_note_verifier *v);

/*
 * For "vitrine CMD SUB [options]": with no SUB, print help to stderr and
 * return EXIT_USAGE; with --help or -h, print it to stdout and return
 * EXIT_OK; otherwise return -1 (go on with argv[1] as SUB).
 */
int cli_sub_help(int argc, char **argv, const char *help);

/* Read a whole file ("-" is standard input). */
int cli_read_file(vt_buf *out, const char *path);

/*
 * The server's answer r (an /api/v1 JSON error, or its status) as one line
 * for an error message, into out (defined in cmd_files.c).
 */
void cli_server_error(char *out, size_t cap, const vt_client_response *r);

/*
 * The site and token of "vitrine CMD": *url and *token as given, else
 * from VITRINE_URL and VITRINE_TOKEN. EXIT_USAGE (printed) when either is
 * missing, 0 otherwise (defined in cmd_files.c).
 */
int cli_site_env(const char **url, const char **token, const char *cmd);

/* True when stderr is a terminal (progress lines go there). */
bool cli_tty(void);

/*
 * --token-file FILE: point *out at the token on FILE's first line (kept in
 * a static buffer). On failure print "vitrine: cannot read token file FILE"
 * and return EXIT_USAGE; 0 otherwise (defined in cmd_token.c).
 */
int cli_token_file(const char **out, const char *path);

/*
 * Append one entry to the log of the site in dir, opened for this call;
 * *index gets its index. VT_EBUSY when a server holds dir, with a hint to
 * VERB through it with --url (defined in cmd_log.c, as is the next).
 */
int cli_log_append_local(uint64_t *index, const char *dir, const void *entry, size_t len,
			 const char *verb);

/*
 * POST one entry to the server's log/add (its answer into resp) and, when
 * v is set, verify the proof against v's log, wrapping a failure as "the
 * server's proof WHAT"; *index gets its index.
 */
int cli_log_post(uint64_t *index, vt_client *cl, vt_buf *resp, vt_note_verifier *v,
		 const void *entry, size_t len, const char *what);

#endif
