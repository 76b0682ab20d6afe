#include "engine/store/memtable.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "rocksdb/slice.h"

namespace crm::store {
namespace {

constexpr int kMaxHeight = 12;
constexpr uint32_t kBranching = 4;

// An entry as MemTable writes it: varint32 length of the internal key, the
// internal key (user key, then 8 bytes: sequence << 8 | type, little
// endian), then the value. The internal key of one.
rocksdb::Slice InternalKeyOf(const char* entry) {
  uint32_t len = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(entry);
  for (uint32_t shift = 0; shift <= 28; shift += 7) {
    const uint32_t byte = *p++;
    len |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  return rocksdb::Slice(reinterpret_cast<const char*>(p), len);
}

uint64_t Trailer(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

// InternalKeyComparator over BytewiseComparator: user keys ascending, then
// the trailer descending (the newest sequence first).
int CompareInternal(const rocksdb::Slice& a, const rocksdb::Slice& b) {
  const size_t ua = a.size() - 8;
  const size_t ub = b.size() - 8;
  const size_t n = std::min(ua, ub);
  const int r = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
  if (r != 0) return r;
  if (ua != ub) return ua < ub ? -1 : 1;
  const uint64_t ta = Trailer(a.data() + ua);
  const uint64_t tb = Trailer(b.data() + ub);
  return ta > tb ? -1 : (ta < tb ? 1 : 0);
}

// A node: its level-0 link, the entry right after it, and the links of
// levels 1..height-1 before it (at lower addresses), so one allocation
// holds the links and the entry and a node is as tall as it needs.
struct Node {
  std::atomic<Node*> next0;

  std::atomic<Node*>* Link(int level) { return &next0 - level; }
  const char* Entry() const { return reinterpret_cast<const char*>(this + 1); }
  Node* Next(int level) { return Link(level)->load(std::memory_order_acquire); }
  void SetNext(int level, Node* x) {
    Link(level)->store(x, std::memory_order_release);
  }
  Node* NextRelaxed(int level) {
    return Link(level)->load(std::memory_order_relaxed);
  }
  void SetNextRelaxed(int level, Node* x) {
    Link(level)->store(x, std::memory_order_relaxed);
  }
};

// Makes a node of `height` links in `raw` (at least NodeBytes(height, len)
// bytes, any alignment); returns it, its links null.
constexpr size_t NodeBytes(int height, size_t entry_len) {
  return sizeof(std::atomic<Node*>) * (height - 1) + sizeof(Node) + entry_len +
         alignof(Node) - 1;
}
Node* MakeNode(char* raw, int height) {
  auto at = reinterpret_cast<uintptr_t>(raw);
  at = (at + alignof(Node) - 1) & ~(uintptr_t{alignof(Node)} - 1);
  char* links = reinterpret_cast<char*>(at);
  for (int i = 0; i < height; ++i) {
    new (links + i * sizeof(std::atomic<Node*>)) std::atomic<Node*>(nullptr);
  }
  return reinterpret_cast<Node*>(links +
                                 (height - 1) * sizeof(std::atomic<Node*>));
}

class FingerSkipList : public rocksdb::MemTableRep {
 public:
  explicit FingerSkipList(rocksdb::Allocator* allocator)
      : MemTableRep(allocator) {
    char* raw = nullptr;
    MemTableRep::Allocate(NodeBytes(kMaxHeight, 0), &raw);
    head_ = MakeNode(raw, kMaxHeight);
    std::fill(finger_, finger_ + kMaxHeight, head_);
  }

  rocksdb::KeyHandle Allocate(const size_t len, char** buf) override {
    const int height = RandomHeight();
    char* raw = nullptr;
    MemTableRep::Allocate(NodeBytes(height, len), &raw);
    Node* x = MakeNode(raw, height);
    // Until it is linked, the node's level-0 link holds its height.
    x->SetNextRelaxed(0,
                      reinterpret_cast<Node*>(static_cast<uintptr_t>(height)));
    *buf = const_cast<char*>(x->Entry());
    return x;
  }

  void Insert(rocksdb::KeyHandle handle) override { InsertKey(handle); }

  // One writer at a time (RocksDB's write group leader).
  bool InsertKey(rocksdb::KeyHandle handle) override {
    Node* x = static_cast<Node*>(handle);
    const int height =
        static_cast<int>(reinterpret_cast<uintptr_t>(x->NextRelaxed(0)));
    const rocksdb::Slice key = InternalKeyOf(x->Entry());
    const int top = max_height_.load(std::memory_order_relaxed);

    // Start from the finger (the previous insert's predecessors) when the
    // key comes after the previous one; else from the head. Climb while
    // the finger's successor is still before the key: above the first
    // level where it is not, the finger's brackets hold.
    Node* prev[kMaxHeight];
    int level = top - 1;
    Node* from = head_;
    if (last_ != nullptr &&
        CompareInternal(InternalKeyOf(last_->Entry()), key) < 0) {
      level = 0;
      while (level < top - 1) {
        Node* next = finger_[level]->Next(level);
        if (next == nullptr ||
            CompareInternal(InternalKeyOf(next->Entry()), key) >= 0) {
          break;
        }
        ++level;
      }
      from = finger_[level];
      for (int i = level + 1; i < top; ++i) prev[i] = finger_[i];
    }
    Descend(from, level, key, prev);
    Node* at = prev[0]->Next(0);
    if (at != nullptr &&
        CompareInternal(InternalKeyOf(at->Entry()), key) == 0) {
      return false;  // the same user key, sequence and type
    }

    if (height > top) {
      for (int i = top; i < height; ++i) prev[i] = head_;
      // Readers that see the new height before the links find null at the
      // head and go down a level: harmless.
      max_height_.store(height, std::memory_order_relaxed);
    }
    for (int i = 0; i < height; ++i) {
      x->SetNextRelaxed(i, prev[i]->NextRelaxed(i));
      prev[i]->SetNext(i, x);  // publishes x with its links and entry
    }
    const int new_top = std::max(top, height);
    for (int i = 0; i < new_top; ++i) finger_[i] = i < height ? x : prev[i];
    last_ = x;
    return true;
  }

  bool Contains(const char* entry) const override {
    const rocksdb::Slice key = InternalKeyOf(entry);
    Node* x = FindGreaterOrEqual(key);
    return x != nullptr && CompareInternal(InternalKeyOf(x->Entry()), key) == 0;
  }

  // All memory comes from the memtable's allocator, which counts it.
  size_t ApproximateMemoryUsage() override { return 0; }

  class Iterator : public MemTableRep::Iterator {
   public:
    explicit Iterator(const FingerSkipList* list) : list_(list) {}
    bool Valid() const override { return node_ != nullptr; }
    const char* key() const override { return node_->Entry(); }
    void Next() override { node_ = node_->Next(0); }
    void Prev() override {
      node_ = list_->FindLessThan(InternalKeyOf(node_->Entry()));
    }
    void Seek(const rocksdb::Slice& internal_key,
              const char* memtable_key) override {
      node_ = list_->FindGreaterOrEqual(
          memtable_key != nullptr ? InternalKeyOf(memtable_key) : internal_key);
    }
    void SeekForPrev(const rocksdb::Slice& internal_key,
                     const char* memtable_key) override {
      const rocksdb::Slice target =
          memtable_key != nullptr ? InternalKeyOf(memtable_key) : internal_key;
      node_ = list_->FindGreaterOrEqual(target);
      if (node_ == nullptr) {
        SeekToLast();
      }
      while (node_ != nullptr &&
             CompareInternal(target, InternalKeyOf(node_->Entry())) < 0) {
        Prev();
      }
    }
    void SeekToFirst() override { node_ = list_->head_->Next(0); }
    void SeekToLast() override { node_ = list_->FindLast(); }

   private:
    const FingerSkipList* const list_;
    Node* node_ = nullptr;
  };

  MemTableRep::Iterator* GetIterator(rocksdb::Arena* arena) override {
    if (arena == nullptr) return new Iterator(this);
    // RocksDB only destroys (never frees) an iterator it asks for in its
    // arena, whose type is not public. Such iterators live in slots of
    // this memtable, reused once destroyed: as many as were open at once.
    Slot* slot = nullptr;
    {
      std::lock_guard<std::mutex> lock(slots_mu_);
      if (free_slots_.empty()) {
        slots_.push_back(std::make_unique<Slot>());
        slot = slots_.back().get();
      } else {
        slot = free_slots_.back();
        free_slots_.pop_back();
      }
    }
    return new (slot->bytes) SlotIterator(this, slot);
  }

 private:
  struct Slot;
  // Gives a SlotIterator's slot back. A base declared before the
  // iterator's, so destroyed after it: nothing writes to the slot once it
  // is back. Not polymorphic, so its own destruction writes nothing either.
  struct SlotReturn {
    SlotReturn(FingerSkipList* list, Slot* slot) : list(list), slot(slot) {}
    ~SlotReturn() {
      std::lock_guard<std::mutex> lock(list->slots_mu_);
      list->free_slots_.push_back(slot);
    }
    FingerSkipList* const list;
    Slot* const slot;
  };
  class SlotIterator final : private SlotReturn, public Iterator {
   public:
    SlotIterator(FingerSkipList* list, Slot* slot)
        : SlotReturn(list, slot), Iterator(list) {}
  };
  struct Slot {
    alignas(SlotIterator) unsigned char bytes[sizeof(SlotIterator)];
  };

  // From `from` (before `key`) at `level` down: the last node before `key`
  // at level 0, and at each level in prev[level] when prev is given.
  static Node* Descend(Node* from, int level, const rocksdb::Slice& key,
                       Node** prev) {
    for (int i = level; i >= 0; --i) {
      for (;;) {
        Node* next = from->Next(i);
        if (next == nullptr ||
            CompareInternal(InternalKeyOf(next->Entry()), key) >= 0) {
          break;
        }
        from = next;
      }
      if (prev != nullptr) prev[i] = from;
    }
    return from;
  }

  // The first node not before `key`, or null.
  Node* FindGreaterOrEqual(const rocksdb::Slice& key) const {
    return Descend(head_, max_height_.load(std::memory_order_relaxed) - 1, key,
                   nullptr)
        ->Next(0);
  }

  // The last node before `key`, or null.
  Node* FindLessThan(const rocksdb::Slice& key) const {
    Node* x = Descend(head_, max_height_.load(std::memory_order_relaxed) - 1,
                      key, nullptr);
    return x == head_ ? nullptr : x;
  }

  Node* FindLast() const {
    Node* x = head_;
    for (int i = max_height_.load(std::memory_order_relaxed) - 1; i >= 0; --i) {
      for (Node* next = x->Next(i); next != nullptr; next = x->Next(i)) {
        x = next;
      }
    }
    return x == head_ ? nullptr : x;
  }

  int RandomHeight() {
    int height = 1;
    while (height < kMaxHeight && NextRandom() % kBranching == 0) ++height;
    return height;
  }
  uint32_t NextRandom() {  // xorshift32: the writer's only, deterministic
    random_ ^= random_ << 13;
    random_ ^= random_ >> 17;
    random_ ^= random_ << 5;
    return random_;
  }

  Node* head_ = nullptr;
  std::atomic<int> max_height_{1};
  std::mutex slots_mu_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> free_slots_;
  // The writer's: the node inserted last and its predecessor per level.
  Node* last_ = nullptr;
  Node* finger_[kMaxHeight];
  uint32_t random_ = 0x2545f491;
};

class FingerSkipListFactory : public rocksdb::MemTableRepFactory {
 public:
  using MemTableRepFactory::CreateMemTableRep;
  rocksdb::MemTableRep* CreateMemTableRep(
      const rocksdb::MemTableRep::KeyComparator& /*compare*/,
      rocksdb::Allocator* allocator, const rocksdb::SliceTransform* /*prefix*/,
      rocksdb::Logger* /*logger*/) override {
    return new FingerSkipList(allocator);
  }
  const char* Name() const override { return "CrmFingerSkipList"; }
  bool IsInsertConcurrentlySupported() const override { return false; }
  bool CanHandleDuplicatedKey() const override { return true; }
};

}  // namespace

std::shared_ptr<rocksdb::MemTableRepFactory> NewFingerSkipListFactory() {
  return std::make_shared<FingerSkipListFactory>();
}

}  // namespace crm::store
