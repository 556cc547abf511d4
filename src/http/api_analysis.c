/* SPDX-License-Identifier: Apache-2.0 */
/* The analysis routes of /api/v1 (see include/vitrine/router.h); the logic is in src/analysis. */
#include "server_int.h"

enum MHD_Result vt_api_analysis_handle(request *rq, bool first, const char *data, size_t *size)
{
	(void)data;
	if (first)
		return MHD_YES; /* MHD calls again once the body (if any) is in */
	if (*size > 0) {
		*size = 0;
		return MHD_YES;
	}
	return vt_http_api_error(rq->conn, 503, "unavailable", "this site does not run the analysis service",
				 NULL, NULL);
}
