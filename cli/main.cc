// llemma: one command, many subcommands. Each subcommand lives in its own file
// and only parses options and calls the library.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"llemma: run, evaluate and check LLEMMA-family math language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "llemma 0.1.0");
  int exit_code = 0;
  llemma::cli::AddGenerateCommand(app, &exit_code);
  llemma::cli::AddTokenizeCommand(app, &exit_code);
  llemma::cli::AddPerplexityCommand(app, &exit_code);
  llemma::cli::AddBenchCommand(app, &exit_code);
  llemma::cli::AddQuantizeCommand(app, &exit_code);
#ifdef LLEMMA_HAVE_CHECK_COMMAND
  llemma::cli::AddCheckCommand(app, &exit_code);
#endif
#ifdef LLEMMA_HAVE_EVAL_COMMAND
  llemma::cli::AddEvalCommand(app, &exit_code);
#endif
#ifdef LLEMMA_HAVE_SANDBOX_COMMAND
  llemma::cli::AddSandboxCommand(app, &exit_code);
#endif
#ifdef LLEMMA_HAVE_SOLVE_COMMAND
  llemma::cli::AddSolveCommand(app, &exit_code);
#endif
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
