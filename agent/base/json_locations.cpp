#include "agent/base/json_locations.hpp"

#include <iterator>
#include <vector>

namespace mobasher {
namespace {

// Walks the text and counts newlines as nlohmann's lexer consumes it.
class CountingIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator() = default;
  // line[0]: the line of the last character consumed; line[1]: the line after it. The SAX
  // callbacks use line[0]: after a number the lexer has read one character past it (possibly
  // the '\n'), and that character still lies on the number's line.
  CountingIterator(const char* p, int* line) : p_(p), line_(line) {}
  reference operator*() const { return *p_; }
  CountingIterator& operator++() {
    line_[0] = line_[1];
    if (*p_ == '\n') ++line_[1];
    ++p_;
    return *this;
  }
  CountingIterator operator++(int) {
    auto copy = *this;
    ++*this;
    return copy;
  }
  bool operator==(const CountingIterator& o) const { return p_ == o.p_; }

 private:
  const char* p_ = nullptr;
  int* line_ = nullptr;
};

class LocatingSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  LocatingSax(LocatedJson& out, const int& line) : out_(out), line_(line) {}

  bool null() override { return put(nullptr); }
  bool boolean(bool v) override { return put(v); }
  bool number_integer(number_integer_t v) override { return put(v); }
  bool number_unsigned(number_unsigned_t v) override { return put(v); }
  bool number_float(number_float_t v, const string_t&) override { return put(v); }
  bool string(string_t& v) override { return put(v); }
  bool binary(binary_t& v) override { return put(nlohmann::json::binary(v)); }
  bool start_object(std::size_t) override { return open(nlohmann::json::object()); }
  bool start_array(std::size_t) override { return open(nlohmann::json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    key_ = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    throw JsonSyntaxError{line_, ex.what()};
  }

 private:
  struct Frame {
    nlohmann::json* node;
    std::string path;
  };

  // Path of the value about to be added to the innermost container.
  std::string child_path() {
    if (stack_.empty()) return "";
    Frame& top = stack_.back();
    if (top.node->is_array()) return top.path + "[" + std::to_string(top.node->size()) + "]";
    return top.path.empty() ? key_ : top.path + "." + key_;
  }
  nlohmann::json* insert(nlohmann::json v, const std::string& path) {
    // A key twice in one object: nlohmann would keep the last silently, and a config whose
    // second "cooldown" hides the first is a mistake to name, not to guess at.
    if (!stack_.empty() && stack_.back().node->is_object() && stack_.back().node->contains(key_))
      throw JsonSyntaxError{line_, "duplicate key \"" + path + "\" (first on line " +
                                       std::to_string(out_.lines[path]) + ")"};
    out_.lines.emplace(path, line_);
    if (stack_.empty()) {
      out_.value = std::move(v);
      return &out_.value;
    }
    nlohmann::json& parent = *stack_.back().node;
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    nlohmann::json& slot = parent[key_];
    slot = std::move(v);
    return &slot;
  }
  bool put(nlohmann::json v) {
    insert(std::move(v), child_path());
    return true;
  }
  bool open(nlohmann::json v) {
    // Every value keeps its path, so memory grows with the square of the depth; and nlohmann
    // frees a document recursively. A config is 3 levels deep: 32 is plenty, and bounded.
    if (stack_.size() >= kMaxJsonDepth)
      throw JsonSyntaxError{line_, "nested deeper than " + std::to_string(kMaxJsonDepth) +
                                       " levels of objects and arrays"};
    std::string path = child_path();
    nlohmann::json* node = insert(std::move(v), path);
    stack_.push_back({node, path});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  LocatedJson& out_;
  const int& line_;
  std::vector<Frame> stack_;
  std::string key_;
};

}  // namespace

int LocatedJson::line_of(const std::string& path) const {
  std::string p = path;
  while (true) {
    if (auto it = lines.find(p); it != lines.end()) return it->second;
    auto cut = p.find_last_of(".[");
    if (cut == std::string::npos) return p.empty() ? 0 : line_of("");
    p.resize(cut);
  }
}

LocatedJson parse_json_with_lines(std::string_view text) {
  LocatedJson out;
  int lines[2] = {1, 1};
  LocatingSax sax(out, lines[0]);
  CountingIterator first(text.data(), lines), last(text.data() + text.size(), lines);
  nlohmann::json::sax_parse(first, last, &sax, nlohmann::json::input_format_t::json,
                            /*strict=*/true, /*ignore_comments=*/true);
  return out;
}

}  // namespace mobasher
