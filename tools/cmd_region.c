/*
 * cmd_region.c - `regionctl region create|remove`: manage the regions of a
 * live environment from the command line.
 *
 * Each run joins the environment as an ordinary process would (it is
 * registered for the instant it works), makes one public call
 * (rgn_region_create or rgn_region_remove) and leaves.  Nothing is checked
 * here that the library checks itself: a refusal is the library's code and
 * detail, printed as every other regionctl failure, so the command and the
 * API can never disagree about what is allowed.  Joining (not creating)
 * means a missing environment is an error, never a new one.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regionctl.h"

static const char region_help[] =
	"Usage: regionctl region create -h HOME NAME:TYPE:SIZE\n"
	"       regionctl region remove -h HOME NAME\n"
	"\n"
	"Create or remove one region of the environment in HOME while it is "
	"in\n"
	"use: regionctl joins the environment, makes the change and leaves.\n"
	"A regionfs mount shows the change within a second.  `regionctl "
	"region\n"
	"COMMAND --help` describes each.\n";

static const char region_create_help[] =
	"Usage: regionctl region create -h HOME NAME:TYPE:SIZE\n"
	"\n"
	"Create a region NAME of TYPE (lock, log, mpool, mutex, txn or user) "
	"and\n"
	"SIZE bytes (or with a K, M or G suffix; rounded up to whole pages) "
	"in\n"
	"the environment in HOME, which must exist; processes attached to it\n"
	"may go on working.  Refused, with the library's reason, when a "
	"region\n"
	"of that name exists, the size is outside 64K..1T, the region table "
	"is\n"
	"full or the storage cannot be reserved.\n"
	"\n"
	"  -h, --home HOME      the environment's directory\n"
	"      --help           this text\n";

static const char region_remove_help[] =
	"Usage: regionctl region remove -h HOME NAME\n"
	"\n"
	"Remove the region NAME from the environment in HOME.  Processes that\n"
	"have it attached keep their mapping until they detach; nobody can\n"
	"attach it afterwards.  Refused, with the library's reason, when the\n"
	"environment has no region of that name (the primary is not one).\n"
	"\n"
	"  -h, --home HOME      the environment's directory\n"
	"      --help           this text\n";

/* -h HOME and --help, then exactly one operand; returns it. */
static const char *parse_args(int argc, char **argv, const char *help,
			      const char *operand, const char **homep)
{
	static const struct option opts[] = {
		{"home", required_argument, NULL, 'h'},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	int c;

	*homep = NULL;
	while ((c = getopt_long(argc, argv, "h:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			*homep = optarg;
			break;
		case OPT_HELP:
			fputs(help, stdout);
			exit(fflush(stdout) == 0 ? 0 : EXIT_FAILURE);
		default:
			bad_option(argv);
		}
	}
	if (!*homep)
		usage_error("missing -h HOME");
	if (optind >= argc)
		usage_error("missing %s", operand);
	if (optind + 1 < argc)
		usage_error("unexpected argument \"%s\"", argv[optind + 1]);
	return argv[optind];
}

/* Join HOME: never create, never inspect (a change needs a member). */
static int join(const char *home, rgn_env **envp)
{
	struct rgn_env_config cfg;
	int rc;

	rgn_env_config_init(&cfg);
	rc = rgn_env_open(home, &cfg, envp);
	if (rc < 0)
		return lib_error("open environment", home, rc);
	return 0;
}

/* Leave ENV; a failure to close turns success RET into failure. */
static int leave(rgn_env *env, const char *home, int ret)
{
	int rc = rgn_env_close(env);

	if (rc < 0 && ret == 0)
		return lib_error("close environment", home, rc);
	return ret;
}

static int region_create(int argc, char **argv)
{
	struct region_spec spec;
	const char *home, *arg;
	rgn_env *env;
	int ret;

	arg = parse_args(argc, argv, region_create_help, "NAME:TYPE:SIZE",
			 &home);
	parse_region("NAME:TYPE:SIZE", arg, &spec);
	ret = join(home, &env);
	if (ret)
		return ret;
	ret = create_regions(env, home, &spec, 1);
	return leave(env, home, ret);
}

static int region_remove(int argc, char **argv)
{
	const char *home, *name;
	rgn_env *env;
	int ret, rc;

	name = parse_args(argc, argv, region_remove_help, "NAME", &home);
	ret = join(home, &env);
	if (ret)
		return ret;
	rc = rgn_region_remove(env, name);
	if (rc < 0) {
		char what[96];

		snprintf(what, sizeof(what), "remove region \"%.47s\" from",
			 name);
		ret = lib_error(what, home, rc);
	}
	return leave(env, home, ret);
}

int cmd_region(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} subs[] = {
		{"create", region_create},
		{"remove", region_remove},
	};
	static char full[64];

	if (argc < 2)
		usage_error("missing a command: create or remove");
	if (strcmp(argv[1], "--help") == 0) {
		fputs(region_help, stdout);
		return fflush(stdout) == 0 ? 0 : EXIT_FAILURE;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(argv[1], subs[i].name) != 0)
			continue;
		/* Messages, ours and getopt's, name the whole command. */
		snprintf(full, sizeof(full), "%s region %s", prog,
			 subs[i].name);
		cmd_name = full + strlen(prog) + 1;
		argv[1] = full;
		return subs[i].run(argc - 1, argv + 1);
	}
	usage_error("unknown command \"%s\": expected create or remove",
		    argv[1]);
}
