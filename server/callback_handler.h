// The gRPC method handler of every unary recsys.v1 call on the callback API.
//
// It replaces the handler that the generated WithCallbackMethod_* classes
// install (grpc::internal::CallbackUnaryHandler) for two reasons:
//
// 1. Invalid UTF-8. Protobuf refuses a proto3 `string` field holding
//    invalid UTF-8 and fails the whole parse; the stock handler then ends
//    the call with UNIMPLEMENTED and an empty message, before any recsys
//    code runs. CallbackHandler::Deserialize parses the request bytes
//    itself; when the strict parse fails it walks the bytes with the
//    request's Descriptor (DropInvalidUtf8), drops every string field with
//    invalid UTF-8, parses the rest, and notes the first such field, e.g.
//    "events[3].user_id: invalid UTF-8". The service answers such a call
//    INVALID_ARGUMENT with that note (CallMessages::invalid_utf8) and never
//    runs its domain call. Bytes that are not a valid message for another
//    reason keep gRPC's stock answer (UNIMPLEMENTED, empty message).
// 2. Accounting. Each call's messages (CallMessages) count themselves in a
//    CallCounter from the parse of the request until gRPC releases them
//    (the answer sent or the call cancelled), so the service can refuse a
//    call above a configured number of calls in flight.
//
// The request and response of each call live in a protobuf arena whose
// first block (kBlockSize bytes) is allocated with the call's state: one
// allocation per call for the messages instead of one per field.
//
// Registration: from the constructor of a class derived from
// grpc::Service, MarkMethodCallback(MethodIndex(...), new
// CallbackHandler<...>(...)) (the base's MarkMethodCallback is protected).
// grpc::Service takes ownership of the handler.
//
// Thread safety: a handler is called concurrently by gRPC's threads; it
// holds only immutable state and a borrowed CallCounter (atomic).
#ifndef RECSYS_SERVER_CALLBACK_HANDLER_H_
#define RECSYS_SERVER_CALLBACK_HANDLER_H_

#include <google/protobuf/arena.h>
#include <google/protobuf/descriptor.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/support/message_allocator.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace recsys::server {

// Parses `wire` as a message of `type` field by field (without the
// generated parser), drops every proto3 `string` field whose bytes are not
// valid UTF-8, in nested messages too, and writes the remaining bytes to
// `*cleaned`. `*fields` gets the path of each dropped field in wire order:
// "user_id", "events[3].item_id", "filters.categories[0]" (a repeated
// field's index counts its occurrences in the bytes). Returns false when
// `wire`, or a nested message in it, is not protobuf wire format; then
// `*cleaned` and `*fields` are unspecified. Fields unknown to `type` are
// kept as they are.
bool DropInvalidUtf8(const google::protobuf::Descriptor& type,
                     absl::string_view wire, std::string* cleaned,
                     std::vector<std::string>* fields);

// "<first field>: invalid UTF-8", plus " (and N more string fields)" when
// there are more; `fields` must not be empty.
std::string InvalidUtf8Message(const std::vector<std::string>& fields);

// The index of `method` in `service` as the generated code numbers it
// (declaration order); -1 when there is no such method.
int MethodIndex(const google::protobuf::ServiceDescriptor& service,
                absl::string_view method);

// Calls whose messages are alive: parsed, being handled, or being answered.
class CallCounter {
 public:
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  // Returns the number of calls in flight, this one included.
  int Add() { return in_flight_.fetch_add(1, std::memory_order_relaxed) + 1; }
  void Remove() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  std::atomic<int> in_flight_{0};
};

// What the service reads about a call beyond its request.
class CallNote {
 public:
  // Empty, or the message of the INVALID_ARGUMENT to answer (a string
  // field with invalid UTF-8 was dropped from the request).
  const std::string& invalid_utf8() const { return invalid_utf8_; }
  // The calls in flight when this one was parsed, itself included.
  int in_flight_at_start() const { return in_flight_at_start_; }

 protected:
  std::string invalid_utf8_;
  int in_flight_at_start_ = 0;
};

