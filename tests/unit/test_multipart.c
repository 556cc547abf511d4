/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the multipart/form-data parser: a body as curl 7.88 sends it,
 * binary data full of near-delimiters, every body fed in every split
 * giving the same callbacks, a randomized cross-check against parts built
 * by a naive encoder, every rejection, and vt_multipart_safe_filename().
 */
#include "vitrine/buf.h"
#include "vitrine/multipart.h"

#include "test.h"

#include <stdint.h>

#define B	"------------------------fc26026cece402be"
#define CT	"multipart/form-data; boundary=" B
#define MAX_LOG (8 * 1024 * 1024)

/* What the callbacks saw, as text: data is concatenated, so the log is the
 * same whatever the chunking. */
struct rec {
	vt_buf log;
	size_t part_len;
	size_t data_calls;
	int stop_begin, stop_data, stop_end; /* return these when non-zero */
	int calls_after_stop;
	int stopped;
};

static int on_begin(const char *name, const char *filename, const char *ctype, void *payload)
{
	struct rec *r = payload;
	if (r->stopped)
		r->calls_after_stop++;
	r->part_len = 0;
	vt_buf_printf(&r->log, "<B name=%s file=%s type=%s>", name, filename ? filename : "(null)",
		      ctype ? ctype : "(null)");
	if (r->stop_begin)
		r->stopped = 1;
	return r->stop_begin;
}

static int on_data(const uint8_t *data, size_t len, void *payload)
{
	struct rec *r = payload;
	if (r->stopped)
		r->calls_after_stop++;
	if (len == 0)
		vt_buf_adds(&r->log, "<EMPTY CHUNK>"); /* never expected */
	vt_buf_add(&r->log, data, len);
	r->part_len += len;
	r->data_calls++;
	if (r->stop_data)
		r->stopped = 1;
	return r->stop_data;
}

static int on_end(void *payload)
{
	struct rec *r = payload;
	if (r->stopped)
		r->calls_after_stop++;
	vt_buf_printf(&r->log, "<E %zu>", r->part_len);
	if (r->stop_end)
		r->stopped = 1;
	return r->stop_end;
}

static const vt_multipart_callbacks cbs = {on_begin, on_data, on_end};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible runs */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717u;
}

/*
 * Parse body cut into pieces: mode 0 whole, 1 one byte at a time, 2 cut at
 * `at`, 3 random pieces. Returns the first non-zero result of feed or
 * finish; the log and the message are left in r and msg.
 */
static int run(struct rec *r, char *msg, size_t msgsz, const char *ct, const void *body, size_t len,
	       const vt_multipart_limits *lim, int mode, size_t at)
{
	const uint8_t *p = body;
	vt_multipart *mp = NULL;
	size_t off = 0;
	int err;

	vt_buf_init(&r->log, MAX_LOG);
	r->stopped = 0;
	r->calls_after_stop = 0;
	if ((err = vt_multipart_new(&mp, ct, &cbs, r, lim)) != 0)
		goto done;
	while (off < len) {
		size_t n = len - off;
		if (mode == 1)
			n = 1;
		else if (mode == 2)
			n = off < at ? at - off : len - off;
		else if (mode == 3)
			n = 1 + rnd() % (n < 300 ? n : 300);
		if ((err = vt_multipart_feed(mp, p + off, n)) != 0)
			goto done;
		off += n;
		/* Empty pieces are fine anywhere. */
		if ((err = vt_multipart_feed(mp, p, 0)) != 0)
			goto done;
	}
	err = vt_multipart_finish(mp);
done:
	snprintf(msg, msgsz, "%s", err ? vt_error_last() : "");
	vt_multipart_free(mp);
	return err;
}

/*
 * Parse body whole and check the result code, the log (when want_log is
 * not NULL) and that the message holds want_msg; then check that every
 * other way of cutting it gives the same code, log and message.
 */
