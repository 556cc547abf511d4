/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl glue: GET and POST with status codes mapped to VT_E* codes. */
#include "vitrine/client.h"
#include "vitrine/error.h"

/* curl 7.88 type-check macros break under -std=c11. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vt_client {
	CURL *h;
	char *base;
	struct curl_slist *auth;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void init_curl(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int vt_client_new(vt_client **out, const char *base_url, const char *token)
{
	vt_client *c;
	size_t n = strlen(base_url);

	pthread_once(&curl_once, init_curl);
	if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)
		return vt_error_set(VT_EINVAL, "URL must start with http:// or https://: %s",
				    base_url);
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->h = curl_easy_init()) == NULL ||
	    (c->base = strdup(base_url)) == NULL) {
		vt_client_free(c);
		return vt_error_set(VT_ENOMEM, "out of memory");
	}
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	if (token) {
		char hdr[256];
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
		c->auth = curl_slist_append(NULL, hdr);
	}
	*out = c;
	return 0;
}

void vt_client_free(vt_client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	curl_slist_free_all(c->auth);
	free(c->base);
	free(c);
}

static size_t on_data(char *p, size_t size, size_t n, void *payload)
{
	vt_buf *b = payload;
	return vt_buf_add(b, p, size * n) < 0 ? 0 : size * n;
}

static int perform(vt_client *c, vt_buf *out, const char *path, const void *body, size_t len,
		   bool post)
{
	char url[4096];
	long status = 0;
	size_t mark = out->len;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s/%s", c->base, path[0] == '/' ? path + 1 : path);
	curl_easy_reset(c->h);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	if (c->auth)
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->auth);
	if (post) {
		curl_easy_setopt(c->h, CURLOPT_POST, 1L);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	rc = curl_easy_perform(c->h);
	if (rc != CURLE_OK) {
		out->len = mark;
		if (rc == CURLE_WRITE_ERROR)
			return vt_error_set(VT_ETOOBIG, "%s: response too large", url);
		return vt_error_set(VT_EIO, "%s: %s", url, curl_easy_strerror(rc));
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200)
		return 0;
	{
		/* Keep the server's reason (a JSON body) for the message. */
		int n = (int)(out->len - mark > 300 ? 300 : out->len - mark);
		const char *why = (const char *)out->ptr + mark;
		int code = status == 404   ? VT_ENOTFOUND
			   : status == 401 ? VT_EDENIED
			   : status == 413 ? VT_ETOOBIG
			   : status == 503 ? VT_EBUSY
			   : status < 500  ? VT_EINVAL
					   : VT_EIO;
		while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == '\r'))
			n--;
		out->len = mark;
		return vt_error_set(code, "%s: HTTP %ld %.*s", url, status, n, why);
	}
}

int vt_client_get(vt_client *c, vt_buf *out, const char *path)
{
	return perform(c, out, path, NULL, 0, false);
}

int vt_client_post(vt_client *c, vt_buf *out, const char *path, const void *body, size_t len)
{
	return perform(c, out, path, body, len, true);
}

int vt_client_fetch_tile(vt_buf *out, const char *path, void *client)
{
	char p[512];
	snprintf(p, sizeof(p), "log/%s", path);
	return vt_client_get(client, out, p);
}
