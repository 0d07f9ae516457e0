// The loader's key tables: each key of a config object is one row naming the key, the member it
// sets, how it is read and checked, and how its value reads back. The unknown-key check, the
// reading, the error paths, config_key_paths() and config_values() all come from the rows.
// Defaults are the members' initialisers (config.hpp); a row never holds one.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "agent/base/enum_names.hpp"
#include "agent/config/config_reader.hpp"

namespace mobasher::config_keys {

using json = nlohmann::json;

template <typename T>
struct Key {
  const char* name;
  bool required = false;  // a missing key is an error (`missing "name"`), not the default
  // Reads v, the key's value at `path`, into `into`.
  std::function<void(const ConfigReader&, const json& v, const std::string& path, T& into)> read;
  std::function<json(const T&)> value;  // for config_values()
  // The key's path and, for an object or array, those of the keys inside.
  std::function<void(const std::string& path, std::vector<std::string>& out)> paths;
};

template <typename T>
struct KeyTable {
  std::vector<Key<T>> keys;
  // After the keys: checks across keys, and defaults that come from another key. v is the object
  // as written (which keys it names, for messages).
  std::function<void(const ConfigReader&, const json& v, const std::string& path, T&)> check;
};
template <typename T>
using Table = const KeyTable<T>& (*)();

// A value's extra check: "" if fine, else what is wrong (the reader adds file, line and path).
template <typename V>
using Check = std::string (*)(const V&);
template <typename V>
using CheckOf = std::type_identity_t<Check<V>>;  // not deduced from the argument

inline json value_of(Duration d) {
  return d.count();
}
inline json value_of(const Size& s) {
  return s.percent ? json{{"percent", *s.percent}} : json(s.bytes);
}
template <typename V>
json value_of(const std::optional<V>& v) {
  return v ? value_of(*v) : json();
}
template <typename V>
json value_of(const V& v) {
  return json(v);
}

template <typename T>
void read_object(const ConfigReader& r, const json& v, const std::string& path,
                 const KeyTable<T>& table, T& into) {
  std::set<std::string> names;
  for (const auto& k : table.keys) names.insert(k.name);
  r.only_keys(v, path, names);
  for (const auto& k : table.keys) {
    if (auto it = v.find(k.name); it != v.end())
      k.read(r, *it, ConfigReader::join(path, k.name), into);
    else if (k.required)
      r.fail(path, std::string("missing \"") + k.name + "\"");
  }
  if (table.check) table.check(r, v, path, into);
}

template <typename T>
json values_of(const KeyTable<T>& table, const T& t) {
  json out = json::object();
  for (const auto& k : table.keys) out[k.name] = k.value(t);
  return out;
}

template <typename T>
void paths_of(const KeyTable<T>& table, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& k : table.keys) k.paths(ConfigReader::join(prefix, k.name), out);
}

inline void leaf_path(const std::string& path, std::vector<std::string>& out) {
  out.push_back(path);
}

// A key of member type V: read(r, v, path) gives the value, check (if any) judges it.
template <typename T, typename V, typename Read>
Key<T> leaf(const char* name, V T::*m, Read read, CheckOf<V> check, bool required = false) {
  return {name, required,
          [m, read, check](const ConfigReader& r, const json& v, const std::string& path, T& t) {
            V x = read(r, v, path);
            if (check)
              if (std::string what = check(x); !what.empty()) r.fail(path, what);
            t.*m = std::move(x);
          },
          [m](const T& t) { return value_of(t.*m); }, leaf_path};
}

template <typename T>
Key<T> text(const char* name, std::string T::*m, CheckOf<std::string> check = nullptr,
            bool required = false) {
  return leaf(
      name, m,
      [](const ConfigReader& r, const json& v, const std::string& p) { return r.string(v, p); },
      check, required);
}

template <typename T>
Key<T> flag(const char* name, bool T::*m) {
  return leaf(
      name, m,
      [](const ConfigReader& r, const json& v, const std::string& p) { return r.boolean(v, p); },
      nullptr);
}

// A whole number in lo..hi.
template <typename T, typename I>
Key<T> count(const char* name, I T::*m, int64_t lo, int64_t hi) {
  return leaf(
      name, m,
      [lo, hi](const ConfigReader& r, const json& v, const std::string& p) {
        return static_cast<I>(r.integer(v, p, lo, hi));
      },
      nullptr);
}

// D: Duration, or std::optional<Duration> for a key that is off unless given.
template <typename T, typename D>
Key<T> duration(const char* name, D T::*m, Duration min) {
  return leaf(
      name, m,
      [min](const ConfigReader& r, const json& v, const std::string& p) {
        return r.duration(v, p, min);
      },
      nullptr);
}

