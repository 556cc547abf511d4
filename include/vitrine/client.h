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

#endif
