/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PE and ELF facts read from the objects that YARA's pe and elf modules
 * fill during a scan, walked through the object structures of libyara's
 * public headers (the yr_object_* accessors are not exported by the
 * shared library). The imphash is computed here from pe.import_details the
 * way the pe module's imphash() does (pefile's algorithm); see
 * docs/analysis.md for the one known difference (ordinal names).
 */
#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"
#include "vitrine/encoding.h"

#define FACTS_SECTIONS_MAX 96 /* sections listed; the count is always given */

static YR_OBJECT *field(YR_OBJECT *o, const char *name)
{
	YR_STRUCTURE_MEMBER *m;

	if (o == NULL || o->type != OBJECT_TYPE_STRUCTURE)
		return NULL;
	for (m = object_as_structure(o)->members; m != NULL; m = m->next) {
		if (m->object->identifier != NULL && strcmp(m->object->identifier, name) == 0)
			return m->object;
	}
	return NULL;
}

static int array_len(YR_OBJECT *o)
{
	YR_ARRAY_ITEMS *items;

	if (o == NULL || o->type != OBJECT_TYPE_ARRAY)
		return 0;
	items = object_as_array(o)->items;
	return items ? items->length : 0;
}

static YR_OBJECT *item(YR_OBJECT *o, int i)
{
	YR_ARRAY_ITEMS *items = object_as_array(o)->items;

	return i < items->length ? items->objects[i] : NULL;
}

static bool get_int(int64_t *out, YR_OBJECT *o, const char *name)
{
	YR_OBJECT *f = field(o, name);

	if (f == NULL || f->type != OBJECT_TYPE_INTEGER || IS_UNDEFINED(f->value.i))
		return false;
	*out = f->value.i;
	return true;
}

static const SIZED_STRING *get_str(YR_OBJECT *o, const char *name)
{
	YR_OBJECT *f = field(o, name);

	if (f == NULL || f->type != OBJECT_TYPE_STRING)
		return NULL;
	return f->value.ss;
}

static void put_int(json_t *j, YR_OBJECT *o, const char *name)
{
	int64_t v;

	if (get_int(&v, o, name))
		json_object_set_new(j, name, json_integer(v));
}

