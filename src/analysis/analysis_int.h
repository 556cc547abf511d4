/* SPDX-License-Identifier: Apache-2.0 */
/* Private structures shared by the files of the analysis module. */
#ifndef VT_ANALYSIS_INT_H
#define VT_ANALYSIS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <yara.h>

#include "vitrine/analysis.h"

struct vt_analysis_rules {
	atomic_uint refs;
	YR_RULES *yr;
	char digest[65];
	unsigned count;
	char *warnings;
	pthread_mutex_t save_lock; /* guards saved_fd; yr_rules_save_stream too */
	int saved_fd;		   /* sealed memfd of the saved rules, or -1 */
};

struct vt_analysis_engine {
	pthread_mutex_t lock; /* guards rules only */
	vt_analysis_rules *rules;
	vt_analysis_rules *facts; /* no rules, only pe and elf: used when rules is NULL */
	vt_analysis_limits limits;
	unsigned flags;
};

/* Initialise libyara once per process. 0 or VT_ENOMEM. */
int vt_analysis__yara_init(void);

/*
 * The rules saved (yr_rules_save_stream) into a sealed memfd, made on the
 * first call and kept with the rules: *out is borrowed, valid while r
 * lives. Read it with pread only (children share its offset). Thread-safe.
 * VT_EIO, VT_ENOMEM.
 */
int vt_analysis__rules_fd(int *out, vt_analysis_rules *r);

/*
 * Load rules saved by vt_analysis__rules_fd from fd (read with pread from
 * offset 0; fd stays open), with digest (64 hex) as theirs. VT_EINVAL
 * when fd does not hold saved rules.
 */
int vt_analysis__rules_load_fd(vt_analysis_rules **out, int fd, const char *digest);

/* The verdict a matched rule gives, from its metadata. */
vt_verdict vt_analysis__rule_verdict(const YR_RULE *rule);

/*
 * Read the facts the pe or elf module found into a JSON text (malloc'd,
 * NULL when the module saw no such file). module is the module's root
 * object as CALLBACK_MSG_MODULE_IMPORTED hands it over.
 */
char *vt_analysis__module_facts(YR_OBJECT *module);

/*
 * Whether jansson may parse a report of len bytes: a pass over the text
 * counts objects, arrays and separators outside strings and estimates the
 * memory jansson's tree would take (an empty object costs it about 230
 * bytes, two bytes of text). 0, or VT_ETOOBIG with a message when the
 * estimate is over VT_ANALYSIS__REPORT_MEMORY_MAX. Pure.
 */
#define VT_ANALYSIS__REPORT_MEMORY_MAX ((size_t)256 << 20)
int vt_analysis__result_budget(const char *json, size_t len);

/* A JSON string of len bytes; bytes that are not UTF-8 become '?'. NULL on ENOMEM. */
struct json_t;
struct json_t *vt_analysis__json_str(const char *s, size_t len);

#include "tlsh_c.h"

#endif
