// POSIX extended regular expressions (glibc regcomp/regexec): the syntax of `grep -E`, and a
// matcher that does not recurse once per input character, as libstdc++'s std::regex does (that
// one overflowed the stack on a 30 KB command line, and the /proc fallback reads every one).
#pragma once

#include <regex.h>

#include <memory>
#include <optional>
#include <string>

namespace mobasher {

class Regex {
 public:
  // nullopt and a message in `error` when the pattern does not compile.
  static std::optional<Regex> compile(const std::string& pattern, std::string& error);

  // Matches anywhere in text; on a match, the first capture group goes to *group1 (if asked for
  // and if the group took part in the match, else *group1 is left empty).
  bool search(const std::string& text, std::string* group1 = nullptr) const;
  const std::string& pattern() const { return pattern_; }

 private:
  Regex(std::shared_ptr<regex_t> re, std::string pattern)
      : re_(std::move(re)), pattern_(std::move(pattern)) {}
  std::shared_ptr<regex_t> re_;  // shared: configs are copied, the compiled form is immutable
  std::string pattern_;
};

}  // namespace mobasher
