#include "collectors/discovery.hpp"

#include <gtest/gtest.h>

#include "collectors/cgroup_layout.hpp"
#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using namespace fixtures;

const std::string kSlice = "system.slice/system-archiver.slice";

std::vector<UnitPattern> default_patterns() {
  return {{"archiver", "archiver@*.service"}, {"recorder", "recorder@*.service"}};
}

std::vector<std::string> rels(const std::vector<UnitCgroup>& units) {
  std::vector<std::string> out;
  for (const auto& u : units) out.push_back(u.rel);
  return out;
}

std::vector<std::string> names(const std::vector<UnitCgroup>& units) {
  std::vector<std::string> out;
  for (const auto& u : units) out.push_back(u.unit);
  return out;
}

TEST(ChannelOf, TemplateInstance) {
  EXPECT_EQ(channel_of("archiver@ch1.service"), "ch1");
  EXPECT_EQ(channel_of("recorder@news-24.service"), "news-24");
  EXPECT_EQ(channel_of("archiver@cam.1.service"), "cam.1");
  EXPECT_EQ(channel_of("archiver.service"), "");
  EXPECT_EQ(channel_of("archiver@.service"), "");
  EXPECT_EQ(channel_of("archiver@ch1"), "");
}

TEST(Discovery, FindsArchiverUnitsUnderNestedSliceV1) {
  FixtureTree fx;
  fx.cgroup_v1(kSlice + "/archiver@ch1.service").procs({101, 102}).usage(1_GiB).limit(2_GiB);
  auto h = detect_cgroup_layout(fx.cgroup_root());
  ASSERT_EQ(h.layout, CgroupLayout::v1);
  Discovery d(h.membership, default_patterns());
  auto units = d.search();
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].unit, "archiver@ch1.service");
  EXPECT_EQ(units[0].group, "archiver");
  EXPECT_EQ(units[0].channel, "ch1");
  EXPECT_EQ(units[0].rel, "/" + kSlice + "/archiver@ch1.service");
  // The same relative path names the unit in the memory hierarchy.
  EXPECT_TRUE(std::filesystem::exists(h.memory / units[0].rel.substr(1) / "memory.usage_in_bytes"));
}

TEST(Discovery, FindsUnitsOfEveryGroupV2) {
  FixtureTree fx;
  fx.cgroup_v2(kSlice + "/archiver@ch2.service").procs({201});
  fx.cgroup_v2(kSlice + "/archiver@ch1.service").procs({101});
  fx.cgroup_v2("system.slice/system-recorder.slice/recorder@ch1.service").procs({301});
  fx.cgroup_v2("system.slice/cron.service").procs({5});
  fx.mkdir("cgroup/user.slice/user-0.slice/session-1.scope");
  auto h = detect_cgroup_layout(fx.cgroup_root());
  Discovery d(h.membership, default_patterns());
  auto units = d.search();
  EXPECT_EQ(names(units), (std::vector<std::string>{"archiver@ch1.service", "archiver@ch2.service",
                                                    "recorder@ch1.service"}));
  ASSERT_EQ(units.size(), 3u);
  EXPECT_EQ(units[2].group, "recorder");
  EXPECT_EQ(units[2].channel, "ch1");
  EXPECT_EQ(units[2].rel, "/system.slice/system-recorder.slice/recorder@ch1.service");
}

TEST(Discovery, RefreshSeesNewAndDropsRemovedUnitsOfKnownSlices) {
  FixtureTree fx;
  fx.cgroup_v1(kSlice + "/archiver@ch1.service").procs({101});
  auto ch2 = fx.cgroup_v1(kSlice + "/archiver@ch2.service").procs({201});
  Discovery d(detect_cgroup_layout(fx.cgroup_root()).membership, default_patterns());
  ASSERT_EQ(d.search().size(), 2u);

  fx.cgroup_v1(kSlice + "/archiver@ch3.service").procs({301});
  ch2.remove();
  auto units = d.refresh();
  EXPECT_EQ(names(units),
            (std::vector<std::string>{"archiver@ch1.service", "archiver@ch3.service"}));
}

TEST(Discovery, KeptSliceShowsUnitsAddedAndRemovedBetweenRefreshes) {
  FixtureTree fx;
  fx.cgroup_v2(kSlice + "/archiver@ch1.service").procs({101});
  Discovery d(fx.cgroup_root(), default_patterns());
  ASSERT_EQ(d.search().size(), 1u);
  ASSERT_EQ(d.refresh().size(), 1u);  // opens and keeps the slice's directory
  auto ch2 = fx.cgroup_v2(kSlice + "/archiver@ch2.service").procs({201});
  EXPECT_EQ(names(d.refresh()),
            (std::vector<std::string>{"archiver@ch1.service", "archiver@ch2.service"}));
  ch2.remove();
  EXPECT_EQ(names(d.refresh()), (std::vector<std::string>{"archiver@ch1.service"}));
}