static void check_body(const char *ct, const void *body, size_t len, const vt_multipart_limits *lim,
		       int want_code, const char *want_log, size_t want_log_len,
		       const char *want_msg)
{
	struct rec ref = {0}, r = {0};
	char refmsg[512], msg[512];
	int code, bad = 0;

	code = run(&ref, refmsg, sizeof(refmsg), ct, body, len, lim, 0, 0);
	CHECK_CODE(code, want_code);
	if (want_log)
		CHECK(ref.log.len == want_log_len &&
		      memcmp(vt_buf_cstr(&ref.log), want_log, want_log_len) == 0);
	if (want_log && (ref.log.len != want_log_len ||
			 memcmp(vt_buf_cstr(&ref.log), want_log, want_log_len) != 0))
		fprintf(stderr, "log was:  %s\nexpected: %s\n", vt_buf_cstr(&ref.log), want_log);
	if (want_msg && strstr(refmsg, want_msg) == NULL) {
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", refmsg, want_msg);
		CHECK(0);
	}
	/* Every cut: 1-byte pieces, two pieces at each offset (bodies are
	 * small, except the big ones which get a sample), random pieces. */
	for (size_t i = 0; i <= len + 40 && !bad; i++) {
		int mode = i == 0 ? 1 : i <= len ? 2 : 3;
		size_t at = i;

		if (len > 4096 && mode == 2)
			at = rnd() % len;
		if (len > 4096 && mode == 2 && i > 200)
			continue;
		code = run(&r, msg, sizeof(msg), ct, body, len, lim, mode, at);
		if (code != want_code || r.log.len != ref.log.len ||
		    memcmp(r.log.ptr ? r.log.ptr : (uint8_t *)"",
			   ref.log.ptr ? ref.log.ptr : (uint8_t *)"", r.log.len) != 0 ||
		    strcmp(msg, refmsg) != 0) {
			fprintf(stderr, "split mode %d at %zu differs: %d \"%s\" vs \"%s\"\n", mode,
				at, code, msg, refmsg);
			bad = 1;
		}
		vt_buf_dispose(&r.log);
	}
	CHECK(!bad);
	vt_buf_dispose(&ref.log);
}

/* For literal bodies and logs; NO_LOG when the log is not checked. */
#define CHECK_BODY(ct, body, lim, code, log, msg)                                                  \
	check_body(ct, body, sizeof(body) - 1, lim, code, log, sizeof(log) - 1, msg)
#define CHECK_BODY_NO_LOG(ct, body, lim, code, msg)                                                \
	check_body(ct, body, sizeof(body) - 1, lim, code, NULL, 0, msg)

static char eicar[69];