// One call's request and response in an arena whose first block is part
// of this object; counted in `counter` (borrowed, may be null) while alive.
template <typename Request, typename Response, size_t kBlockSize>
class CallMessages final : public grpc::MessageHolder<Request, Response>,
                           public CallNote {
 public:
  explicit CallMessages(CallCounter* counter)
      : arena_(Options(block_)), counter_(counter) {
    this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
    this->set_response(
        google::protobuf::Arena::CreateMessage<Response>(&arena_));
    if (counter_ != nullptr) in_flight_at_start_ = counter_->Add();
  }
  ~CallMessages() override {
    if (counter_ != nullptr) counter_->Remove();
  }
  void Release() override { delete this; }
  void set_invalid_utf8(std::string message) {
    invalid_utf8_ = std::move(message);
  }

  // The CallNote of a call served by a CallbackHandler<Request, Response,
  // kBlockSize> (the context's allocator state is this object).
  static const CallNote& Of(grpc::CallbackServerContext* context) {
    return *static_cast<const CallMessages*>(context->GetRpcAllocatorState());
  }

 private:
  static google::protobuf::ArenaOptions Options(char* block) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = kBlockSize;
    return options;
  }

  alignas(16) char block_[kBlockSize];
  google::protobuf::Arena arena_;
  CallCounter* const counter_;
};

template <typename Request, typename Response, size_t kBlockSize>
class CallbackHandler final : public grpc::internal::MethodHandler {
 public:
  using Messages = CallMessages<Request, Response, kBlockSize>;
  using GetReactor = std::function<grpc::ServerUnaryReactor*(
      grpc::CallbackServerContext*, const Request*, Response*)>;

  // `get_reactor` is called for every call whose request was parsed
  // (CallMessages::Of(context).invalid_utf8() tells whether fields were
  // dropped). `counter` is borrowed and must outlive the server; null: no
  // accounting.
  CallbackHandler(GetReactor get_reactor, CallCounter* counter)
      : stock_(std::move(get_reactor)), counter_(counter) {}

  // The stock handler runs the call: it reads the messages from
  // `param.internal_data` (the CallMessages made by Deserialize) and
  // answers UNIMPLEMENTED when Deserialize failed.
  void RunHandler(const HandlerParameter& param) override {
    stock_.RunHandler(param);
  }

  // Owns and destroys `req`. Same contract as the stock handler's:
  // `*handler_data` always gets the call's MessageHolder (released by
  // gRPC at the end of the call); returns the request, or null with
  // `*status` not OK.
  void* Deserialize(grpc_call*, grpc_byte_buffer* req, grpc::Status* status,
                    void** handler_data) override {
    auto* messages = new Messages(counter_);
    *handler_data =
        static_cast<grpc::MessageHolder<Request, Response>*>(messages);
    if (req == nullptr) {
      *status = grpc::Status(grpc::StatusCode::INTERNAL, "No payload");
      return nullptr;
    }
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, req)) {
      grpc_byte_buffer_destroy(req);
      *status =
          grpc::Status(grpc::StatusCode::INTERNAL, "cannot read the request");
      return nullptr;
    }
    grpc_slice bytes = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    grpc_byte_buffer_destroy(req);
    const absl::string_view wire(
        reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(bytes)),
        GRPC_SLICE_LENGTH(bytes));
    Request* request = messages->request();
    bool parsed =
        request->ParseFromArray(wire.data(), static_cast<int>(wire.size()));
    if (!parsed) {
      std::string cleaned;
      std::vector<std::string> fields;
      request->Clear();
      if (DropInvalidUtf8(*Request::descriptor(), wire, &cleaned, &fields) &&
          !fields.empty() && request->ParseFromString(cleaned)) {
        messages->set_invalid_utf8(InvalidUtf8Message(fields));
        parsed = true;
      }
    }
    grpc_slice_unref(bytes);
    if (!parsed) {
      *status = grpc::Status(grpc::StatusCode::INTERNAL, "");
      return nullptr;
    }
    *status = grpc::Status::OK;
    return request;
  }

 private:
  grpc::internal::CallbackUnaryHandler<Request, Response> stock_;
  CallCounter* const counter_;
};

}  // namespace recsys::server

#endif  // RECSYS_SERVER_CALLBACK_HANDLER_H_
