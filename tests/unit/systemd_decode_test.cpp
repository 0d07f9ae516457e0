// systemd's D-Bus answers decoded without a connection (agent/actions/systemd_decode): property
// lists -> UnitProperties from plain values, and the readers on messages built on a bus object
// that is started but talks to nobody.
#include "agent/actions/systemd_decode.hpp"

#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include <cerrno>
#include <functional>

#include <gtest/gtest.h>

#include "agent/actions/systemd_bus.hpp"

namespace mobasher::actions {
namespace {

using namespace std::string_literals;

// Messages as systemd would send them. sd-bus makes messages only on a started bus, so this one is
// started on both ends of a socketpair (sd-bus owns and closes both fds) and never processed.
class Messages {
 public:
  Messages() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    sd_bus* raw = nullptr;
    EXPECT_GE(sd_bus_new(&raw), 0);
    bus_.reset(raw);
    EXPECT_GE(sd_bus_set_fd(raw, sv[0], sv[1]), 0);
    EXPECT_GE(sd_bus_start(raw), 0);
  }

  // The reply to a call of systemd's, its body written by `body`; sealed, ready to read.
  MessagePtr reply(const std::function<void(sd_bus_message*)>& body) {
    MessagePtr m = sealed_call();
    sd_bus_message* raw = nullptr;
    EXPECT_GE(sd_bus_message_new_method_return(m.get(), &raw), 0);
    MessagePtr r(raw);
    body(r.get());
    return seal(std::move(r));
  }
  MessagePtr error(const char* name, const char* text) {
    MessagePtr m = sealed_call();
    sd_bus_message* raw = nullptr;
    EXPECT_GE(sd_bus_message_new_method_errorf(m.get(), &raw, name, "%s", text), 0);
    return seal(MessagePtr(raw));
  }
  MessagePtr job_removed(const std::function<void(sd_bus_message*)>& body) {
    sd_bus_message* raw = nullptr;
    EXPECT_GE(sd_bus_message_new_signal(bus_.get(), &raw, "/org/freedesktop/systemd1",
                                        "org.freedesktop.systemd1.Manager", "JobRemoved"),
              0);
    MessagePtr m(raw);
    body(m.get());
    return seal(std::move(m));
  }

 private:
  MessagePtr sealed_call() {
    sd_bus_message* raw = nullptr;
    EXPECT_GE(sd_bus_message_new_method_call(bus_.get(), &raw, "org.freedesktop.systemd1",
                                             "/org/freedesktop/systemd1",
                                             "org.freedesktop.systemd1.Manager", "StartUnit"),
              0);
    return seal(MessagePtr(raw));
  }
  MessagePtr seal(MessagePtr m) {
    EXPECT_GE(sd_bus_message_seal(m.get(), ++cookie_, 0), 0);
    EXPECT_GE(sd_bus_message_rewind(m.get(), 1), 0);
    return m;
  }