json_t *vt_analysis__json_str(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	char *copy;

	if (j != NULL)
		return j;
	/* Not UTF-8 (a section or member name, say): keep it readable as ASCII. */
	if ((copy = malloc(len + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		copy[i] = (s[i] > 0 && s[i] < 0x7f) ? s[i] : '?';
	j = json_stringn(copy, len);
	free(copy);
	return j;
}

static void put_str(json_t *j, const char *key, const SIZED_STRING *s)
{
	if (s != NULL)
		json_object_set_new(j, key, vt_analysis__json_str(s->c_string, s->length));
}

/* Add "lib.func" to the imphash input, lower-cased, extension cut. */
static void imphash_add(EVP_MD_CTX *c, bool *first, const SIZED_STRING *lib, const char *func,
			size_t flen)
{
	size_t n = lib->length;
	char low[8];

	if (n > 4) {
		for (size_t i = 0; i < 4; i++)
			low[i] = (char)tolower((unsigned char)lib->c_string[n - 4 + i]);
		if (memcmp(low, ".dll", 4) == 0 || memcmp(low, ".ocx", 4) == 0 ||
		    memcmp(low, ".sys", 4) == 0)
			n -= 4;
	}
	if (!*first)
		EVP_DigestUpdate(c, ",", 1);
	*first = false;
	for (size_t i = 0; i < n; i++) {
		char ch = (char)tolower((unsigned char)lib->c_string[i]);
		EVP_DigestUpdate(c, &ch, 1);
	}
	EVP_DigestUpdate(c, ".", 1);
	for (size_t i = 0; i < flen; i++) {
		char ch = (char)tolower((unsigned char)func[i]);
		EVP_DigestUpdate(c, &ch, 1);
	}
}

static void pe_imphash(json_t *j, YR_OBJECT *pe)
{
	YR_OBJECT *imports = field(pe, "import_details");
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char md[16];
	char hex[33];
	bool first = true;
	int n = array_len(imports);

	if (c == NULL || EVP_DigestInit_ex(c, EVP_md5(), NULL) != 1)
		goto done;
	for (int i = 0; i < n; i++) {
		YR_OBJECT *lib = item(imports, i), *funcs;
		const SIZED_STRING *lname = get_str(lib, "library_name");
		if (lib == NULL || lname == NULL)
			continue;
		funcs = field(lib, "functions");
		for (int k = 0; k < array_len(funcs); k++) {
			YR_OBJECT *f = item(funcs, k);
			const SIZED_STRING *fname = get_str(f, "name");
			int64_t ord;
			char buf[32];
			if (f == NULL)
				continue;
			if (fname != NULL) {
				imphash_add(c, &first, lname, fname->c_string, fname->length);
			} else if (get_int(&ord, f, "ordinal")) {
				snprintf(buf, sizeof(buf), "ord%lld", (long long)ord);
				imphash_add(c, &first, lname, buf, strlen(buf));
			}
		}
	}
	if (first)
		goto done; /* no imports: pe.imphash() is undefined too */
	if (EVP_DigestFinal_ex(c, md, NULL) != 1)
		goto done;
	vt_hex_encode(hex, md, sizeof(md));
	json_object_set_new(j, "imphash", json_string(hex));
done:
	EVP_MD_CTX_free(c);
}

static json_t *sections(YR_OBJECT *o, const char *const *ints, size_t nints)
{
	YR_OBJECT *secs = field(o, "sections");
	json_t *a = json_array();
	int n = array_len(secs);

	for (int i = 0; i < n && i < FACTS_SECTIONS_MAX; i++) {
		YR_OBJECT *s = item(secs, i);
		json_t *js;
		if (s == NULL)
			continue;
		js = json_object();
		put_str(js, "name", get_str(s, "name"));
		for (size_t k = 0; k < nints; k++)
			put_int(js, s, ints[k]);
		json_array_append_new(a, js);
	}
	return a;
}

static json_t *pe_facts(YR_OBJECT *pe)
{
	static const char *const sec_ints[] = {"virtual_address", "virtual_size", "raw_data_size",
					       "characteristics"};
	static const char *const ints[] = {"machine",
					   "timestamp",
					   "entry_point",
					   "characteristics",
					   "subsystem",
					   "number_of_sections",
					   "number_of_imports",
					   "number_of_imported_functions",
					   "number_of_exports",
					   "number_of_resources",
					   "number_of_signatures"};
	int64_t is_pe;
	json_t *j;

	if (!get_int(&is_pe, pe, "is_pe") || is_pe != 1)
		return NULL;
	j = json_object();
	for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
		put_int(j, pe, ints[k]);
	put_str(j, "dll_name", get_str(pe, "dll_name"));
	put_str(j, "pdb_path", get_str(pe, "pdb_path"));
	pe_imphash(j, pe);
	json_object_set_new(j, "sections",
			    sections(pe, sec_ints, sizeof(sec_ints) / sizeof(sec_ints[0])));
	return j;
}

static json_t *elf_facts(YR_OBJECT *elf)
{
	static const char *const sec_ints[] = {"type", "flags", "address", "size", "offset"};
	static const char *const ints[] = {"type", "machine", "entry_point", "number_of_sections",
					   "number_of_segments"};
	int64_t type;
	json_t *j;

	if (!get_int(&type, elf, "type"))
		return NULL;
	j = json_object();
	for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
		put_int(j, elf, ints[k]);
	json_object_set_new(j, "sections",
			    sections(elf, sec_ints, sizeof(sec_ints) / sizeof(sec_ints[0])));
	return j;
}

char *vt_analysis__module_facts(YR_OBJECT *module)
{
	json_t *facts = NULL, *top = NULL;
	char *out = NULL;

	if (module == NULL || module->identifier == NULL)
		goto done;
	if (strcmp(module->identifier, "pe") == 0)
		facts = pe_facts(module);
	else if (strcmp(module->identifier, "elf") == 0)
		facts = elf_facts(module);
	if (facts == NULL)
		goto done;
	top = json_object();
	json_object_set_new(top, module->identifier, facts);
	out = json_dumps(top, JSON_COMPACT);
done:
	json_decref(top);
	return out;
}