static void make_eicar(void)
{
	/* Built at run time so that the test binary is not itself flagged. */
	static const char a[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-";
	static const char b[] = "STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
	memcpy(eicar, a, sizeof(a) - 1);
	memcpy(eicar + sizeof(a) - 1, b, sizeof(b));
}

/* The body curl 7.88.1 sent for
 *   curl -F file=@eicar.com -F name=eicar.com -F tags=test,eicar \
 *        -F source=Win.Test.EICAR_HDB-1 URL
 * (captured on a socket), with the file's bytes at %s. */
static const char curl_fmt[] =
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"eicar.com\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "%s\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"name\"\r\n"
    "\r\n"
    "eicar.com\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"tags\"\r\n"
    "\r\n"
    "test,eicar\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"source\"\r\n"
    "\r\n"
    "Win.Test.EICAR_HDB-1\r\n"
    "--" B "--\r\n";

static void test_curl_body(void)
{
	char body[1024], log[512];
	int n, ln;

	make_eicar();
	n = snprintf(body, sizeof(body), curl_fmt, eicar);
	CHECK(n == 589); /* curl's Content-Length */
	ln = snprintf(log, sizeof(log),
		      "<B name=file file=eicar.com type=application/octet-stream>%s<E 68>"
		      "<B name=name file=(null) type=(null)>eicar.com<E 9>"
		      "<B name=tags file=(null) type=(null)>test,eicar<E 10>"
		      "<B name=source file=(null) type=(null)>Win.Test.EICAR_HDB-1<E 20>",
		      eicar);
	check_body(CT, body, (size_t)n, NULL, 0, log, (size_t)ln, NULL);

	/* Cut short anywhere before the close delimiter's end: truncated. */
	for (int k = 0; k < n - 2; k++) {
		struct rec r = {0};
		char msg[256];
		int code = run(&r, msg, sizeof(msg), CT, body, (size_t)k, NULL, 0, 0);
		if (code != VT_EINVAL || strstr(msg, "truncated") == NULL) {
			fprintf(stderr, "cut at %d: %d %s\n", k, code, msg);
			CHECK(0);
			break;
		}
		vt_buf_dispose(&r.log);
	}
	/* Without the final CRLF (some clients), still complete. */
	check_body(CT, body, (size_t)n - 2, NULL, 0, log, (size_t)ln, NULL);
}

static void test_near_delimiters(void)
{
	/* Data with CR, LF, "--", the boundary without CRLF before it, LF
	 * alone before it, broken prefixes of the delimiter and a CR as the
	 * last byte: all data. */
	static const char body[] =
	    "--xyz\r\n"
	    "Content-Disposition: form-data; name=\"file\"; filename=\"bin\"\r\n"
	    "\r\n"
	    "\r\n--\r\n-\r\n--x\r\n--xy\r\r\n--xyQ--xyz\n--xyz\r--xyz \r\n\r\n\r\r\n-\r"
	    "\r\n--xyz\r\n"
	    "Content-Disposition: form-data; name=empty\r\n"
	    "\r\n"
	    "\r\n--xyz\r\n"
	    "Content-Disposition: form-data; name=\"crlf\"\r\n"
	    "\r\n"
	    "\r\n"
	    "\r\n--xyz--";
	static const char log[] =
	    "<B name=file file=bin type=(null)>"
	    "\r\n--\r\n-\r\n--x\r\n--xy\r\r\n--xyQ--xyz\n--xyz\r--xyz \r\n\r\n\r\r\n-\r<E 53>"
	    "<B name=empty file=(null) type=(null)><E 0>"
	    "<B name=crlf file=(null) type=(null)>\r\n<E 2>";

	CHECK_BODY("multipart/form-data; boundary=xyz", body, NULL, 0, log, NULL);
}

#define CD "Content-Disposition: form-data; name=f\r\n"

static void test_framing(void)
{
	/* Preamble (with a "--xyz" not at a line start), padding after the
	 * delimiters, and an epilogue with anything in it. */
	static const char body1[] =
	    "preamble --xyz\r\nmore\r\n"
	    "--xyz \t \r\n"
	    "Content-Disposition: form-data; name=a\r\n"
	    "\r\n"
	    "1\r\n"
	    "--xyz\t\r\n"
	    "content-disposition: FORM-DATA ; NAME=\"b\" ; Filename=\"\"\r\n"
	    "X-Ignored: yes\r\n"
	    "Content-Transfer-Encoding: binary\r\n"
	    "\r\n"
	    "2\r\n"
	    "--xyz-- \r\nepilogue\r\n--xyz\r\n\x01garbage";
	static const char log1[] = "<B name=a file=(null) type=(null)>1<E 1>"
				   "<B name=b file= type=(null)>2<E 1>";
	/* No part at all. */
	static const char body2[] = "--xyz--\r\n";
	/* Preamble, then a quoted boundary with a space and specials. */
	static const char body3[] = "\r\n\r\n--a b'()+_,-./:=?\r\n"
				    "Content-Disposition: form-data; name=\"q\\\"uo\\\\te\"; "
				    "filename=\"a%22b.txt\"\r\n"
				    "Content-Type:  text/plain; charset=utf-8 \r\n"
				    "\r\n"
				    "x\r\n"
				    "--a b'()+_,-./:=?--";
	static const char body4[] =
	    "--xyz\r\n" CD "\r\n--xyz\r\n" CD "\r\n-xyz\r\n--xyz\r\n" CD "\r\n--xy\r\n--xyz--";
	static const char log4[] = "<B name=f file=(null) type=(null)><E 0>"
				   "<B name=f file=(null) type=(null)>-xyz<E 4>"
				   "<B name=f file=(null) type=(null)>--xy<E 4>";
	static const char body5[] = "--xyz\r\n" CD "\r\n--xyzQ\r\n--xyz--";
	static const char log3[] =
	    "<B name=q\"uo\\te file=a%22b.txt type=text/plain; charset=utf-8>"
	    "x<E 1>";

	CHECK_BODY("multipart/form-data; boundary=xyz", body1, NULL, 0, log1, NULL);
	CHECK_BODY("multipart/form-data; boundary=xyz", body2, NULL, 0, "", NULL);
	/* A part body's first line is a line start: "--xyz" there closes an
	 * empty part (as in Go's mime/multipart), "--xyzQ" there is refused,
	 * "-xyz" and "--xy" are data. */
	CHECK_BODY("multipart/form-data; boundary=xyz", body4, NULL, 0, log4, NULL);
	CHECK_BODY_NO_LOG("multipart/form-data; boundary=xyz", body5, NULL, VT_EINVAL,
			  "boundary followed by other characters");
	CHECK_BODY("Multipart/Form-Data; charset=x; BOUNDARY=\"a b'()+_,-./:=?\"", body3, NULL, 0,
		   log3, NULL);
}

static void test_content_type(void)
{
	static const struct {
		const char *ct;
		const char *msg; /* NULL: accepted */
	} cases[] = {
	    {"multipart/form-data; boundary=x", NULL},
	    {" multipart/form-data ;boundary=\"x\" ", NULL},
	    {"multipart/form-data; boundary=" /* 70 */
	     "0123456789012345678901234567890123456789012345678901234567890123456789",
	     NULL},
	    {"multipart/form-data; boundary=ab/c:d=e?", NULL},
	    {NULL, "no Content-Type"},
	    {"", "not multipart/form-data"},
	    {"text/plain", "not multipart/form-data"},
	    {"application/x-www-form-urlencoded", "not multipart/form-data"},
	    {"multipart/mixed; boundary=x", "not multipart/form-data"},
	    {"multipart/form-dataX; boundary=x", "not multipart/form-data"},
	    {"multipart/form-data", "no boundary"},
	    {"multipart/form-data; charset=utf-8", "no boundary"},
	    {"multipart/form-data; boundary=", "malformed"},
	    {"multipart/form-data; boundary=\"\"", "1 to 70"},
	    {"multipart/form-data; boundary=" /* 71 */
	     "01234567890123456789012345678901234567890123456789012345678901234567890",
	     "1 to 70"},
	    {"multipart/form-data; boundary=\"a@b\"", "RFC 2046"},
	    {"multipart/form-data; boundary=\"ab \"", "RFC 2046"},
	    {"multipart/form-data; boundary=\"a\rb\"", "control"},
	    {"multipart/form-data; boundary=x; boundary=y", "two boundary"},
	    {"multipart/form-data; boundary=\"x", "unterminated"},
	    {"multipart/form-data boundary=x", "expected ';'"},
	    {"multipart/form-data; =x", "malformed parameter"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vt_multipart *mp = NULL;
		int err = vt_multipart_new(&mp, cases[i].ct, &cbs, NULL, NULL);

		if (cases[i].msg == NULL) {
			CHECK_OK(err);
			CHECK(mp != NULL);
		} else {
			CHECK_CODE(err, VT_EINVAL);
			CHECK(mp == NULL);
			if (strstr(vt_error_last(), cases[i].msg) == NULL) {
				fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i,
					vt_error_last(), cases[i].msg);
				CHECK(0);
			}
		}
		vt_multipart_free(mp);
	}
}

static void test_rejections(void)
{
	static const char *ct = "multipart/form-data; boundary=xyz";
	static const struct {
		const char *body;
		int code;
		const char *msg;
	} cases[] = {
	    /* Framing. */
	    {"", VT_EINVAL, "truncated: no boundary"},
	    {"no boundary here\r\n", VT_EINVAL, "truncated: no boundary"},
	    {"--xyz\r\n" CD "\r\ndata", VT_EINVAL, "truncated: part not closed"},
	    {"--xyz\r\n" CD "\r\ndata\r\n--xyz\r\n", VT_EINVAL, "truncated in part headers"},
	    {"--xyz\r\n" CD "\r\ndata\r\n--xyz", VT_EINVAL, "truncated: no close"},
	    {"--xyz\r\n" CD "\r\ndata\r\n--xyz-", VT_EINVAL, "truncated: no close"},
	    {"--xyz\r\n" CD "\r\ndata\r\n--xyz  ", VT_EINVAL, "truncated: no close"},
	    {"--xyz\r\n" CD, VT_EINVAL, "truncated in part headers"},
	    {"--xyz\r\n" CD "\r", VT_EINVAL, "truncated in part headers"},
	    {"--xyzz\r\n" CD "\r\n\r\n--xyz--", VT_EINVAL, "boundary followed by other"},
	    {"--xyz\r\n" CD "\r\n\r\n--xyz-x", VT_EINVAL, "single '-'"},
	    {"--xyz\n" CD "\r\n\r\n--xyz--", VT_EINVAL, "bare LF after a boundary"},
	    {"--xyz\rx", VT_EINVAL, "CR without LF after a boundary"},
	    {"--xyz \tx\r\n", VT_EINVAL, "boundary followed by other"},
	    /* LF-only line endings, as some hand-written clients send. */
	    {"--xyz\nContent-Disposition: form-data; name=f\n\ndata\n--xyz--\n", VT_EINVAL,
	     "bare LF"},
	    {"--xyz\r\nContent-Disposition: form-data; name=f\n\r\n", VT_EINVAL,
	     "bare LF in part headers"},
	    {"--xyz\r\nContent-Disposition: form-data; name=f\rX", VT_EINVAL,
	     "CR without LF in part headers"},
	    /* Headers. */
	    {"--xyz\r\n\r\ndata\r\n--xyz--", VT_EINVAL, "no Content-Disposition"},
	    {"--xyz\r\nContent-Type: text/plain\r\n\r\n\r\n--xyz--", VT_EINVAL,
	     "no Content-Disposition"},
	    {"--xyz\r\n" CD " folded\r\n\r\n", VT_EINVAL, "folded"},
	    {"--xyz\r\nno colon\r\n\r\n", VT_EINVAL, "without a field name"},
	    {"--xyz\r\n: empty name\r\n\r\n", VT_EINVAL, "without a field name"},
	    {"--xyz\r\nBad Name: x\r\n\r\n", VT_EINVAL, "field name"},
	    {"--xyz\r\n" CD CD "\r\n", VT_EINVAL, "two Content-Disposition"},
	    {"--xyz\r\n" CD "Content-Type: a\r\nContent-Type: b\r\n\r\n", VT_EINVAL,
	     "two Content-Type"},
	    {"--xyz\r\n" CD "Content-Transfer-Encoding: base64\r\n\r\n", VT_EINVAL,
	     "Content-Transfer-Encoding"},
	    {"--xyz\r\n" CD "X: a\x01z\r\n\r\n", VT_EINVAL, "control character in a part header"},
	    /* Content-Disposition. */
	    {"--xyz\r\nContent-Disposition: attachment; name=f\r\n\r\n", VT_EINVAL,
	     "not form-data"},
	    {"--xyz\r\nContent-Disposition: form-datax; name=f\r\n\r\n", VT_EINVAL,
	     "not form-data"},
	    {"--xyz\r\nContent-Disposition: form-data\r\n\r\n", VT_EINVAL, "no name"},
	    {"--xyz\r\nContent-Disposition: form-data; filename=a\r\n\r\n", VT_EINVAL, "no name"},
	    {"--xyz\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n", VT_EINVAL, "empty name"},
	    {"--xyz\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n", VT_EINVAL,
	     "duplicate name"},
	    {"--xyz\r\nContent-Disposition: form-data; name=a; filename=b; filename=c\r\n\r\n",
	     VT_EINVAL, "duplicate filename"},
	    {"--xyz\r\nContent-Disposition: form-data name=a\r\n\r\n", VT_EINVAL, "expected ';'"},
	    {"--xyz\r\nContent-Disposition: form-data; name=a b\r\n\r\n", VT_EINVAL,
	     "expected ';'"},
	    {"--xyz\r\nContent-Disposition: form-data; name\r\n\r\n", VT_EINVAL,
	     "malformed parameter"},
	    {"--xyz\r\nContent-Disposition: form-data; name=\"a\r\n\r\n", VT_EINVAL,
	     "unterminated"},
	    {"--xyz\r\nContent-Disposition: form-data; name=a;\r\n\r\n", VT_EINVAL,
	     "malformed parameter"},
	    {"--xyz\r\nContent-Disposition: form-data; name=\r\n\r\n", VT_EINVAL,
	     "malformed value"},
	    /* Control characters in names and filenames. */
	    {"--xyz\r\nContent-Disposition: form-data; name=\"a\tb\"\r\n\r\n", VT_EINVAL,
	     "control character in a value"},
	    {"--xyz\r\nContent-Disposition: form-data; name=f; filename=\"a\\\tb\"\r\n\r\n",
	     VT_EINVAL, "control character in a value"},
	    {"--xyz\r\nContent-Disposition: form-data; name=\"a\x7f\"\r\n\r\n", VT_EINVAL,
	     "control character"},
	};

	static const char nul[] = "--xyz\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\n";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_body(ct, cases[i].body, strlen(cases[i].body), NULL, cases[i].code, NULL, 0,
			   cases[i].msg);
	CHECK_BODY_NO_LOG(ct, nul, NULL, VT_EINVAL, "control character in a part header");
}

static void test_limits(void)
{
	static const char *ct = "multipart/form-data; boundary=xyz";
	vt_multipart_limits lim = {0};
	char body[4096];
	size_t n;

	/* Header line: exactly the limit passes, one more is too big. */
	lim.max_header_line = 60;
	n = (size_t)snprintf(
	    body, sizeof(body),
	    "--xyz\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n\r\n--xyz--",
	    "012345678901234567890");
	CHECK(strlen("Content-Disposition: form-data; name=\"012345678901234567890\"") == 60);
	check_body(ct, body, n, &lim, 0, NULL, 0, NULL);
	n = (size_t)snprintf(
	    body, sizeof(body),
	    "--xyz\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n\r\n--xyz--",
	    "0123456789012345678901");
	check_body(ct, body, n, &lim, VT_ETOOBIG, NULL, 0, "header line longer than 60 bytes");
	/* The default limit, with a huge header. */
	memset(body, 'a', sizeof(body));
	memcpy(body, "--xyz\r\nX: ", 10);
	check_body(ct, body, sizeof(body), NULL, VT_ETOOBIG, NULL, 0, "longer than 2048");

	/* Header count. */
	lim = (vt_multipart_limits){.max_headers = 3};
	n = (size_t)snprintf(body, sizeof(body), "--xyz\r\n" CD "A: 1\r\nB: 2\r\n\r\n\r\n--xyz--");
	check_body(ct, body, n, &lim, 0, NULL, 0, NULL);
	n = (size_t)snprintf(body, sizeof(body),
			     "--xyz\r\n" CD "A: 1\r\nB: 2\r\nC: 3\r\n\r\n\r\n--xyz--");
	check_body(ct, body, n, &lim, VT_ETOOBIG, NULL, 0, "more than 3 header lines");

	/* Parts: two pass, the third is refused before its headers. */
	lim = (vt_multipart_limits){.max_parts = 2};
	n = (size_t)snprintf(body, sizeof(body),
			     "--xyz\r\n" CD "\r\n1\r\n--xyz\r\n" CD "\r\n2\r\n--xyz--");
	check_body(ct, body, n, &lim, 0, NULL, 0, NULL);
	n = (size_t)snprintf(body, sizeof(body),
			     "--xyz\r\n" CD "\r\n1\r\n--xyz\r\n" CD "\r\n2\r\n--xyz\r\n" CD
			     "\r\n3\r\n--xyz--");
	check_body(ct, body, n, &lim, VT_ETOOBIG, NULL, 0, "more than 2 parts");

	/* Body size: exactly the limit passes, one byte less is too big,
	 * and the parts before the limit were still reported. */
	lim = (vt_multipart_limits){.max_body = n};
	lim.max_parts = 3;
	check_body(ct, body, n, &lim, 0, NULL, 0, NULL);
	lim.max_body = n - 1;
	check_body(ct, body, n, &lim, VT_ETOOBIG, NULL, 0, "larger than");
	{
		struct rec r = {0};
		char msg[256];
		CHECK_CODE(run(&r, msg, sizeof(msg), ct, body, n, &lim, 0, 0), VT_ETOOBIG);
		CHECK(strstr(vt_buf_cstr(&r.log), "<B name=f file=(null) type=(null)>2<E 1>") !=
		      NULL);
		vt_buf_dispose(&r.log);
	}

	/* max_header_line over the cap. */
	{
		vt_multipart *mp = NULL;
		lim =
		    (vt_multipart_limits){.max_header_line = VT_MULTIPART_MAX_HEADER_LINE_CAP + 1};
		CHECK_CODE(vt_multipart_new(&mp, ct, &cbs, NULL, &lim), VT_EINVAL);
		CHECK(mp == NULL);
	}
}

static void test_callback_abort(void)
{
	static const char *ct = "multipart/form-data; boundary=xyz";
	static const char body[] = "--xyz\r\n" CD "\r\n1\r\n--xyz\r\n" CD "\r\n2\r\n--xyz--";
	struct rec r = {0};
	vt_multipart *mp = NULL;

	for (int which = 0; which < 3; which++) {
		r = (struct rec){0};
		vt_buf_init(&r.log, MAX_LOG);
		r.stop_begin = which == 0 ? 42 : 0;
		r.stop_data = which == 1 ? VT_EDENIED : 0;
		r.stop_end = which == 2 ? VT_EIO : 0;
		CHECK_OK(vt_multipart_new(&mp, ct, &cbs, &r, NULL));
		CHECK_CODE(vt_multipart_feed(mp, body, sizeof(body) - 1), which == 0   ? 42
									  : which == 1 ? VT_EDENIED
										       : VT_EIO);
		CHECK(r.calls_after_stop == 0);
		/* Failed for good: the same code again, no more callbacks. */
		CHECK_CODE(vt_multipart_feed(mp, "x", 1), which == 0   ? 42
							  : which == 1 ? VT_EDENIED
								       : VT_EIO);
		CHECK_CODE(vt_multipart_finish(mp), which == 0	 ? 42
						    : which == 1 ? VT_EDENIED
								 : VT_EIO);
		CHECK(r.calls_after_stop == 0);
		vt_multipart_free(mp);
		vt_buf_dispose(&r.log);
	}
}

/* A part's data is handed on while it streams, not at its end. */
static void test_streaming(void)
{
	static const char head[] = "--xyz\r\n" CD "\r\n";
	struct rec r = {0};
	vt_multipart *mp = NULL;
	uint8_t chunk[65536];
	size_t fed = 0;

	vt_buf_init(&r.log, 64 * 1024 * 1024);
	CHECK_OK(vt_multipart_new(&mp, "multipart/form-data; boundary=xyz", &cbs, &r, NULL));
	CHECK_OK(vt_multipart_feed(mp, head, sizeof(head) - 1));
	for (int i = 0; i < 256; i++) {
		for (size_t j = 0; j < sizeof(chunk); j++)
			chunk[j] = (uint8_t)rnd();
		chunk[sizeof(chunk) - 1] = '\r'; /* held back: may start a delimiter */
		CHECK_OK(vt_multipart_feed(mp, chunk, sizeof(chunk)));
		fed += sizeof(chunk);
		if (r.part_len != fed - 1)
			break;
	}
	CHECK(fed == 16 * 1024 * 1024 && r.part_len == fed - 1);
	CHECK_OK(vt_multipart_feed(mp, "\r\n--xyz--", 9));
	CHECK_OK(vt_multipart_finish(mp));
	CHECK(r.part_len == fed);
	vt_multipart_free(mp);
	vt_buf_dispose(&r.log);
}

/*
 * Broken partial matches do not cut the data into small chunks: a piece
 * of CRs and delimiter prefixes is handed on in one or two calls (the
 * cost of a caller's hash update is per call).
 */
static void test_chunking(void)
{
	static const char head[] = "--xyz\r\n" CD "\r\n";
	static const char *pats[] = {"\r", "\r\n", "\r\n-", "\r\n--xy", "\r\n--xy\r"};
	uint8_t piece[65536];
	vt_multipart *mp = NULL;

	for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++) {
		struct rec r = {0};
		size_t pl = strlen(pats[k]);

		vt_buf_init(&r.log, 1 << 20);
		for (size_t i = 0; i < sizeof(piece); i++)
			piece[i] = (uint8_t)pats[k][i % pl];
		CHECK_OK(
		    vt_multipart_new(&mp, "multipart/form-data; boundary=xyz", &cbs, &r, NULL));
		CHECK_OK(vt_multipart_feed(mp, head, sizeof(head) - 1));
		for (int i = 0; i < 4; i++)
			CHECK_OK(vt_multipart_feed(mp, piece, sizeof(piece)));
		CHECK_OK(vt_multipart_feed(mp, "\r\n--xyz--", 9));
		CHECK_OK(vt_multipart_finish(mp));
		CHECK(r.part_len == 4 * sizeof(piece));
		CHECK(r.data_calls <= 9);
		vt_multipart_free(mp);
		vt_buf_dispose(&r.log);
	}
}

