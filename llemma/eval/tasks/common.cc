#include "llemma/eval/tasks/common.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include "llemma/core/mapped_file.h"

namespace llemma::eval {

using json = nlohmann::json;

std::string BareNanToNull(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < line.size()) {
        out += line[++i];
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (line.compare(i, 3, "NaN") == 0) {
      out += "null";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

StatusOr<std::map<std::string, std::string>> ParseFieldMap(std::string_view spec) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string_view::npos) end = spec.size();
    const std::string_view item = spec.substr(start, end - start);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size()) {
      return InvalidArgumentError("--fields: \"" + std::string(item) +
                                  "\" is not TASK_FIELD=FILE_FIELD (e.g. question=q,answer=ans)");
    }
    out[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
    start = end + 1;
  }
  return out;
}

StatusOr<std::string> ReadPromptFile(const std::string& data_dir, const std::string& file) {
  const std::string path = data_dir + "/prompts/" + file;
  StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return NotFoundError(
        "prompt file " + path + " cannot be read (" + text.status().message() +
        "); point --data-dir (or LLEMMA_DATA_DIR) at the data/ folder of llemma.cpp");
  }
  return text;
}

const json* Record::Find(std::string_view field, std::string* name) const {
  *name = std::string(field);
  if (auto it = fields_->find(*name); it != fields_->end()) *name = it->second;
  if (!value_->is_object()) return nullptr;
  auto it = value_->find(*name);
  if (it == value_->end() || it->is_null()) return nullptr;
  return &*it;
}

std::string Record::Where() const { return *path_ + ":" + std::to_string(line_) + ": "; }

StatusOr<std::optional<std::string>> Record::GetOptional(std::string_view field) const {
  std::string name;
  const json* v = Find(field, &name);
  if (v == nullptr) return std::optional<std::string>();
  if (v->is_string()) return std::optional<std::string>(v->get<std::string>());
  if (v->is_number() || v->is_boolean()) return std::optional<std::string>(v->dump());
  return InvalidArgumentError(Where() + "field \"" + name + "\" must be a string or a number");
}

StatusOr<std::string> Record::Get(std::string_view field) const {
  LLEMMA_ASSIGN_OR_RETURN(std::optional<std::string> v, GetOptional(field));
  if (!v) {
    std::string name;
    Find(field, &name);
    return InvalidArgumentError(
        Where() + "no field \"" + name + "\"" +
        (name == field ? "; map it with --fields " + std::string(field) + "=NAME" : std::string()));
  }
  return *v;
}

StatusOr<std::vector<std::string>> Record::GetStrings(std::string_view field,
                                                      std::string_view null_as) const {
  std::string name;
  const json* v = Find(field, &name);
  if (v == nullptr) return InvalidArgumentError(Where() + "no field \"" + name + "\"");
  if (!v->is_array())
    return InvalidArgumentError(Where() + "field \"" + name + "\" must be an array");
  std::vector<std::string> out;
  for (const json& e : *v) {
    if (e.is_string()) {
      out.push_back(e.get<std::string>());
    } else if (e.is_number()) {
      out.push_back(e.dump());
    } else if (e.is_null() && !null_as.empty()) {
      out.push_back(std::string(null_as));
    } else {
      return InvalidArgumentError(Where() + "field \"" + name + "\" must hold strings");
    }
  }
  return out;
}

JsonlTask::JsonlTask(const TaskArgs& args, TaskSpec spec, std::string default_file)
    : args_(args), spec_(std::move(spec)), default_file_(std::move(default_file)) {}

StatusOr<std::vector<Problem>> JsonlTask::Load() const {
  std::string prompt;
  if (!spec_.prompt_file.empty()) {
    LLEMMA_ASSIGN_OR_RETURN(prompt, ReadPromptFile(args_.data_dir, spec_.prompt_file));
  }
  const std::string path = args_.file.empty() ? args_.data_dir + "/" + default_file_ : args_.file;
  using FieldMap = std::map<std::string, std::string>;
  LLEMMA_ASSIGN_OR_RETURN(FieldMap fields, ParseFieldMap(args_.fields));
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return NotFoundError(
        "task " + spec_.name + ": cannot open " + path +
        (args_.file.empty()
             ? "; point --data-dir (or LLEMMA_DATA_DIR) at the data/ folder of llemma.cpp"
             : std::string()));
  }
  std::vector<Problem> out;
  std::set<std::string> ids;
  std::string line;
  int64_t line_no = 0, index = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    json value = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) value = json::parse(BareNanToNull(line), nullptr, false);
    if (value.is_discarded() || !value.is_object()) {
      return DataLossError(path + ":" + std::to_string(line_no) + ": not a JSON object");
    }
    Record r(&value, &fields, &path, line_no);
    Problem p;
    LLEMMA_ASSIGN_OR_RETURN(std::optional<std::string> id, r.GetOptional("id"));
    p.id = id ? *id : std::to_string(index);
    ++index;
    LLEMMA_ASSIGN_OR_RETURN(bool keep, MakeProblem(r, prompt, &p));
    if (!keep) continue;
    if (!ids.insert(p.id).second) {
      return DataLossError(
          r.Where() + "problem id \"" + p.id +
          "\" occurs twice; ids must be unique (map another field with --fields id=NAME)");
    }
    out.push_back(std::move(p));
  }
  if (in.bad()) return DataLossError(path + ": read error");
  Arrange(&out);
  if (out.empty()) return InvalidArgumentError("task " + spec_.name + ": no problems in " + path);
  return out;
}

std::string SubjectKey(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '&') {
      out += "and";
    } else if (c == ' ' || c == '-') {
      if (!out.empty() && out.back() != '_') out += '_';
    } else {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  // "counting_and_probability" from "Counting & Probability": '&' sits between two spaces.
  std::string squeezed;
  for (char c : out) {
    if (c == '_' && !squeezed.empty() && squeezed.back() == '_') continue;
    squeezed += c;
  }
  while (!squeezed.empty() && squeezed.back() == '_') squeezed.pop_back();
  return squeezed;
}

}  // namespace llemma::eval
