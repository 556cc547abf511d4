/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine serve: run the log and its HTTP API until SIGINT or SIGTERM. */
#include "cli.h"
#include "vitrine/analysis_service.h"
#include "vitrine/error.h"
#include "vitrine/intake.h"
#include "vitrine/vault.h"
#include "vitrine/log.h"
#include "vitrine/server.h"
#include "vitrine/site.h"
#include "vitrine/token.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char help[] =
	"usage: vitrine serve --dir DIR [--listen HOST:PORT] [options]\n"
	"\n"
	"Serve the log in DIR (made by 'vitrine init') over HTTP:\n"
	"  GET  /log/checkpoint, /log/tile/<L>/<N>[.p/<W>], /log/tile/entries/<N>[.p/<W>]\n"
	"  POST /log/add (admin token; answers with a c2sp.org/tlog-proof)\n"
	"  POST /api/v1/files (submitter token; multipart/form-data with a \"file\" part)\n"
	"  GET  /healthz, /metrics\n"
	"\n"
	"  --listen HOST:PORT   address to listen on (default 127.0.0.1:8080)\n"
	"  --batch-max N        entries that close a group (default 4096)\n"
	"  --batch-age MS       hold each group open until it is MS milliseconds old\n"
	"                       or has --batch-max entries (default: a group closes\n"
	"                       as soon as the disk can take it)\n"
	"  --queue-max N        waiting entries before answering 503 (default 65536)\n"
	"  --threads N          HTTP event-loop threads (default 2)\n"
	"  --max-upload BYTES   largest file accepted by /api/v1/files (default 268435456)\n"
	"  --timeout SECONDS    close connections idle this long (default 30)\n"
	"  --min-rate BYTES     cut uploads averaging less than this per second once\n"
	"                       --timeout has passed, with 408 (default 4096)\n"
	"  --analysis-workers N threads analysing stored samples (default: the CPUs)\n"
	"  --no-analysis        do not analyse stored samples (no `analysis` entries)\n"
	"  --analysis-timeout S YARA time per file or archive member (default 60)\n"
	"  --analysis-memory MB address space of each confined analyser process\n"
	"                       (default: 2 GiB plus the unpacking limits)\n"
	"  --analysis-child-samples N\n"
	"                       replace each analyser process after N samples\n"
	"                       (default 1000; 1: a fresh process for every sample)\n"
	"\n"
	"A site made with --jurisdiction takes files into its vault under the residency\n"
	"policy in force (DIR/policy); without one it serves the log only.\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int parse_listen(char *host, size_t cap, unsigned *port, const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long p;
	if (!colon || (size_t)(colon - s) >= cap)
		return -1;
	p = strtoul(colon + 1, &end, 10);
	if (*end || colon[1] == '\0' || p > 65535)
		return -1;
	snprintf(host, cap, "%.*s", (int)(colon - s), s);
	*port = (unsigned)p;
	return 0;
}

