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

/* The verdict a matched rule gives, from its metadata. */
vt_verdict vt_analysis__rule_verdict(const YR_RULE *rule);

/*
 * Read the facts the pe or elf module found into a JSON text (malloc'd,
 * NULL when the module saw no such file). module is the module's root
 * object as CALLBACK_MSG_MODULE_IMPORTED hands it over.
 */
char *vt_analysis__module_facts(YR_OBJECT *module);

/* A JSON string of len bytes; bytes that are not UTF-8 become '?'. NULL on ENOMEM. */
struct json_t;
struct json_t *vt_analysis__json_str(const char *s, size_t len);

#include "tlsh_c.h"

#endif
