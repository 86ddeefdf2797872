/*
 * main.c - entry point of the `sitq` program: dispatch to the subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "sitq.h"

/** One subcommand: its name, entry point and one-line summary. */
typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand COMMANDS[] = {
    {"enqueue", cmd_enqueue, "enqueue a shell command as a task and print its id"},
    {"worker", cmd_worker, "run a worker executing shell tasks"},
    {"queues", cmd_queues, "list the queues with their tasks counted by status"},
    {"stats", cmd_stats, "count tasks by status per queue, and measure the store"},
    {"list", cmd_list, "list tasks, newest first"},
    {"show", cmd_show, "print every field of a task"},
    {"wait", cmd_wait, "wait until a task has finished and print it"},
    {"cancel", cmd_cancel, "cancel a task"},
    {"retry", cmd_retry, "run a failed or cancelled task again"},
    {"purge", cmd_purge, "delete old finished tasks"},
    {"top", cmd_top, "a live view: queues, throughput, workers and latest failures"},
    {"workers", cmd_workers, "list the workers: running, dead or stopped, and what they run"},
    {"schedule", cmd_schedule, "add, list, remove, pause or resume periodic tasks"},
    {"retention", cmd_retention, "show or set how long a queue keeps finished tasks"},
    {"pause", cmd_pause, "pause a queue: workers claim nothing from it"},
    {"resume", cmd_resume, "resume a paused queue"},
    {"limit", cmd_limit, "set, remove or list concurrency and rate limits"},
    {"dashboard", cmd_dashboard, "serve a web dashboard of the queues, tasks and workers"},
    {"metrics", cmd_metrics, "print the store's metrics in the Prometheus text format"},
    {"bench", cmd_bench, "benchmark the engine beside raw SQLite (no DB argument)"},
};

#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

/** Print the global usage on `out`. */
static void print_global_usage(FILE *out) {
    fputs("usage: sitq COMMAND DB [ARGS...] [OPTIONS]\n"
          "       sitq COMMAND --help | sitq --help | sitq --version\n"
          "\n"
          "Commands:\n",
          out);
    /* One column for every summary: as wide as the longest command name. */
    int width = 0;
    for (size_t i = 0; i < N_COMMANDS; i++)
        if ((int)strlen(COMMANDS[i].name) > width) width = (int)strlen(COMMANDS[i].name);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-*s  %s\n", width, COMMANDS[i].name, COMMANDS[i].summary);
    fputs("\n"
          "Common options: --queue NAME, --json, --help. Without --queue, enqueue,\n"
          "worker and purge use the queue \"default\", queues, stats and list show\n"
          "every queue, and show, wait, cancel and retry find the task's queue.\n"
          "Durations take a unit: 250ms, 30s, 10m, 1h, 7d (a bare number is seconds).\n"
          "Exit codes: 0 ok, 1 operational error (not found, wrong state, ...),\n"
          "2 usage error, 3 storage error, 4 wait timeout, 5 waited task failed.\n"
          "See sitq(1) (man sitq).\n",
          out);
}

/** Find a subcommand by name, or NULL. */
static const subcommand *find_command(const char *name) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0) return &COMMANDS[i];
    return NULL;
}

/** `sitq help [COMMAND]`: print the global or a subcommand's usage. */
static int run_help(int argc, char **argv) {
    if (argc < 2) {
        print_global_usage(stdout);
        return CLI_EXIT_OK;
    }
    const subcommand *c = find_command(argv[1]);
    if (c == NULL) {
        cli_errorf(NULL, "unknown command '%s' (see 'sitq --help')", argv[1]);
        return CLI_EXIT_USAGE;
    }
    char help[] = "--help";
    char *sub_argv[] = {(char *)c->name, help, NULL};
    return c->run(2, sub_argv);
}

/** Dispatch argv[1] to its subcommand; returns an exit code of enum cli_exit. */
int main(int argc, char **argv) {
    if (argc < 2) {
        print_global_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_global_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("sitq %s\n", SITQ_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "help") == 0) return run_help(argc - 1, argv + 1);
    const subcommand *c = find_command(name);
    if (c == NULL) {
        if (name[0] == '-')
            cli_errorf(NULL,
                       "unknown option '%s': put options after the command "
                       "(see 'sitq --help')",
                       name);
        else cli_errorf(NULL, "unknown command '%s' (see 'sitq --help')", name);
        return CLI_EXIT_USAGE;
    }
    int rc = c->run(argc - 1, argv + 1);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
        cli_errorf(name, "cannot write output");
        rc = CLI_EXIT_FAILURE;
    }
    return rc;
}