// A size that may be a share ("80%"). S: Size, or std::optional<Size>.
template <typename T, typename S>
Key<T> share(const char* name, S T::*m, CheckOf<S> check = nullptr) {
  return leaf(
      name, m,
      [](const ConfigReader& r, const json& v, const std::string& p) { return r.size(v, p, true); },
      check);
}

// A size in bytes (no "%").
template <typename T>
Key<T> bytes(const char* name, uint64_t T::*m, CheckOf<uint64_t> check = nullptr,
             bool required = false) {
  return leaf(
      name, m,
      [](const ConfigReader& r, const json& v, const std::string& p) {
        return r.size(v, p, false).bytes;
      },
      check, required);
}

// A POSIX extended regular expression: kept as written (for messages) and compiled.
template <typename T>
Key<T> regex(const char* name, std::string T::*text, std::optional<Regex> T::*compiled) {
  return {name, false,
          [text, compiled](const ConfigReader& r, const json& v, const std::string& path, T& t) {
            t.*text = r.string(v, path);
            t.*compiled = r.regex(v, path);
          },
          [text, compiled](const T& t) { return t.*compiled ? json(t.*text) : json(); }, leaf_path};
}

// One of an enum's names (enum_names.hpp); the message lists them all.
template <typename T, NamedEnum E>
Key<T> choice(const char* name, E T::*m) {
  return {name, false,
          [m](const ConfigReader& r, const json& v, const std::string& path, T& t) {
            std::string s = r.string(v, path);
            auto e = parse_enum<E>(s);
            if (!e) r.fail(path, "\"" + s + "\" is not one of " + enum_choices<E>());
            t.*m = *e;
          },
          [m](const T& t) { return json(to_string(t.*m)); }, leaf_path};
}

// A nested object whose keys fill member m, merged key by key over what m holds.
template <typename T, typename S>
Key<T> object(const char* name, S T::*m, Table<S> table) {
  return {name, false,
          [m, table](const ConfigReader& r, const json& v, const std::string& path, T& t) {
            read_object(r, v, path, table(), t.*m);
          },
          [m, table](const T& t) { return values_of(table(), t.*m); },
          [table](const std::string& path, std::vector<std::string>& out) {
            out.push_back(path);
            paths_of(table(), path, out);
          }};
}

// A nested object that is absent unless given (groups[].match): its keys fill a fresh S.
template <typename T, typename S>
Key<T> optional_object(const char* name, std::optional<S> T::*m, Table<S> table) {
  return {name, false,
          [m, table](const ConfigReader& r, const json& v, const std::string& path, T& t) {
            S s{};
            read_object(r, v, path, table(), s);
            t.*m = std::move(s);
          },
          [m, table](const T& t) { return t.*m ? values_of(table(), *(t.*m)) : json(); },
          [table](const std::string& path, std::vector<std::string>& out) {
            out.push_back(path);
            paths_of(table(), path, out);
          }};
}

// A nested object whose keys are members of T itself (actions.handover).
template <typename T>
Key<T> object(const char* name, Table<T> table) {
  return {name, false,
          [table](const ConfigReader& r, const json& v, const std::string& path, T& t) {
            read_object(r, v, path, table(), t);
          },
          [table](const T& t) { return values_of(table(), t); },
          [table](const std::string& path, std::vector<std::string>& out) {
            out.push_back(path);
            paths_of(table(), path, out);
          }};
}

// An array of objects that replaces what m holds; each element starts from E's defaults, and
// its `name` is unique (twice(name): the message when it is not).
template <typename T, typename E>
Key<T> list(const char* name, std::vector<E> T::*m, Table<E> table,
            std::string (*twice)(const std::string& name)) {
  return {name, false,
          [m, table, twice](const ConfigReader& r, const json& v, const std::string& path, T& t) {
            if (!v.is_array()) r.fail(path, "must be an array, not " + ConfigReader::describe(v));
            std::vector<E> out;
            std::set<std::string> names;
            for (size_t i = 0; i < v.size(); ++i) {
              std::string at = path + "[" + std::to_string(i) + "]";
              E e{};
              read_object(r, v[i], at, table(), e);
              if (!names.insert(e.name).second) r.fail(at + ".name", twice(e.name));
              out.push_back(std::move(e));
            }
            t.*m = std::move(out);
          },
          [m, table](const T& t) {
            json out = json::array();
            for (const auto& e : t.*m) out.push_back(values_of(table(), e));
            return out;
          },
          [table](const std::string& path, std::vector<std::string>& out) {
            out.push_back(path);
            paths_of(table(), path + "[]", out);
          }};
}

// Anything else (an object of headers): read and value written out.
template <typename T>
Key<T> custom(const char* name, decltype(Key<T>::read) read, decltype(Key<T>::value) value) {
  return {name, false, std::move(read), std::move(value), leaf_path};
}

}  // namespace mobasher::config_keys
