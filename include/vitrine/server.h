/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP server (libmicrohttpd): the log's tlog-tiles API and writes. */
#ifndef VITRINE_SERVER_H
#define VITRINE_SERVER_H

#include "vitrine/log.h"
#include "vitrine/storage.h"
#include "vitrine/token.h"

#include <stdint.h>

typedef struct vt_server vt_server;

typedef struct {
	const char *host;      /* address to listen on, such as "127.0.0.1" */
	unsigned port;         /* 0: any free port (see vt_server_port) */
	unsigned threads;      /* event-loop threads (default 2) */
	unsigned workers;      /* threads for deferred work: fsyncs, decryption (default 8) */
	unsigned max_conns;    /* simultaneous connections (default 8192) */
	/* Sample intake (POST /api/v1/files), borrowed; NULL answers 503
	 * with intake_off as the reason. */
	struct vt_intake *intake;
	const char *intake_off;
	uint64_t max_upload;   /* bytes of one uploaded file (0: 256 MiB) */
	unsigned timeout_s;    /* idle connections are closed after this (0: 30 s) */
	/* An upload slower than this on average, once timeout_s has passed,
	 * is cut with 408 (0: 4096 bytes/s), so a trickling client cannot
	 * hold a connection and a vault temporary file for long. */
	uint64_t min_rate;
	/* Downloads (GET /api/v1/files/{sha256}/content), borrowed; NULL
	 * answers 503. Objects are read as held for jurisdiction. */
	struct vt_vault *vault;
	const char *jurisdiction;
	/* Analysis of stored samples and its routes (src/analysis), borrowed;
	 * NULL answers those routes with 503. */
	struct vt_analysis_service *analysis;
	/* Builds, releases and rebuilds (src/conveyer), borrowed; NULL
	 * answers those routes with 503. */
	struct vt_conveyer_site *conveyer;
} vt_server_options;

/*
 * Start serving on a background thread pool. log, st and tokens are
 * borrowed and must outlive the server. Waiting writers are suspended
 * connections, not threads: a few threads serve thousands of clients.
 * VT_EINVAL for a bad address, VT_EIO when the port cannot be bound.
 */
int vt_server_start(vt_server **out, vt_log *log, vt_storage *st, const vt_tokens *tokens,
		    const vt_server_options *opt);

/* The port actually bound. */
unsigned vt_server_port(const vt_server *s);

/*
 * Shutting down without dropping a writer: vt_server_quiesce() (no new
 * connections), vt_log_stop() (publishes what is queued and wakes the
 * waiting writers), vt_server_drain() (lets the server answer them),
 * vt_server_free(), and only then vt_log_close().
 */
void vt_server_quiesce(vt_server *s);

/*
 * Wait until every accepted append has been answered, or timeout_ms has
 * passed. Returns the number still unanswered.
 */
unsigned vt_server_drain(vt_server *s, unsigned timeout_ms);

/* Stop the threads and free the server. */
void vt_server_free(vt_server *s);

#endif