// All of a slice's units stopped, then another started: systemd removed the slice and made it
// again, so the kept directory is a removed one and the slice is opened anew from its path.
TEST(Discovery, SliceRemovedAndMadeAgainIsListedAnew) {
  FixtureTree fx;
  fx.cgroup_v2(kSlice + "/archiver@ch1.service").procs({101});
  Discovery d(fx.cgroup_root(), default_patterns());
  ASSERT_EQ(d.search().size(), 1u);
  ASSERT_EQ(d.refresh().size(), 1u);
  fx.remove("cgroup/" + kSlice);
  fx.cgroup_v2(kSlice + "/archiver@ch7.service").procs({701});
  EXPECT_EQ(names(d.refresh()), (std::vector<std::string>{"archiver@ch7.service"}));
  EXPECT_EQ(names(d.refresh()), (std::vector<std::string>{"archiver@ch7.service"}));
  EXPECT_EQ(d.known_slices(), 1u);
}

TEST(Discovery, RefreshListsOnlyTheSlicesThatHoldUnits) {
  FixtureTree fx;
  fx.cgroup_v1(kSlice + "/archiver@ch1.service").procs({101});
  fx.cgroup_v1("system.slice/system-recorder.slice/recorder@ch1.service").procs({201});
  Discovery d(detect_cgroup_layout(fx.cgroup_root()).membership, default_patterns());
  ASSERT_EQ(d.search().size(), 2u);
  // Two slices hold units; their ancestors (the root, system.slice) do not.
  EXPECT_EQ(d.known_slices(), 2u);
}

TEST(Discovery, RefreshDoesNotFindUnitsInNewSlices) {
  FixtureTree fx;
  fx.cgroup_v2(kSlice + "/archiver@ch1.service").procs({101});
  Discovery d(fx.cgroup_root(), default_patterns());
  ASSERT_EQ(d.search().size(), 1u);
  fx.cgroup_v2("machine.slice/system-archiver.slice/archiver@ch9.service").procs({9});
  EXPECT_EQ(names(d.refresh()), (std::vector<std::string>{"archiver@ch1.service"}));
  EXPECT_EQ(d.search().size(), 2u);  // the next full search does
}

TEST(Discovery, ForgetsASliceThatDisappeared) {
  FixtureTree fx;
  fx.cgroup_v2(kSlice + "/archiver@ch1.service").procs({101});
  fx.cgroup_v2("other.slice/archiver@ch2.service").procs({102});
  Discovery d(fx.cgroup_root(), default_patterns());
  ASSERT_EQ(d.search().size(), 2u);
  size_t slices = d.known_slices();
  fx.remove("cgroup/" + kSlice);
  EXPECT_EQ(names(d.refresh()), (std::vector<std::string>{"archiver@ch2.service"}));
  EXPECT_EQ(d.known_slices(), slices - 1);
}

TEST(Discovery, DoesNotDescendIntoServicesOrScopes) {
  FixtureTree fx;
  fx.cgroup_v2(kSlice + "/archiver@ch1.service").procs({101});
  // Sub-cgroups of services are not units, even when their names look like one.
  fx.mkdir("cgroup/" + kSlice + "/archiver@ch1.service/recorder@inner.service");
  fx.mkdir("cgroup/system.slice/docker.service/archiver@ghost.service");
  fx.mkdir("cgroup/init.scope/archiver@ghost2.service");
  Discovery d(fx.cgroup_root(), default_patterns());
  EXPECT_EQ(names(d.search()), (std::vector<std::string>{"archiver@ch1.service"}));
}

// The host's archiver@ch1, and an LXC container's archiver@ch1 and archiver@ch9 (no cgroup
// namespace: its systemd's tree sits under /lxc.payload.c1 in the host's hierarchy).
void host_and_container(FixtureTree& fx) {
  fx.cgroup_v2("system.slice/system-archiver.slice/archiver@ch1.service").procs({101});
  fx.cgroup_v2("lxc.payload.c1/system.slice/system-archiver.slice/archiver@ch1.service").procs({9});
  fx.cgroup_v2("lxc.payload.c1/system.slice/system-archiver.slice/archiver@ch9.service").procs({8});
}

