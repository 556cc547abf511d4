/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of access checks, the `access` entry and exports (plaintext and the "infected" ZIP). */
#include "test.h"
#include "vitrine/access.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/export.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char HASH[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static void test_entry_bytes(void)
{
	vt_index_access a = {.token_id = 7, .time = 1796000000};
	vt_access_format fmt;
	vt_hash id;
	vt_buf b;

	CHECK(vt_access_check(&a, &id, &fmt, "analyst", HASH, "incident-response", "INC-4711",
			      NULL) == 0);
	CHECK(fmt == VT_ACCESS_RAW);
	CHECK(strcmp(a.result, "") == 0);
	strcpy(a.result, "granted");
	vt_buf_init(&b, 4096);
	CHECK_OK(vt_access_entry(&b, &a, fmt));
	CHECK(strcmp(vt_buf_cstr(&b),
		     "vitrine/1 access\n"
		     "token 7\n"
		     "role analyst\n"
		     "resource files/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad/"
		     "content\n"
		     "format raw\n"
		     "reason incident-response\n"
		     "ticket INC-4711\n"
		     "result granted\n"
		     "time 2026-11-30T00:53:20Z\n") == 0);
	/* Upper-case hex is accepted and spelled in lower case. */
	char upper[65];
	for (int i = 0; i < 64; i++)
		upper[i] = (char)(HASH[i] >= 'a' ? HASH[i] - 32 : HASH[i]);
	upper[64] = 0;
	CHECK(vt_access_check(&a, &id, &fmt, "analyst", upper, "legal-order", "L/1", "zip") == 0);
	CHECK(fmt == VT_ACCESS_ZIP);
	CHECK(strstr(a.resource, HASH) != NULL);
	/* An entry never carries a space or an empty value. */
	strcpy(a.ticket, "a b");
	CHECK_CODE(vt_access_entry(&b, &a, fmt), VT_EINVAL);
	strcpy(a.ticket, "");
	CHECK_CODE(vt_access_entry(&b, &a, fmt), VT_EINVAL);
	vt_buf_dispose(&b);
}

