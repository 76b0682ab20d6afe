#include "tools/crm/heap.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gperftools/malloc_extension.h"
#include "gtest/gtest.h"

namespace crm::cli {
namespace {

// The "VmFlags:" line of the mapping in /proc/self/smaps holding `p`.
std::string VmFlagsOf(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    const std::string head = line.substr(0, line.find(' '));
    const size_t dash = head.find('-');
    uint64_t lo = 0, hi = 0;
    if (dash != std::string::npos &&
        absl::SimpleHexAtoi(head.substr(0, dash), &lo) &&
        absl::SimpleHexAtoi(head.substr(dash + 1), &hi)) {
      inside = lo <= a && a < hi;
      continue;
    }
    absl::string_view rest = line;
    if (inside && absl::ConsumePrefix(&rest, "VmFlags:")) {
      return std::string(rest);
    }
  }
  return "";
}

bool HasFlag(const std::string& flags, absl::string_view flag) {
  for (absl::string_view f : absl::StrSplit(flags, ' ', absl::SkipEmpty())) {
    if (f == flag) return true;
  }
  return false;
}

TEST(HeapTest, AfterBackingWithHugePagesTheHeapGrowsInAdvisedRegions) {
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage")) {
    GTEST_SKIP() << "this kernel has no transparent huge pages";
  }
  constexpr size_t kBlock = size_t{48} << 20;  // more than the heap holds
  auto before = std::make_unique<char[]>(kBlock);
  before[0] = 1;
  EXPECT_FALSE(HasFlag(VmFlagsOf(before.get()), "hg"))
      << VmFlagsOf(before.get());

  BackHeapWithHugePages();
  auto after = std::make_unique<char[]>(kBlock);
  const std::string flags = VmFlagsOf(after.get());
  EXPECT_TRUE(HasFlag(flags, "hg")) << flags;  // MADV_HUGEPAGE given
  // Freed pages are kept, not given back bit by bit (which would split
  // the huge pages for the next partition to fault in 4 KB at a time).
  EXPECT_EQ(MallocExtension::instance()->GetMemoryReleaseRate(), 0.0);

  // The memory is ordinary memory: every byte keeps what is written.
  for (size_t i = 0; i < kBlock; i += 4093) after[i] = static_cast<char>(i);
  for (size_t i = 0; i < kBlock; i += 4093) {
    ASSERT_EQ(after[i], static_cast<char>(i)) << i;
  }
  // Small allocations come out of the grown heap as well and work.
  for (int i = 0; i < 100000; ++i) {
    auto s =
        std::make_unique<std::string>(100, static_cast<char>('a' + i % 26));
    ASSERT_EQ((*s)[99], static_cast<char>('a' + i % 26));
  }
}

}  // namespace
}  // namespace crm::cli
