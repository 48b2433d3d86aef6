/* Atomic loads and stores of the ring counters (cython/server/multiproc/_cring.pyx).
 *
 * The rings live in shared memory between processes, so the C11 memory model is what orders
 * a producer's record bytes before its tail store, and a consumer's reads before its head
 * store. The publish/observe pairs use release/acquire. The "was the other side asleep?"
 * checks (producer: store tail, then load head; consumer: store head, then load the
 * producer-waiting flag) are Dekker-style store-then-load pairs, which need sequential
 * consistency: with release/acquire alone the load could be satisfied before the store is
 * visible and a wake-up would be lost.
 */
#ifndef HPB_ATOMIC_H
#define HPB_ATOMIC_H
#include <stdint.h>

static inline uint64_t hpb_load_acquire_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void hpb_store_release_u64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline uint64_t hpb_load_seq_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void hpb_store_seq_u64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t hpb_load_seq_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void hpb_store_seq_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t hpb_exchange_u32(uint32_t *p, uint32_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }

#endif
