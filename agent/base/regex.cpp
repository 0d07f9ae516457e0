#include "agent/base/regex.hpp"

namespace mobasher {

std::optional<Regex> Regex::compile(const std::string& pattern, std::string& error) {
  auto raw = std::make_unique<regex_t>();
  int rc = regcomp(raw.get(), pattern.c_str(), REG_EXTENDED);
  if (rc != 0) {  // a failed regcomp leaves nothing to regfree
    char msg[256];
    regerror(rc, raw.get(), msg, sizeof msg);
    error = msg;
    return std::nullopt;
  }
  std::shared_ptr<regex_t> re(raw.release(), [](regex_t* r) {
    regfree(r);
    delete r;
  });
  return Regex(std::move(re), pattern);
}

bool Regex::search(const std::string& text, std::string* group1) const {
  regmatch_t m[2];
  if (regexec(re_.get(), text.c_str(), 2, m, 0) != 0) return false;
  if (group1) {
    group1->clear();
    if (re_->re_nsub >= 1 && m[1].rm_so >= 0)
      group1->assign(text, static_cast<size_t>(m[1].rm_so),
                     static_cast<size_t>(m[1].rm_eo - m[1].rm_so));
  }
  return true;
}

}  // namespace mobasher
