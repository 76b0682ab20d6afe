#include "tests/testing/generated_history.h"

#include "crm/v1/events.pb.h"
#include "engine/event/codec.h"
#include "gtest/gtest.h"
#include "tools/generator/generator.h"

namespace crm::testing {

GeneratedHistory GenerateHistory(int customers, int months, uint64_t seed) {
  GeneratedHistory h;
  generator::GeneratorOptions options;
  options.customers = customers;
  options.months = months;
  options.seed = seed;
  auto gen = generator::Generator::Create(options);
  EXPECT_TRUE(gen.ok()) << gen.status();
  if (!gen.ok()) return h;
  v1::Envelope e;
  while ((*gen)->Next(&e)) {
    h.keys.push_back(e.customer_id());
    h.values.push_back(event::EncodeBinary(e));
  }
  return h;
}

}  // namespace crm::testing
