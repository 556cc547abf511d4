/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the recipe parser: any input either parses, with every
 * field within its documented rules, or is refused with VT_EINVAL or
 * VT_ETOOBIG and leaves the recipe zeroed.
 */
#include "vitrine/error.h"
#include "vitrine/recipe.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vt_recipe r;
	int err = vt_recipe_parse(&r, (const char *)data, size);
	if (err != 0) {
		if ((err != VT_EINVAL && err != VT_ETOOBIG) || r.name || r.outputs || r.build)
			abort();
		return 0;
	}
	if (!r.name || !r.version || !r.source || !r.build || r.noutputs == 0 || r.timeout == 0 ||
	    r.timeout > 86400 || r.tmp_size < (1u << 20))
		abort();
	for (size_t i = 0; i < r.noutputs; i++)
		if (r.outputs[i][0] == '/' || strstr(r.outputs[i], "..") == r.outputs[i])
			abort();
	for (size_t i = 0; i < r.nenv; i++)
		if (!strchr(r.env[i], '=') || strncmp(r.env[i], "PATH=", 5) == 0)
			abort();
	for (size_t i = 0; i < r.ntoolchain; i++)
		if (r.toolchain[i][0] != '/')
			abort();
	vt_recipe_dispose(&r);
	return 0;
}
