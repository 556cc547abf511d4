/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A main() for a fuzz target without libFuzzer: runs LLVMFuzzerTestOneInput
 * once on every file named on the command line or found directly in a
 * directory named there, so the normal test run replays each committed
 * corpus (under ASan/UBSan in `make test-asan`). Each input is copied to
 * a buffer of its exact size so that an overread is caught. Finding no
 * input at all is a failure: an empty or mistyped corpus must not pass.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, size_t *count)
{
	FILE *f = NULL;
	uint8_t *buf = NULL;
	struct stat st;
	int rc = -1;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		goto done;
	}
	/* malloc(0) may return NULL; libFuzzer never passes NULL. */
	if ((buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", path);
		goto done;
	}
	if (st.st_size > 0 && fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fprintf(stderr, "%s: short read\n", path);
		goto done;
	}
	LLVMFuzzerTestOneInput(buf, (size_t)st.st_size);
	(*count)++;
	rc = 0;
done:
	free(buf);
	if (f)
		fclose(f);
	return rc;
}

static int run_path(const char *path, size_t *count)
{
	struct dirent **names = NULL;
	struct stat st;
	int n, rc = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path, count);
	/* Sorted, so that a failing run names the same input every time. */
	if ((n = scandir(path, &names, NULL, alphasort)) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char full[4096];
		struct stat fst;

		if (names[i]->d_name[0] != '.' &&
		    (size_t)snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name) <
			sizeof(full) &&
		    stat(full, &fst) == 0 && S_ISREG(fst.st_mode)) {
			printf("%s\n", full);
			fflush(stdout); /* so a crash names its input */
			if (run_file(full, count) < 0)
				rc = -1;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++)
		if (argv[i][0] != '-' && run_path(argv[i], &count) < 0) /* libFuzzer flags */
			rc = 1;
	printf("%s: %zu inputs ran\n", argv[0], count);
	if (count == 0) {
		fprintf(stderr, "%s: no input found\n", argv[0]);
		rc = 1;
	}
	return rc;
}