// Issue 15: the search entered any directory, so a container's payload
// (lxc.payload.c1/system.slice/...) gave a second archiver@ch1.service, and whichever sorted
// first won. Only slices are entered now.
TEST(Discovery, NeverEntersAContainersPayload) {
  FixtureTree fx;
  host_and_container(fx);
  fx.cgroup_v2("kubepods/pod1/archiver@ch7.service").procs({7});
  Discovery d(fx.cgroup_root(), default_patterns());
  auto units = d.search();
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].rel, "/system.slice/system-archiver.slice/archiver@ch1.service");
}

// An agent in that container without a cgroup namespace sees the host's tree: its own systemd's
// slices (below own_systemd_root) are searched, and its own units come first, so the scanner
// keeps them over the host's units of the same names.
TEST(Discovery, InAContainerItsOwnSystemdsUnitsComeFirst) {
  FixtureTree fx;
  host_and_container(fx);
  fx.cgroup_v2("lxc.payload.c2/system.slice/system-archiver.slice/archiver@ch5.service").procs({5});
  Discovery d(fx.cgroup_root(), default_patterns(), 8, "/lxc.payload.c1");
  auto units = d.search();
  ASSERT_EQ(units.size(), 3u);
  EXPECT_EQ(units[0].rel,
            "/lxc.payload.c1/system.slice/system-archiver.slice/archiver@ch1.service");
  EXPECT_EQ(units[1].rel,
            "/lxc.payload.c1/system.slice/system-archiver.slice/archiver@ch9.service");
  EXPECT_EQ(units[2].rel, "/system.slice/system-archiver.slice/archiver@ch1.service");
  EXPECT_EQ(rels(d.refresh()), rels(units));  // the same order between searches
}

TEST(OwnSystemdRoot, ThePathBeforeTheFirstSlice) {
  const std::string v1 =
      "12:memory:/lxc.payload.c1/system.slice/mobasher-agent.service\n"
      "1:name=systemd:/lxc.payload.c1/system.slice/mobasher-agent.service\n"
      "0::/lxc.payload.c1/system.slice/mobasher-agent.service\n";
  EXPECT_EQ(own_systemd_root(v1, CgroupLayout::v1), "/lxc.payload.c1");
  EXPECT_EQ(own_systemd_root(v1, CgroupLayout::hybrid), "/lxc.payload.c1");
  EXPECT_EQ(own_systemd_root("0::/a/b.c/system.slice/x.service\n", CgroupLayout::v2), "/a/b.c");
  EXPECT_EQ(own_systemd_root("0::/system.slice/mobasher-agent.service\n", CgroupLayout::v2), "");
  EXPECT_EQ(own_systemd_root("1:name=systemd:/user.slice/user-0.slice/x.scope\n", CgroupLayout::v1),
            "");
  EXPECT_EQ(own_systemd_root("0::/\n", CgroupLayout::v2), "");            // CI: no systemd
  EXPECT_EQ(own_systemd_root("0::/docker/abc\n", CgroupLayout::v2), "");  // no slice: no systemd
  EXPECT_EQ(own_systemd_root("", CgroupLayout::v2), "");
  EXPECT_EQ(own_systemd_root("12:memory:/lxc.payload.c1/system.slice/x\n", CgroupLayout::v1), "");
}

TEST(Discovery, SearchDepthIsBounded) {
  FixtureTree fx;
  fx.cgroup_layout_v2();
  std::string deep = "cgroup";
  for (int i = 0; i < 20; ++i) deep += "/level" + std::to_string(i) + ".slice";
  fx.mkdir(deep + "/archiver@deep.service");
  fx.mkdir("cgroup/a.slice/archiver@shallow.service");
  Discovery d(fx.cgroup_root(), default_patterns(), /*max_depth=*/4);
  EXPECT_EQ(names(d.search()), (std::vector<std::string>{"archiver@shallow.service"}));
  // root, a.slice, and at most max_depth+1 levels of the deep chain.
  EXPECT_LE(d.directories_visited(), 8u);
}

TEST(Discovery, NoHierarchyFindsNothing) {
  FixtureTree fx;
  Discovery d(fx.root() / "nope", default_patterns());
  EXPECT_TRUE(d.search().empty());
  EXPECT_TRUE(d.refresh().empty());
}

}  // namespace
}  // namespace mobasher

namespace mobasher {
namespace {

using namespace fixtures;

TEST(Discovery, UnitsDirectlyUnderTheRoot) {
  FixtureTree fx;
  fx.cgroup_v2("archiver@ch1.service").procs({101});
  Discovery d(fx.cgroup_root(), default_patterns());
  auto units = d.search();
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].rel, "/archiver@ch1.service");
  fx.cgroup_v2("archiver@ch2.service").procs({102});
  EXPECT_EQ(names(d.refresh()),
            (std::vector<std::string>{"archiver@ch1.service", "archiver@ch2.service"}));
}

}  // namespace
}  // namespace mobasher
