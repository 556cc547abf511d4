/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP client for a vitrine server (libcurl), one keep-alive handle each. */
#ifndef VITRINE_CLIENT_H
#define VITRINE_CLIENT_H

#include <stddef.h>

#include "vitrine/buf.h"

typedef struct vt_client vt_client;

/* A client for the server at base_url ("http://127.0.0.1:8080"). */
int vt_client_new(vt_client **out, const char *base_url, const char *token);

void vt_client_free(vt_client *c);

/*
 * GET base_url + path into out. VT_ENOTFOUND for 404, VT_EIO for transport
 * errors, other statuses as VT_EINVAL/VT_EDENIED/VT_EBUSY with the server's
 * reason in the message.
 */
int vt_client_get(vt_client *c, vt_buf *out, const char *path);

/* POST body to base_url + path with the bearer token; response into out. */
int vt_client_post(vt_client *c, vt_buf *out, const char *path, const void *body, size_t len);

/* A vt_fetch_fn reading "<base>/log/<path>" (payload = the client). */
int vt_client_fetch_tile(vt_buf *out, const char *path, void *client);

/*
 * What came back from a request made with the functions below: the status,
 * the header lines of the final response ("Name: value\r\n" each) and, for
 * a status other than 2xx, the body (at most 64 KiB; a JSON error from a
 * vitrine server). Init before the first use, dispose after the last; one
 * may be reused, each request resets it.
 */
typedef struct {
	long status; /* 0 when no response arrived */
	vt_buf headers;
	vt_buf error_body;
} vt_client_response;

void vt_client_response_init(vt_client_response *r);
void vt_client_response_dispose(vt_client_response *r);

/*
 * The value of the response header name (case-insensitive), without
 * surrounding blanks, copied into out (at most cap - 1 bytes, NUL-terminated).
 * VT_ENOTFOUND when absent, VT_ETOOBIG when the value does not fit.
 */
int vt_client_response_header(char *out, size_t cap, const vt_client_response *r, const char *name);

/*
 * Receives a response body as it arrives; returns 0 to go on or a negative
 * VT_E* code to abort the transfer (the request then fails with that code).
 */
typedef int (*vt_client_sink_fn)(const void *data, size_t len, void *payload);

/*
 * GET base_url + path with the bearer token and hand a 2xx body to sink
 * piece by piece, never whole in memory. A body of any other status goes to
 * resp->error_body instead. Returns 0 for a 2xx status; otherwise the code
 * of the status (401 and 403 VT_EDENIED, 404 VT_ENOTFOUND, 413 VT_ETOOBIG,
 * 503 VT_EBUSY, other 4xx VT_EINVAL, 5xx VT_EIO) with "HTTP <status>" and
 * the body's first line in the message, VT_EIO for transport errors, or the
 * sink's code. No overall time limit: a transfer fails when it stalls (less
 * than one byte a second for a minute). One request at a time per client.
 */
int vt_client_get_stream(vt_client *c, vt_client_response *resp, const char *path,
			 vt_client_sink_fn sink, void *payload);

/*
 * POST len bytes of body as content_type ("application/json",
 * "text/plain") to base_url + path; a 2xx body is appended to out (whose
 * maximum bounds it). Returns and fills resp as vt_client_get_stream().
 */
int vt_client_post_as(vt_client *c, vt_client_response *resp, vt_buf *out, const char *path,
		      const char *content_type, const void *body, size_t len);

/*
 * POST multipart/form-data to base_url + path: the part "file" streamed
 * from the file at file_path (read as it is sent, never whole in memory)
 * with filename file_name (NULL: the last component of file_path), then
 * the text parts in fields, pairs of name and value ending with NULL
 * (NULL fields: none). A 2xx body is appended to out. Returns and fills
 * resp as vt_client_get_stream(); VT_EIO when the file cannot be read.
 */
int vt_client_upload(vt_client *c, vt_client_response *resp, vt_buf *out, const char *path,
		     const char *file_path, const char *file_name, const char *const *fields);

/*
 * One part of vt_client_upload_parts(): a file streamed from disk when
 * file_path is set (read as it is sent, never whole in memory), else len
 * bytes of data. file_name is the part's filename (NULL: none for data,
 * the last component of file_path for a file).
 */
typedef struct {
	const char *name;
	const char *file_path;
	const char *file_name;
	const void *data;
	size_t len;
} vt_client_part;

/*
 * POST multipart/form-data of the nparts parts, in order, to base_url +
 * path; a 2xx body is appended to out. Returns and fills resp as
 * vt_client_get_stream(); VT_EIO when a file cannot be read, VT_EINVAL
 * for a part without a name.
 */
int vt_client_upload_parts(vt_client *c, vt_client_response *resp, vt_buf *out, const char *path,
			   const vt_client_part *parts, size_t nparts);

#endif
