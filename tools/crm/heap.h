// Process-wide heap settings of the crm program (tcmalloc, gperftools).
#ifndef CRM_TOOLS_CRM_HEAP_H_
#define CRM_TOOLS_CRM_HEAP_H_

namespace crm::cli {

// Gives tcmalloc's free pages back to the system once they pass 64 MiB.
// States are loaded and evicted all the time; the allocator keeps what
// they freed (about 145 MB at a 30,000-state budget on a 200,000-customer
// history) unless told, and the worker's memory bound counts it.
void ReleaseFreeHeap();

// From now on the heap grows in 2 MiB-aligned regions marked for
// transparent huge pages (madvise MADV_HUGEPAGE), for a process whose
// working set is gigabytes of parsed states touched at random: a replay.
// Each touch of another state is then seldom a TLB miss. Where the kernel
// does not offer huge pages the mark is ignored and nothing else changes.
// tcmalloc then keeps the pages it frees instead of giving them back to
// the system bit by bit (which splits huge pages); the process's memory
// stays at its peak until it exits. Not for the worker: the kernel may collapse
// pages tcmalloc gave back into a huge page again, which would undo
// ReleaseFreeHeap. Call once.
void BackHeapWithHugePages();

}  // namespace crm::cli

#endif  // CRM_TOOLS_CRM_HEAP_H_
