/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl glue: GET, POST and multipart uploads, whole or streamed, statuses as VT_E* codes. */
#include "vitrine/client.h"
#include "vitrine/error.h"

/* curl 7.88 type-check macros break under -std=c11. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The streaming functions below: one request's state for the callbacks. */
typedef struct {
	CURL *h;
	vt_client_response *resp;
	vt_client_sink_fn sink; /* a 2xx body goes here, or */
	void *payload;
	vt_buf *out; /* here */
	long status; /* 0 until the first body byte */
	int err;     /* the sink's or out's failure */
} xfer;

#define ERROR_BODY_MAX 65536
#define HEADERS_MAX    65536

void vt_client_response_init(vt_client_response *r)
{
	r->status = 0;
	vt_buf_init(&r->headers, HEADERS_MAX);
	vt_buf_init(&r->error_body, ERROR_BODY_MAX);
}

void vt_client_response_dispose(vt_client_response *r)
{
	vt_buf_dispose(&r->headers);
	vt_buf_dispose(&r->error_body);
	r->status = 0;
}

int vt_client_response_header(char *out, size_t cap, const vt_client_response *r, const char *name)
{
	const char *p = vt_buf_cstr(&r->headers);
	size_t nl = strlen(name);

	while (*p) {
		const char *eol = strchr(p, '\n');
		const char *end = eol ? eol : p + strlen(p);
		if ((size_t)(end - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
				end--;
			if ((size_t)(end - v) >= cap)
				return vt_error_set(VT_ETOOBIG, "header %s: value too long", name);
			memcpy(out, v, (size_t)(end - v));
			out[end - v] = '\0';
			return 0;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	return vt_error_set(VT_ENOTFOUND, "no %s header in the answer", name);
}

static size_t on_header(char *p, size_t size, size_t n, void *payload)
{
	xfer *x = payload;
	size_t len = size * n;

	/* A status line starts the headers of another response (after 100 Continue). */
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
		vt_buf_reset(&x->resp->headers);
	/* Headers past the limit are dropped: none that matters is that far. */
	(void)vt_buf_add(&x->resp->headers, p, len);
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *payload)
{
	xfer *x = payload;
	size_t len = size * n;

	if (x->status == 0)
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->status < 200 || x->status > 299) {
		size_t room = ERROR_BODY_MAX - x->resp->error_body.len;
		/* Only the start of an error body is kept; the rest is read and dropped. */
		(void)vt_buf_add(&x->resp->error_body, p, len < room ? len : room);
		return len;
	}
	if (x->sink)
		x->err = x->sink(p, len, x->payload);
	else if (x->out)
		x->err = vt_buf_add(x->out, p, len);
	return x->err < 0 ? 0 : len;
}

static int status_error(const char *url, long status, const vt_buf *body)
{
	const char *why = vt_buf_cstr(body);
	int n = (int)strcspn(why, "\r\n");
	int code = status == 404		    ? VT_ENOTFOUND
		   : status == 401 || status == 403 ? VT_EDENIED
		   : status == 413		    ? VT_ETOOBIG
		   : status == 503		    ? VT_EBUSY
		   : status >= 400 && status < 500  ? VT_EINVAL
						    : VT_EIO;
	if (n > 300)
		n = 300;
	return vt_error_set(code, "%s: HTTP %ld %.*s", url, status, n, why);
}

/* Run the request set up on c->h and map the outcome; x holds the callbacks. */
static int run_xfer(vt_client *c, xfer *x, const char *url)
{
	CURLcode rc;
	int err = 0;

	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, 10L);
	/* Large files take as long as they take; a stalled transfer does not. */
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c->h);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &x->resp->status);
	if (x->err < 0) {
		err = x->err;
		goto done;
	}
	if (rc != CURLE_OK) {
		err = vt_error_set(VT_EIO, "%s: %s", url, curl_easy_strerror(rc));
		goto done;
	}
	if (x->resp->status < 200 || x->resp->status > 299)
		err = status_error(url, x->resp->status, &x->resp->error_body);
done:
	return err;
}

/* Reset c's handle and x for a request to path; the URL into url. */
static void begin(vt_client *c, xfer *x, char *url, size_t cap, vt_client_response *resp,
		  const char *path)
{
	snprintf(url, cap, "%s/%s", c->base, path[0] == '/' ? path + 1 : path);
	curl_easy_reset(c->h);
	memset(x, 0, sizeof(*x));
	x->h = c->h;
	x->resp = resp;
	resp->status = 0;
	vt_buf_reset(&resp->headers);
	vt_buf_reset(&resp->error_body);
}

