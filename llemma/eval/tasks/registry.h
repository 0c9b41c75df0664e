// The task registry: every task's factory, and the table that names them.
// Adding a task is one new file under llemma/eval/tasks/ defining its
// factory, its declaration here, and one line in kRegistry (registry.cc).
//
//   StatusOr<std::unique_ptr<Task>> t = MakeGsm8kTask({.name = "gsm8k", .data_dir = dir});
//
// Factories are pure functions of their arguments (they read no file: Load()
// does); thread-safe.
#pragma once

#include <memory>
#include <span>

#include "llemma/core/status.h"
#include "llemma/eval/task.h"

namespace llemma::eval {

using TaskFactory = StatusOr<std::unique_ptr<Task>> (*)(const TaskArgs&);

struct RegisteredTask {
  const char* name;         // the name before any ':' or '@'
  const char* description;  // one line for --list-tasks
  TaskFactory make;
};

// The registry, in the order --list-tasks prints it.
std::span<const RegisteredTask> RegisteredTasks();

StatusOr<std::unique_ptr<Task>> MakeGsm8kTask(const TaskArgs& args);     // tasks/gsm8k.cc
StatusOr<std::unique_ptr<Task>> MakeMathTask(const TaskArgs& args);      // tasks/math.cc
StatusOr<std::unique_ptr<Task>> MakeMath500Task(const TaskArgs& args);   // tasks/math500.cc
StatusOr<std::unique_ptr<Task>> MakeOcwTask(const TaskArgs& args);       // tasks/ocw.cc
StatusOr<std::unique_ptr<Task>> MakeMmluStemTask(const TaskArgs& args);  // tasks/mmlu_stem.cc
StatusOr<std::unique_ptr<Task>> MakeSatTask(const TaskArgs& args);       // tasks/sat.cc
StatusOr<std::unique_ptr<Task>> MakeMathPplTask(const TaskArgs& args);   // tasks/math_ppl.cc
// The tool-use tasks, built with llemma/agent (LLEMMA_HAVE_AGENT):
StatusOr<std::unique_ptr<Task>> MakeGsm8kPythonTask(const TaskArgs& args);  // tasks/gsm8k_python.cc
StatusOr<std::unique_ptr<Task>> MakeMathPythonTask(const TaskArgs& args);   // tasks/math_python.cc

}  // namespace llemma::eval