/* Each refusal, in order of precedence, and what the entry keeps of the input. */
static void test_refusals(void)
{
	static const struct {
		const char *role, *hash, *reason, *ticket, *format;
		int status;
		const char *result, *logged_reason, *logged_ticket;
	} cases[] = {
		{"auditor", HASH, "legal-order", "T-1", NULL, 403, "forbidden", "legal-order", "T-1"},
		{"submitter", "zz", NULL, NULL, NULL, 403, "forbidden", "-", "-"},
		{"analyst", "abc", "legal-order", "T-1", NULL, 400, "bad-hash", "legal-order", "T-1"},
		{"analyst", HASH, "legal-order", "T-1", "tar", 400, "bad-format", "legal-order", "T-1"},
		{"analyst", HASH, NULL, "T-1", NULL, 400, "no-reason", "-", "T-1"},
		{"analyst", HASH, "", "T-1", NULL, 400, "no-reason", "-", "T-1"},
		{"analyst", HASH, "curiosity", "T-1", NULL, 400, "bad-reason", "-", "T-1"},
		{"analyst", HASH, "legal-order\n", "T-1", NULL, 400, "bad-reason", "-", "T-1"},
		{"analyst", HASH, "legal-order", NULL, NULL, 400, "no-ticket", "legal-order", "-"},
		{"analyst", HASH, "legal-order", "a b", NULL, 400, "bad-ticket", "legal-order", "-"},
		{"analyst", HASH, "legal-order", "T\x01", NULL, 400, "bad-ticket", "legal-order", "-"},
		{"analyst", HASH, "legal-order",
		 "0123456789012345678901234567890123456789012345678901234567890123456789", NULL, 400,
		 "bad-ticket", "legal-order", "-"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vt_index_access a = {.token_id = 1, .time = 1};
		vt_access_format fmt = VT_ACCESS_ZIP;
		vt_hash id;
		vt_buf b;
		int st = vt_access_check(&a, &id, &fmt, cases[i].role, cases[i].hash,
					 cases[i].reason, cases[i].ticket, cases[i].format);
		CHECK(st == cases[i].status);
		CHECK(strcmp(a.result, cases[i].result) == 0);
		CHECK(strcmp(a.reason, cases[i].logged_reason) == 0);
		CHECK(strcmp(a.ticket, cases[i].logged_ticket) == 0);
		CHECK(vt_error_last()[0] != 0);
		vt_buf_init(&b, 4096);
		CHECK_OK(vt_access_entry(&b, &a, fmt));
		vt_buf_dispose(&b);
	}
	for (size_t i = 0; vt_access_reasons[i]; i++)
		CHECK_OK(vt_access_reason_check(vt_access_reasons[i]));
}

static vt_vault *make_vault(char *dir)
{
	vt_vault *v = NULL;
	if (!mkdtemp(dir) || vt_vault_init(dir) < 0 || vt_vault_open(&v, dir) < 0)
		return NULL;
	return v;
}

static int store(vt_hash *id, vt_vault *v, const uint8_t *p, size_t n)
{
	vt_vault_writer *w;
	int err;
	if ((err = vt_vault_writer_new(&w, v, "CH-ZRH")) < 0)
		return err;
	if ((err = vt_vault_writer_write(w, p, n)) < 0) {
		vt_vault_writer_abort(w);
		return err;
	}
	return vt_vault_writer_finish(id, NULL, w);
}

/* Read a whole export, in pieces of odd sizes. */
static int drain(vt_buf *out, vt_export *e)
{
	uint8_t piece[777];
	size_t n = 1;
	int err = 0;
	while (n > 0 && (err = vt_export_read(&n, e, piece, sizeof(piece))) == 0)
		if ((err = vt_buf_add(out, piece, n)) < 0)
			break;
	return err;
}

static void test_exports(void)
{
	char dir[] = "/tmp/vt-access-XXXXXX";
	size_t n = 3 * VT_VAULT_CHUNK + 12345;
	uint8_t *data = malloc(n);
	vt_vault *v = make_vault(dir);
	vt_export *e = NULL;
	vt_buf got;
	vt_hash id, none;
	char hex[65], path[4200];

	CHECK(v != NULL && data != NULL);
	if (!v || !data)
		return;
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	CHECK_OK(store(&id, v, data, n));
	vt_hex_encode(hex, id.b, VT_HASH_SIZE);
	CHECK_OK(vt_export_check(v, &id, "CH-ZRH"));
	CHECK_CODE(vt_export_check(v, &id, "DE-FRA"), VT_EVERIFY);
	memset(&none, 7, sizeof(none));
	CHECK_CODE(vt_export_check(v, &none, "CH-ZRH"), VT_ENOTFOUND);

	/* Plaintext: the exact bytes, size known in advance. */
	vt_buf_init(&got, (size_t)1 << 24);
	CHECK_OK(vt_export_open(&e, v, &id, "CH-ZRH", VT_ACCESS_RAW, hex));
	CHECK(vt_export_size(e) == (int64_t)n);
	CHECK_OK(drain(&got, e));
	CHECK(got.len == n && memcmp(got.ptr, data, n) == 0);
	vt_export_free(e);

	/* ZIP: libarchive reads it back with the password, not without. */
	got.len = 0;
	CHECK_OK(vt_export_open(&e, v, &id, "CH-ZRH", VT_ACCESS_ZIP, hex));
	CHECK(vt_export_size(e) == -1);
	CHECK_OK(drain(&got, e));
	vt_export_free(e);
	for (int pass = 0; pass < 2; pass++) {
		struct archive *a = archive_read_new();
		struct archive_entry *ent;
		uint8_t *back = malloc(n + 1);
		la_ssize_t r = -1;
		archive_read_support_format_zip(a);
		if (pass == 1)
			archive_read_add_passphrase(a, VT_EXPORT_ZIP_PASSWORD);
		CHECK(archive_read_open_memory(a, got.ptr, got.len) == ARCHIVE_OK);
		CHECK(archive_read_next_header(a, &ent) == ARCHIVE_OK);
		CHECK(strcmp(archive_entry_pathname(ent), hex) == 0);
		CHECK(archive_entry_is_encrypted(ent));
		size_t total = 0;
		while (back && (r = archive_read_data(a, back + total, n + 1 - total)) > 0)
			total += (size_t)r;
		if (pass == 0)
			CHECK(r < 0);
		else
			CHECK(r == 0 && total == n && memcmp(back, data, n) == 0);
		free(back);
		archive_read_free(a);
	}

	/* A damaged object: refused by the check, and by an export mid-way. */
	snprintf(path, sizeof(path), "%s/vault/%.2s/%s", dir, hex, hex);
	FILE *f = fopen(path, "r+b");
	CHECK(f != NULL);
	if (f) {
		int c;
		fseek(f, -100, SEEK_END);
		c = fgetc(f);
		fseek(f, -100, SEEK_END);
		fputc(0x5a ^ c, f);
		fclose(f);
	}
	CHECK_CODE(vt_export_check(v, &id, "CH-ZRH"), VT_ECORRUPT);
	got.len = 0;
	CHECK_OK(vt_export_open(&e, v, &id, "CH-ZRH", VT_ACCESS_ZIP, hex));
	CHECK_CODE(drain(&got, e), VT_ECORRUPT);
	vt_export_free(e);

	vt_buf_dispose(&got);
	vt_vault_close(v);
	free(data);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK(system(path) == 0);
}

int main(void)
{
	RUN(test_entry_bytes);
	RUN(test_refusals);
	RUN(test_exports);
	return TEST_DONE();
}
