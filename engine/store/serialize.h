#pragma once

#include <string>

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace crm::store {

// The bytes of `m` as every writer of a partition store writes them (the
// partition task, the population pass, replay): deterministic
// serialization, so identical views give byte-identical records and an
// unchanged state is recognised by its bytes.
std::string SerializeDeterministic(const google::protobuf::Message& m);

}  // namespace crm::store