static unsigned long number(const char *s, const char *name, int *bad)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s == '\0' || *end || v == 0) {
		fprintf(stderr, "vitrine: %s must be a positive number\n", name);
		*bad = 1;
	}
	return v;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, 0, 'd'},
		{"listen", required_argument, 0, 'l'},
		{"batch-max", required_argument, 0, 'b'},
		{"batch-age", required_argument, 0, 'a'},
		{"queue-max", required_argument, 0, 'q'},
		{"threads", required_argument, 0, 't'},
		{"max-upload", required_argument, 0, 'm'},
		{"timeout", required_argument, 0, 'T'},
		{"min-rate", required_argument, 0, 'r'},
		{"analysis-workers", required_argument, 0, 'W'},
		{"no-analysis", no_argument, 0, 'N'},
		{"analysis-timeout", required_argument, 0, 'Y'},
		{"analysis-memory", required_argument, 0, 'M'},
		{"analysis-child-samples", required_argument, 0, 'C'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *dir = NULL, *listen = "127.0.0.1:8080";
	char host[256];
	vt_server_options so = {0};
	vt_log_options lo;
	vt_note_signer *signer = NULL;
	vt_storage *st = NULL;
	vt_tokens *tokens = NULL;
	vt_intake *intake = NULL;
	vt_vault *vault = NULL;
	vt_conveyer_site *conveyer = NULL;
	char cvdir[4096];
	char intake_off[512];
	vt_log *log = NULL;
	vt_server *srv = NULL;
	vt_analysis_service_options ao = {0};
	vt_analysis_service *analysis = NULL;
	bool no_analysis = false;
	vt_analysis_rules *rules = NULL;
	vt_buf vk;
	struct rlimit rl;
	int c, bad = 0, rc = EXIT_FAIL;

	vt_log_options_default(&lo);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'l': listen = optarg; break;
		case 'b': lo.batch_max = number(optarg, "--batch-max", &bad); break;
		case 'a':
			lo.batch_age_ms = (unsigned)number(optarg, "--batch-age", &bad);
			lo.hold = true;
			break;
		case 'q': lo.queue_max = number(optarg, "--queue-max", &bad); break;
		case 't': so.threads = (unsigned)number(optarg, "--threads", &bad); break;
		case 'm': so.max_upload = number(optarg, "--max-upload", &bad); break;
		case 'T': so.timeout_s = (unsigned)number(optarg, "--timeout", &bad); break;
		case 'r': so.min_rate = number(optarg, "--min-rate", &bad); break;
		case 'W': ao.workers = (unsigned)number(optarg, "--analysis-workers", &bad); break;
		case 'N': no_analysis = true; break;
		case 'Y':
			vt_analysis_limits_default(&ao.limits);
			ao.limits.timeout_s = (int)number(optarg, "--analysis-timeout", &bad);
			if (ao.limits.timeout_s < 1 || ao.limits.timeout_s > 3600)
				return cli_usage("serve", "--analysis-timeout is 1 to 3600 seconds");
			break;
		case 'M':
			ao.analyser_memory_max =
			    (uint64_t)number(optarg, "--analysis-memory", &bad) << 20;
			if (ao.analyser_memory_max < ((uint64_t)256 << 20))
				return cli_usage("serve", "--analysis-memory is at least 256 (MB)");
			break;
		case 'C':
			ao.analyser_max_samples =
			    (unsigned)number(optarg, "--analysis-child-samples", &bad);
			break;
		case 'h': fputs(help, stdout); return EXIT_OK;
		default: return cli_usage("serve", "bad option");
		}
	}
	if (bad)
		return EXIT_USAGE;
	if (!dir || optind != argc)
		return cli_usage("serve", "serve needs --dir DIR");
	if (parse_listen(host, sizeof(host), &so.port, listen) < 0)
		return cli_usage("serve", "--listen wants HOST:PORT, not \"%s\"", listen);
	so.host = host;
	/* Each connection is a descriptor: allow as many as the system does. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	vt_buf_init(&vk, 4096);
	if (cli_load_signer(&signer, dir) < 0) {
		rc = cli_fail("cannot load the log key (did you run 'vitrine init'?)");
		goto done;
	}
	if (vt_tokens_load(&tokens, dir) < 0) {
		rc = cli_fail("cannot load tokens");
		goto done;
	}
	if (vt_storage_posix_open(&st, dir, true) < 0) {
		rc = cli_fail("cannot open the data directory");
		goto done;
	}
	/* After the lock: a second server on the directory touches nothing. */
	if (vt_intake_open(&intake, dir, vt_tokens_index(tokens)) == 0) {
		so.intake = intake;
		/* Downloads and analysis read the intake's vault (handles are
		 * shared by threads), as held for this site. */
		vault = vt_intake_vault(intake);
		so.vault = vault;
		so.jurisdiction = vt_intake_jurisdiction(intake);
	} else {
		/* Serve the log anyway; uploads get 503 with the reason. */
		snprintf(intake_off, sizeof(intake_off), "this site takes no files: %s",
			 vt_error_last());
		so.intake_off = intake_off;
	}
	/* The conveyer's routes answer once the site has DIR/conveyer
	 * (vitrine release trust makes it); else they answer 503. */
	snprintf(cvdir, sizeof(cvdir), "%s/conveyer", dir);
	if (access(cvdir, F_OK) == 0) {
		if (vt_site_open(&conveyer, dir) < 0) {
			rc = cli_fail("cannot open the conveyer site");
			goto done;
		}
		so.conveyer = conveyer;
	}
	if (vt_log_open(&log, st, signer, &lo) < 0) {
		rc = cli_fail("cannot open the log");
		goto done;
	}
	/* The log has rolled forward: settle the uploads a crash cut short. */
	if (intake) {
		size_t found, dropped;
		if (vt_intake_recover(intake, &found, &dropped) < 0) {
			rc = cli_fail("cannot settle the uploads a crash interrupted");
			goto done;
		}
		if (found + dropped > 0)
			printf("settled %zu interrupted uploads: %zu sightings recovered from the log, "
			       "%zu to log again on their next upload\n",
			       found + dropped, found, dropped);
	}
	/* A site with a vault analyses what it holds, with DIR/rules/current. */
	if (vault && !no_analysis) {
		int err = vt_ruleset_load_current(&rules, dir);
		if (err < 0 && err != VT_ENOTFOUND) {
			rc = cli_fail("cannot compile the ruleset in force (DIR/rules/current)");
			goto done;
		}
		if (vt_analysis_service_start(&analysis, vt_tokens_index(tokens), vault,
					      vt_intake_jurisdiction(intake), log, dir, rules,
					      &ao) < 0) {
			rc = cli_fail("cannot start the analysis service");
			goto done;
		}
		so.analysis = analysis;
	}
	if (vt_server_start(&srv, log, st, tokens, &so) < 0) {
		rc = cli_fail("cannot start the server");
		goto done;
	}
	vt_note_signer_vkey(&vk, signer);
	printf("vitrine serving %s on http://%s:%u/\n", dir, host, vt_server_port(srv));
	printf("log verifier key: %s\n", vt_buf_cstr(&vk));
	printf("admin token: in %s/admin.token\n", dir);
	if (intake)
		printf("taking files for jurisdiction %s at /api/v1/files\n",
		       vt_intake_jurisdiction(intake));
	else
		printf("%s\n", intake_off);
	fflush(stdout);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	while (!stop)
		pause();
	fprintf(stderr, "vitrine: stopping\n");
	rc = EXIT_OK;
done:
	/* No writer is dropped: publish what is queued, answer every waiting
	 * writer, and only then free what their answers read. */
	vt_server_quiesce(srv);
	/* Workers finish their batch (its entries need the log) first. */
	vt_analysis_service_stop(analysis);
	vt_log_stop(log);
	if (srv && vt_server_drain(srv, 10000) > 0)
		fprintf(stderr, "vitrine: some appends were published but not answered\n");
	vt_server_free(srv);
	vt_analysis_service_free(analysis);
	vt_site_close(conveyer);
	vt_analysis_rules_unref(rules);
	vt_log_close(log);
	vt_intake_close(intake);
	vt_storage_close(st);
	vt_tokens_free(tokens);
	vt_note_signer_free(signer);
	vt_buf_dispose(&vk);
	return rc;
}
