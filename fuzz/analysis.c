/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the whole analysis of one buffer (hashes, type, YARA with
 * the pe and elf modules, containers and their members) with a small
 * built-in rule set and tight limits, then its JSON report.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vitrine/analysis.h"
#include "vitrine/error.h"

static void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, vt_error_last());
	abort();
}

static const char rules_src[] =
    "import \"pe\"\nimport \"elf\"\n"
    "rule mz { strings: $a = \"MZ\" condition: $a at 0 }\n"
    "rule pe_many_sections { meta: verdict = \"malicious\" "
    "condition: pe.number_of_sections > 3 and pe.imports(\"kernel32.dll\") }\n"
    "rule elf_exec { meta: severity = 3 condition: elf.type == elf.ET_EXEC }\n"
    "rule zipped { strings: $pk = { 50 4B 03 04 } condition: #pk > 1 }\n"
    "rule hexy { strings: $h = /GetProc[A-Za-z]{7}/ condition: $h }\n";

static vt_analysis_engine *engine;
static vt_analysis_worker *worker;

static int setup(void)
{
	vt_analysis_rules *rules = NULL;
	vt_analysis_limits lim;

	vt_analysis_limits_default(&lim);
	lim.max_depth = 3;
	lim.max_members = 64;
	lim.max_member_size = 1 << 20;
	lim.max_total_size = 4 << 20;
	lim.timeout_s = 5;
	if (vt_analysis_rules_compile_string(&rules, "fuzz.yar", rules_src, true) < 0 ||
	    vt_analysis_engine_new(&engine, rules, &lim, 0) < 0 ||
	    vt_analysis_worker_new(&worker, engine) < 0)
		die("setup");
	vt_analysis_rules_unref(rules);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	vt_analysis_result res;
	vt_buf b;

	if (!ready)
		ready = setup() == 0;
	/* Only running out of memory may fail, and the limits prevent it. */
	if (vt_analysis_scan_mem(&res, worker, data, size) < 0)
		die("scan");
	vt_buf_init(&b, 64u << 20);
	if (vt_analysis_result_json(&b, &res, "fuzz") < 0)
		die("json");
	vt_buf_dispose(&b);
	vt_analysis_result_dispose(&res);
	return 0;
}