/*
 * Randomized cross-check: parts of random binary data, rich in CR, LF,
 * '-' and boundary pieces, encoded by a naive encoder, must come back
 * exactly, whatever the split.
 */
static void test_random_roundtrip(void)
{
	static const char *bnd = "q-=_Z";
	static const char *alphabet = "\r\n-q=_Z\r\nx\0";
	char ct[80];

	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", bnd);
	for (int round = 0; round < 60; round++) {
		vt_buf body, want;
		int parts = 1 + (int)(rnd() % 4);

		vt_buf_init(&body, 1 << 20);
		vt_buf_init(&want, 1 << 20);
		if (rnd() % 2)
			vt_buf_adds(&body, "preamble\r\n--q-=_ \r\n");
		for (int p = 0; p < parts; p++) {
			size_t len = rnd() % (round < 50 ? 80 : 5000);
			size_t start;

			vt_buf_printf(&body, "--%s\r\n", bnd);
			vt_buf_printf(
			    &body,
			    "Content-Disposition: form-data; name=\"p%d\"; filename=\"f%d\"\r\n"
			    "Content-Type: application/octet-stream\r\n\r\n",
			    p, p);
			vt_buf_printf(&want, "<B name=p%d file=f%d type=application/octet-stream>",
				      p, p);
			start = body.len;
			for (size_t i = 0; i < len; i++)
				vt_buf_addc(&body, rnd() % 3 ? (uint8_t)alphabet[rnd() % 11]
							     : (uint8_t)rnd());
			/* The naive encoder's one rule: no boundary at a line
			 * start in the data; break any by changing its last
			 * byte. */
			if (len >= 7 && memcmp(body.ptr + start, "--q-=_Z", 7) == 0)
				body.ptr[start + 6] = 'X';
			for (size_t i = start; i + 9 <= body.len; i++)
				if (memcmp(body.ptr + i, "\r\n--q-=_Z", 9) == 0)
					body.ptr[i + 8] = 'X';
			vt_buf_add(&want, body.ptr + start, body.len - start);
			vt_buf_printf(&want, "<E %zu>", body.len - start);
			vt_buf_adds(&body, "\r\n");
		}
		vt_buf_printf(&body, "--%s--\r\nepilogue", bnd);
		check_body(ct, body.ptr, body.len, NULL, 0, (const char *)want.ptr, want.len, NULL);
		vt_buf_dispose(&body);
		vt_buf_dispose(&want);
	}
}

