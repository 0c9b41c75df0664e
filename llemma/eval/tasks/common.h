// Shared parts of the benchmark tasks: prompt files, JSONL reading with a
// user's field mapping, and JsonlTask, the base of every task whose problems
// are the lines of one JSONL file.
//
//   class MyTask : public JsonlTask {
//    public:
//     MyTask(const TaskArgs& a) : JsonlTask(a, MakeSpec(), "benchmarks/my/test.jsonl") {}
//    protected:
//     StatusOr<bool> MakeProblem(const Record& r, std::string_view prompt, Problem* p) const
//     override {
//       LLEMMA_ASSIGN_OR_RETURN(std::string q, r.Get("question"));
//       p->prompt = std::string(prompt) + "\n\nQ: " + q + "\nA:";
//       ...
//       return true;   // false skips the line (another subject)
//     }
//   };
//
// Immutable after construction; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/eval/task.h"

namespace llemma::eval {

// "question=q,answer=ans" → {question: q, answer: ans}. Errors name the bad item.
StatusOr<std::map<std::string, std::string>> ParseFieldMap(std::string_view spec);

// data_dir + "/prompts/" + file, read whole.
StatusOr<std::string> ReadPromptFile(const std::string& data_dir, const std::string& file);

// One line of a JSONL file, read through a field mapping.
class Record {
 public:
  Record(const nlohmann::json* value, const std::map<std::string, std::string>* fields,
         const std::string* path, int64_t line)
      : value_(value), fields_(fields), path_(path), line_(line) {}

  // The string (or number, printed as JSON prints it) at the mapped name of
  // `field`. Missing or of another type: an error naming file, line and field.
  StatusOr<std::string> Get(std::string_view field) const;
  // The same, but nullopt when the field is absent or null.
  StatusOr<std::optional<std::string>> GetOptional(std::string_view field) const;
  // The array of strings at `field`; null elements become `null_as` (an
  // error when it is empty).
  StatusOr<std::vector<std::string>> GetStrings(std::string_view field,
                                                std::string_view null_as = {}) const;
  int64_t line() const { return line_; }  // 1-based
  // "FILE:LINE: " for error messages.
  std::string Where() const;

 private:
  const nlohmann::json* Find(std::string_view field, std::string* name) const;
  const nlohmann::json* value_;
  const std::map<std::string, std::string>* fields_;
  const std::string* path_;
  int64_t line_;
};

// A task whose problems are the lines of one JSONL file (the bundled one, or
// the user's with TaskArgs::file and a field mapping).
class JsonlTask : public Task {
 public:
  // `default_file` is relative to the data folder.
  JsonlTask(const TaskArgs& args, TaskSpec spec, std::string default_file);
  const TaskSpec& spec() const override { return spec_; }
  StatusOr<std::vector<Problem>> Load() const override;

 protected:
  // Fills `p` from one line (prompt = the prompt file's text, "" when the
  // spec has none). p->id defaults to the "id" field when the line has one,
  // else the 0-based line index; MakeProblem may set its own. Returns false
  // to skip the line.
  virtual StatusOr<bool> MakeProblem(const Record& r, std::string_view prompt,
                                     Problem* p) const = 0;
  // Problems after loading, for tasks that reorder (MATH groups subjects).
  virtual void Arrange(std::vector<Problem>* problems) const {}

  const TaskArgs& args() const { return args_; }

 private:
  TaskArgs args_;
  TaskSpec spec_;
  std::string default_file_;
};

// A JSON line with the bare token NaN (outside strings) read as null: pandas
// writes missing values that way (the MMLU choice "None" became NaN in the
// bundled MMLU-STEM copy).
std::string BareNanToNull(std::string_view line);

// snake_case of a subject name: "Counting & Probability" → "counting_and_probability".
std::string SubjectKey(std::string_view name);

}  // namespace llemma::eval
