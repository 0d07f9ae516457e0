#include "collectors/cgroup_layout.hpp"

#include <gtest/gtest.h>

#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using fixtures::FixtureTree;

TEST(CgroupLayout, V1HasMemoryAndNamedSystemdHierarchies) {
  FixtureTree fx;
  fx.cgroup_layout_v1();
  auto h = detect_cgroup_layout(fx.cgroup_root());
  EXPECT_EQ(h.layout, CgroupLayout::v1);
  EXPECT_EQ(h.membership, fx.cgroup_root() / "systemd");
  EXPECT_EQ(h.memory, fx.cgroup_root() / "memory");
  EXPECT_FALSE(h.memory_v2);
}

TEST(CgroupLayout, V2IsUnifiedAtTheRoot) {
  FixtureTree fx;
  fx.cgroup_layout_v2();
  auto h = detect_cgroup_layout(fx.cgroup_root());
  EXPECT_EQ(h.layout, CgroupLayout::v2);
  EXPECT_EQ(h.membership, fx.cgroup_root());
  EXPECT_EQ(h.memory, fx.cgroup_root());
  EXPECT_TRUE(h.memory_v2);
}

TEST(CgroupLayout, HybridIsV1MemoryPlusUnified) {
  FixtureTree fx;
  fx.cgroup_layout_hybrid();
  auto h = detect_cgroup_layout(fx.cgroup_root());
  EXPECT_EQ(h.layout, CgroupLayout::hybrid);
  EXPECT_EQ(h.membership, fx.cgroup_root() / "systemd");
  EXPECT_EQ(h.memory, fx.cgroup_root() / "memory");
  EXPECT_FALSE(h.memory_v2);
}

TEST(CgroupLayout, NoneWhenNothingIsMounted) {
  FixtureTree fx;
  auto h = detect_cgroup_layout(fx.cgroup_root());
  EXPECT_EQ(h.layout, CgroupLayout::none);
  EXPECT_TRUE(h.memory.empty());
  auto missing = detect_cgroup_layout(fx.root() / "does-not-exist");
  EXPECT_EQ(missing.layout, CgroupLayout::none);
}

TEST(CgroupLayout, V1WithoutNamedSystemdUsesTheMemoryTree) {
  FixtureTree fx;
  fx.write("cgroup/memory/cgroup.procs", "1\n");
  auto h = detect_cgroup_layout(fx.cgroup_root());
  EXPECT_EQ(h.layout, CgroupLayout::v1);
  EXPECT_EQ(h.membership, fx.cgroup_root() / "memory");
  EXPECT_EQ(h.memory, fx.cgroup_root() / "memory");
}

TEST(CgroupLayout, OnlyUnifiedIsTreatedAsV2) {
  FixtureTree fx;
  fx.write("cgroup/unified/cgroup.controllers", "memory pids\n");
  auto h = detect_cgroup_layout(fx.cgroup_root());
  EXPECT_EQ(h.layout, CgroupLayout::v2);
  EXPECT_EQ(h.membership, fx.cgroup_root() / "unified");
  EXPECT_TRUE(h.memory_v2);
}

TEST(CgroupLayout, Names) {
  EXPECT_STREQ(to_string(CgroupLayout::v1), "v1");
  EXPECT_STREQ(to_string(CgroupLayout::v2), "v2");
  EXPECT_STREQ(to_string(CgroupLayout::hybrid), "hybrid");
  EXPECT_STREQ(to_string(CgroupLayout::none), "none");
}

}  // namespace
}  // namespace mobasher
