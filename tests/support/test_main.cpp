// The entry point every test executable links (tally_test(), CMakeLists.txt): compiled once per
// build tree instead of once per test. Every test source gets Boost.Test from one shared
// precompiled header, included before its own first line, so a BOOST_TEST_MODULE in a test source
// would come too late to make a main; the module is named after the executable instead, which is
// also the name ctest runs it under.
#include <boost/test/unit_test.hpp>

#include <string_view>

namespace {

bool init_unit_test() {
  auto& suite = boost::unit_test::framework::master_test_suite();
  std::string_view name = suite.argc > 0 && suite.argv[0] != nullptr ? suite.argv[0] : "tally_test";
  if (const auto slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  suite.p_name.value = std::string(name);
  return true;
}

}  // namespace

int main(int argc, char* argv[]) { return boost::unit_test::unit_test_main(&init_unit_test, argc, argv); }
