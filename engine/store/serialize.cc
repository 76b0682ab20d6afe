#include "engine/store/serialize.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"

namespace crm::store {

std::string SerializeDeterministic(const google::protobuf::Message& m) {
  std::string out(m.ByteSizeLong(), '\0');
  google::protobuf::io::ArrayOutputStream array(out.data(),
                                                static_cast<int>(out.size()));
  google::protobuf::io::CodedOutputStream coded(&array);
  coded.SetSerializationDeterministic(true);
  m.SerializeWithCachedSizes(&coded);
  return out;
}

}  // namespace crm::store