  BusPtr bus_;
  uint64_t cookie_ = 0;
};

UnitProperties applied(const PropertyList& values) {
  UnitProperties p;
  p.unit = "archiver@ch1.service";
  apply_properties(values, p);
  return p;
}

// --- property lists -> UnitProperties, no bus --------------------------------------------------

TEST(ApplyProperties, EveryKnownPropertyOfItsOwnType) {
  auto p = applied({{"LoadState", "loaded"s},
                    {"ActiveState", "active"s},
                    {"SubState", "running"s},
                    {"Result", "success"s},
                    {"MainPID", uint32_t{4242}},
                    {"NRestarts", uint32_t{3}},
                    {"ExecMainStartTimestamp", uint64_t{1'700'000'000'000'000}},
                    {"MemoryMax", uint64_t{2ull << 30}},
                    {"MemoryCurrent", uint64_t{123'456'789}},
                    {"TimeoutStartUSec", uint64_t{90'000'000}},
                    {"TimeoutStopUSec", uint64_t{3'000'000}}});
  EXPECT_EQ(p.unit, "archiver@ch1.service") << "the name asked for is not a property";
  EXPECT_EQ(p.load_state, "loaded");
  EXPECT_EQ(p.active_state, "active");
  EXPECT_EQ(p.sub_state, "running");
  EXPECT_EQ(p.result, "success");
  EXPECT_EQ(p.main_pid, 4242u);
  EXPECT_EQ(p.n_restarts, 3u);
  EXPECT_EQ(p.exec_main_start_usec, 1'700'000'000'000'000u);
  EXPECT_EQ(p.memory_max, 2ull << 30);
  EXPECT_EQ(p.memory_current, 123'456'789u);
  EXPECT_EQ(p.timeout_start_usec, 90'000'000u);
  EXPECT_EQ(p.timeout_stop_usec, 3'000'000u);
}

TEST(ApplyProperties, Uint64MaxIsInfinityOrNotAccounted) {
  auto p = applied({{"MemoryMax", UINT64_MAX},
                    {"MemoryCurrent", UINT64_MAX},
                    {"TimeoutStartUSec", UINT64_MAX},
                    {"TimeoutStopUSec", UINT64_MAX}});
  EXPECT_EQ(p.memory_max, std::nullopt);
  EXPECT_EQ(p.memory_current, std::nullopt);
  EXPECT_EQ(p.timeout_start_usec, std::nullopt);
  EXPECT_EQ(p.timeout_stop_usec, std::nullopt);
  // 0 is a value, not infinity (TimeoutStartSec=0 means "no timeout" to the policy, not here)
  auto zero = applied({{"MemoryMax", uint64_t{0}}, {"TimeoutStartUSec", uint64_t{0}}});
  EXPECT_EQ(zero.memory_max, 0u);
  EXPECT_EQ(zero.timeout_start_usec, 0u);
}

TEST(ApplyProperties, MissingPropertiesKeepTheirDefaults) {
  auto p = applied({});
  EXPECT_EQ(p.load_state, "");
  EXPECT_EQ(p.active_state, "");
  EXPECT_EQ(p.main_pid, 0u);
  EXPECT_EQ(p.n_restarts, 0u);
  EXPECT_EQ(p.exec_main_start_usec, 0u);
  EXPECT_EQ(p.memory_max, std::nullopt);
  EXPECT_EQ(p.timeout_stop_usec, std::nullopt);
  // A unit nobody installed: the Unit interface only, most of it zero.
  auto missing = applied({{"LoadState", "not-found"s}, {"ActiveState", "inactive"s}});
  EXPECT_EQ(missing.load_state, "not-found");
  EXPECT_EQ(missing.active_state, "inactive");
  EXPECT_EQ(missing.result, "");
}

TEST(ApplyProperties, AValueOfTheWrongTypeIsSkipped) {
  UnitProperties p;
  p.main_pid = 7;
  p.memory_max = 1024;
  p.load_state = "loaded";
  apply_properties({{"MainPID", uint64_t{4242}},                   // t instead of u
                    {"NRestarts", "3"s},                           // s instead of u
                    {"LoadState", uint32_t{1}},                    // u instead of s
                    {"MemoryMax", "infinity"s},                    // s instead of t
                    {"MemoryCurrent", uint32_t{5}},                // u instead of t
                    {"ExecMainStartTimestamp", std::monostate{}},  // a type not read at all
                    {"ActiveState", "active"s}},
                   p);
  EXPECT_EQ(p.main_pid, 7u) << "kept";
  EXPECT_EQ(p.n_restarts, 0u);
  EXPECT_EQ(p.load_state, "loaded") << "kept";
  EXPECT_EQ(p.memory_max, std::nullopt) << "an optional figure of the wrong type is unknown";
  EXPECT_EQ(p.memory_current, std::nullopt);
  EXPECT_EQ(p.exec_main_start_usec, 0u);
  EXPECT_EQ(p.active_state, "active") << "the good ones are still read";
}

TEST(ApplyProperties, UnknownNamesAreIgnoredAndTheServiceAddsToTheUnit) {
  UnitProperties p;
  apply_properties({{"Id", "a.service"s}, {"ActiveState", "failed"s}, {"CPUWeight", UINT64_MAX}},
                   p);
  apply_properties({{"Result", "exit-code"s}, {"NRestarts", uint32_t{2}}}, p);  // .Service
  EXPECT_EQ(p.active_state, "failed");
  EXPECT_EQ(p.result, "exit-code");
  EXPECT_EQ(p.n_restarts, 2u);
  EXPECT_EQ(p.memory_max, std::nullopt);
}

// --- error texts ---------------------------------------------------------------------------------

TEST(BusErrorText, NameAndMessageOrWhatThereIs) {
  EXPECT_EQ(bus_error_text("org.freedesktop.systemd1.NoSuchUnit", "Unit a.service not found."),
            "org.freedesktop.systemd1.NoSuchUnit: Unit a.service not found.");
  EXPECT_EQ(bus_error_text("org.freedesktop.DBus.Error.NoReply", nullptr),
            "org.freedesktop.DBus.Error.NoReply");
  EXPECT_EQ(bus_error_text(nullptr, nullptr), "unknown error");
}

TEST(MethodErrorText, AnErrorReplyAndNothingElse) {
  Messages msg;
  auto e = msg.error("org.freedesktop.systemd1.NoSuchUnit", "Unit a.service not found.");
  EXPECT_EQ(method_error_text(e.get()),
            "org.freedesktop.systemd1.NoSuchUnit: Unit a.service not found.");
  auto ok = msg.reply([](sd_bus_message* m) { sd_bus_message_append(m, "o", "/x"); });
  EXPECT_EQ(method_error_text(ok.get()), "");
  EXPECT_EQ(method_error_text(nullptr), "");
}

// --- messages ------------------------------------------------------------------------------------

TEST(ReadPropertyList, TheTypesTheAgentReadsAndOthersAsMonostate) {
  Messages msg;
  auto m = msg.reply([](sd_bus_message* r) {
    ASSERT_GE(sd_bus_message_append(r, "a{sv}", 7,                                  //
                                    "ActiveState", "s", "active",                   //
                                    "Job", "o", "/org/freedesktop/systemd1/job/7",  //
                                    "MainPID", "u", 4242u,                          //
                                    "MemoryMax", "t", UINT64_MAX,                   //
                                    "CanStart", "b", 1,                             //
                                    "Names", "as", 2, "a.service", "b.service",     //
                                    "OOMScoreAdjust", "i", -100),
              0);
  });
  PropertyList values{{"stale", "x"s}};
  ASSERT_GE(read_property_list(m.get(), values), 0);
  ASSERT_EQ(values.size(), 7u);
  EXPECT_EQ(values[0], (std::pair<std::string, PropertyValue>{"ActiveState", "active"s}));
  EXPECT_EQ(values[1].second, PropertyValue("/org/freedesktop/systemd1/job/7"s));
  EXPECT_EQ(values[2].second, PropertyValue(uint32_t{4242}));
  EXPECT_EQ(values[3].second, PropertyValue(UINT64_MAX));
  EXPECT_EQ(values[4], (std::pair<std::string, PropertyValue>{"CanStart", std::monostate{}}));
  EXPECT_EQ(values[5].second, PropertyValue(std::monostate{}));
  EXPECT_EQ(values[6].second, PropertyValue(std::monostate{}));
  EXPECT_EQ(applied(values).memory_max, std::nullopt);
  EXPECT_EQ(applied(values).main_pid, 4242u);
}

TEST(ReadPropertyList, AnEmptyAnswerIsAnEmptyList) {
  Messages msg;
  auto m = msg.reply([](sd_bus_message* r) { ASSERT_GE(sd_bus_message_append(r, "a{sv}", 0), 0); });
  PropertyList values{{"stale", "x"s}};
  EXPECT_GE(read_property_list(m.get(), values), 0);
  EXPECT_TRUE(values.empty());
}

TEST(ReadPropertyList, AnythingButASvDictionaryIsAnError) {
  Messages msg;
  PropertyList values;
  auto text = msg.reply([](sd_bus_message* r) { sd_bus_message_append(r, "s", "loaded"); });
  EXPECT_LT(read_property_list(text.get(), values), 0);
  auto strings = msg.reply(
      [](sd_bus_message* r) { sd_bus_message_append(r, "a{ss}", 1, "LoadState", "loaded"); });
  EXPECT_LT(read_property_list(strings.get(), values), 0);
  auto empty = msg.reply([](sd_bus_message*) {});
  EXPECT_LT(read_property_list(empty.get(), values), 0);
}

TEST(ReadJobPath, TheObjectPathOfTheReply) {
  Messages msg;
  auto m = msg.reply(
      [](sd_bus_message* r) { sd_bus_message_append(r, "o", "/org/freedesktop/systemd1/job/42"); });
  std::string job;
  EXPECT_EQ(read_job_path(m.get(), job), 0);
  EXPECT_EQ(job, "/org/freedesktop/systemd1/job/42");

  std::string none = "untouched";
  auto text = msg.reply([](sd_bus_message* r) { sd_bus_message_append(r, "s", "42"); });
  EXPECT_LT(read_job_path(text.get(), none), 0);
  auto empty = msg.reply([](sd_bus_message*) {});
  EXPECT_LT(read_job_path(empty.get(), none), 0);
  EXPECT_EQ(none, "untouched");
}

TEST(ReadJobRemoved, IdJobUnitAndResult) {
  Messages msg;
  auto m = msg.job_removed([](sd_bus_message* s) {
    sd_bus_message_append(s, "uoss", 42u, "/org/freedesktop/systemd1/job/42", "a.service",
                          "canceled");
  });
  auto j = read_job_removed(m.get());
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id, 42u);
  EXPECT_EQ(j->job, "/org/freedesktop/systemd1/job/42");
  EXPECT_EQ(j->unit, "a.service");
  EXPECT_EQ(j->result, "canceled");

  auto short_one = msg.job_removed([](sd_bus_message* s) {
    sd_bus_message_append(s, "uos", 42u, "/org/freedesktop/systemd1/job/42", "a.service");
  });
  EXPECT_EQ(read_job_removed(short_one.get()), std::nullopt);
  auto wrong = msg.job_removed([](sd_bus_message* s) {
    sd_bus_message_append(s, "soss", "42", "/j/42", "a.service", "done");
  });
  EXPECT_EQ(read_job_removed(wrong.get()), std::nullopt);
}

}  // namespace
}  // namespace mobasher::actions