static void test_safe_filename(void)
{
	static const struct {
		const char *name;
		const char *msg; /* NULL: safe */
	} cases[] = {
	    {"eicar.com", NULL},
	    {"report 2024 (final).pdf", NULL},
	    {"..hidden", NULL},
	    {"a..b", NULL},
	    {"résumé.docx", NULL},
	    {"\xe6\x97\xa5\xe6\x9c\xac.txt", NULL},
	    {"\xf0\x9f\x98\x80", NULL},
	    {"", "empty"},
	    {".", "directory"},
	    {"..", "directory"},
	    {"../etc/passwd", "separator"},
	    {"a/b", "separator"},
	    {"..\\windows\\win.ini", "separator"},
	    {"/abs", "separator"},
	    {"a\tb", "control"},
	    {"a\nb", "control"},
	    {"a\x7f", "control"},
	    {"a\xc2\x85", "control"},		 /* U+0085 NEL */
	    {"evil\xe2\x80\xaetxt.exe", "bidi"}, /* U+202E */
	    {"a\xe2\x81\xa6", "bidi"},		 /* U+2066 */
	    {"\xff", "UTF-8"},
	    {"\xc0\xaf", "UTF-8"},	   /* overlong '/' */
	    {"\xed\xa0\x80", "UTF-8"},	   /* surrogate */
	    {"\xf4\x90\x80\x80", "UTF-8"}, /* above U+10FFFF */
	    {"\xe2\x82", "UTF-8"},	   /* cut short */
	};
	char longname[VT_MULTIPART_FILENAME_MAX + 2];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = vt_multipart_safe_filename(cases[i].name);
		const char *want = cases[i].msg;

		if (want && strcmp(want, "bidi") == 0)
			want = "bidirectional";
		CHECK_CODE(err, want ? VT_EINVAL : 0);
		if (want && strstr(vt_error_last(), want) == NULL) {
			fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, vt_error_last(),
				want);
			CHECK(0);
		}
	}
	memset(longname, 'a', sizeof(longname));
	longname[VT_MULTIPART_FILENAME_MAX] = '\0';
	CHECK_OK(vt_multipart_safe_filename(longname));
	longname[VT_MULTIPART_FILENAME_MAX] = 'a';
	longname[VT_MULTIPART_FILENAME_MAX + 1] = '\0';
	CHECK_CODE(vt_multipart_safe_filename(longname), VT_EINVAL);
	CHECK(strstr(vt_error_last(), "longer than 255") != NULL);
}

int main(void)
{
	RUN(test_curl_body);
	RUN(test_near_delimiters);
	RUN(test_framing);
	RUN(test_content_type);
	RUN(test_rejections);
	RUN(test_limits);
	RUN(test_callback_abort);
	RUN(test_streaming);
	RUN(test_chunking);
	RUN(test_random_roundtrip);
	RUN(test_safe_filename);
	return TEST_DONE();
}
