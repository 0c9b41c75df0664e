// Registration of the `llemma` subcommands. Each subcommand lives in its own
// file, parses its options and calls the library; it returns the process exit
// code through the value it stores in *exit_code.
#pragma once

#include <CLI/CLI.hpp>

namespace llemma::cli {

void AddGenerateCommand(CLI::App& app, int* exit_code);
void AddTokenizeCommand(CLI::App& app, int* exit_code);
void AddPerplexityCommand(CLI::App& app, int* exit_code);
void AddBenchCommand(CLI::App& app, int* exit_code);
void AddQuantizeCommand(CLI::App& app, int* exit_code);
#ifdef LLEMMA_HAVE_CHECK_COMMAND
void AddCheckCommand(CLI::App& app, int* exit_code);
#endif
#ifdef LLEMMA_HAVE_EVAL_COMMAND
void AddEvalCommand(CLI::App& app, int* exit_code);  // cli/eval.cc
#endif
#ifdef LLEMMA_HAVE_SANDBOX_COMMAND
void AddSandboxCommand(CLI::App& app, int* exit_code);  // cli/sandbox.cc
#endif
#ifdef LLEMMA_HAVE_SOLVE_COMMAND
void AddSolveCommand(CLI::App& app, int* exit_code);  // cli/solve.cc
#endif

}  // namespace llemma::cli