int vt_client_get_stream(vt_client *c, vt_client_response *resp, const char *path,
			 vt_client_sink_fn sink, void *payload)
{
	char url[4096];
	xfer x;

	begin(c, &x, url, sizeof(url), resp, path);
	x.sink = sink;
	x.payload = payload;
	if (c->auth)
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->auth);
	return run_xfer(c, &x, url);
}

int vt_client_post_as(vt_client *c, vt_client_response *resp, vt_buf *out, const char *path,
		      const char *content_type, const void *body, size_t len)
{
	struct curl_slist *hdrs = NULL, *more;
	char url[4096], ct[256];
	xfer x;
	int err;

	begin(c, &x, url, sizeof(url), resp, path);
	x.out = out;
	snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
	for (const struct curl_slist *a = c->auth; a; a = a->next) {
		if ((more = curl_slist_append(hdrs, a->data)) == NULL)
			goto nomem;
		hdrs = more;
	}
	if ((more = curl_slist_append(hdrs, ct)) == NULL)
		goto nomem;
	hdrs = more;
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->h, CURLOPT_POST, 1L);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	err = run_xfer(c, &x, url);
	goto done;
nomem:
	err = vt_error_set(VT_ENOMEM, "out of memory");
done:
	curl_slist_free_all(hdrs);
	return err;
}

int vt_client_upload(vt_client *c, vt_client_response *resp, vt_buf *out, const char *path,
		     const char *file_path, const char *file_name, const char *const *fields)
{
	vt_client_part *parts;
	size_t n = 1;
	int err;

	while (fields && fields[2 * (n - 1)] && fields[2 * (n - 1) + 1])
		n++;
	if ((parts = calloc(n, sizeof(*parts))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	parts[0] = (vt_client_part){.name = "file", .file_path = file_path, .file_name = file_name};
	for (size_t i = 1; i < n; i++)
		parts[i] = (vt_client_part){.name = fields[2 * (i - 1)],
					    .data = fields[2 * (i - 1) + 1],
					    .len = strlen(fields[2 * (i - 1) + 1])};
	err = vt_client_upload_parts(c, resp, out, path, parts, n);
	free(parts);
	return err;
}

int vt_client_upload_parts(vt_client *c, vt_client_response *resp, vt_buf *out, const char *path,
			   const vt_client_part *parts, size_t nparts)
{
	curl_mime *mime = NULL;
	curl_mimepart *part;
	char url[4096];
	const char *base;
	xfer x;
	FILE *probe;
	int err;

	begin(c, &x, url, sizeof(url), resp, path);
	x.out = out;
	if ((mime = curl_mime_init(c->h)) == NULL)
		goto nomem;
	for (size_t i = 0; i < nparts; i++) {
		const vt_client_part *p = &parts[i];
		if (!p->name) {
			err = vt_error_set(VT_EINVAL, "upload: a part without a name");
			goto done;
		}
		if ((part = curl_mime_addpart(mime)) == NULL ||
		    curl_mime_name(part, p->name) != CURLE_OK)
			goto nomem;
		if (!p->file_path) {
			if (curl_mime_data(part, p->data ? p->data : "", p->len) != CURLE_OK ||
			    (p->file_name && curl_mime_filename(part, p->file_name) != CURLE_OK))
				goto nomem;
			continue;
		}
		/* curl reports an unreadable file only as a failed transfer: ask first. */
		if ((probe = fopen(p->file_path, "rb")) == NULL) {
			err = vt_error_sys(VT_EIO, errno, "%s", p->file_path);
			goto done;
		}
		fclose(probe);
		base = strrchr(p->file_path, '/');
		base = base ? base + 1 : p->file_path;
		if (curl_mime_filedata(part, p->file_path) != CURLE_OK ||
		    curl_mime_filename(part, p->file_name ? p->file_name : base) != CURLE_OK)
			goto nomem;
	}
	if (c->auth)
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->auth);
	curl_easy_setopt(c->h, CURLOPT_MIMEPOST, mime);
	err = run_xfer(c, &x, url);
	goto done;
nomem:
	err = vt_error_set(VT_ENOMEM, "out of memory");
done:
	curl_mime_free(mime);
	return err;
}
